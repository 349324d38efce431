"""A workflow's `environment.flutter`, `.java`, `.xcode` and `.cocoapods`, honoured with what this
machine has installed, or refused before any script runs.

A version picks the SDK it names (`3.19.0`), or the newest that starts with it (`3.19`, `17`,
`16.x`); `default`, `latest` and `stable` (and no key) keep the machine's default, which is what
OORE_BUILD_PATH and OORE_BUILD_ENV_FILE give every build. The chosen Flutter SDK's `bin` goes
first on PATH with FLUTTER_ROOT; a JDK sets JAVA_HOME and its `bin`; an Xcode sets DEVELOPER_DIR.
CocoaPods is only checked (`pod --version` on the build's PATH). A version the machine lacks is a
`ToolchainMissing` naming the versions it has.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import trio

from oore.errors import ToolchainMissing
from oore.execution import installs
from oore.execution.installs import Install

MACHINE_DEFAULT = frozenset({"", "default", "latest", "stable"})
POD_TIMEOUT = 60.0  # `pod --version` loads Ruby gems: seconds on a cold disk
# The daemon asks, and under a service manager it is root, which CocoaPods refuses by default.
POD_AS_ROOT = {"COCOAPODS_ALLOW_ROOT": "1"}


@dataclass(frozen=True, slots=True)
class ToolchainDirs:
    """Where side-by-side SDKs live (OORE_FLUTTER_SDKS, OORE_JAVA_HOMES, OORE_XCODE_APPS)."""

    flutter_sdks: tuple[Path, ...] = ()
    java_homes: tuple[Path, ...] = ()
    xcode_apps: Path = Path("/Applications")
    platform: str = sys.platform


@dataclass(frozen=True, slots=True)
class ToolEnv:
    """What the chosen SDKs change in a build's environment, and a line for the log on each."""

    path: tuple[str, ...] = ()  # put before the build's PATH, in this order
    variables: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def apply(self, env: Mapping[str, str]) -> dict[str, str]:
        applied = {**env, **self.variables}
        if self.path:
            applied["PATH"] = ":".join([*self.path, *filter(None, [env.get("PATH", "")])])
        return applied

    def __add__(self, other: ToolEnv) -> ToolEnv:
        return ToolEnv(
            (*self.path, *other.path),
            {**self.variables, **other.variables},
            (*self.notes, *other.notes),
        )


def wanted(tool_versions: Mapping[str, str], tool: str) -> str | None:
    """The version asked for, or None for the machine's default."""
    version = tool_versions.get(tool, "").strip()
    return None if version.lower() in MACHINE_DEFAULT else version


def resolve(tool_versions: Mapping[str, str], dirs: ToolchainDirs) -> ToolEnv:
    """The environment for the versions asked; scans folders, so run it in a thread."""
    env = ToolEnv()
    if version := wanted(tool_versions, "flutter"):
        env += _flutter(version, dirs)
    if version := wanted(tool_versions, "java"):
        env += _java(version, dirs)
    if version := wanted(tool_versions, "xcode"):
        env += _xcode(version, dirs)
    return env


def _flutter(version: str, dirs: ToolchainDirs) -> ToolEnv:
    found = installs.flutter_sdks(dirs.flutter_sdks)
    sdk = choose(version, found)
    if sdk is None:
        hint = f"install it (`fvm install {version}`, or an SDK folder under OORE_FLUTTER_SDKS)"
        raise _missing("flutter", version, found, dirs.flutter_sdks, hint)
    note = f"flutter {version}: {sdk.describe()}"
    return ToolEnv((str(sdk.home / "bin"),), {"FLUTTER_ROOT": str(sdk.home)}, (note,))


def _java(version: str, dirs: ToolchainDirs) -> ToolEnv:
    found = installs.java_homes(dirs.java_homes)
    jdk = choose(version, found)
    if jdk is None:
        hint = "install that JDK (in one of OORE_JAVA_HOMES' folders)"
        raise _missing("java", version, found, dirs.java_homes, hint)
    note = f"java {version}: {jdk.describe()}"
    return ToolEnv((str(jdk.home / "bin"),), {"JAVA_HOME": str(jdk.home)}, (note,))


def _xcode(version: str, dirs: ToolchainDirs) -> ToolEnv:
    if dirs.platform != "darwin":
        # A Linux machine builds a workflow's Android side; Xcode cannot exist here.
        return ToolEnv(notes=(f"xcode {version}: ignored, Xcode runs only on macOS",))
    found = installs.xcodes(dirs.xcode_apps)
    app = choose(version, found)
    if app is None:
        hint = f"install it as {dirs.xcode_apps}/Xcode-{version}.app (`xcodes install {version}`)"
        raise _missing("xcode", version, found, (dirs.xcode_apps,), hint)
    developer = str(app.home / "Contents" / "Developer")
    return ToolEnv((), {"DEVELOPER_DIR": developer}, (f"xcode {version}: {app.describe()}",))


def choose(requested: str, found: list[Install]) -> Install | None:
    """The install named exactly, else the newest whose version starts with `requested`."""
    for install in found:
        if requested in (install.version, install.alias):
            return install
    matching = [install for install in found if matches(requested, install.version)]
    return max(matching, key=lambda install: _order(install.version), default=None)


def matches(requested: str, version: str) -> bool:
    want, have = _parts(requested), _parts(version)
    have += ["0"] * (len(want) - len(have))  # `16.0` asks for what calls itself `16`
    return all(w in ("x", "*") or w == h for w, h in zip(want, have, strict=False))


def _parts(version: str) -> list[str]:
    return re.split(r"[._+-]", version.strip().lower())


def _order(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in _parts(version))


def _missing(
    tool: str, version: str, found: list[Install], where: tuple[Path, ...], hint: str
) -> ToolchainMissing:
    folders = ", ".join(map(str, where)) or "no folder configured"
    have = ", ".join(install.describe() for install in found) or "none"
    return ToolchainMissing(
        f"environment.{tool} {version} is not installed on this machine (looked in {folders}; "
        f"installed: {have}); {hint}, or change environment.{tool} "
        f"(default, latest and stable use the machine's default)"
    )


async def check_cocoapods(version: str, env: Mapping[str, str]) -> str:
    """A note on the `pod` the build will run, if it is `version`; else ToolchainMissing."""
    have = await _pod_version(env)
    if have is None:
        raise ToolchainMissing(
            f"environment.cocoapods {version}: no `pod` on the build's PATH ({env.get('PATH')}); "
            f"install it (`gem install cocoapods -v {version}`) or add its folder to "
            "OORE_BUILD_PATH"
        )
    if not matches(version, have):
        raise ToolchainMissing(
            f"environment.cocoapods {version} is not what this machine runs (installed: {have}); "
            f"install it (`gem install cocoapods -v {version}`) or change environment.cocoapods"
        )
    return f"cocoapods {version}: pod {have}"


async def _pod_version(env: Mapping[str, str]) -> str | None:
    with trio.move_on_after(POD_TIMEOUT):
        try:
            done = await trio.run_process(
                ["pod", "--version"],
                env={**env, **POD_AS_ROOT},
                capture_stdout=True,
                capture_stderr=True,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except OSError:  # not on PATH
            return None
        text = done.stdout.decode(errors="replace").strip()
        return text.splitlines()[-1] if done.returncode == 0 and text else None
    return None
