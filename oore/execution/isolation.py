"""File ownership and modes that keep a build (running as the build user) out of the daemon's files.

The data dir is the daemon's (0711: passable, not listable). Its database, secrets, logs,
artifacts, mirrors and cache are 0700/0600, so the build user can read none of them. Builds get:
their own workspace (owned by the build user while the build runs, taken back after), a scratch
dir owned by the daemon (so a build cannot swap the step scripts or its CM_ENV file for a link)
holding an export dir and a CM_ENV file owned by the build user, and a HOME under the data dir.
Blocking I/O: call through a worker thread.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from oore.errors import ConfigError
from oore.execution.identity import BuildUser
from oore.paths import DataPaths

PRIVATE_FILES = ("admin-token", "encryption-key", "oore.env")


def secure_data_dir(paths: DataPaths, user: BuildUser, database: Path) -> None:
    """Set the data dir's modes for `user`; ConfigError when the build user cannot reach it."""
    _mkdir(paths.root, 0o711 if user.separate else 0o700)
    for private in (paths.mirrors, paths.logs, paths.artifacts, paths.cache):
        _mkdir(private, 0o700)
    for shared in (paths.workspaces, paths.scratch):
        _mkdir(shared, 0o711)
    if user.separate:  # the daemon's own HOME is the operator's, not ours to change
        make_home(user)
    for name in PRIVATE_FILES:
        _chmod_if_exists(paths.root / name, 0o600)
    for suffix in ("", "-wal", "-shm"):
        _chmod_if_exists(Path(f"{database}{suffix}"), 0o600)
    if user.separate:
        _check_reachable(paths.root, user)


def _mkdir(path: Path, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)


def _chmod_if_exists(path: Path, mode: int) -> None:
    try:
        path.chmod(mode)
    except FileNotFoundError:
        pass


def _check_reachable(root: Path, user: BuildUser) -> None:
    for ancestor in (root, *root.parents):
        info = ancestor.stat()
        if not (info.st_mode & stat.S_IXOTH or _may_search_as(info, user)):
            raise ConfigError(
                f"OORE_BUILD_USER: {user.name} cannot reach the data dir {root}: {ancestor} is "
                f"mode {stat.S_IMODE(info.st_mode):04o}. Let others pass through it "
                f"(`chmod o+x {ancestor}`) or move OORE_DATA_DIR (default /var/lib/oore)."
            )


def _may_search_as(info: os.stat_result, user: BuildUser) -> bool:
    if info.st_uid == user.uid:
        return bool(info.st_mode & stat.S_IXUSR)
    in_group = info.st_gid == user.gid or info.st_gid in user.groups
    return in_group and bool(info.st_mode & stat.S_IXGRP)


def make_home(user: BuildUser) -> None:
    _mkdir(user.home, 0o700)
    user.chown(user.home)


def prepare_scratch(scratch: Path, export_dir: Path, env_file: Path, user: BuildUser) -> None:
    """The build's scratch dir (the daemon's), with its export dir and CM_ENV file (the build's)."""
    _mkdir(scratch, 0o711)
    _mkdir(export_dir, 0o700)
    user.chown(export_dir)
    env_file.touch(mode=0o600)
    user.chown(env_file)


def hand_over(workspace: Path, user: BuildUser) -> None:
    """Give the freshly cloned workspace, every file of it, to the build user.

    The root goes last: until then it is the daemon's and 0700, so no build (another one running
    now, under the same user) can enter the tree and swap a directory for a link while we walk
    it as root, which would turn our chown into one of whatever the link points at.
    """
    if not user.separate:
        return
    workspace.chmod(0o700)
    for _top, dirs, files, top_fd in os.fwalk(workspace, follow_symlinks=False):
        for name in (*dirs, *files):
            os.chown(name, user.uid, user.gid, dir_fd=top_fd, follow_symlinks=False)
    user.chown(workspace)


def take_back(workspace: Path, user: BuildUser) -> None:
    """Close a workspace kept after the build (for inspection) to later builds."""
    if not user.separate:
        return
    try:
        os.lchown(workspace, os.geteuid(), os.getegid())
        workspace.chmod(0o700)
    except FileNotFoundError:
        pass
