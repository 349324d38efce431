"""`oored doctor`: can this machine run oored with this configuration? Each check answers with a
status and one line; nothing here changes the machine (the database is opened read-only).
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import trio

from oore import crypto
from oore.config import Settings
from oore.errors import ConfigError, Unavailable
from oore.execution.identity import build_user
from oore.paths import DataPaths
from oore.secretfiles import ENCRYPTION_KEY_FILE
from oore.service.checks import Check, Status
from oore.service.doctor_toolchains import toolchain_checks

__all__ = ["Check", "Status", "run_checks"]

GIB = 1024**3
LOW_DISK_BYTES = 5 * GIB
TOO_LITTLE_DISK_BYTES = 1 * GIB
PROBE_TIMEOUT = 5.0
HEALTH_TIMEOUT = 2.0
MAC_TOOLS = ("xcodebuild", "flutter", "pod")


async def run_checks(settings: Settings, *, platform: str = sys.platform) -> list[Check]:
    in_thread = trio.to_thread.run_sync
    return [
        await in_thread(git_check),
        await in_thread(data_dir_check, settings.data_dir),
        await in_thread(build_user_check, settings),
        await in_thread(disk_check, settings.data_dir),
        await key_check(settings),
        await in_thread(port_check, settings.bind_host, settings.bind_port),
        *await in_thread(tool_checks, platform),
        *await in_thread(toolchain_checks, settings, platform),
    ]


def git_check() -> Check:
    version = _version_of(["git", "--version"])
    if version is None:
        return Check("git", Status.FAIL, "not found on PATH; builds clone with git: install it")
    return Check("git", Status.OK, version)


def build_user_check(settings: Settings) -> Check:
    """Who builds run as, and so whether a build script can read the daemon's secrets."""
    name = "build user"
    try:
        user = build_user(settings.build_user, DataPaths(settings.data_dir).build_home)
    except ConfigError as exc:
        return Check(name, Status.FAIL, exc.message)
    if user.separate:
        return Check(name, Status.OK, f"builds run as {user.name} (uid {user.uid})")
    return Check(
        name,
        Status.WARN,
        f"builds run as {user.name}, the daemon's own user, and can read its admin token, "
        "encryption key and database; set OORE_BUILD_USER to an unprivileged user "
        "(`sudo oored install` creates oore-build)",
    )


def data_dir_check(data_dir: Path) -> Check:
    name = "data dir"
    if not data_dir.exists():
        parent = _existing_ancestor(data_dir)
        if os.access(parent, os.W_OK | os.X_OK):
            return Check(
                name, Status.OK, f"{data_dir} does not exist yet; {parent} lets oored make it"
            )
        return Check(name, Status.FAIL, f"{data_dir} does not exist and {parent} is not writable")
    if not data_dir.is_dir():
        return Check(name, Status.FAIL, f"{data_dir} is not a directory")
    probe = data_dir / f".doctor-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return Check(name, Status.FAIL, f"cannot write in {data_dir}: {exc.strerror}")
    return Check(name, Status.OK, f"{data_dir} is writable")


def disk_check(data_dir: Path) -> Check:
    where = _existing_ancestor(data_dir)
    free = shutil.disk_usage(where).free
    detail = f"{free / GIB:.1f} GiB free on {where}"
    if free < TOO_LITTLE_DISK_BYTES:
        return Check("disk space", Status.FAIL, f"{detail}; builds need room: free some space")
    if free < LOW_DISK_BYTES:
        return Check("disk space", Status.WARN, f"{detail}; under 5 GiB, builds may run out")
    return Check("disk space", Status.OK, detail)


def port_check(host: str, port: int) -> Check:
    name = f"port {port}"
    if port == 0:
        return Check(name, Status.OK, "0 picks a free port at start")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As the daemon's server does, so a socket in TIME_WAIT does not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return _port_taken(name, host, port)
            return Check(name, Status.FAIL, f"cannot listen on {host}:{port}: {exc.strerror}")
    return Check(name, Status.OK, f"{host}:{port} is free")


def _port_taken(name: str, host: str, port: int) -> Check:
    if _answers_health(host, port):
        return Check(name, Status.OK, f"{host}:{port} is served by a running oored (health ok)")
    return Check(
        name, Status.FAIL, f"{host}:{port} is in use by another program; stop it or set OORE_BIND"
    )


def _answers_health(host: str, port: int) -> bool:
    wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1"}
    target = wildcard.get(host, host)
    target = f"[{target}]" if ":" in target else target
    try:
        answer = httpx.get(f"http://{target}:{port}/api/health", timeout=HEALTH_TIMEOUT)
        return answer.status_code == 200 and answer.json().get("status") == "ok"
    except (httpx.HTTPError, ValueError, AttributeError):
        return False


def tool_checks(platform: str, which: Callable[[str], str | None] = shutil.which) -> list[Check]:
    if platform != "darwin":  # Flutter, Java and the Android SDK: toolchain_checks
        return [Check("Xcode tools", Status.SKIP, "not macOS")]
    checks = []
    for tool in MAC_TOOLS:
        path = which(tool)
        if path is None:
            detail = "not found on PATH; iOS and Flutter builds need it"
            checks.append(Check(tool, Status.FAIL, detail))
        else:
            checks.append(Check(tool, Status.OK, path))
    return checks


async def key_check(settings: Settings) -> Check:
    # Imported here: it brings the daemon (and its web stack) along, which the other service
    # commands do not need to load.
    from oore.service.keycheck import check_key

    try:
        key = settings.encryption_key or _key_file(settings.data_dir / ENCRYPTION_KEY_FILE)
        detail = await check_key(settings, key)
    except (ConfigError, Unavailable) as exc:
        return Check("encryption key", Status.FAIL, exc.message)
    return Check("encryption key", Status.OK, detail)


def _key_file(path: Path) -> bytes | None:
    """The key `oored run` generated into the data dir, without generating one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return crypto.parse_key(text)
    except ValueError:
        raise ConfigError(f"{path} does not hold a valid key") from None


def _version_of(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")
