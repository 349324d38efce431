"""Whether `branch_patterns` / `tag_patterns` admit a branch, a pull request or a tag.

Codemagic: "The first (i.e. topmost) pattern in the list is applied first. Each following pattern
will limit the set of values further. In the case of conflicting patterns, the latter will
prevail." So the last pattern that matches decides, and a name no pattern matches is not built.
`source` picks the pull request's source (true) or target (false) branch and "has no effect on
other types of builds": a push is matched against every pattern.
(https://docs.codemagic.io/yaml-running-builds/starting-builds-automatically/)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from oore.pipeline.globs import matches
from oore.pipeline.spec import BranchPattern, TagPattern


@dataclass(frozen=True, slots=True)
class Decision:
    admitted: bool
    deciding: str | None  # the pattern that decided, None when none matched


def decide_push(patterns: Sequence[BranchPattern], branch: str) -> Decision:
    return _last_match([(p.pattern, p.include, branch) for p in patterns])


def decide_pull_request(patterns: Sequence[BranchPattern], source: str, target: str) -> Decision:
    return _last_match([(p.pattern, p.include, source if p.source else target) for p in patterns])


def decide_tag(patterns: Sequence[TagPattern], tag: str) -> Decision:
    return _last_match([(p.pattern, p.include, tag) for p in patterns])


def _last_match(checks: Sequence[tuple[str, bool, str]]) -> Decision:
    if not checks:
        return Decision(True, None)
    decision = Decision(False, None)
    for pattern, include, name in checks:
        if matches(pattern, name):
            decision = Decision(include, pattern)
    return decision
