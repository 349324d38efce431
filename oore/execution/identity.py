"""Who a build's processes run as: the build user (`OORE_BUILD_USER`) or, unset, the daemon's.

The daemon holds the admin token, the encryption key and the database; a build script is
untrusted code. Under a service manager the daemon is root, so scripts run as a separate,
unprivileged user that can read none of the daemon's files (DESIGN.md §6, trust boundary).
Everything that starts a process for a build (scripts, cache archives) takes its options from
`BuildUser.process_options`, so the kernel, not our path checks, decides what a build may touch.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oore.errors import ConfigError


@dataclass(frozen=True, slots=True)
class BuildUser:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: Path  # the build user's HOME for builds: under the data dir, never the daemon's

    @property
    def separate(self) -> bool:
        """True when builds run as another user than the daemon (the kernel keeps them apart)."""
        return self.uid != os.geteuid()

    def process_options(self) -> dict[str, Any]:
        """Keyword arguments for `subprocess.Popen`/`trio.run_process` to start as this user."""
        if not self.separate:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}

    def chown(self, path: Path) -> None:
        """Give `path` (not following a symlink) to the build user, when it is a separate one."""
        if self.separate:
            os.lchown(path, self.uid, self.gid)


def build_user(name: str | None, home: Path) -> BuildUser:
    """The user builds run as: `name` (OORE_BUILD_USER, with `home`) or, None, the daemon's own
    (with the daemon's HOME, as before there was a build user)."""
    return current_user() if name is None else named_user(name, home)


def current_user(home: Path | None = None) -> BuildUser:
    """The daemon's own user: what builds run as when no build user is configured."""
    if home is None:
        home = Path(os.environ.get("HOME") or Path.home())
    uid, gid = os.geteuid(), os.getegid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return BuildUser(name=name, uid=uid, gid=gid, groups=(), home=home)


def named_user(name: str, home: Path) -> BuildUser:
    """Look up `name` (a user name or numeric uid); ConfigError when there is no such user."""
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except KeyError:
        raise ConfigError(
            f"OORE_BUILD_USER: no user {name!r} on this machine; create it "
            "(`sudo oored install` does) or unset OORE_BUILD_USER to build as the daemon's user"
        ) from None
    if entry.pw_uid == 0:
        raise ConfigError("OORE_BUILD_USER: must not be root (builds would own the machine)")
    groups = tuple(g for g in os.getgrouplist(entry.pw_name, entry.pw_gid) if g != entry.pw_gid)
    return BuildUser(entry.pw_name, entry.pw_uid, entry.pw_gid, groups, home)


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
