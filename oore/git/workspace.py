"""Build workspaces: a private clone of the mirror with the exact commit checked out, detached.

A workspace is a local ``git clone`` of the mirror (objects hard-linked, copied when the two
directories are on different filesystems) rather than ``clone --shared`` or ``git worktree``:
a shared clone borrows the mirror's objects, so a force-push plus ``git gc`` in the mirror breaks
``git log``/``git describe`` in a running build; a worktree shares the mirror's refs, so a build
script's ``git tag`` would write into the mirror. Hard links cost about the same time on a
packed mirror (bench/RESULTS.md, "Figures behind design notes"). The workspace's only remote is
the mirror path.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import trio

from oore.git.mirror import Mirror, has_commit, missing_commit
from oore.git.names import check_sha
from oore.git.process import git_output


async def create_workspace(mirror: Mirror, sha: str, dest: Path, *, copy: bool = False) -> None:
    """Make `dest` (absent or empty) a working tree of the mirror at commit `sha`, detached.

    `copy`: copy the objects rather than hard-link them (a workspace handed to another user must
    not share inodes with the mirror: owning them, that user could change the mirror's objects).
    """
    if not await has_commit(mirror, check_sha(sha)):
        raise missing_commit(mirror, sha)
    # A plain path (not file://) keeps git's local-clone fast path; without --local, git falls
    # back to copying when hard links are impossible instead of failing.
    clone = ["clone", "--quiet", "--no-checkout", *(["--no-hardlinks"] if copy else [])]
    clone += ["--", str(mirror.path), str(dest)]
    await git_output(clone, f"cloning the mirror into {dest}", "Check free disk space.")
    try:
        await _check_out(dest, sha)
    except BaseException:
        with trio.CancelScope(shield=True):
            await remove_workspace(dest)
        raise


async def _check_out(dest: Path, sha: str) -> None:
    # Not `git checkout --detach SHA`: right after `clone --no-checkout`, git 2.39 prints "unable
    # to read sha1 file" for a missing blob yet exits 0, leaving the file out of the tree (seen
    # with a damaged mirror). `reset --hard` exits 128 there, as it should.
    what = f"checking out {sha[:12]} in {dest}"
    hint = "The mirror may be damaged; delete it so that it is fetched again."
    await git_output(["-C", str(dest), "update-ref", "--no-deref", "HEAD", sha], what, hint)
    await git_output(["-C", str(dest), "reset", "--quiet", "--hard"], what, hint)


async def remove_workspace(dest: Path, *, limiter: trio.CapacityLimiter | None = None) -> None:
    """Delete `dest` and everything in it, read-only parts included; a missing `dest` is fine.

    `limiter`: the worker threads to use (the janitor's own, so that it never takes many)."""
    await trio.to_thread.run_sync(_remove_tree, dest, limiter=limiter)


def _remove_tree(dest: Path) -> None:
    if sys.version_info >= (3, 12):
        shutil.rmtree(dest, onexc=_retry_writable)
    else:
        shutil.rmtree(dest, onerror=lambda func, path, info: _retry_writable(func, path, info[1]))


def _retry_writable(func: Callable[[str], object], path: str, exc: BaseException) -> None:
    """rmtree's error handler: make the parent (and `path`, if a directory) writable, retry."""
    if isinstance(exc, FileNotFoundError):
        return  # a missing dest, or something deleted meanwhile
    if not isinstance(exc, PermissionError):
        raise exc
    os.chmod(os.path.dirname(path), stat.S_IRWXU)  # raises if not ours: no endless retry
    if _is_real_dir(path):
        # rmtree gave up on this directory (could not open or list it): start it over.
        os.chmod(path, stat.S_IRWXU)
        _remove_tree(Path(path))
    else:
        func(path)


def _is_real_dir(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path)
