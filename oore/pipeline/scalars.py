"""Checks on every text value of a workflow: `Encrypted(...)` and `${{ inputs.x }}` references.

Codemagic's `Encrypted(...)` values are sealed with a key only Codemagic holds, so the only useful
answer is where to put the secret instead. An `${{ inputs.name }}` that names no declared input
would be substituted with nothing at build time; it is reported now, at its line.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator

from oore.pipeline.fields import Ctx, join
from oore.pipeline.steps import unknown_input_message
from oore.pipeline.ynodes import YMap, YNode, YScalar, YSeq

ENCRYPTED_MESSAGE = (
    "Codemagic Encrypted(...) values cannot be opened outside Codemagic: put the value in an "
    "Oore secret group and list the group under environment.groups"
)
INPUT_REFERENCE = re.compile(r"\$\{\{\s*inputs\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ENCRYPTED = re.compile(r"\s*Encrypted\(.*\)\s*", re.DOTALL)


def check_scalars(ctx: Ctx, node: YNode, line: int, path: str, inputs: Collection[str]) -> None:
    for scalar, key_line, key in _walk(node, line, path):
        if not isinstance(scalar.value, str):
            continue
        if _ENCRYPTED.fullmatch(scalar.value):
            raise ctx.error(key_line, key, ENCRYPTED_MESSAGE)
        for match in INPUT_REFERENCE.finditer(scalar.value):
            if match.group(1) not in inputs:
                where = _line_of(scalar, key_line, match.start())
                raise ctx.error(where, key, unknown_input_message(match.group(1), inputs))


def _walk(node: YNode, line: int, path: str) -> Iterator[tuple[YScalar, int, str]]:
    if isinstance(node, YScalar):
        yield node, line, path
    elif isinstance(node, YMap):
        for name, pair in node.pairs.items():
            yield from _walk(pair.node, pair.key_line, join(path, name))
    else:
        assert isinstance(node, YSeq)
        for index, item in enumerate(node.items):
            yield from _walk(item, item.line, f"{path}[{index}]")


def _line_of(scalar: YScalar, key_line: int, offset: int) -> int:
    """The line of `offset` inside a block scalar (`|`), whose text starts below its key."""
    if not scalar.block or not isinstance(scalar.value, str):
        return key_line
    return scalar.line + 1 + scalar.value.count("\n", 0, offset)
