"""Notifications: what each channel (GitHub checks and statuses, GitLab statuses, Slack, email,
signed webhooks) makes of one delivery from the store's outbox. The `Notifier` actor
(`oore/actors/notifier.py`) claims due deliveries and hands each to its channel here."""
