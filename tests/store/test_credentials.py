"""Repositories' own git credentials in SQLite: one per repository, replaced whole, removed with
the repository, the sealed secret apart from what the API shows."""

from __future__ import annotations

import dataclasses

import pytest

from oore.errors import NotFound
from oore.store.base import CredentialKind, RepositoryCredential
from oore.store.sqlite import SqliteStore
from tests.store.factories import NO_SECRETS, make_repo


def token_credential(
    repository_id: str, row_id: str = "01HCREDAAAAAAAAAAAAAAAAAAA"
) -> RepositoryCredential:
    return RepositoryCredential(
        id=row_id,
        repository_id=repository_id,
        kind=CredentialKind.HTTPS_TOKEN,
        username="bot",
        public_key=None,
        origin="https://git.example.com",
        created_at="2026-01-01T00:00:00Z",
    )


async def test_a_credential_is_stored_replaced_and_deleted(store: SqliteStore) -> None:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    assert await store.repository_credential(repo.id) is None
    token = token_credential(repo.id)
    await store.set_repository_credential(token, b"sealed-token")
    assert await store.repository_credential(repo.id) == token
    assert await store.sealed_repository_credential(repo.id) == (token, b"sealed-token")

    key = dataclasses.replace(
        token,
        id="01HCREDBBBBBBBBBBBBBBBBBBB",
        kind=CredentialKind.SSH_DEPLOY_KEY,
        username=None,
        public_key="ssh-ed25519 AAAA oore",
        origin="ssh://git.example.com",
    )
    await store.set_repository_credential(key, b"sealed-key")
    assert await store.sealed_repository_credential(repo.id) == (key, b"sealed-key")

    assert await store.delete_repository_credential(repo.id) is True
    assert await store.repository_credential(repo.id) is None
    assert await store.delete_repository_credential(repo.id) is False


async def test_a_credential_needs_its_repository_and_goes_with_it(store: SqliteStore) -> None:
    with pytest.raises(NotFound):
        await store.set_repository_credential(token_credential("01HNOSUCHREPOAAAAAAAAAAAAA"), b"x")
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    await store.set_repository_credential(token_credential(repo.id), b"sealed")
    await store.delete_repository(repo.id)
    assert await store.sealed_repository_credential(repo.id) is None


async def test_the_sealed_secret_is_a_key_check_sample(store: SqliteStore) -> None:
    # The daemon opens samples at start to refuse a wrong encryption key before using it.
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    credential = token_credential(repo.id)
    await store.set_repository_credential(credential, b"sealed-token")
    aad = f"repository_credentials:{credential.id}:secret".encode()
    assert (b"sealed-token", aad) in await store.sealed_samples()
