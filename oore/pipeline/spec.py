"""The loaded pipeline file as frozen values: what a workflow asks for, already checked.

Everything here is plain data; mappings are read-only views so a loaded `Pipeline` can be shared
between actors. The names follow `codemagic.yaml` (https://docs.codemagic.io/yaml-basic-configuration/
yaml-getting-started/) so a reader of either can find the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from oore.pipeline.condition import Condition

PIPELINE_FILES: tuple[str, ...] = (
    "oore.yaml",
    ".oore.yaml",
    "codemagic.yaml",
    ".codemagic.yaml",
    "codemagic.yml",
)
DEFAULT_MAX_BUILD_MINUTES = 60
MAX_BUILD_MINUTES = 720
EMPTY: Mapping[str, str] = MappingProxyType({})


K = TypeVar("K")
V = TypeVar("V")


def frozen_map(items: Mapping[K, V]) -> Mapping[K, V]:
    """A read-only copy, so a frozen dataclass holding it stays unchanged."""
    return MappingProxyType(dict(items))


@dataclass(frozen=True, slots=True)
class PipelineWarning:
    """Something the file says that Oore ignores or does differently; never stops a build."""

    file: str
    line: int | None
    key: str
    message: str

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "key": self.key, "message": self.message}


@dataclass(frozen=True, slots=True)
class When:
    """Run only if a watched file changed and/or the condition holds."""

    changeset_includes: tuple[str, ...] = ()
    changeset_excludes: tuple[str, ...] = ()
    condition: Condition | None = None

    @property
    def has_changeset(self) -> bool:
        return bool(self.changeset_includes or self.changeset_excludes)


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    script: str
    ignore_failure: bool = False
    working_directory: str | None = None
    when: When | None = None
    timeout_seconds: int | None = None
    test_report: str | None = None


@dataclass(frozen=True, slots=True)
class BranchPattern:
    pattern: str
    include: bool = True
    source: bool = True


@dataclass(frozen=True, slots=True)
class TagPattern:
    pattern: str
    include: bool = True


@dataclass(frozen=True, slots=True)
class Triggering:
    events: tuple[str, ...]
    branch_patterns: tuple[BranchPattern, ...] = ()
    tag_patterns: tuple[TagPattern, ...] = ()
    cancel_previous_builds: bool = False


@dataclass(frozen=True, slots=True)
class Environment:
    vars: Mapping[str, str]
    groups: tuple[str, ...]
    tool_versions: Mapping[str, str]
    # The build may fetch with the repository's HTTPS credential (private submodules, pods);
    # builds of pull requests from forks never get it.
    git_credentials: bool = False


@dataclass(frozen=True, slots=True)
class InputSpec:
    name: str
    type: str
    default: str | bool | int | float | None
    description: str | None
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Publishing:
    scripts: tuple[Script, ...]
    email_recipients: tuple[str, ...]
    email_notify: Mapping[str, bool]
    slack_channel: str | None
    slack_notify: Mapping[str, bool]
    other: Mapping[str, object]


EMAIL_NOTIFY_DEFAULT: Mapping[str, bool] = MappingProxyType({"success": True, "failure": True})
SLACK_NOTIFY_DEFAULT: Mapping[str, bool] = MappingProxyType(
    {"start": False, "success": True, "failure": True}
)
NO_PUBLISHING = Publishing(
    (), (), EMAIL_NOTIFY_DEFAULT, None, SLACK_NOTIFY_DEFAULT, MappingProxyType({})
)


@dataclass(frozen=True, slots=True)
class Workflow:
    id: str
    name: str
    max_build_duration: int
    instance_type: str | None
    labels: tuple[str, ...]
    inputs: Mapping[str, InputSpec]
    working_directory: str | None
    environment: Environment
    cache_paths: tuple[str, ...]
    triggering: Triggering | None
    when: When | None
    scripts: tuple[Script, ...]
    artifacts: tuple[str, ...]
    publishing: Publishing


@dataclass(frozen=True, slots=True)
class Pipeline:
    file: str
    workflows: Mapping[str, Workflow]
    warnings: tuple[PipelineWarning, ...]
