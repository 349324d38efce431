"""Which credential git fetches a repository with: the first source that has one.

Sources, in the order the daemon asks them (`oore.wiring`): the repository's own credential (a
token or a deploy key set with `PUT /api/repositories/{id}/credentials`), then the GitHub App's
installation token, then the GitLab OAuth token. A public repository has none, and is fetched
without.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from oore.git.auth import GitCredential
from oore.model import Repository


class CredentialSource(Protocol):
    async def credential_for(self, repo: Repository) -> GitCredential | None: ...

    async def refused(self, repo: Repository, credential: GitCredential) -> None:
        """The host refused `credential` (revoked, or expired early): a source that can get
        another (a provider's token) forgets it, so that the next `credential_for` is new."""


class CredentialChain:
    """The first credential any source has for a repository."""

    def __init__(self, sources: Sequence[CredentialSource]) -> None:
        self.sources = tuple(sources)

    async def credential_for(self, repo: Repository) -> GitCredential | None:
        for source in self.sources:
            found = await source.credential_for(repo)
            if found is not None:
                return found
        return None

    async def refused(self, repo: Repository, credential: GitCredential) -> None:
        for source in self.sources:
            await source.refused(repo, credential)
