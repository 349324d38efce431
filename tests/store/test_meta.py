"""The daemon's own records in SQLite: health, metadata, counters, and the sealed samples the
encryption-key check opens."""

from __future__ import annotations

from oore.store.base import GithubAppSecrets, RepositorySecrets
from oore.store.sqlite import SqliteStore
from oore.store.sqlite_meta import SEALED_COLUMNS
from tests.store.factories import make_repo
from tests.store.test_github import make_app


async def test_counters_and_meta(store: SqliteStore) -> None:
    await store.ping()
    await store.increment_counter("webhooks_rejected")
    await store.increment_counter("webhooks_rejected", 2)
    assert await store.counters() == {"webhooks_rejected": 3}
    assert await store.get_meta("k") is None
    await store.set_meta("k", b"v1")
    await store.set_meta("k", b"v2")
    assert await store.get_meta("k") == b"v2"


async def test_sealed_samples_name_where_each_value_lives(store: SqliteStore) -> None:
    assert await store.sealed_samples() == []
    repos = [make_repo(f"r{i}", github_id=i) for i in range(4)]
    for i, repo in enumerate(repos):
        await store.create_repository(repo, RepositorySecrets(f"sealed-{i}".encode(), None))
    await store.create_repository(make_repo("plain", github_id=99), RepositorySecrets(None, None))
    row_id = "01HROWAAAAAAAAAAAAAAAAAAAA"
    await store.replace_secret_group("g", {"A": (row_id, b"sealed-secret")})
    samples = await store.sealed_samples(limit=2)
    by_table = [aad.split(b":")[0] for _, aad in samples]
    assert by_table == [b"repositories", b"repositories", b"secrets"]
    owners = {repo.id.encode(): f"sealed-{i}".encode() for i, repo in enumerate(repos)}
    for blob, aad in samples[:2]:
        table, owner, column = aad.split(b":")
        assert (table, column, blob) == (b"repositories", b"webhook_secret", owners[owner])
    assert samples[2] == (b"sealed-secret", f"secrets:{row_id}:value".encode())
    assert {table for table, _ in SEALED_COLUMNS} == {
        "repositories",
        "secrets",
        "credentials",
        "repository_credentials",
        "gitlab_application",
        "gitlab_connection",
        "github_app",
    }


async def test_sealed_samples_include_the_github_apps_secrets(store: SqliteStore) -> None:
    # A wrong encryption key must be caught at start by these too, not at the first fetch.
    app = make_app()
    await store.save_github_app(app, GithubAppSecrets(b"pem", b"hook", b"client"))
    assert set(await store.sealed_samples()) == {
        (b"pem", f"github_app:{app.id}:private_key".encode()),
        (b"hook", f"github_app:{app.id}:webhook_secret".encode()),
        (b"client", f"github_app:{app.id}:client_secret".encode()),
    }
