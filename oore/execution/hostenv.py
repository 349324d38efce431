"""What the operator's settings give every build, read once at start: OORE_BUILD_PATH and the
variables of OORE_BUILD_ENV_FILE (`HostEnv`), and the folders side-by-side SDKs are looked up in
(`ToolchainDirs`: OORE_FLUTTER_SDKS, OORE_JAVA_HOMES, OORE_XCODE_APPS, or where fvm, Linux
packages and macOS put them).

The build env file is for builds only, so it may not hold an OORE_ setting: pointing it at the
daemon's own env file by mistake would hand every build script the admin token.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from oore.config import Settings
from oore.envfile import parse_env_file, read_env_file
from oore.errors import ConfigError
from oore.execution.env import HostEnv
from oore.execution.toolchains import ToolchainDirs

FVM_VERSIONS = Path("fvm") / "versions"
LINUX_JAVA = (Path("/usr/lib/jvm"),)
MACOS_JAVA = (Path("/Library/Java/JavaVirtualMachines"),)
_HINT = "; make it readable by the daemon's user or fix OORE_BUILD_ENV_FILE"


def host_env(settings: Settings) -> HostEnv:
    """Raises ConfigError naming the file (and line) when the build env file cannot be used."""
    if settings.build_env_file is None:
        return HostEnv(settings.build_path)
    return HostEnv(settings.build_path, read_build_env_file(settings.build_env_file))


def read_build_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        raise ConfigError(f"OORE_BUILD_ENV_FILE: {path} does not exist")
    values = parse_env_file(path, unreadable_hint=_HINT)
    daemon_settings = [name for name in values if name.startswith("OORE_")]
    if daemon_settings:
        lines = _lines_of(path, daemon_settings)
        raise ConfigError(
            "\n".join(
                f"{path}:{line}: {name} is a daemon setting; OORE_BUILD_ENV_FILE holds what "
                "builds get, so it may not hold OORE_ settings (is it the daemon's env file?)"
                for name, line in lines
            )
        )
    return values


def _lines_of(path: Path, names: list[str]) -> list[tuple[str, int]]:
    text = read_env_file(path).splitlines()
    found = []
    for name in names:
        for number, line in enumerate(text, start=1):
            if line.strip().removeprefix("export ").lstrip().startswith(name):
                found.append((name, number))
                break
    return found


def toolchain_dirs(settings: Settings, homes: tuple[Path, ...]) -> ToolchainDirs:
    """`homes`: the build user's and the daemon's HOME, where fvm keeps its SDKs."""
    return ToolchainDirs(
        flutter_sdks=settings.flutter_sdks or _unique(home / FVM_VERSIONS for home in homes),
        java_homes=settings.java_homes or default_java_roots(sys.platform, homes),
        xcode_apps=settings.xcode_apps,
    )


def default_java_roots(platform: str, homes: tuple[Path, ...]) -> tuple[Path, ...]:
    if platform == "darwin":
        users = tuple(home / "Library" / "Java" / "JavaVirtualMachines" for home in homes)
        return _unique((*MACOS_JAVA, *users))
    return LINUX_JAVA


def _unique(paths: Iterable[Path]) -> tuple[Path, ...]:
    return tuple(dict.fromkeys(paths))
