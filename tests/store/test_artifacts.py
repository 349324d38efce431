"""A build's artifacts in SQLite: added together, listed in order, fetched one by one."""

from __future__ import annotations

import pytest

from oore.errors import NotFound
from oore.ids import new_id
from oore.model import Artifact, utcnow
from oore.store.sqlite import SqliteStore
from tests.store.factories import NO_SECRETS, make_build, make_repo


async def test_artifacts_of_a_build(store: SqliteStore) -> None:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    build = await store.create_build(make_build(repo))
    other = await store.create_build(make_build(repo))
    kept = [
        Artifact(
            new_id(),
            build.id,
            f"app-{i}.ipa",
            f"{build.id}/app-{i}.ipa",
            i,
            "0" * 64,
            "application/octet-stream",
            utcnow(),
        )
        for i in range(2)
    ]
    await store.add_artifacts(kept)
    await store.add_artifacts([])
    assert await store.list_artifacts(build.id) == kept
    assert await store.list_artifacts(other.id) == []
    assert await store.get_artifact(kept[1].id) == kept[1]
    with pytest.raises(NotFound):
        await store.get_artifact("nope")
