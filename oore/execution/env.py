"""The environment a build's scripts see, and the `CM_ENV` file they extend it with.

The daemon's own environment is NOT inherited: only a short allow-list of ordinary variables
(PATH, HOME, locale...) is passed on, so the admin token, encryption key and any OORE_* setting
can never reach a build script, whatever the operator exported. On top come the workflow's
variables, the secret groups, and the names Codemagic scripts rely on (DESIGN.md §4). What the
operator gives every build (OORE_BUILD_PATH, OORE_BUILD_ENV_FILE's variables: `HostEnv`) and the
SDKs a workflow's `environment` picks (`ToolEnv`) come between the two.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from oore.execution.identity import BuildUser
from oore.execution.toolchains import ToolEnv
from oore.model import Build, Repository

INHERITED = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TMPDIR", "TERM")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_CM_ENV_BYTES = 4 * 1024 * 1024  # the build writes this file; the daemon reads it
_HEREDOC = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)<<(\S+)")


@dataclass(frozen=True, slots=True)
class BuildPaths:
    workspace: Path  # the clone: CM_BUILD_DIR
    export_dir: Path  # CM_EXPORT_DIR / OORE_ARTIFACTS_DIR: files put here become artifacts
    env_file: Path  # CM_ENV


@dataclass(frozen=True, slots=True)
class HostEnv:
    """What every build gets from the operator: OORE_BUILD_PATH (None: the daemon's own PATH)
    and the variables of OORE_BUILD_ENV_FILE (ANDROID_HOME, JAVA_HOME, FLUTTER_ROOT...)."""

    path: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


def base_environment(
    parent: Mapping[str, str] | None = None, host: HostEnv | None = None
) -> dict[str, str]:
    source = os.environ if parent is None else parent
    env = {name: source[name] for name in INHERITED if name in source}
    if host is not None and host.path:
        env["PATH"] = host.path
    env.setdefault("PATH", DEFAULT_PATH)
    return {**env, **(host.variables if host is not None else {})}


def build_environment(
    build: Build,
    repo: Repository,
    paths: BuildPaths,
    *,
    workflow_vars: Mapping[str, str],
    secrets: Mapping[str, str],
    tool_versions: Mapping[str, str],
    parent: Mapping[str, str] | None = None,
    user: BuildUser | None = None,
    host: HostEnv | None = None,
    toolchain: ToolEnv | None = None,
) -> dict[str, str]:
    trigger = build.trigger
    pr = trigger.pr_number
    values = {
        "CI": "true",
        "OORE": "true",
        "CONTINUOUS_INTEGRATION": "true",
        "OORE_BUILD_ID": build.id,
        "OORE_BUILD_NUMBER": str(build.number),
        "OORE_COMMIT_SHA": build.sha,
        "OORE_BRANCH": trigger.branch or "",
        "OORE_TAG": trigger.tag or "",
        "OORE_PULL_REQUEST": str(pr) if pr else "false",
        "OORE_WORKFLOW": build.workflow,
        "OORE_ARTIFACTS_DIR": str(paths.export_dir),
        "CM_BUILD_DIR": str(paths.workspace),
        "FCI_BUILD_DIR": str(paths.workspace),
        "CM_BUILD_ID": build.id,
        "CM_BRANCH": trigger.branch or "",
        "CM_COMMIT": build.sha,
        "CM_TAG": trigger.tag or "",
        "CM_PULL_REQUEST": "true" if pr else "false",
        "CM_PULL_REQUEST_NUMBER": str(pr) if pr else "",
        "CM_REPO_SLUG": repo.full_name,
        "CM_EXPORT_DIR": str(paths.export_dir),
        "CM_ENV": str(paths.env_file),
        "BUILD_NUMBER": str(build.number),
        "PROJECT_BUILD_NUMBER": str(build.project_build_number),
    }
    tools = {f"OORE_{tool.upper()}_VERSION": version for tool, version in tool_versions.items()}
    # Later wins: the workflow may override inherited values, secrets override workflow vars,
    # and the build's own identity cannot be overridden by either.
    base = {
        **base_environment(parent, host),
        **(_identity(user) if user is not None and user.separate else {}),
    }
    return {
        **(toolchain.apply(base) if toolchain is not None else base),
        **tools,
        **workflow_vars,
        **build.extra_env,
        **secrets,
        **values,
    }


def _identity(user: BuildUser) -> dict[str, str]:
    return {"HOME": str(user.home), "USER": user.name, "LOGNAME": user.name}


def read_cm_env(path: Path) -> dict[str, str]:
    """Parse `NAME=value` lines and `NAME<<DELIM` … `DELIM` blocks a script appended to CM_ENV.

    Read without following a link and at most MAX_CM_ENV_BYTES: the build owns the file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # missing, or a link planted instead of the file: nothing to read
        return {}
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return {}
        text = file.read(MAX_CM_ENV_BYTES).decode(errors="replace")
    lines = text.splitlines()
    values: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        heredoc = _HEREDOC.fullmatch(line.strip())
        if heredoc:
            name, delimiter = heredoc.groups()
            block: list[str] = []
            while index < len(lines) and lines[index] != delimiter:
                block.append(lines[index])
                index += 1
            index += 1  # the delimiter line
            values[name] = "\n".join(block)
            continue
        name, sep, value = line.partition("=")
        if sep and _NAME.fullmatch(name.strip()):
            values[name.strip()] = value
    return values
