"""What toolchains this machine has, for `oored init` (which writes OORE_BUILD_PATH and the build
env file from them) and `oored doctor` (which shows them): Xcode (`xcode-select -p`, macOS only),
Flutter (on PATH, FLUTTER_ROOT, fvm's default), the Android SDK (ANDROID_HOME, ANDROID_SDK_ROOT,
~/Android/Sdk, ~/Library/Android/sdk), Java (JAVA_HOME, `java` on PATH), CocoaPods and Ruby.

Everything it looks at is a parameter (`Machine`): the environment and its PATH, the home folders
searched, the platform and how a command is run, so tests build fake SDKs in tmp dirs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from oore.execution.env import DEFAULT_PATH
from oore.execution.installs import flutter_version, java_version
from oore.execution.toolchains import POD_AS_ROOT
from oore.service.steps import Step, WriteFile

PROBE_TIMEOUT = 10.0
MACOS_EXTRA_PATH = "/opt/homebrew/bin"

Runner = Callable[[list[str], Mapping[str, str]], "str | None"]


def run_command(argv: list[str], env: Mapping[str, str]) -> str | None:
    """A command's output (stdout, else stderr: `java -version` prints there), None on failure."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT, env=dict(env)
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout.strip() or done.stderr.strip()) if done.returncode == 0 else None


@dataclass(frozen=True, slots=True)
class Machine:
    environ: Mapping[str, str]
    homes: tuple[Path, ...]  # searched for fvm and Android SDKs (root's, and sudo's caller's)
    platform: str = sys.platform
    run: Runner = run_command

    def which(self, name: str) -> Path | None:
        found = shutil.which(name, path=self.environ.get("PATH", DEFAULT_PATH))
        return Path(found) if found else None


@dataclass(frozen=True, slots=True)
class Found:
    tool: str
    path: Path
    version: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)  # what builds should get
    bin: Path | None = None  # goes on the builds' PATH

    def describe(self) -> str:
        return f"{self.version} ({self.path})" if self.version else str(self.path)


def this_machine(environ: Mapping[str, str] | None = None) -> Machine:
    env = os.environ if environ is None else environ
    homes = [Path(env["HOME"])] if env.get("HOME") else []
    caller = env.get("SUDO_USER")
    if caller:  # `sudo oored init`: the SDKs are in the caller's home, not root's
        homes.append(Path("~" + caller).expanduser())
    return Machine(env, tuple(dict.fromkeys(homes)))


def detect(machine: Machine) -> list[Found]:
    probes = (xcode, flutter, android_sdk, java, cocoapods, ruby)
    return [found for probe in probes if (found := probe(machine)) is not None]


def xcode(machine: Machine) -> Found | None:
    if machine.platform != "darwin":
        return None
    developer = machine.run(["xcode-select", "-p"], machine.environ)
    if not developer:
        return None
    path = Path(developer.splitlines()[0])
    version = machine.run(
        ["xcodebuild", "-version"], {**machine.environ, "DEVELOPER_DIR": str(path)}
    )
    first = version.splitlines()[0].removeprefix("Xcode ") if version else None
    return Found("Xcode", path, first, {"DEVELOPER_DIR": str(path)})


def flutter(machine: Machine) -> Found | None:
    sdk = _flutter_root(machine)
    if sdk is None:
        return None
    return Found("Flutter", sdk, flutter_version(sdk), {"FLUTTER_ROOT": str(sdk)}, sdk / "bin")


def _flutter_root(machine: Machine) -> Path | None:
    on_path = machine.which("flutter")
    candidates = [
        on_path.resolve().parent.parent if on_path else None,
        Path(machine.environ["FLUTTER_ROOT"]) if machine.environ.get("FLUTTER_ROOT") else None,
        *(home / "fvm" / "default" for home in machine.homes),  # `fvm global`'s link
    ]
    for sdk in candidates:
        if sdk is not None and (sdk / "bin" / "flutter").is_file():
            return sdk.resolve()
    return None


def android_sdk(machine: Machine) -> Found | None:
    named = [machine.environ.get(name, "") for name in ("ANDROID_HOME", "ANDROID_SDK_ROOT")]
    candidates = [Path(value) for value in named if value]
    for home in machine.homes:
        candidates += [home / "Android" / "Sdk", home / "Library" / "Android" / "sdk"]
    for sdk in candidates:
        platforms = _android_platforms(sdk)
        if platforms is not None:
            variables = {"ANDROID_HOME": str(sdk), "ANDROID_SDK_ROOT": str(sdk)}
            return Found("Android SDK", sdk, platforms, variables, sdk / "platform-tools")
    return None


def _android_platforms(sdk: Path) -> str | None:
    """`platforms android-34, android-35`, or '' for an SDK without any; None: not an SDK."""
    markers = ("platform-tools", "platforms", "cmdline-tools", "build-tools")
    if not any((sdk / marker).is_dir() for marker in markers):
        return None
    try:
        names = sorted(p.name for p in (sdk / "platforms").iterdir() if p.is_dir())
    except OSError:
        names = []
    return f"platforms {', '.join(names)}" if names else ""


def java(machine: Machine) -> Found | None:
    home = _java_home(machine)
    if home is None:
        return None
    version = java_version(home) or _java_version_by_running(machine, home)
    return Found("Java", home, version, {"JAVA_HOME": str(home)}, home / "bin")


def _java_home(machine: Machine) -> Path | None:
    named = machine.environ.get("JAVA_HOME")
    if named and (Path(named) / "bin" / "java").is_file():
        return Path(named)
    if machine.platform == "darwin":  # /usr/bin/java is a stub that asks java_home
        found = machine.run(["/usr/libexec/java_home"], machine.environ)
        return Path(found.splitlines()[0]) if found else None
    on_path = machine.which("java")
    return on_path.resolve().parent.parent if on_path else None


def _java_version_by_running(machine: Machine, home: Path) -> str | None:
    out = machine.run([str(home / "bin" / "java"), "-version"], machine.environ)
    first = out.splitlines()[0] if out else ""
    return first.split('"')[1] if first.count('"') >= 2 else None


def cocoapods(machine: Machine) -> Found | None:
    # `sudo oored init` runs it as root, which CocoaPods refuses unless told.
    allowed = Machine(
        {**machine.environ, **POD_AS_ROOT}, machine.homes, machine.platform, machine.run
    )
    return _versioned_command(allowed, "CocoaPods", "pod", ["--version"])


def ruby(machine: Machine) -> Found | None:
    found = _versioned_command(machine, "Ruby", "ruby", ["--version"])
    if found is None or found.version is None:
        return found
    # `ruby 3.2.2 (2023-03-30 revision e51014f9c0) [arm64-darwin23]`
    words = found.version.split()
    return Found(found.tool, found.path, words[1] if len(words) > 1 else None, bin=found.bin)


def _versioned_command(machine: Machine, tool: str, name: str, args: list[str]) -> Found | None:
    path = machine.which(name)
    if path is None:
        return None
    out = machine.run([str(path), *args], machine.environ)
    version = out.splitlines()[-1].strip() if out else None
    return Found(tool, path, version, bin=path.parent)


# --- what `oored init` writes --------------------------------------------------------------------


def build_path(found: list[Found], platform: str = sys.platform) -> str:
    """The tools' folders first, then the usual system folders (Homebrew's on macOS)."""
    system = DEFAULT_PATH.split(":")
    if platform == "darwin":
        system.insert(0, MACOS_EXTRA_PATH)
    folders = [str(item.bin) for item in found if item.bin is not None and item.bin.is_absolute()]
    return ":".join(dict.fromkeys([*folders, *system]))


def build_variables(found: list[Found]) -> dict[str, str]:
    return {name: value for item in found for name, value in item.variables.items()}


def build_env_text(found: list[Found]) -> str:
    lines = [
        "# Variables every Oore build gets (OORE_BUILD_ENV_FILE), written by `oored init` from",
        "# the toolchains it found. Edit freely: the next `oored init` keeps this file.",
        *(f"# {item.tool}: {item.describe()}" for item in found),
        *(f"{name}={value}" for name, value in build_variables(found).items()),
    ]
    return "\n".join(lines) + "\n"


BUILD_ENV_NAME = "build.env"
BUILD_ENV_MODE = 0o644  # no secrets: what builds see anyway
TOOLS = "Xcode, Flutter, Android SDK, Java, CocoaPods, Ruby"


@dataclass(frozen=True, slots=True)
class ToolchainPlan:
    found: list[Found]
    settings: dict[str, str]  # for the env file: kept where it has them already
    steps: list[Step]

    def describe(self) -> list[str]:
        if not self.found:
            return [f"found none of {TOOLS}; builds get the daemon's PATH"]
        return [f"found {item.tool}: {item.describe()}" for item in self.found]


def plan_toolchains(
    env_file: Path, existing: Mapping[str, str], machine: Machine, *, force: bool
) -> ToolchainPlan:
    """OORE_BUILD_PATH and OORE_BUILD_ENV_FILE from what `machine` has; the build env file is
    written when it is not there yet (or with `force`), never over an operator's edits."""
    found = detect(machine)
    named = existing.get("OORE_BUILD_ENV_FILE")
    build_env = Path(named) if named else env_file.parent / BUILD_ENV_NAME
    settings = {"OORE_BUILD_ENV_FILE": str(build_env)}
    if any(item.bin is not None and item.bin.is_absolute() for item in found):
        settings["OORE_BUILD_PATH"] = build_path(found, machine.platform)
    steps: list[Step] = []
    if force or not build_env.exists():
        steps.append(WriteFile(build_env, build_env_text(found), BUILD_ENV_MODE))
    return ToolchainPlan(found, settings, steps)
