"""`oored install`'s build user: the unprivileged account build scripts run as (DESIGN.md §6).

Created once, with no login shell and no password, its HOME under the data dir: `useradd
--system` on Linux, `dscl` on macOS (a hidden user and group with a free id below 500). An
existing user of that name is used as it is. It is also named in cron's and at's deny files: a
job it scheduled would run after its build, beyond the reaper's reach.
"""

from __future__ import annotations

import grp
import pwd
from pathlib import Path

from oore.service.steps import Run, Step, WriteFile

BUILD_USER = "oore-build"
MACOS_IDS = range(450, 500)  # system accounts on macOS live below 500 and are hidden
LINUX_DENY = (Path("/etc/cron.deny"), Path("/etc/at.deny"))
MACOS_DENY = (Path("/usr/lib/cron/cron.deny"), Path("/usr/lib/cron/at.deny"))


def deny_scheduling_steps(
    name: str, *, macos: bool, files: tuple[Path, ...] | None = None
) -> list[Step]:
    """Add `name` to cron's and at's deny `files` (this system's) where it is not listed yet."""
    steps: list[Step] = []
    for path in files or (MACOS_DENY if macos else LINUX_DENY):
        try:
            text = path.read_text()
        except FileNotFoundError:
            text = ""
        if name not in text.split():
            lead = text if not text or text.endswith("\n") else text + "\n"
            steps.append(WriteFile(path, f"{lead}{name}\n", 0o644))
    return steps


def build_user_steps(name: str, home: Path, *, macos: bool) -> list[Step]:
    if _user_exists(name):
        return []
    if macos:
        return _dscl_steps(name, home, _free_macos_id())
    return [
        Run(
            (
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                str(home),
                "--shell",
                "/usr/sbin/nologin",
                "--comment",
                "Oore builds",
                name,
            )
        )
    ]


def _dscl_steps(name: str, home: Path, uid: int) -> list[Step]:
    group, user = f"/Groups/{name}", f"/Users/{name}"
    steps: list[Step] = [
        Run(("dscl", ".", "-create", group)),
        Run(("dscl", ".", "-create", group, "PrimaryGroupID", str(uid))),
        Run(("dscl", ".", "-create", user)),
    ]
    attributes = {
        "UniqueID": str(uid),
        "PrimaryGroupID": str(uid),
        "UserShell": "/usr/bin/false",
        "NFSHomeDirectory": str(home),
        "RealName": "Oore builds",
        "IsHidden": "1",
        "Password": "*",
    }
    steps += [Run(("dscl", ".", "-create", user, key, value)) for key, value in attributes.items()]
    return steps


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_macos_id() -> int:
    taken = {entry.pw_uid for entry in pwd.getpwall()} | {entry.gr_gid for entry in grp.getgrall()}
    for candidate in MACOS_IDS:
        if candidate not in taken:
            return candidate
    raise RuntimeError(f"no free user and group id in {MACOS_IDS.start}-{MACOS_IDS.stop - 1}")
