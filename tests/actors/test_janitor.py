"""The Janitor against a real store and a real data dir: old builds' logs and artifacts go (the
newest of each workflow and unfinished builds' stay), unused caches, old deliveries and what a
deleted repository left go; an interrupted sweep is finished by the next; it sweeps again every
interval; and it counts what it removed."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import trio
from prometheus_client import CollectorRegistry

from oore.actors.janitor import Janitor
from oore.actors.retention import JanitorDirs, RetentionPolicy
from oore.config import settings_from
from oore.ids import new_id
from oore.model import Artifact, Build, BuildStatus, Repository, WebhookTarget, utcnow
from oore.store.base import DeliveryFilter, EventFilter, FileKind
from oore.store.sqlite import SqliteStore
from tests.store.factories import NO_SECRETS, made_deliveries_at, make_build, make_event, make_repo

OLD = "2020-01-01T00:00:00.000Z"
DAY = 86400


def _dirs(root: Path) -> JanitorDirs:
    return JanitorDirs(root / "logs", root / "artifacts", root / "cache", root / "mirrors")


def _sql(store: SqliteStore, sql: str, *args: object) -> None:
    conn = sqlite3.connect(store.engine.path)
    try:
        conn.execute(sql, args)
        conn.commit()
    finally:
        conn.close()


def _write(path: Path, data: bytes = b"x" * 100, *, age_days: float = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age_days:
        then = time.time() - age_days * DAY
        os.utime(path, (then, then))
    return path


async def _repo(store: SqliteStore, name: str = "app") -> Repository:
    repo = make_repo(name, github_id=None)
    await store.create_repository(repo, NO_SECRETS)
    return repo


async def _build_with_files(
    store: SqliteStore, dirs: JanitorDirs, repo: Repository, *, old: bool, finish: bool = True
) -> Build:
    build = await store.create_build(make_build(repo, "ios"))
    if finish:
        for status in (BuildStatus.PREPARING, BuildStatus.RUNNING, BuildStatus.FAILED):
            await store.transition_build(build.id, status)
    else:
        await store.transition_build(build.id, BuildStatus.PREPARING)
        await store.transition_build(build.id, BuildStatus.RUNNING)
    if old:
        _sql(
            store,
            "UPDATE builds SET created_at = ?, started_at = ?, finished_at = CASE WHEN"
            " finished_at IS NULL THEN NULL ELSE ? END WHERE id = ?",
            OLD,
            OLD,
            OLD,
            build.id,
        )
    _write(dirs.logs / f"{build.id}.log", b"line\n" * 20)
    _write(dirs.logs / f"{build.id}.idx", b"\0" * 16)
    _write(dirs.artifacts / build.id / "app.apk", b"apk" * 100)
    artifact = Artifact(
        new_id(), build.id, "app.apk", f"{build.id}/app.apk", 300, "0" * 64, "x", OLD
    )
    await store.add_artifacts([artifact])
    return build


def _has_files(dirs: JanitorDirs, build: Build) -> tuple[bool, bool]:
    return (dirs.logs / f"{build.id}.log").exists(), (dirs.artifacts / build.id).exists()


async def test_a_sweep_removes_what_is_past_retention_and_keeps_the_rest(
    store: SqliteStore, tmp_path: Path
) -> None:
    dirs = _dirs(tmp_path)
    repo = await _repo(store)
    old = [await _build_with_files(store, dirs, repo, old=True) for _ in range(2)]
    newest_old = await _build_with_files(store, dirs, repo, old=True)  # the newest of "ios"
    running = await _build_with_files(store, dirs, repo, old=True, finish=False)
    registry = CollectorRegistry()
    janitor = Janitor(store, dirs, RetentionPolicy(keep_builds=2), registry=registry)

    report = await janitor.sweep()

    # keep 2: the running build and the newest finished one are the newest two of the workflow.
    for build in old:
        assert _has_files(dirs, build) == (False, False)
        assert (await store.get_build(build.id)).log_expired_at is not None
        assert await store.list_artifacts(build.id) == []
    assert _has_files(dirs, newest_old) == (True, True)
    assert _has_files(dirs, running) == (True, True)
    assert (report.removed["logs"], report.removed["artifacts"]) == (2, 2)
    assert report.freed["logs"] == 2 * (100 + 16)
    assert report.freed["artifacts"] == 2 * 300
    assert await store.pending_expiries(10) == []
    assert registry.get_sample_value("oore_janitor_removed_total", {"kind": "logs"}) == 2
    assert registry.get_sample_value("oore_janitor_freed_bytes_total", {"kind": "artifacts"}) == 600
    assert janitor.last_sweep is report


async def test_unfinished_builds_keep_their_files_even_with_nothing_kept(
    store: SqliteStore, tmp_path: Path
) -> None:
    dirs = _dirs(tmp_path)
    repo = await _repo(store)
    running = await _build_with_files(store, dirs, repo, old=True, finish=False)
    await Janitor(store, dirs, RetentionPolicy(keep_builds=0)).sweep()
    assert _has_files(dirs, running) == (True, True)


async def test_each_kind_has_its_own_days_and_zero_keeps_forever(
    store: SqliteStore, tmp_path: Path
) -> None:
    dirs = _dirs(tmp_path)
    repo = await _repo(store)
    build = await _build_with_files(store, dirs, repo, old=True)
    policy = RetentionPolicy(logs_days=0, artifacts_days=10, keep_builds=0)
    await Janitor(store, dirs, policy).sweep()
    assert _has_files(dirs, build) == (True, False)
    found = await store.get_build(build.id)
    assert (found.log_expired_at, found.artifacts_expired_at is not None) == (None, True)


async def test_a_sweep_finishes_what_an_interrupted_one_marked(
    store: SqliteStore, tmp_path: Path
) -> None:
    dirs = _dirs(tmp_path)
    repo = await _repo(store)
    build = await _build_with_files(store, dirs, repo, old=True)
    # A sweep that marked the build and stopped (a crash) before removing its files.
    await store.expire_build_files(FileKind.LOGS, "2021-01-01T00:00:00.000Z", 0, 10)
    policy = RetentionPolicy(logs_days=0, artifacts_days=0, keep_builds=0)

    report = await Janitor(store, dirs, policy).sweep()

    assert _has_files(dirs, build) == (False, True)  # only what was marked
    assert report.removed["logs"] == 1
    assert await store.pending_expiries(10) == []


async def test_unused_caches_and_deleted_repositories_files_go(
    store: SqliteStore, tmp_path: Path
) -> None:
    dirs = _dirs(tmp_path)
    repo = await _repo(store)
    unused = _write(dirs.cache / repo.id / "ios" / "aaaa.tar", age_days=40)
    used = _write(dirs.cache / repo.id / "ios" / "bbbb.tar", age_days=2)
    gone = new_id()  # a repository whose deletion stopped before it removed its files
    orphan_cache = _write(dirs.cache / gone / "ios" / "cccc.tar")
    orphan_mirror = _write(dirs.mirrors / f"{gone}.git" / "HEAD", b"ref: refs/heads/main\n")
    live_mirror = _write(dirs.mirrors / f"{repo.id}.git" / "HEAD")
    known_hosts = _write(dirs.mirrors / "ssh" / "known_hosts")

    report = await Janitor(store, dirs, RetentionPolicy()).sweep()

    assert not unused.exists()
    assert not orphan_cache.parent.parent.exists()
    assert not orphan_mirror.parent.exists()
    assert used.exists()
    assert live_mirror.exists()
    assert known_hosts.exists()
    assert (report.removed["caches"], report.removed["mirrors"]) == (2, 1)
    assert report.freed["mirrors"] == len(b"ref: refs/heads/main\n")


async def test_old_deliveries_are_deleted(store: SqliteStore, tmp_path: Path) -> None:
    old, recent = make_event("old"), make_event("recent")
    for event in (old, recent):
        await store.insert_event(event)
    _sql(store, "UPDATE webhook_events SET state = 'ignored'")
    _sql(store, "UPDATE webhook_events SET received_at = ? WHERE id = ?", OLD, old.id)

    report = await Janitor(store, _dirs(tmp_path), RetentionPolicy()).sweep()

    left = (await store.list_events(EventFilter(), None, 10)).items
    assert [e.id for e in left] == [recent.id]
    assert report.removed["events"] == 1


async def test_old_notification_deliveries_are_deleted(store: SqliteStore, tmp_path: Path) -> None:
    repo = await _repo(store)
    target = WebhookTarget(new_id(), None, "http://127.0.0.1:9/hook", (), utcnow())
    await store.add_webhook_target(target, b"sealed")
    old = await _build_with_files(store, _dirs(tmp_path), repo, old=False)
    recent = await _build_with_files(store, _dirs(tmp_path), repo, old=False)
    _sql(store, "UPDATE deliveries SET state = 'delivered'")
    await store.engine.write(lambda db: made_deliveries_at(db, OLD, "build_id = ?", old.id))
    _sql(store, "UPDATE deliveries SET retry_since = ? WHERE build_id = ?", OLD, old.id)

    kept = await Janitor(store, _dirs(tmp_path), RetentionPolicy(deliveries_days=0)).sweep()
    report = await Janitor(store, _dirs(tmp_path), RetentionPolicy()).sweep()

    assert kept.removed["deliveries"] == 0
    assert report.removed["deliveries"] == 3  # queued, started, failed
    assert report.freed["deliveries"] > 0
    left = (await store.list_deliveries(DeliveryFilter(), None, 10)).items
    assert {d.build_id for d in left} == {recent.id}


def test_notification_deliveries_are_kept_for_the_general_retention_days(tmp_path: Path) -> None:
    values = {"OORE_RETENTION_DAYS": "5", "OORE_RETENTION_EVENTS_DAYS": "9"}
    settings = settings_from(values | {"OORE_DATA_DIR": str(tmp_path)}, is_root=False)
    assert RetentionPolicy.from_settings(settings).deliveries_days == 5


async def test_the_actor_sweeps_again_every_interval(store: SqliteStore, tmp_path: Path) -> None:
    dirs = _dirs(tmp_path)
    repo = await _repo(store)
    first = await _build_with_files(store, dirs, repo, old=True)
    second = await _build_with_files(store, dirs, repo, old=False)
    await _build_with_files(store, dirs, repo, old=False)  # the newest: kept
    janitor = Janitor(store, dirs, RetentionPolicy(keep_builds=1, interval=0.05))
    async with trio.open_nursery() as nursery:
        await nursery.start(janitor.run)
        await _files_gone(dirs, first)
        assert _has_files(dirs, second) == (True, True)
        _sql(store, "UPDATE builds SET finished_at = ? WHERE id = ?", OLD, second.id)
        await _files_gone(dirs, second)  # aged after the first sweep: a later one takes it
        nursery.cancel_scope.cancel()


async def _files_gone(dirs: JanitorDirs, build: Build) -> None:
    for _ in range(500):  # 10 s
        if _has_files(dirs, build) == (False, False):
            return
        await trio.sleep(0.02)
    raise AssertionError(f"build {build.id}'s files are still there")
