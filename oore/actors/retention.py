"""What retention keeps and for how long, and the janitor's blocking looks at the disk.

The functions here block (they list directories and stat files) and are run in the janitor's
worker thread; none removes anything: removing goes through `oore.actors.removal`, as deleting a
build does.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from oore.config import Settings
from oore.logs.logfile import paths as log_paths
from oore.store.base import FileKind

DAY = 86400.0
# The names the daemon gives a repository's mirror and cache dir (`<id>.git`, `<id>`): anything
# else found there (mirrors/ssh, a file an admin left) is not ours to judge.
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days each kind is kept (0: forever), builds kept per workflow, seconds between sweeps."""

    logs_days: float = 30.0
    artifacts_days: float = 30.0
    caches_days: float = 30.0
    events_days: float = 30.0
    deliveries_days: float = 30.0  # notification deliveries: OORE_RETENTION_DAYS
    keep_builds: int = 10
    interval: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            logs_days=settings.retention_logs_days,
            artifacts_days=settings.retention_artifacts_days,
            caches_days=settings.retention_caches_days,
            events_days=settings.retention_events_days,
            deliveries_days=settings.retention_days,
            keep_builds=settings.retention_keep_builds,
            interval=settings.retention_interval,
        )

    def days_of(self, kind: FileKind) -> float:
        return self.logs_days if kind is FileKind.LOGS else self.artifacts_days


@dataclass(frozen=True, slots=True)
class JanitorDirs:
    """The data dir's folders the janitor looks in."""

    logs: Path
    artifacts: Path
    cache: Path
    mirrors: Path

    def of_build(self, build_id: str, kinds: Iterable[FileKind]) -> list[Path]:
        found: list[Path] = []
        for kind in kinds:
            if kind is FileKind.LOGS:
                found += log_paths(self.logs, build_id)
            else:
                found.append(self.artifacts / build_id)
        return found


def cutoff(now: float, days: float) -> str:
    """The ISO-8601 UTC time `days` before `now` (the store's time format, which sorts as text)."""
    moment = dt.datetime.fromtimestamp(now - days * DAY, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def size_of(paths: Iterable[Path]) -> int:
    """Bytes of the files at or under `paths` (symlinks not followed; missing ones count 0)."""
    total = 0
    for path in paths:
        try:
            if path.is_dir() and not path.is_symlink():
                for root, _dirs, files in os.walk(path):
                    total += sum(_lsize(os.path.join(root, name)) for name in files)
            else:
                total += _lsize(str(path))
        except OSError:
            continue  # removed meanwhile, or unreadable: it is not counted
    return total


def _lsize(path: str) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def repository_dirs(mirrors: Path, cache: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """The mirror and the cache dir of each repository id found on disk."""
    mirrored = {p.name.removesuffix(".git"): p for p in _entries(mirrors) if p.suffix == ".git"}
    cached = {p.name: p for p in _entries(cache)}
    return (
        {k: v for k, v in mirrored.items() if _ULID.fullmatch(k)},
        {k: v for k, v in cached.items() if _ULID.fullmatch(k)},
    )


def unused_caches(cache: Path, repository_ids: Iterable[str], before: float) -> list[Path]:
    """Cache archives (and leftovers of an interrupted save) not written or restored since
    `before` (a time.time() value), under the given repositories' cache dirs."""
    found = []
    for repository_id in repository_ids:
        for workflow in _entries(cache / repository_id):
            found += [f for f in _entries(workflow, dirs=False) if _mtime(f) < before]
    return found


def _entries(folder: Path, *, dirs: bool = True) -> list[Path]:
    try:
        listed = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [p for p in listed if p.is_dir() == dirs and not p.is_symlink()]


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return float("inf")  # gone meanwhile: nothing to remove
