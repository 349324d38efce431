"""The GitHub App in SQLite: one app at a time, single-use manifest states, installations kept
current by adds and removes."""

from __future__ import annotations

import pytest

from oore.errors import NotFound
from oore.ids import new_id
from oore.model import GithubApp, GithubInstallation, GithubInstallationRepo, utcnow
from oore.store.base import GithubAppSecrets
from oore.store.changes import ChangeKind
from oore.store.sqlite import SqliteStore

SECRETS = GithubAppSecrets(b"pem", b"hook", b"client")


def make_app(app_id: int = 1) -> GithubApp:
    return GithubApp(
        id=new_id(),
        app_id=app_id,
        slug=f"oore-{app_id}",
        name="Oore",
        owner="acme",
        html_url=f"https://github.com/apps/oore-{app_id}",
        client_id="Iv1.abc",
        created_at=utcnow(),
    )


def installation(*repos: GithubInstallationRepo, id: int = 10) -> GithubInstallation:
    return GithubInstallation(id, "acme", "Organization", "selected", False, repos, utcnow())


A = GithubInstallationRepo(1, "acme/a", True)
B = GithubInstallationRepo(2, "acme/b", False)
C = GithubInstallationRepo(3, "acme/c", True)


async def test_one_app_replaces_the_last_and_its_installations(store: SqliteStore) -> None:
    assert await store.github_app() is None
    assert await store.github_app_with_secrets() is None
    first = make_app(1)
    with store.changes.subscribe() as sub:
        await store.save_github_app(first, SECRETS)
        # The app's webhook secret verifies app repositories: the intake's cache must go.
        assert sub.receive.receive_nowait().kind is ChangeKind.REPOSITORY_CHANGED
    assert await store.github_app() == first
    assert await store.github_app_secrets(first.id) == SECRETS
    # Read together, the app and its secrets are always of one app (the intake and the token
    # minting use this: a replacement between two reads found the first app's secrets gone).
    assert await store.github_app_with_secrets() == (first, SECRETS)
    await store.put_github_installation(installation(A))
    second = make_app(2)
    await store.save_github_app(second, GithubAppSecrets(b"p2", b"h2", b"c2"))
    assert await store.github_app() == second
    assert await store.github_app_with_secrets() == (second, GithubAppSecrets(b"p2", b"h2", b"c2"))
    assert await store.github_installations() == []
    with pytest.raises(NotFound, match="oore github setup"):
        await store.github_app_secrets(first.id)


async def test_a_manifest_state_works_once_and_only_before_it_expires(
    store: SqliteStore,
) -> None:
    await store.add_manifest_state("live", "9999-01-01T00:00:00.000Z")
    await store.add_manifest_state("old", "2000-01-01T00:00:00.000Z")
    assert await store.take_manifest_state("live") is True
    assert await store.take_manifest_state("live") is False
    assert await store.take_manifest_state("old") is False
    assert await store.take_manifest_state("never") is False


async def test_installations_follow_adds_removes_and_deletion(store: SqliteStore) -> None:
    await store.put_github_installation(installation(A, B))
    await store.change_github_installation_repositories(10, (C,), (A.id,))
    found = await store.github_installation(10)
    assert found.repositories == (B, C)
    assert await store.github_installation_covers(10, C.id)
    assert not await store.github_installation_covers(10, A.id)
    assert not await store.github_installation_covers(11, B.id)
    # Created again (a redelivery, or `installation created` after a removal): replaced whole.
    await store.put_github_installation(installation(A))
    assert [i.repositories for i in await store.github_installations()] == [(A,)]
    await store.delete_github_installation(10)
    assert await store.github_installations() == []
    assert not await store.github_installation_covers(10, A.id)
    with pytest.raises(NotFound, match="install the app"):
        await store.change_github_installation_repositories(10, (B,), ())
