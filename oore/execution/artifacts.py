"""Artifact collection: the workflow's globs, confined to the build's directories.

A pattern is resolved inside the workspace (or the export dir) by a bounded walk of our own
(`artifact_walk.py`): it never follows a directory symlink, so `ln -s . $CM_EXPORT_DIR/a` cannot
make it loop. A match whose real path leaves those directories (through `..` or a symlink), that
is not a regular file, or that is a hard link the build does not own (`ln ../../admin-token x`
shares the token's inode) is refused, never copied; refusals are reported once per reason. Files
are opened with O_NOFOLLOW and checked on the opened descriptor, so nothing swapped in after the
checks is read. Copies go to `<artifacts dir>/<build id>/`, a clashing name gets `_1`, `_2`…
before its extension, and each file is hashed (sha256) while it is copied. Runs in a worker
thread (pure blocking I/O) and returns early once `stop` is set, so a build's deadline and cancel
hold while it collects.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import mimetypes
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from oore.execution.artifact_walk import MAX_ENTRIES, Stop, Walk, never
from oore.execution.identity import BuildUser
from oore.ids import new_id
from oore.model import Artifact, utcnow

CHUNK = 1024 * 1024
LISTED = 3  # refused paths named in the log per reason; the rest are counted

OUTSIDE = "outside the build"
NOT_FILE = "not a regular file"
HARD_LINK = "hard-linked to a file the build does not own"
UNREADABLE = "could not be read"
# The copies land on the daemon's disk: a build's sparse 10 TB file must not fill it.
MAX_BYTES = 20 * 1024**3
TOO_LARGE = f"over the {MAX_BYTES // 1024**3} GiB a build's artifacts may take in all"


class Stopped(Exception):
    """`stop` was set while a file was being copied."""


@dataclass(frozen=True, slots=True)
class Collected:
    artifacts: list[Artifact]
    notes: list[str]  # for the build log: refusals (one line per reason), a walk cut short
    stopped: bool = False  # `stop` was set: what was copied until then is kept


@dataclass(slots=True)
class _Refusals:
    by_reason: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, path: str) -> None:
        self.by_reason.setdefault(reason, []).append(path)

    def notes(self) -> list[str]:
        return [_refusal_note(reason, paths) for reason, paths in self.by_reason.items()]


def _refusal_note(reason: str, paths: list[str]) -> str:
    if len(paths) == 1:
        return f"artifact {paths[0]} refused: {reason}"
    named = ", ".join(paths[:LISTED])
    more = f" (and {len(paths) - LISTED} more)" if len(paths) > LISTED else ""
    return f"{len(paths)} artifacts refused, {reason}: {named}{more}"


def collect(
    build_id: str,
    patterns: tuple[str, ...],
    roots: tuple[Path, ...],
    artifacts_dir: Path,
    *,
    build_user: BuildUser | None = None,
    stop: Stop = never,
    max_entries: int = MAX_ENTRIES,
    max_bytes: int = MAX_BYTES,
) -> Collected:
    """Copy what `patterns` match under `roots` (the first is the base of relative patterns).

    `build_user`, when a separate user, may hard-link its own files: it could read them anyway.
    """
    real_roots = tuple(Path(os.path.realpath(root)) for root in roots)
    walk = Walk(Path(os.path.abspath(roots[0])), real_roots, stop, max_entries)
    refusals = _Refusals()
    for pattern in patterns:
        for refused in walk.matches(pattern):
            refusals.add(OUTSIDE, refused)
    found: list[Artifact] = []
    taken: set[str] = set()
    budget = [max_bytes]  # bytes still allowed; a file that does not fit is refused whole
    stopped = walk.stopped
    for path, real in walk.found:
        if stop():
            stopped = True
            break
        try:
            artifact = _take(
                build_id, (path, real), real_roots, build_user, artifacts_dir, taken, stop, budget
            )
        except _Refused as refused:
            refusals.add(refused.reason, str(path))
        except Stopped:
            stopped = True
            break
        else:
            found.append(artifact)
    return Collected(found, [*refusals.notes(), *walk.notes], stopped)


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _take(
    build_id: str,
    match: tuple[Path, Path],
    real_roots: tuple[Path, ...],
    build_user: BuildUser | None,
    artifacts_dir: Path,
    taken: set[str],
    stop: Stop,
    budget: list[int],
) -> Artifact:
    path, real = match
    fd = _open(real)
    try:
        info = os.fstat(fd)
        _check(fd, info, real_roots, build_user)
        if info.st_size > budget[0]:
            raise _Refused(TOO_LARGE)
        budget[0] -= info.st_size  # the build's processes are gone: the size cannot grow
        name = _free_name(path.name, taken)
        return _copy(build_id, fd, info, name, artifacts_dir, stop)
    finally:
        os.close(fd)


def _open(real: Path) -> int:
    # O_NONBLOCK: a FIFO planted under an artifact's name must not hang the open.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        return os.open(real, flags)
    except OSError as exc:
        # ELOOP: the last name became a symlink after the walk saw it.
        raise _Refused(NOT_FILE if exc.errno == errno.ELOOP else UNREADABLE) from exc


def _check(fd: int, info: os.stat_result, roots: tuple[Path, ...], user: BuildUser | None) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise _Refused(NOT_FILE)
    opened = _fd_path(fd)
    if opened is not None and not any(opened.is_relative_to(root) for root in roots):
        raise _Refused(OUTSIDE)  # a directory on the way was swapped for a symlink
    if info.st_nlink > 1 and not (user is not None and user.separate and info.st_uid == user.uid):
        # Another name for the same inode may be anywhere on this file system (the admin token,
        # another build's files): only the build user's own files are known to be its to read.
        raise _Refused(HARD_LINK)


def _fd_path(fd: int) -> Path | None:
    """Where the opened file really is (Linux /proc, macOS F_GETPATH); None where unknown."""
    with contextlib.suppress(OSError):
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    try:
        import fcntl

        getpath = getattr(fcntl, "F_GETPATH", None)
        if getpath is None:
            return None
        raw = fcntl.fcntl(fd, getpath, bytes(1024))
        return Path(os.fsdecode(raw.split(b"\0", 1)[0]))
    except OSError:
        return None


def _free_name(name: str, taken: set[str]) -> str:
    candidate, index = name, 0
    stem, dot, suffix = name.partition(".")
    while candidate in taken:
        index += 1
        candidate = f"{stem}_{index}{dot}{suffix}"
    taken.add(candidate)
    return candidate


def _copy(
    build_id: str, fd: int, info: os.stat_result, name: str, artifacts_dir: Path, stop: Stop
) -> Artifact:
    dest = artifacts_dir / build_id
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / name
    try:
        digest, size = _stream(fd, target, stop)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    # Never the source's mode as is: a setuid bit on a copy the daemon owns would be a gift.
    target.chmod(0o644 | (info.st_mode & 0o111))
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Artifact(
        id=new_id(),
        build_id=build_id,
        name=name,
        path=str(target.relative_to(artifacts_dir)),
        size=size,
        sha256=digest,
        content_type=content_type,
        created_at=utcnow(),
    )


def _stream(fd: int, target: Path, stop: Stop) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with target.open("xb") as writer:
        while chunk := os.read(fd, CHUNK):
            if stop():
                raise Stopped
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
