"""The GitLab OAuth rows: the application, single-use states, the connection, enabled projects."""

from __future__ import annotations

from oore.crypto import Sealer, aad
from oore.model import Provider, Repository, utcnow
from oore.store.base import (
    GitLabProjectLink,
    RepositorySecrets,
    SealedGitLabApplication,
    SealedGitLabConnection,
)
from oore.store.sqlite import SqliteStore

LATER = "2999-01-01T00:00:00.000Z"
EARLIER = "2000-01-01T00:00:00.000Z"


async def test_a_state_is_taken_once_and_not_after_it_expired(store: SqliteStore) -> None:
    await store.add_gitlab_state("live", LATER)
    await store.add_gitlab_state("stale", "2001-01-01T00:00:00.000Z")
    assert await store.take_gitlab_state("live", utcnow()) is True
    assert await store.take_gitlab_state("live", utcnow()) is False
    assert await store.take_gitlab_state("stale", utcnow()) is False
    assert await store.take_gitlab_state("never", utcnow()) is False


async def test_new_states_sweep_expired_ones(store: SqliteStore) -> None:
    await store.add_gitlab_state("stale", EARLIER)
    await store.add_gitlab_state("live", LATER)
    rows = await store.engine.read(
        lambda db: [r[0] for r in db.execute("SELECT state_hash FROM gitlab_oauth_states")]
    )
    assert rows == ["live"]


async def test_another_application_drops_the_connection_and_states(store: SqliteStore) -> None:
    assert await store.gitlab_application() is None
    await store.set_gitlab_application(SealedGitLabApplication("one", b"sealed-1"))
    await store.set_gitlab_connection(SealedGitLabConnection(b"a", b"r", LATER, "me"))
    await store.add_gitlab_state("s", LATER)
    await store.set_gitlab_application(SealedGitLabApplication("one", b"sealed-2"))
    assert await store.gitlab_application() == SealedGitLabApplication("one", b"sealed-2")
    assert await store.gitlab_connection() == SealedGitLabConnection(b"a", b"r", LATER, "me")
    await store.set_gitlab_application(SealedGitLabApplication("two", b"sealed-3"))
    assert await store.gitlab_connection() is None
    assert await store.take_gitlab_state("s", utcnow()) is False


async def test_a_new_connection_replaces_the_old(store: SqliteStore) -> None:
    await store.set_gitlab_connection(SealedGitLabConnection(b"a1", b"r1", EARLIER, "me"))
    await store.set_gitlab_connection(SealedGitLabConnection(b"a2", b"r2", LATER, "me"))
    assert await store.gitlab_connection() == SealedGitLabConnection(b"a2", b"r2", LATER, "me")


async def test_project_links_follow_their_repository(store: SqliteStore) -> None:
    now = utcnow()
    repo = Repository("r1", Provider.GITLAB, "g", "p", "https://gl/g/p.git", created_at=now,
                      updated_at=now)  # fmt: skip
    await store.create_repository(repo, RepositorySecrets(None, "hmac"))
    await store.set_gitlab_project(GitLabProjectLink("r1", 7, 70))
    assert await store.gitlab_project_link("r1") == GitLabProjectLink("r1", 7, 70)
    await store.set_gitlab_project(GitLabProjectLink("r1", 7, None))
    assert await store.gitlab_project_links() == [GitLabProjectLink("r1", 7, None)]
    await store.delete_repository("r1")
    assert await store.gitlab_project_link("r1") is None


async def test_sealed_columns_are_sampled_for_the_key_check(
    store: SqliteStore, sealer: Sealer
) -> None:
    where = aad("gitlab_application", "default", "secret")
    await store.set_gitlab_application(SealedGitLabApplication("one", sealer.seal(b"s", where)))
    access = sealer.seal(b"a", aad("gitlab_connection", "default", "access_token"))
    refresh = sealer.seal(b"r", aad("gitlab_connection", "default", "refresh_token"))
    await store.set_gitlab_connection(SealedGitLabConnection(access, refresh, LATER))
    samples = await store.sealed_samples()
    opened = {sealer.open(blob, where_).decode() for blob, where_ in samples}
    assert {"s", "a", "r"} <= opened
