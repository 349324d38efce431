"""Per-workflow cache: `cache.cache_paths` restored before a build and saved after a success.

Each path is kept as one tar file under `<cache dir>/<repository id>/<workflow>/`, named by a
hash of the path as written in the pipeline (so `$HOME/.pub-cache` and `~/.gradle` stay apart),
holding the path's last name and what lies below it. Paths are expanded with the build's
environment (`$HOME`, `$CM_BUILD_DIR`...); a relative one lies in the workspace. A path must lie
inside the workspace or the build user's HOME, by real path: anything else (`/etc/ssh`,
`$CM_BUILD_DIR/../../logs`) is refused with a line in the build log. `tar` runs as the build
user, the archive passing through its stdin or stdout, so the kernel refuses whatever the build
may not touch (a hard link planted in a cache dir to a daemon's file, a directory that is not the
build's, a path swapped for a symlink after the check). Nothing here fails a build: a missing,
refused or broken cache is a note in the log.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import trio

from oore.execution.env import DEFAULT_PATH
from oore.execution.identity import BuildUser

SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
STDERR_TAIL = 2000  # bytes of tar's complaints kept for the note
# GNU tar and bsdtar (macOS) both read these flags; `mkdir -p` as the build user first, since
# neither creates the directory given to -C.
RESTORE = 'mkdir -p -- "$1" && exec tar -x --no-same-owner -f - -C "$1"'
# The archive is written into the daemon's disk: `ulimit -f` (512-byte blocks in POSIX sh) stops
# tar, with SIGXFSZ, at the cap, however large a (sparse) file the build leaves in a cache path.
MAX_ARCHIVE_BYTES = 10 * 1024**3
SAVE = 'ulimit -f "$3" && exec tar -c -f - -C "$1" "$2"'


@dataclass(frozen=True, slots=True)
class Place:
    """Where a cache path lives: `name` inside the directory `parent` (a real path)."""

    parent: Path
    name: str

    @property
    def path(self) -> Path:
        return self.parent / self.name


def directory(root: Path, repository_id: str, workflow: str) -> Path:
    """The cache dir of one repository's workflow under the daemon's cache `root`."""
    # A workflow's name comes from the pipeline file: one such as `../../x` must not pick where
    # the daemon writes, so an unusual name is replaced by its hash.
    if not SAFE_NAME.fullmatch(workflow):
        workflow = "workflow-" + hashlib.sha256(workflow.encode()).hexdigest()[:16]
    return root / repository_id / workflow


def _archive(cache_dir: Path, raw: str) -> Path:
    return cache_dir / (hashlib.sha256(raw.encode()).hexdigest()[:16] + ".tar")


def _expand(raw: str, env: Mapping[str, str]) -> str:
    text = raw.replace("~", env.get("HOME", "~"), 1) if raw.startswith("~") else raw
    for name in sorted(env, key=len, reverse=True):
        text = text.replace("${" + name + "}", env[name]).replace("$" + name, env[name])
    return text


def place(raw: str, env: Mapping[str, str], workspace: Path, home: Path) -> Place | str:
    """Where `raw` points, or why it is refused (a note for the build log)."""
    expanded = Path(os.path.normpath(Path(workspace) / _expand(raw, env)))
    real = Path(os.path.realpath(expanded))
    parent = Path(os.path.realpath(expanded.parent))
    roots = [Path(os.path.realpath(root)) for root in (workspace, home)]
    if any(real != root and real.is_relative_to(root) for root in roots) and any(
        parent.is_relative_to(root) for root in roots
    ):
        return Place(parent, expanded.name)
    return (
        f"cache {raw}: refused, {real} is not inside the workspace or the build's HOME; "
        f"cache paths must point inside $CM_BUILD_DIR ({workspace}) or $HOME ({home}), "
        "for example $HOME/.gradle/caches"
    )


async def restore(
    cache_dir: Path,
    paths: tuple[str, ...],
    env: Mapping[str, str],
    *,
    workspace: Path,
    user: BuildUser,
) -> list[str]:
    notes = []
    for raw in paths:
        notes.append(await _restore_one(cache_dir, raw, env, workspace, user))
    return notes


async def _restore_one(
    cache_dir: Path, raw: str, env: Mapping[str, str], workspace: Path, user: BuildUser
) -> str:
    where = await trio.to_thread.run_sync(place, raw, env, workspace, user.home)
    if isinstance(where, str):
        return where
    try:
        archive = await trio.to_thread.run_sync(os.open, _archive(cache_dir, raw), os.O_RDONLY)
    except FileNotFoundError:
        return f"cache {raw}: nothing saved yet"
    except OSError as exc:
        return f"cache {raw}: not restored ({exc.strerror})"
    try:
        argv = ["/bin/sh", "-c", RESTORE, "sh", str(where.parent)]
        code, complaint = await _run_as(user, argv, stdin=archive, stdout=subprocess.DEVNULL)
    finally:
        os.close(archive)
    if code != 0:
        return f"cache {raw}: not restored ({complaint or f'tar exited with code {code}'})"
    await trio.to_thread.run_sync(_mark_used, _archive(cache_dir, raw))
    return f"cache {raw}: restored"


def _mark_used(archive: Path) -> None:
    # Retention removes caches no build used for OORE_RETENTION_CACHES_DAYS, judged by mtime:
    # a restore counts as a use (atime cannot tell, under noatime or relatime mounts).
    try:
        os.utime(archive)
    except OSError:
        pass  # removed meanwhile: the next save makes it again


async def save(
    cache_dir: Path,
    paths: tuple[str, ...],
    env: Mapping[str, str],
    *,
    workspace: Path,
    user: BuildUser,
    max_bytes: int = MAX_ARCHIVE_BYTES,
) -> list[str]:
    await trio.to_thread.run_sync(functools.partial(cache_dir.mkdir, parents=True, exist_ok=True))
    notes = []
    for raw in paths:
        notes.append(await _save_one(cache_dir, raw, env, workspace, user, max_bytes))
    return notes


async def _save_one(
    cache_dir: Path,
    raw: str,
    env: Mapping[str, str],
    workspace: Path,
    user: BuildUser,
    max_bytes: int,
) -> str:
    where = await trio.to_thread.run_sync(place, raw, env, workspace, user.home)
    if isinstance(where, str):
        return where
    if not await trio.to_thread.run_sync(os.path.lexists, where.path):
        return f"cache {raw}: {where.path} does not exist, not saved"
    archive = _archive(cache_dir, raw)
    partial = archive.with_suffix(".partial")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        out = await trio.to_thread.run_sync(os.open, partial, flags, 0o600)
    except OSError as exc:
        return f"cache {raw}: not saved ({exc.strerror})"
    try:
        blocks = str(max(1, max_bytes // 512))
        argv = ["/bin/sh", "-c", SAVE, "sh", str(where.parent), where.name, blocks]
        code, complaint = await _run_as(user, argv, stdin=subprocess.DEVNULL, stdout=out)
    finally:
        os.close(out)
    if code == -signal.SIGXFSZ:
        complaint = f"over the {max_bytes:,} bytes a cache archive may take"
    return await trio.to_thread.run_sync(_keep, raw, partial, archive, code, complaint)


def _keep(raw: str, partial: Path, archive: Path, code: int, complaint: str) -> str:
    if code != 0:
        partial.unlink(missing_ok=True)
        return f"cache {raw}: not saved ({complaint or f'tar exited with code {code}'})"
    partial.replace(archive)
    return f"cache {raw}: saved ({archive.stat().st_size} bytes)"


async def _run_as(user: BuildUser, argv: list[str], *, stdin: int, stdout: int) -> tuple[int, str]:
    """Run `argv` as the build user; its exit code and the last line of what it complained."""
    # A clean environment: the daemon's (with its secrets) must never reach a process the build
    # user owns, and so may read through /proc.
    env = {"PATH": DEFAULT_PATH, "LC_ALL": "C", "HOME": str(user.home)}
    async with trio.open_nursery() as nursery:
        process: trio.Process = await nursery.start(
            functools.partial(
                trio.run_process,
                argv,
                stdin=stdin,
                stdout=stdout,
                stderr=subprocess.PIPE,
                check=False,
                env=env,
                cwd="/",
                **user.process_options(),
            )
        )
        tail = await _tail(process)
        code = await process.wait()
    # The last line that says what went wrong, not GNU tar's "Exiting with failure status due
    # to previous errors" nor bsdtar's "Error exit delayed from previous errors".
    lines = [
        line
        for line in tail.decode(errors="replace").strip().splitlines()
        if "previous errors" not in line
    ]
    return code, lines[-1] if lines else ""


async def _tail(process: trio.Process) -> bytes:
    """The last `STDERR_TAIL` bytes of the process's stderr (a bounded read of all of it)."""
    tail = b""
    if process.stderr is None:
        return tail
    while chunk := await process.stderr.receive_some(65536):
        tail = (tail + chunk)[-STDERR_TAIL:]
    return tail
