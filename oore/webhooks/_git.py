"""Git-shaped values read from payloads: commit shas, branch and tag names, repository paths.

Every value that later reaches a `git` command line, a path on disk or an environment variable is
checked here, so a payload can never smuggle an option (`-x`), a path (`../..`) or a control
character into the build machine, even one signed with the right secret.
"""

from __future__ import annotations

import re

from oore.webhooks import RepoIdentity
from oore.webhooks._json import PayloadError, opt_str, req_str, show

# SHA-1 object names, or SHA-256 ones for repositories created with --object-format=sha256.
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# https://git-scm.com/docs/git-check-ref-format: control characters, space, ~ ^ : ? * [ \,
# "..", "@{" and "//" are never part of a valid ref name.
_BAD_IN_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
# GitHub owner and repository names and GitLab group and project paths are ASCII letters, digits,
# '.', '-' and '_': both providers refuse anything else when the repository or group is created.
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_.-]+")


def is_sha(value: str) -> bool:
    return _SHA.fullmatch(value) is not None


def is_zero_sha(value: str | None) -> bool:
    """True for the all-zero name providers use for "no commit" (a created or deleted ref)."""
    return value is not None and is_sha(value) and not value.strip("0")


def is_ref_name(name: str) -> bool:
    """A branch or tag short name that `git check-ref-format --branch` would accept."""
    return (
        bool(name)
        and name != "@"
        and _BAD_IN_REF.search(name) is None
        and not name.startswith(("-", "/"))
        and not name.endswith(("/", "."))
        and not any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))
    )


def is_path_segment(value: str) -> bool:
    return value not in (".", "..") and _PATH_SEGMENT.fullmatch(value) is not None


def req_sha(obj: object, path: str) -> str:
    value = req_str(obj, path)
    if not is_sha(value):
        raise PayloadError(f"'{path}' is not a commit sha: {show(value)}")
    return value


def opt_sha(obj: object, path: str) -> str | None:
    """A real commit sha at `path`, else None (the all-zero sha means there is none)."""
    value = opt_str(obj, path)
    return value if value is not None and is_sha(value) and not is_zero_sha(value) else None


def req_ref_name(obj: object, path: str) -> str:
    value = req_str(obj, path)
    if not is_ref_name(value):
        raise PayloadError(f"'{path}' is not a valid branch name: {show(value)}")
    return value


def short_ref(ref: str, prefix: str) -> str | None:
    """`ref` without `prefix` ("refs/heads/"), or None when it is not under it; checks the name."""
    if not ref.startswith(prefix):
        return None
    name = ref.removeprefix(prefix)
    if not is_ref_name(name):
        raise PayloadError(f"'ref' is not a valid git ref: {show(ref)}")
    return name


def repo_identity(owner: list[str], name: str, provider_id: int | None) -> RepoIdentity:
    """The identity, every path segment checked; a GitLab subgroup gives `owner` several."""
    path = "/".join([*owner, name])
    if not all(is_path_segment(segment) for segment in [*owner, name]):
        raise PayloadError(f"repository path {show(path)} is not valid")
    return RepoIdentity(owner="/".join(owner), name=name, provider_id=provider_id)
