"""The repository-credential source: the stored secret, opened, for the URL it was set for only."""

from __future__ import annotations

import base64
import dataclasses
import logging

import pytest

from oore.crypto import Sealer
from oore.model import Repository
from oore.providers.credentials import (
    NewCredential,
    RepositoryCredentials,
    https_token,
    secret_aad,
    ssh_deploy_key,
)
from oore.providers.gitauth import CredentialChain
from oore.store.sqlite import SqliteStore
from tests.store.factories import NO_SECRETS, make_repo

TOKEN = "ghp_source0test0token0q7"


async def stored(
    store: SqliteStore, sealer: Sealer, clone_url: str, *, key: bool = False
) -> tuple[Repository, NewCredential]:
    repo = dataclasses.replace(make_repo(), clone_url=clone_url)
    await store.create_repository(repo, NO_SECRETS)
    new = ssh_deploy_key(repo) if key else https_token(repo, TOKEN, None)
    sealed = sealer.seal(new.secret, secret_aad(new.credential.id))
    await store.set_repository_credential(new.credential, sealed)
    return repo, new


async def test_a_token_is_given_for_its_own_origin_only(
    store: SqliteStore, sealer: Sealer, caplog: pytest.LogCaptureFixture
) -> None:
    repo, _ = await stored(store, sealer, "https://GitHub.com/acme/app.git")
    source = RepositoryCredentials(store, sealer)
    given = await source.credential_for(repo)
    assert given is not None
    assert (
        given.http_authorization
        == "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    )
    same_host = dataclasses.replace(repo, clone_url="https://github.com/acme/other.git")
    assert await source.credential_for(same_host) is not None

    caplog.set_level(logging.WARNING)
    for elsewhere in (
        "https://evil.example/acme/app.git",
        "http://github.com/acme/app.git",  # not in clear text either
        "https://github.com:8443/acme/app.git",
        "file:///srv/app.git",
    ):
        moved = dataclasses.replace(repo, clone_url=elsewhere)
        assert await source.credential_for(moved) is None, elsewhere
    assert "not sent there" in caplog.text
    assert TOKEN not in caplog.text


async def test_a_deploy_key_and_the_chain(store: SqliteStore, sealer: Sealer) -> None:
    repo, new = await stored(store, sealer, "git@github.com:acme/app.git", key=True)
    none = dataclasses.replace(make_repo("none"), clone_url="https://github.com/acme/none.git")
    await store.create_repository(none, NO_SECRETS)
    chain = CredentialChain([RepositoryCredentials(store, sealer)])
    given = await chain.credential_for(repo)
    assert given is not None
    assert given.ssh_private_key == new.secret
    assert b"OPENSSH PRIVATE KEY" in new.secret
    assert await chain.credential_for(none) is None
