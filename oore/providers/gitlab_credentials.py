"""Fetch credentials for repositories enabled through GitLab OAuth: the connection's token.

GitLab takes an OAuth access token over HTTPS as the password of user ``oauth2``. The token is
only ever sent to the GitLab it was issued by: a repository whose clone URL points elsewhere
(changed by hand after enabling, say) gets nothing from this source.
"""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from oore.git.auth import GitCredential
from oore.model import Provider, Repository
from oore.providers.gitlab_connection import GitLabConnection
from oore.store.base import GitLabStore


class GitLabOAuthCredentials:
    """A `CredentialSource` (oore.providers.gitauth)."""

    def __init__(self, store: GitLabStore, connection: GitLabConnection) -> None:
        self.store = store
        self.connection = connection

    async def refused(self, repo: Repository, credential: GitCredential) -> None:
        """git was refused with the OAuth token (revoked, expired early): refresh it now."""
        token = _oauth_token(credential)
        if token is not None and await self.credential_for(repo) == credential:
            await self.connection.refreshed_after(token)

    async def credential_for(self, repo: Repository) -> GitCredential | None:
        if repo.provider is not Provider.GITLAB:
            return None
        if not same_origin(repo.clone_url, self.connection.gitlab_url):
            return None
        if await self.store.gitlab_project_link(repo.id) is None:
            return None
        token = await self.connection.access_token()
        basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
        return GitCredential(http_authorization=f"Basic {basic}")


def _oauth_token(credential: GitCredential) -> str | None:
    scheme, _, value = (credential.http_authorization or "").partition(" ")
    if scheme != "Basic":
        return None
    user, _, token = base64.b64decode(value).decode().partition(":")
    return token if user == "oauth2" else None


def same_origin(url: str, base: str) -> bool:
    try:
        a, b = urlsplit(url), urlsplit(base)
        return (a.scheme.lower(), a.hostname, a.port or _port(a.scheme)) == (
            b.scheme.lower(),
            b.hostname,
            b.port or _port(b.scheme),
        )
    except ValueError:  # a port that is not a number
        return False


def _port(scheme: str) -> int | None:
    return {"https": 443, "http": 80}.get(scheme.lower())
