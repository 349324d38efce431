"""`oored doctor`'s toolchain lines: what builds get (OORE_BUILD_PATH, OORE_BUILD_ENV_FILE) and
the toolchains found with exactly that environment; Java and the Android SDK are checked (a
warning with what to do when missing), the others shown when found.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from oore.config import Settings
from oore.errors import ConfigError
from oore.execution.env import HostEnv, base_environment
from oore.execution.hostenv import host_env
from oore.service.checks import Check, Status
from oore.service.toolchains import Found, Machine, detect

CHECKED = {
    "Java": "Android builds need a JDK: install one (such as openjdk-17-jdk, or Temurin on "
    "macOS) and set JAVA_HOME in OORE_BUILD_ENV_FILE (`oored init` writes it)",
    "Android SDK": "Android builds need it: install the Android command-line tools and set "
    "ANDROID_HOME in OORE_BUILD_ENV_FILE (`oored init` writes it)",
}


def toolchain_checks(
    settings: Settings, platform: str = sys.platform, environ: Mapping[str, str] | None = None
) -> list[Check]:
    try:
        host = host_env(settings)
    except ConfigError as exc:
        return [Check("build environment", Status.FAIL, exc.message)]
    builds = base_environment(os.environ if environ is None else environ, host)
    homes = (Path(builds["HOME"]),) if builds.get("HOME") else ()
    found = {item.tool: item for item in detect(Machine(builds, homes, platform))}
    return [_environment_check(settings, host), *_tool_lines(found)]


def _environment_check(settings: Settings, host: HostEnv) -> Check:
    path = "OORE_BUILD_PATH" if host.path else "the daemon's PATH"
    if settings.build_env_file is None:
        detail = f"{path}; no OORE_BUILD_ENV_FILE (`oored init` writes one)"
    else:
        detail = f"{path} and {len(host.variables)} variables from {settings.build_env_file}"
    return Check("build environment", Status.OK, detail)


def _tool_lines(found: Mapping[str, Found]) -> list[Check]:
    checks = []
    for tool, what_to_do in CHECKED.items():
        item = found.get(tool)
        if item is None:
            checks.append(Check(tool, Status.WARN, f"not found; {what_to_do}"))
        else:
            checks.append(Check(tool, Status.OK, item.describe()))
    others = [item for tool, item in found.items() if tool not in CHECKED]
    return checks + [Check(item.tool, Status.OK, item.describe()) for item in others]
