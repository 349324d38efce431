"""Repositories in SQLite: registration, lookup by provider id or name, settings, webhook
secrets, the stored pipeline, and the `repository_changed` announcement after each write."""

from __future__ import annotations

import pytest
import trio

from oore.errors import Conflict, NotFound
from oore.model import Provider
from oore.store.base import RepositorySecrets
from oore.store.changes import ChangeKind
from oore.store.sqlite import SqliteStore
from tests.store.factories import NO_SECRETS, make_repo, witness


async def test_repository_crud_and_unique(store: SqliteStore) -> None:
    repo = make_repo()
    await store.create_repository(repo, RepositorySecrets(b"sealed", None))
    got = await store.get_repository(repo.id)
    assert got.full_name == "acme/app"
    assert got.has_webhook_secret is True
    with pytest.raises(Conflict, match="already registered"):
        await store.create_repository(make_repo(), NO_SECRETS)
    updated = await store.update_repository(repo.id, {"active": False, "default_branch": "dev"})
    assert (updated.active, updated.default_branch) == (False, "dev")
    assert await store.find_repository(Provider.GITHUB, "ACME", "App", None) == updated
    assert (await store.find_repository(Provider.GITHUB, "x", "y", 42)) == updated
    assert await store.find_repository(Provider.GITLAB, "acme", "app", None) is None
    await store.delete_repository(repo.id)
    with pytest.raises(NotFound):
        await store.get_repository(repo.id)


async def test_only_listed_fields_are_updatable(store: SqliteStore) -> None:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    with pytest.raises(ValueError, match="owner"):
        await store.update_repository(repo.id, {"owner": "mallory"})
    with pytest.raises(NotFound):
        await store.update_repository("nope", {"active": False})
    assert (await store.get_repository(repo.id)).owner == "acme"


async def test_repository_secrets_are_kept_unless_replaced(store: SqliteStore) -> None:
    repo = make_repo()
    await store.create_repository(repo, RepositorySecrets(b"sealed", None))
    assert await store.repository_secrets(repo.id) == RepositorySecrets(b"sealed", None)
    await store.update_repository(repo.id, {"default_branch": "dev"})
    assert await store.repository_secrets(repo.id) == RepositorySecrets(b"sealed", None)
    await store.update_repository(repo.id, {}, RepositorySecrets(None, "hmac"))
    assert await store.repository_secrets(repo.id) == RepositorySecrets(None, "hmac")
    assert (await store.get_repository(repo.id)).has_webhook_secret is True
    await store.update_repository(repo.id, {}, NO_SECRETS)
    assert (await store.get_repository(repo.id)).has_webhook_secret is False
    with pytest.raises(NotFound):
        await store.repository_secrets("nope")


async def test_stored_pipeline(store: SqliteStore) -> None:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    assert await store.get_pipeline(repo.id) is None
    await store.set_pipeline(repo.id, "workflows: {}\n")
    assert await store.get_pipeline(repo.id) == "workflows: {}\n"
    await store.set_pipeline(repo.id, None)
    assert await store.get_pipeline(repo.id) is None
    with pytest.raises(NotFound):
        await store.get_pipeline("nope")
    with pytest.raises(NotFound):
        await store.set_pipeline("nope", "workflows: {}\n")


async def test_repository_changes_are_announced_once_committed(store: SqliteStore) -> None:
    repo = make_repo()
    with witness(store) as seen:
        await store.create_repository(repo, NO_SECRETS)
        await store.update_repository(repo.id, {"default_branch": "dev"})
        await store.delete_repository(repo.id)
    assert [(c.kind, c.repository_id) for c, _ in seen.seen] == [
        (ChangeKind.REPOSITORY_CHANGED, repo.id)
    ] * 3
    # What a subscriber reading the repository back at each announcement would find.
    assert [row for _, row in seen.seen] == ["main", "dev", None]


async def test_failed_repository_writes_announce_nothing(store: SqliteStore) -> None:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    with witness(store) as seen:
        with pytest.raises(Conflict):
            await store.create_repository(make_repo(), NO_SECRETS)
        with pytest.raises(NotFound):
            await store.update_repository("nope", {"active": False})
        with pytest.raises(ValueError, match="not updatable"):
            await store.update_repository(repo.id, {"owner": "mallory"})
        with pytest.raises(NotFound):
            await store.delete_repository("nope")
    assert seen.seen == []


async def test_a_write_whose_caller_gives_up_is_still_announced(store: SqliteStore) -> None:
    """The announcement comes from the writer once committed, not from the caller: a request
    cancelled while its write was queued (a client that went away) still invalidates caches."""
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    with store.changes.subscribe() as changes:
        with trio.CancelScope() as caller:
            caller.cancel()  # cancelled at its first wait: after queueing the write
            await store.update_repository(repo.id, {"active": False})
        assert caller.cancelled_caught
        with trio.fail_after(10):
            change = await changes.receive.receive()
    assert (change.kind, change.repository_id) == (ChangeKind.REPOSITORY_CHANGED, repo.id)
    assert (await store.get_repository(repo.id)).active is False
