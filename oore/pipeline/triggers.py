"""Reading a workflow's `triggering` section.

Events are `push`, `pull_request` and `tag`; `pull_request_labeled` (GitHub only on Codemagic) is
kept but warned about, since Oore does not receive it yet. Patterns are compiled here so a bad one
is reported with its line when the file is loaded, not when a webhook arrives.
(https://docs.codemagic.io/yaml-running-builds/starting-builds-automatically/)
"""

from __future__ import annotations

import difflib

from oore.pipeline.fields import (
    Ctx,
    as_map,
    check_keys,
    join,
    opt_bool,
    opt_map,
    scalar_text,
    seq_items,
    text_items,
)
from oore.pipeline.globs import PatternError, compile_glob
from oore.pipeline.spec import BranchPattern, TagPattern, Triggering
from oore.pipeline.ynodes import YMap, YNode, YScalar

EVENTS = ("push", "pull_request", "tag")
RECORDED_EVENTS = ("pull_request_labeled",)
TRIGGER_KEYS = ("events", "branch_patterns", "tag_patterns", "cancel_previous_builds")
BRANCH_KEYS = ("pattern", "include", "source")
TAG_KEYS = ("pattern", "include")


def parse_triggering(ctx: Ctx, workflow: YMap, path: str) -> Triggering | None:
    found = opt_map(ctx, workflow, "triggering", path)
    if found is None:
        return None
    section, line = found
    tpath = join(path, "triggering")
    check_keys(ctx, section, tpath, TRIGGER_KEYS)
    triggering = Triggering(
        events=_events(ctx, section, tpath),
        branch_patterns=tuple(_branch(ctx, n, p) for n, p in _items(ctx, section, tpath, "branch")),
        tag_patterns=tuple(_tag(ctx, n, p) for n, p in _items(ctx, section, tpath, "tag")),
        cancel_previous_builds=opt_bool(ctx, section, "cancel_previous_builds", tpath, False),
    )
    _advise(ctx, triggering, section, line, tpath)
    return triggering


def _events(ctx: Ctx, section: YMap, path: str) -> tuple[str, ...]:
    events: list[str] = []
    for index, (event, line) in enumerate(text_items(ctx, section, "events", path)):
        key = f"{join(path, 'events')}[{index}]"
        if event not in EVENTS + RECORDED_EVENTS:
            close = difflib.get_close_matches(event, EVENTS + RECORDED_EVENTS, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ctx.error(line, key, f"unknown event {event!r}{hint} (use {', '.join(EVENTS)})")
        if event in RECORDED_EVENTS:
            ctx.warn(line, key, f"{event} is not supported yet: it starts no build")
        if event not in events:
            events.append(event)
    return tuple(events)


def _items(ctx: Ctx, section: YMap, path: str, kind: str) -> list[tuple[YNode, str]]:
    pair = section.pairs.get(f"{kind}_patterns")
    if pair is None:
        return []
    key = join(path, f"{kind}_patterns")
    return [(item, f"{key}[{i}]") for i, item in enumerate(seq_items(ctx, pair, key))]


def _branch(ctx: Ctx, node: YNode, path: str) -> BranchPattern:
    if isinstance(node, YScalar):
        return BranchPattern(_pattern_text(ctx, node, node.line, path))
    item = as_map(ctx, node, node.line, path)
    check_keys(ctx, item, path, BRANCH_KEYS)
    return BranchPattern(
        _pattern(ctx, item, path),
        opt_bool(ctx, item, "include", path, True),
        opt_bool(ctx, item, "source", path, True),
    )


def _tag(ctx: Ctx, node: YNode, path: str) -> TagPattern:
    if isinstance(node, YScalar):
        return TagPattern(_pattern_text(ctx, node, node.line, path))
    item = as_map(ctx, node, node.line, path)
    check_keys(ctx, item, path, TAG_KEYS)
    return TagPattern(_pattern(ctx, item, path), opt_bool(ctx, item, "include", path, True))


def _pattern(ctx: Ctx, item: YMap, path: str) -> str:
    pair = item.pairs.get("pattern")
    if pair is None:
        raise ctx.error(item.line, join(path, "pattern"), "each entry needs a pattern, e.g. '*'")
    return _pattern_text(ctx, pair.node, pair.key_line, join(path, "pattern"))


def _pattern_text(ctx: Ctx, node: YNode, line: int, path: str) -> str:
    text = scalar_text(ctx, node, line, path)
    try:
        compile_glob(text)
    except PatternError as exc:
        raise ctx.error(line, path, f"pattern {text!r}: {exc}") from exc
    return text


def _advise(ctx: Ctx, triggering: Triggering, section: YMap, line: int, path: str) -> None:
    if not triggering.events:
        ctx.warn(line, join(path, "events"), "no events: this workflow only runs when started")
    if triggering.branch_patterns and not any(p.include for p in triggering.branch_patterns):
        ctx.warn(
            section.pairs["branch_patterns"].key_line,
            join(path, "branch_patterns"),
            "every pattern excludes, so no branch is built; start the list with pattern '*'",
        )
    if triggering.tag_patterns and "tag" not in triggering.events:
        ctx.warn(
            section.pairs["tag_patterns"].key_line,
            join(path, "tag_patterns"),
            "has no effect: the tag event is not in events",
        )
