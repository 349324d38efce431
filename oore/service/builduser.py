"""`oored install`'s build user: the unprivileged account build scripts run as (DESIGN.md §6).

Created once, with no login shell and no password, its HOME under the data dir: `useradd
--system` on Linux, `dscl` on macOS (a hidden user and group with a free id below 500). An
existing user of that name is used as it is.
"""

from __future__ import annotations

import grp
import pwd
from pathlib import Path

from oore.service.steps import Run, Step

BUILD_USER = "oore-build"
MACOS_IDS = range(450, 500)  # system accounts on macOS live below 500 and are hidden


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
