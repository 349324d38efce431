"""The tree a pipeline file is read into: values that remember their line.

Kept apart from the reading (`yamlload`, which needs PyYAML) so that what only looks at a tree,
the pipeline's fields, needs no YAML parser loaded: the daemon imports PyYAML at the first
pipeline it reads, not at start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Aliases share nodes, so a few lines can stand for an exponential tree ("billion laughs").
MAX_EXPANDED_NODES = 100_000
# As much as the API and git accept for a pipeline file (1 MiB), counted in characters.
MAX_TEXT_CHARS = 1 << 20
# The pure-Python composer is slow on anchor-heavy YAML (bench/RESULTS.md, "Figures behind
# design notes"); a real file takes milliseconds.
PARSE_SECONDS = 5.0

Warn = Callable[[int, str, str], None]


@dataclass(frozen=True, slots=True)
class YScalar:
    line: int
    value: str | int | float | bool | None
    text: str
    is_text: bool
    block: bool = False


@dataclass(frozen=True, slots=True)
class YPair:
    key_line: int
    node: YNode
    key_is_text: bool = True


@dataclass(frozen=True, slots=True)
class YMap:
    line: int
    pairs: dict[str, YPair]


@dataclass(frozen=True, slots=True)
class YSeq:
    line: int
    items: tuple[YNode, ...]


YNode = YScalar | YMap | YSeq
