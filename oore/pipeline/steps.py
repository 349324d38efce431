"""Reading `scripts` (plain strings or maps) and `when` blocks, for workflows and single steps.

A step map is `{name, script, ignore_failure, working_directory, when, timeout, test_report}`
(https://docs.codemagic.io/yaml-basic-configuration/yaml-getting-started/#scripts). Codemagic's
pages document no unit for a step `timeout`, so a number is seconds and a string may say its unit
("90s", "10m", "1h30m"). A step without a name is named after its first command line.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from oore.pipeline.condition import Condition, ConditionError, parse_condition
from oore.pipeline.fields import (
    Ctx,
    as_map,
    check_keys,
    describe,
    join,
    opt_bool,
    opt_map,
    opt_text,
    scalar_text,
    seq_items,
    text_list,
)
from oore.pipeline.globs import PatternError, compile_glob
from oore.pipeline.spec import MAX_BUILD_MINUTES, Script, When
from oore.pipeline.ynodes import YMap, YNode, YPair, YScalar

SCRIPT_KEYS = (
    "name",
    "script",
    "ignore_failure",
    "working_directory",
    "when",
    "timeout",
    "test_report",
)
WHEN_KEYS = ("changeset", "condition")
CHANGESET_KEYS = ("includes", "excludes")
NAME_LENGTH = 60
MAX_TIMEOUT_SECONDS = MAX_BUILD_MINUTES * 60
_DURATION = re.compile(r"\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*")
_TIMEOUT_HELP = (
    f"must be seconds (600) or a duration such as 10m or 1h30m, at most {MAX_BUILD_MINUTES // 60}h"
)


def parse_scripts(ctx: Ctx, pair: YPair, path: str, inputs: Collection[str]) -> tuple[Script, ...]:
    if isinstance(pair.node, YMap):
        # Codemagic's own publishing example writes one script as a bare map.
        ctx.warn(pair.key_line, path, "should be a list: put '- ' before the script's first key")
        items: tuple[YNode, ...] = (pair.node,)
    else:
        items = seq_items(ctx, pair, path)
    return tuple(_script(ctx, item, f"{path}[{index}]", inputs) for index, item in enumerate(items))


def default_name(script: str) -> str:
    lines = [line.strip() for line in script.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("#!"):
        lines = lines[1:]
    first = lines[0] if lines else "script"
    return first if len(first) <= NAME_LENGTH else first[: NAME_LENGTH - 1] + "…"


def _script(ctx: Ctx, node: YNode, path: str, inputs: Collection[str]) -> Script:
    if isinstance(node, YScalar):
        text = _script_text(ctx, node, node.line, path)
        return Script(default_name(text), text)
    step = as_map(ctx, node, node.line, path)
    check_keys(ctx, step, path, SCRIPT_KEYS)
    pair = step.pairs.get("script")
    if pair is None:
        raise ctx.error(step.line, path, "a script step needs `script:` with the commands to run")
    text = _script_text(ctx, pair.node, pair.key_line, join(path, "script"))
    return Script(
        name=opt_text(ctx, step, "name", path) or default_name(text),
        script=text,
        ignore_failure=opt_bool(ctx, step, "ignore_failure", path, False),
        working_directory=opt_text(ctx, step, "working_directory", path),
        when=parse_when(ctx, step, path, inputs),
        timeout_seconds=_timeout(ctx, step, path),
        test_report=opt_text(ctx, step, "test_report", path),
    )


def _script_text(ctx: Ctx, node: YNode, line: int, path: str) -> str:
    if not isinstance(node, YScalar) or node.value is None:
        raise ctx.error(line, path, f"a script must be text (the commands), not {describe(node)}")
    text = scalar_text(ctx, node, line, path)
    if not text.strip():
        raise ctx.error(line, path, "the script is empty")
    return text


def _timeout(ctx: Ctx, step: YMap, path: str) -> int | None:
    pair = step.pairs.get("timeout")
    if pair is None or (isinstance(pair.node, YScalar) and pair.node.value is None):
        return None
    seconds = _seconds(pair.node)
    if seconds is None or not 1 <= seconds <= MAX_TIMEOUT_SECONDS:
        raise ctx.error(pair.key_line, join(path, "timeout"), _TIMEOUT_HELP)
    return seconds


def _seconds(node: YNode) -> int | None:
    if not isinstance(node, YScalar) or isinstance(node.value, bool):
        return None
    if isinstance(node.value, int):
        return node.value
    if not isinstance(node.value, str):
        return None
    if node.value.strip().isdigit():
        return int(node.value)
    match = _DURATION.fullmatch(node.value)
    if match is None or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_when(ctx: Ctx, parent: YMap, path: str, inputs: Collection[str]) -> When | None:
    found = opt_map(ctx, parent, "when", path)
    if found is None:
        return None
    when, _ = found
    wpath = join(path, "when")
    check_keys(ctx, when, wpath, WHEN_KEYS)
    includes, excludes = _changeset(ctx, when, wpath)
    return When(includes, excludes, _condition(ctx, when, wpath, inputs))


def _changeset(ctx: Ctx, when: YMap, path: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    found = opt_map(ctx, when, "changeset", path)
    if found is None:
        return (), ()
    changeset, line = found
    cpath = join(path, "changeset")
    check_keys(ctx, changeset, cpath, CHANGESET_KEYS)
    includes = text_list(ctx, changeset, "includes", cpath)
    excludes = text_list(ctx, changeset, "excludes", cpath)
    for pattern in includes + excludes:
        try:
            compile_glob(pattern.rstrip("/"), path=True)
        except PatternError as exc:
            raise ctx.error(line, cpath, f"pattern {pattern!r}: {exc}") from exc
    return includes or (".",), excludes


def _condition(ctx: Ctx, when: YMap, path: str, inputs: Collection[str]) -> Condition | None:
    pair = when.pairs.get("condition")
    if pair is None:
        return None
    key = join(path, "condition")
    source = scalar_text(ctx, pair.node, pair.key_line, key)
    try:
        condition = parse_condition(source)
    except ConditionError as exc:
        raise ctx.error(
            pair.key_line, key, f"{exc.reason} at column {exc.column}: {source}"
        ) from exc
    for found in condition.paths():
        name = found.parts[0] if found.parts else ""
        if found.root == "inputs" and name not in inputs:
            raise ctx.error(pair.key_line, key, unknown_input_message(str(name), inputs))
    return condition


def unknown_input_message(name: str, inputs: Collection[str]) -> str:
    declared = ", ".join(sorted(inputs)) or "none"
    return f"unknown input {name!r}: declare it under the workflow's inputs (declared: {declared})"
