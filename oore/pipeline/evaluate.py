"""Evaluating a parsed `when.condition` against the build environment and the webhook payload.

A path that leads nowhere (an unset variable, a missing payload field, an index past the end) is
null rather than an error: Codemagic notes `event` is absent on manual builds, and a condition
such as `not event.pull_request.draft` must still answer. Equality is JSON equality, so `true` is
not `1`; a bare value is truthy by Python's rules on the JSON value (the string "false" is true).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from oore.pipeline.condition import BoolOp, Compare, Condition, Expr, Literal, Not, Path


def evaluate(
    condition: Condition,
    *,
    env: Mapping[str, str],
    event: Mapping[str, object] | None,
    inputs: Mapping[str, object] | None = None,
) -> bool:
    roots: dict[str, object] = {"env": env, "event": event, "inputs": inputs or {}}
    return bool(_value(condition.tree, roots))


def _value(tree: Expr, roots: Mapping[str, object]) -> object:
    if isinstance(tree, Literal):
        return tree.value
    if isinstance(tree, Path):
        return _lookup(roots.get(tree.root), tree.parts)
    if isinstance(tree, Not):
        return not _value(tree.operand, roots)
    if isinstance(tree, Compare):
        same = _equal(_value(tree.left, roots), _value(tree.right, roots))
        return same if tree.op == "==" else not same
    assert isinstance(tree, BoolOp)
    left = bool(_value(tree.left, roots))
    if tree.op == "and":
        return left and bool(_value(tree.right, roots))
    return left or bool(_value(tree.right, roots))


def _lookup(value: object, parts: tuple[str | int, ...]) -> object:
    for part in parts:
        value = _step(value, part)
        if value is None:
            return None
    return value


def _step(value: object, part: str | int) -> object:
    if isinstance(value, Mapping):
        return value.get(part) if isinstance(part, str) else value.get(str(part))
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        if isinstance(part, int) and -len(value) <= part < len(value):
            return value[part]
    return None


def _equal(left: object, right: object) -> bool:
    # JSON has no 1 == true: keep booleans apart from numbers.
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return left == right
