"""Git credentials for repositories registered through the GitHub App: its installation token.

GitHub takes an installation token over HTTPS as the password of the user ``x-access-token``
(https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/
authenticating-as-a-github-app-installation#about-authentication-as-a-github-app-installation);
it reaches git as an ``Authorization: Basic`` header through git's environment, never the URL.
The token goes only to the GitHub the app lives on (`OORE_GITHUB_URL`'s scheme, host and port):
whoever may change a repository's clone URL could otherwise have it sent to a server of theirs.
Nor does a repository's `github_installation_id` alone earn it the token: any write token may set
that field, so the token is used only for a repository whose `github_repo_id` GitHub reported
as one the installation covers (the installations table the app's webhooks keep). Anything else
(no app, set up later or never; a repository the installation does not cover) gets no
credential and fetches as it would without the app.
"""

from __future__ import annotations

import base64
import logging

from oore.git.auth import GitCredential
from oore.git.names import origin_of
from oore.model import Provider, Repository
from oore.providers.github_app import GithubApps

log = logging.getLogger("oore.providers.github")


def basic_authorization(token: str) -> str:
    return "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")


class GithubAppCredentials:
    """A `CredentialSource`: the installation token for a repository that has an installation."""

    def __init__(self, apps: GithubApps, github_url: str) -> None:
        self.apps = apps
        self.origin = origin_of(github_url)
        self._warned: set[tuple[str, str]] = set()  # (repository id, why): a warning once each

    async def refused(self, repo: Repository, credential: GitCredential) -> None:
        """git was refused with the installation token (revoked early): mint a new one next."""
        installation = repo.github_installation_id
        scheme, _, value = (credential.http_authorization or "").partition(" ")
        if installation is None or scheme != "Basic":
            return
        user, _, token = base64.b64decode(value).decode().partition(":")
        if user == "x-access-token":
            self.apps.forget_token(installation, token)

    async def credential_for(self, repo: Repository) -> GitCredential | None:
        installation = repo.github_installation_id
        if repo.provider is not Provider.GITHUB or installation is None:
            return None
        if origin_of(repo.clone_url) != self.origin:
            self._warn_once(
                repo,
                "origin",
                f"its clone URL is not on {self.origin}: its installation token is not sent there",
            )
            return None
        if await self.apps.store.github_app() is None:
            self._warn_once(repo, "no-app", "no GitHub App is set up: it is fetched without one")
            return None
        covered = repo.github_repo_id is not None and (
            await self.apps.store.github_installation_covers(installation, repo.github_repo_id)
        )
        if not covered:
            self._warn_once(
                repo,
                f"not-covered:{installation}:{repo.github_repo_id}",
                f"GitHub has not reported its github_repo_id {repo.github_repo_id} as one of "
                f"installation {installation}'s repositories: it is fetched without the "
                "installation's token (add it to the installation on GitHub)",
            )
            return None
        token = await self.apps.installation_token(installation)
        return GitCredential(http_authorization=basic_authorization(token))

    def _warn_once(self, repo: Repository, why: str, message: str) -> None:
        if (repo.id, why) in self._warned:
            return
        self._warned.add((repo.id, why))
        log.warning(
            "repository %s names GitHub App installation %s, but %s",
            repo.full_name,
            repo.github_installation_id,
            message,
        )
