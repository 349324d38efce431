"""Typed reads from the line-marked YAML tree, each failure naming file, line and key.

`Ctx` carries the file name and the warnings found so far. A wrong type or value raises
`InvalidPipeline` at the line of the offending key; an unknown key only warns, with a
"did you mean" hint when a known key is close or the key belongs somewhere else.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping

from oore.errors import InvalidPipeline
from oore.pipeline.spec import PipelineWarning
from oore.pipeline.ynodes import YMap, YNode, YPair, YScalar, YSeq


class Ctx:
    def __init__(self, file: str) -> None:
        self.file = file
        self.warnings: list[PipelineWarning] = []

    def error(self, line: int | None, key: str, message: str) -> InvalidPipeline:
        return InvalidPipeline(self.file, line, key or None, message)

    def warn(self, line: int | None, key: str, message: str) -> None:
        self.warnings.append(PipelineWarning(self.file, line, key, message))


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def describe(node: YNode) -> str:
    if isinstance(node, YMap):
        return "a mapping"
    if isinstance(node, YSeq):
        return "a list"
    if node.value is None:
        return "empty"
    return f"{node.text!r}"


def as_map(ctx: Ctx, node: YNode, line: int, path: str) -> YMap:
    if not isinstance(node, YMap):
        raise ctx.error(line, path, f"must be a mapping of settings, not {describe(node)}")
    return node


def opt_map(ctx: Ctx, parent: YMap, name: str, path: str) -> tuple[YMap, int] | None:
    pair = parent.pairs.get(name)
    if pair is None or _is_null(pair.node):
        return None
    return as_map(ctx, pair.node, pair.key_line, join(path, name)), pair.key_line


def opt_text(ctx: Ctx, parent: YMap, name: str, path: str) -> str | None:
    pair = parent.pairs.get(name)
    if pair is None or _is_null(pair.node):
        return None
    return scalar_text(ctx, pair.node, pair.key_line, join(path, name))


def scalar_text(ctx: Ctx, node: YNode, line: int, path: str) -> str:
    """A scalar as written (numbers and booleans keep their spelling)."""
    if not isinstance(node, YScalar) or node.value is None:
        raise ctx.error(line, path, f"must be text, not {describe(node)}")
    return node.value if isinstance(node.value, str) else node.text


def opt_bool(ctx: Ctx, parent: YMap, name: str, path: str, default: bool) -> bool:
    pair = parent.pairs.get(name)
    if pair is None or _is_null(pair.node):
        return default
    node = pair.node
    if not isinstance(node, YScalar) or not isinstance(node.value, bool):
        raise ctx.error(pair.key_line, join(path, name), "must be true or false")
    return node.value


def text_list(ctx: Ctx, parent: YMap, name: str, path: str) -> tuple[str, ...]:
    """A list of scalars; a single scalar is taken as a one-item list with a warning."""
    return tuple(text for text, _ in text_items(ctx, parent, name, path))


def text_items(ctx: Ctx, parent: YMap, name: str, path: str) -> tuple[tuple[str, int], ...]:
    """Like `text_list`, with the line of each item."""
    pair = parent.pairs.get(name)
    if pair is None or _is_null(pair.node):
        return ()
    key = join(path, name)
    if isinstance(pair.node, YScalar):
        ctx.warn(pair.key_line, key, "should be a list: write it as `- item` on its own line")
        return ((scalar_text(ctx, pair.node, pair.key_line, key), pair.key_line),)
    if not isinstance(pair.node, YSeq):
        raise ctx.error(pair.key_line, key, f"must be a list, not {describe(pair.node)}")
    return tuple(
        (scalar_text(ctx, item, item.line, f"{key}[{index}]"), item.line)
        for index, item in enumerate(pair.node.items)
    )


def seq_items(ctx: Ctx, pair: YPair, path: str) -> tuple[YNode, ...]:
    if _is_null(pair.node):
        return ()
    if not isinstance(pair.node, YSeq):
        raise ctx.error(pair.key_line, path, f"must be a list, not {describe(pair.node)}")
    return pair.node.items


def check_keys(
    ctx: Ctx,
    parent: YMap,
    path: str,
    known: Collection[str],
    elsewhere: Mapping[str, str] | None = None,
) -> None:
    """Warn about each key not in `known`; `elsewhere` maps a misplaced key to its right place."""
    for name, pair in parent.pairs.items():
        if name in known:
            continue
        key = join(path, name)
        if elsewhere and name in elsewhere:
            ctx.warn(pair.key_line, key, f"ignored: {name} belongs under {elsewhere[name]}")
            continue
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        ctx.warn(pair.key_line, key, f"unknown key {name!r}, ignored{hint}")


def _is_null(node: YNode) -> bool:
    return isinstance(node, YScalar) and node.value is None
