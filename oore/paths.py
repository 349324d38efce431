"""Where the daemon keeps things under its data dir (DESIGN.md §6)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class DataPaths:
    root: Path

    @property
    def mirrors(self) -> Path:
        return self.root / "mirrors"

    @property
    def workspaces(self) -> Path:
        return self.root / "workspaces"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def scratch(self) -> Path:
        """Per-build script files and CM_ENV files, removed when the build ends."""
        return self.root / "builds"

    @property
    def build_home(self) -> Path:
        """The build user's HOME (caches such as ~/.pub-cache live on between builds)."""
        return self.root / "build-home"

    def log_of(self, build_id: str) -> Path:
        return self.logs / f"{build_id}.log"
