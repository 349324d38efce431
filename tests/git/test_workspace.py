"""Workspaces: a private checkout of one commit that outlives whatever happens to the mirror."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import trio
import trio.lowlevel

from oore.git import (
    GitError,
    Mirror,
    RefNotFound,
    create_workspace,
    fetch,
    remove_workspace,
    resolve,
)
from oore.git.workspace import _retry_writable

from .conftest import Upstream, git, git_succeeds


@pytest.fixture
async def fetched(mirror: Mirror, upstream: Upstream) -> Upstream:
    await fetch(mirror, ["refs/heads/main"])
    return upstream


async def test_workspace_at_an_older_commit_while_the_branch_moved_on(
    mirror: Mirror, fetched: Upstream, tmp_path: Path
) -> None:
    a = fetched.commits["A"]
    ws = tmp_path / "workspaces" / "build1"
    await create_workspace(mirror, a, ws)
    assert await git(ws, "rev-parse", "HEAD") == a
    assert (ws / "src" / "app.txt").read_bytes() == b"v1\n"
    assert not (ws / "oore.yaml").exists()
    assert await git(ws, "status", "--porcelain") == ""
    assert await git(ws, "branch", "--show-current") == ""  # detached


async def test_workspace_survives_force_push_and_gc_in_the_mirror(
    mirror: Mirror, fetched: Upstream, tmp_path: Path
) -> None:
    b = fetched.commits["B"]
    ws = tmp_path / "ws"
    await create_workspace(mirror, b, ws)
    # B becomes unreachable in the mirror, then gc deletes it there: with `clone --shared` the
    # workspace would lose its objects ("fatal: bad object HEAD").
    await fetched.git("reset", "-q", "--hard", fetched.commits["A"])
    await fetched.commit("C", {"new.txt": b"new\n"})
    await fetch(mirror, ["refs/heads/main"])
    await git(mirror.path, "gc", "--quiet", "--prune=now")
    assert not await git_succeeds(mirror.path, "cat-file", "-e", b)  # really gone from the mirror
    assert await git(ws, "log", "--format=%s") == "B\nA"
    assert await git(ws, "fsck", "--no-dangling") == ""
    assert not (ws / ".git" / "objects" / "info" / "alternates").exists()


async def test_workspace_remote_is_only_the_mirror(
    mirror: Mirror, fetched: Upstream, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    await create_workspace(mirror, fetched.commits["B"], ws)
    remotes = await git(ws, "config", "--get-regexp", r"^remote\..*\.url$")
    assert remotes == f"remote.origin.url {mirror.path}"
    assert fetched.url not in (ws / ".git" / "config").read_text()


async def test_workspace_is_independent_of_the_mirror_refs(
    mirror: Mirror, fetched: Upstream, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    await create_workspace(mirror, fetched.commits["B"], ws)
    await git(ws, "tag", "from-a-build-script")
    with pytest.raises(RefNotFound):
        await resolve(mirror, "refs/tags/from-a-build-script")


async def test_workspace_for_a_commit_not_in_the_mirror(mirror: Mirror, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with pytest.raises(RefNotFound, match=f"commit {'e' * 40} is not in the mirror"):
        await create_workspace(mirror, "e" * 40, ws)
    assert not ws.exists()


async def test_workspace_checkout_failure_leaves_nothing(
    mirror: Mirror, fetched: Upstream, tmp_path: Path
) -> None:
    # The tree of A holds a blob the mirror no longer has: clone works, checkout fails.
    blob = await git(mirror.path, "rev-parse", f"{fetched.commits['A']}:README.md")
    loose = mirror.path / "objects" / blob[:2] / blob[2:]
    assert loose.exists()  # a fetch of under 100 objects keeps them loose
    loose.chmod(0o644)
    loose.unlink()
    ws = tmp_path / "ws"
    with pytest.raises(GitError, match=r"checking out .* delete it so that it is fetched again"):
        await create_workspace(mirror, fetched.commits["A"], ws)
    assert not ws.exists()


async def test_remove_workspace_with_read_only_parts(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    locked = ws / "cache" / "locked"
    locked.mkdir(parents=True)
    (locked / "file").write_text("x")
    (locked / "file").chmod(stat.S_IRUSR)
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)  # entries cannot be unlinked
    sealed = ws / "sealed"
    sealed.mkdir()
    (sealed / "inner").write_text("y")
    sealed.chmod(0)  # cannot even be listed
    os.symlink(tmp_path / "outside", ws / "link")
    (tmp_path / "outside").write_text("keep")
    await remove_workspace(ws)
    assert not ws.exists()
    assert (tmp_path / "outside").read_text() == "keep"


async def test_remove_workspace_missing_is_fine(tmp_path: Path) -> None:
    await remove_workspace(tmp_path / "never-made")


async def test_remove_workspace_runs_off_the_event_loop(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    for i in range(200):
        (ws / f"d{i % 10}").mkdir(parents=True, exist_ok=True)
        (ws / f"d{i % 10}" / f"f{i}").write_text("z")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(tick)
        await remove_workspace(ws)
        nursery.cancel_scope.cancel()
    assert not ws.exists()
    assert ticks > 1


# Root (as on some CI boxes) ignores permission bits, so the test above cannot fail there; these
# call rmtree's error handler directly with the PermissionError a normal user would get.
def test_permission_error_on_a_file_makes_its_directory_writable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "file").write_text("x")
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    _retry_writable(os.unlink, str(locked / "file"), PermissionError())
    assert locked.stat().st_mode & stat.S_IWUSR
    assert not (locked / "file").exists()


def test_permission_error_on_a_directory_removes_it_whole(tmp_path: Path) -> None:
    sealed = tmp_path / "sealed"
    (sealed / "deeper").mkdir(parents=True)
    (sealed / "deeper" / "inner").write_text("y")
    sealed.chmod(0)
    _retry_writable(os.open, str(sealed), PermissionError())
    assert not sealed.exists()


def test_other_errors_are_not_swallowed(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        _retry_writable(os.unlink, str(tmp_path), IsADirectoryError())
    _retry_writable(os.unlink, str(tmp_path / "gone"), FileNotFoundError())  # tolerated
