"""Choosing the service manager of this machine and building the plans common to both."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from oore.service.launchd import Launchd
from oore.service.layout import Layout
from oore.service.runner import ServiceError
from oore.service.steps import MakeDir, Remove, Step
from oore.service.systemd import Systemd

PLATFORM_VARIABLE = "OORE_SERVICE_PLATFORM"
SYSTEMD_RUNTIME = Path("/run/systemd/system")
DIR_MODE = 0o750


class Manager(Protocol):
    name: str

    def warnings(self, layout: Layout) -> list[str]: ...
    def install(self, layout: Layout) -> list[Step]: ...
    def uninstall(self, layout: Layout) -> list[Step]: ...
    def start(self) -> list[Step]: ...
    def stop(self) -> list[Step]: ...
    def restart(self) -> list[Step]: ...
    def status(self) -> list[Step]: ...
    def logs(self, lines: int, follow: bool) -> list[Step]: ...


MANAGERS: dict[str, type[Launchd] | type[Systemd]] = {"launchd": Launchd, "systemd": Systemd}


def detect(
    environ: Mapping[str, str],
    *,
    platform: str = sys.platform,
    systemd_runtime: Path = SYSTEMD_RUNTIME,
) -> Manager:
    """launchd on macOS, systemd on a Linux booted with it; OORE_SERVICE_PLATFORM overrides."""
    forced = environ.get(PLATFORM_VARIABLE, "")
    if forced:
        if forced not in MANAGERS:
            raise ServiceError(f"{PLATFORM_VARIABLE}: expected launchd or systemd")
        return MANAGERS[forced]()
    if platform == "darwin":
        return Launchd()
    if platform.startswith("linux"):
        # sd_booted(3) checks the same directory.
        if systemd_runtime.is_dir():
            return Systemd()
        raise ServiceError(
            "systemd is not running on this machine, and oored manages only systemd and launchd "
            "services; run `oored run` under your own supervisor "
            f"(or set {PLATFORM_VARIABLE}=systemd with --dry-run to preview)"
        )
    raise ServiceError(
        f"oored manages launchd (macOS) and systemd (Linux) services, not {platform}"
    )


def install_plan(manager: Manager, layout: Layout, env_steps: list[Step]) -> list[Step]:
    dirs = [layout.data_dir, layout.home, layout.log_dir]
    return [*env_steps, *(MakeDir(path, DIR_MODE) for path in dirs), *manager.install(layout)]


def uninstall_plan(manager: Manager, layout: Layout, *, purge: bool) -> list[Step]:
    steps = manager.uninstall(layout)
    if purge:
        doomed = [layout.data_dir, layout.log_dir, layout.env_file]
        for path in doomed:
            _refuse_dangerous(path)
        steps += [Remove(path) for path in doomed]
    return steps


def _refuse_dangerous(path: Path) -> None:
    # A typo in OORE_DATA_DIR must not turn --purge into `rm -rf /` or of a home directory.
    if len(path.parts) < 3 or path == Path.home():
        raise ServiceError(f"refusing to purge {path}: remove it by hand if you really mean it")
