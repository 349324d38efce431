from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import trio

from oore.execution import cache
from oore.execution.identity import BuildUser, current_user, named_user


def setup(
    root: Path, user: BuildUser | None = None
) -> tuple[Path, Path, BuildUser, dict[str, str]]:
    """A workspace, a cache dir, the build user and the build's environment under `root`."""
    ws, store = root / "ws", root / "cache"
    ws.mkdir()
    user = user or current_user(root / "home")
    user.home.mkdir(exist_ok=True)
    for path in (ws, user.home):
        user.chown(path)
    env = {"HOME": str(user.home), "CM_BUILD_DIR": str(ws)}
    return ws, store, user, env


async def test_a_relative_path_lies_in_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, store, user, env = setup(tmp_path)
    elsewhere = tmp_path / "daemon-cwd"
    (elsewhere / "build-cache").mkdir(parents=True)
    (elsewhere / "build-cache" / "wrong.txt").write_text("the daemon's")
    monkeypatch.chdir(elsewhere)  # where the daemon happens to run must not matter
    (ws / "build-cache").mkdir()
    (ws / "build-cache" / "count").write_text("7")
    (user.home / ".gradle").mkdir()
    (user.home / ".gradle" / "g.txt").write_text("g")
    paths = ("build-cache", "~/.gradle")
    saved = await cache.save(store, paths, env, workspace=ws, user=user)
    assert [n.split(" (")[0] for n in saved] == [
        "cache build-cache: saved",
        "cache ~/.gradle: saved",
    ]
    shutil.rmtree(ws / "build-cache")
    shutil.rmtree(user.home / ".gradle")
    restored = await cache.restore(store, paths, env, workspace=ws, user=user)
    assert restored == ["cache build-cache: restored", "cache ~/.gradle: restored"]
    assert (ws / "build-cache" / "count").read_text() == "7"
    assert (user.home / ".gradle" / "g.txt").read_text() == "g"
    assert sorted(p.name for p in (elsewhere / "build-cache").iterdir()) == ["wrong.txt"]


@pytest.mark.parametrize(
    "raw",
    ["$CM_BUILD_DIR/../logs", "/etc/ssh", "$HOME/../logs", "$CM_BUILD_DIR", "~"],
)
async def test_paths_outside_the_workspace_and_home_are_refused(tmp_path: Path, raw: str) -> None:
    ws, store, user, env = setup(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "oored.log").write_text("the daemon's log")
    saved = await cache.save(store, (raw,), env, workspace=ws, user=user)
    assert len(saved) == 1
    assert saved[0].startswith(f"cache {raw}: refused, ")
    assert "cache paths must point inside $CM_BUILD_DIR" in saved[0]
    assert list(store.iterdir()) == []  # nothing archived


async def test_a_refused_path_is_never_restored(tmp_path: Path) -> None:
    # An archive saved by an earlier version under this path's name (or planted) stays unused.
    ws, store, user, env = setup(tmp_path)
    (ws / "logs").mkdir()
    (ws / "logs" / "oored.log").write_text("overwritten")
    raw = "$CM_BUILD_DIR/../logs"
    planted = await cache.save(store, ("$CM_BUILD_DIR/logs",), env, workspace=ws, user=user)
    assert planted[0].startswith("cache $CM_BUILD_DIR/logs: saved")
    archive = next(store.iterdir())
    archive.rename(archive.with_name(cache._archive(store, raw).name))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "oored.log").write_text("the daemon's log")
    notes = await cache.restore(store, (raw,), env, workspace=ws, user=user)
    assert notes[0].startswith(f"cache {raw}: refused, {tmp_path / 'logs'} is not inside")
    assert (tmp_path / "logs" / "oored.log").read_text() == "the daemon's log"


async def test_a_symlink_leaving_the_workspace_is_refused(tmp_path: Path) -> None:
    ws, store, user, env = setup(tmp_path)
    secret = tmp_path / "ssh"
    secret.mkdir()
    (secret / "id_ed25519").write_text("private key")
    os.symlink(secret, ws / "ssh")  # as a repository may hold
    for raw in ("ssh", "$CM_BUILD_DIR/ssh/id_ed25519"):
        saved = await cache.save(store, (raw,), env, workspace=ws, user=user)
        assert saved[0].startswith(f"cache {raw}: refused, {secret}")
    assert list(store.iterdir()) == []


async def test_save_reads_only_what_the_build_user_may_read(
    build_user_name: str, shared_tmp: Path
) -> None:
    user = named_user(build_user_name, shared_tmp / "home")
    ws, store, user, env = setup(shared_tmp, user)
    secret = shared_tmp / "encryption-key"  # the daemon's: root's, 0600
    secret.write_text("the daemon's key")
    secret.chmod(0o600)
    (ws / ".cache").mkdir()
    user.chown(ws / ".cache")
    # Where the kernel lets a user link any file it can reach (macOS, Linux without
    # fs.protected_hardlinks), a build can plant this; root makes it here.
    os.link(secret, ws / ".cache" / "key")
    raw = "$CM_BUILD_DIR/.cache"
    saved = await cache.save(store, (raw,), env, workspace=ws, user=user)
    assert saved[0].startswith(f"cache {raw}: not saved ("), saved
    assert "Permission denied" in saved[0]
    assert [p.name for p in store.iterdir()] == []  # no archive, no partial one


async def test_restore_writes_only_where_the_build_user_may_write(
    build_user_name: str, shared_tmp: Path
) -> None:
    user = named_user(build_user_name, shared_tmp / "home")
    ws, store, user, env = setup(shared_tmp, user)
    (ws / "locked" / "cache").mkdir(parents=True)  # root's, 0755: not the build's to write
    (ws / "locked" / "cache" / "old.txt").write_text("old")
    (ws / ".cache" / "evil").mkdir(parents=True)
    (ws / ".cache" / "evil" / "owned.txt").write_text("written by the build")
    for path in (ws / ".cache", ws / ".cache" / "evil", ws / ".cache" / "evil" / "owned.txt"):
        user.chown(path)
    paths = ("$CM_BUILD_DIR/locked/cache", "$CM_BUILD_DIR/.cache")
    saved = await cache.save(store, paths, env, workspace=ws, user=user)
    assert all(" saved (" in note for note in saved), saved
    # This build's repository holds `.cache/evil` as a symlink to the daemon's directory.
    victim = shared_tmp / "victim"
    victim.mkdir(mode=0o755)
    shutil.rmtree(ws / ".cache" / "evil")
    os.symlink(victim, ws / ".cache" / "evil")
    os.lchown(ws / ".cache" / "evil", user.uid, user.gid)
    (ws / "locked" / "cache" / "old.txt").unlink()
    notes = await cache.restore(store, paths, env, workspace=ws, user=user)
    assert notes[0].startswith("cache $CM_BUILD_DIR/locked/cache: not restored ("), notes
    assert not (ws / "locked" / "cache" / "old.txt").exists()
    assert notes[1] == "cache $CM_BUILD_DIR/.cache: restored"
    assert not (victim / "owned.txt").exists()
    assert (ws / ".cache" / "evil" / "owned.txt").read_text() == "written by the build"


def test_an_unusual_workflow_name_cannot_pick_the_cache_dir(tmp_path: Path) -> None:
    assert cache.directory(tmp_path, "R1", "ios-release_2.0") == tmp_path / "R1" / "ios-release_2.0"
    odd = cache.directory(tmp_path, "R1", "../../etc")
    assert odd.parent == tmp_path / "R1"
    assert odd.name.startswith("workflow-")


async def test_an_archive_past_the_cap_is_not_saved(tmp_path: Path) -> None:
    ws, store, user, env = setup(tmp_path)
    (ws / "big").mkdir()
    (ws / "big" / "blob").write_bytes(os.urandom(3 * 1024 * 1024))
    saved = await cache.save(store, ("big",), env, workspace=ws, user=user, max_bytes=1024 * 1024)
    assert saved == ["cache big: not saved (over the 1,048,576 bytes a cache archive may take)"]
    assert list(store.rglob("*")) == [], "neither the archive nor its partial is kept"


async def test_a_cancelled_save_stops_tar_at_once(tmp_path: Path) -> None:
    ws, store, user, env = setup(tmp_path)
    (ws / "huge").mkdir()
    with (ws / "huge" / "sparse").open("wb") as sparse:
        sparse.truncate(64 * 1024**3)  # tar would read 64 GiB of zeros
    started = trio.current_time()
    with trio.move_on_after(0.5):
        await cache.save(store, ("huge",), env, workspace=ws, user=user, max_bytes=128 * 1024**3)
    assert trio.current_time() - started < 5
    assert not list(store.glob("*.tar"))


async def test_a_restore_counts_as_a_use_for_retention(tmp_path: Path) -> None:
    ws, store, user, env = setup(tmp_path)
    (ws / "deps").mkdir()
    (ws / "deps" / "lib.txt").write_text("lib")
    await cache.save(store, ("deps",), env, workspace=ws, user=user)
    (archive,) = store.iterdir()
    os.utime(archive, (1_000_000, 1_000_000))  # saved long ago
    assert await cache.restore(store, ("deps",), env, workspace=ws, user=user) == [
        "cache deps: restored"
    ]
    # Retention removes archives by mtime: one restored just now must look used just now.
    assert archive.stat().st_mtime > 1_000_000 + 86400
