"""Talking to GitHub and GitLab as a client: the GitHub App, GitLab OAuth, per-repository
credentials, and the credentials git fetches with. Everything here reaches the network through
`outbound` (one guarded httpx client), and hands git its credentials through `oore.git.auth`,
never in a URL, an argv or a log line.
"""
