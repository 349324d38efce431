"""What a deleted repository leaves on disk, and removing it.

Everything the daemon keeps for a repository is named by the repository's id (its mirror, its
cache) or by one of its builds' ids (workspace, scratch dir, log and log index, artifacts). The
RepositorySupervisor removes all of it once the repository's builds have ended and its rows are
gone; nothing another repository owns is named by those ids, so nothing else is touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import trio

from oore.git import remove_workspace
from oore.logs.logfile import paths as log_paths


@dataclass(frozen=True, slots=True)
class RepositoryFiles:
    """Where a repository's files live (the daemon's dirs; `logs` None: logs are kept)."""

    workspaces: Path
    scratch: Path
    artifacts: Path
    cache: Path
    mirrors: Path
    logs: Path | None

    def of_builds(self, build_ids: Iterable[str]) -> list[Path]:
        found: list[Path] = []
        for build_id in build_ids:
            found += [self.workspaces / build_id, self.scratch / build_id]
            found.append(self.artifacts / build_id)
            if self.logs is not None:
                found += log_paths(self.logs, build_id)
        return found

    def of_repository(self, repository_id: str) -> list[Path]:
        return [self.cache / repository_id, self.mirrors / f"{repository_id}.git"]


async def remove_all(paths: Iterable[Path], *, limiter: trio.CapacityLimiter | None = None) -> None:
    """Remove each path (a tree or a file); a missing one is fine. `limiter`: the worker
    threads to use (None: trio's default pool)."""
    for path in paths:
        if await trio.to_thread.run_sync(_is_real_dir, path, limiter=limiter):
            # Workspaces may hold read-only parts (git objects, a build's chmod): this copes.
            await remove_workspace(path, limiter=limiter)
        else:
            await trio.to_thread.run_sync(_unlink, path, limiter=limiter)


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()
