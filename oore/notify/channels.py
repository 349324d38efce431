"""The channels of this daemon, by delivery kind: what the wiring gives the Notifier."""

from __future__ import annotations

from oore.config import Settings
from oore.crypto import Sealer
from oore.notify.base import Channel
from oore.notify.email import EmailChannel
from oore.notify.github_checks import GithubCheckChannel
from oore.notify.github_status import GithubStatusChannel
from oore.notify.gitlab_status import GitLabStatusChannel
from oore.notify.sending import Sender
from oore.notify.slack import SlackChannel
from oore.providers.github_app import GithubApps
from oore.providers.gitlab_connection import GitLabConnection
from oore.store.base import Store


def build_channels(
    settings: Settings,
    store: Store,
    sealer: Sealer,
    github: GithubApps,
    gitlab: GitLabConnection,
) -> dict[str, Channel]:
    """Every channel but the signed webhooks' (built beside its targets' store)."""
    sender = Sender(allow_private=settings.allow_private_providers)
    base = settings.base_url
    channels: list[Channel] = [
        GithubCheckChannel(store, github, sender, base_url=base),
        GithubStatusChannel(
            store,
            sealer,
            sender,
            api_url=settings.github_api_url,
            github_url=settings.github_url,
            base_url=base,
        ),
        GitLabStatusChannel(store, sealer, gitlab, sender, base_url=base),
        SlackChannel(store, sealer, sender, api_url=settings.slack_api_url, base_url=base),
        EmailChannel(store, sealer, base_url=base, allow_private=settings.allow_private_providers),
    ]
    return {channel.kind: channel for channel in channels}
