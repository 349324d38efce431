"""A repository's own HTTPS token, for the status APIs of the provider it was set for.

The token was given to fetch the repository over HTTPS (oore.providers.credentials); the same
token usually may set commit statuses (a GitHub PAT with `repo:status`, a GitLab token with
`api`). It is used only with the provider Oore is configured for (OORE_GITHUB_URL,
OORE_GITLAB_URL) and only while it was set for that provider's origin and the repository's
clone URL still points there: a token is never sent to a host it was not given for.
"""

from __future__ import annotations

from typing import Protocol

from oore.crypto import Sealer
from oore.errors import CryptoError
from oore.git.names import origin_of
from oore.model import Repository
from oore.notify.base import DeliveryFailed
from oore.providers.credentials import secret_aad
from oore.store.base import CredentialKind, RepositoryCredential


class Credentials(Protocol):
    async def sealed_repository_credential(
        self, repository_id: str
    ) -> tuple[RepositoryCredential, bytes] | None: ...


async def repository_token(
    credentials: Credentials, sealer: Sealer, repo: Repository, provider_url: str
) -> str:
    """The token, or a permanent `DeliveryFailed` saying why there is none to use."""
    found = await credentials.sealed_repository_credential(repo.id)
    if found is None or found[0].kind is not CredentialKind.HTTPS_TOKEN:
        raise DeliveryFailed(
            f"repository {repo.full_name} has no HTTPS token any more to report statuses with; "
            "set one with `oore repo credentials set`",
            permanent=True,
        )
    credential, sealed = found
    provider = origin_of(provider_url)
    if credential.origin != provider or origin_of(repo.clone_url) != provider:
        raise DeliveryFailed(
            f"the token of repository {repo.full_name} was set for {credential.origin or '-'}, "
            f"not for {provider}: it is not sent there",
            permanent=True,
        )
    try:
        return sealer.open(sealed, secret_aad(credential.id)).decode()
    except CryptoError:
        raise DeliveryFailed(
            f"the token of repository {repo.full_name} cannot be opened (was the encryption key "
            "changed?); set it again",
            permanent=True,
        ) from None
