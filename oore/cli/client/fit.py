"""Fitting a table to the terminal's width: which columns to show, and how wide each may be.

A listing read at an 80-column terminal must not wrap: a wrapped row puts its status under the
next row's number. The columns that identify a row and say how it went (number, status) are
never cut; a command names the columns that may be cut with an ellipsis (`shrink`: branch,
workflow, reason) and those that may be left out (`optional`: a 26-character id when the row
has another name, such as acme/app#19). Columns are left out first, in the order given, while
cutting the others to a comfortable width would not be enough; then cut columns go as narrow as
their header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

GAP = 2  # spaces between columns
COMFORTABLE = 16  # a cut column keeps this much while an optional one can still go
NARROWEST = 4  # "ma…" still says something


@dataclass(frozen=True, slots=True)
class Layout:
    shown: list[int]  # indexes of the columns shown, in order
    widths: dict[int, int]  # each shown column's width


def fit(
    headers: Sequence[str],
    natural: Sequence[int],
    width: int,
    *,
    shrink: Sequence[str] = (),
    optional: Sequence[str] = (),
) -> Layout:
    """The columns to show and their widths for a table whose columns are `natural` wide."""
    cut = {headers.index(name) for name in shrink}
    droppable = [headers.index(name) for name in optional]
    shown = list(range(len(headers)))
    for dropped in range(len(droppable) + 1):
        shown = [i for i in range(len(headers)) if i not in droppable[:dropped]]
        floors = {i: min(natural[i], max(COMFORTABLE, len(headers[i]))) for i in cut}
        widths = _narrowed(shown, natural, cut, floors, width)
        if widths is not None:
            return Layout(shown, widths)
    floors = {i: min(natural[i], max(NARROWEST, len(headers[i]))) for i in cut}
    widths = _narrowed(shown, natural, cut, floors, width)
    # Too narrow even so: everything that can go is gone and what is left is as cut as it gets.
    return Layout(shown, widths or {i: floors.get(i, natural[i]) for i in shown})


def _narrowed(
    shown: list[int], natural: Sequence[int], cut: set[int], floors: dict[int, int], width: int
) -> dict[int, int] | None:
    """Widths that fit `width`, taking from the widest cuttable column first; None if none do."""
    widths = {i: natural[i] for i in shown}
    excess = sum(widths.values()) + GAP * (len(shown) - 1) - width
    while excess > 0:
        candidates = [i for i in shown if i in cut and widths[i] > floors[i]]
        if not candidates:
            return None
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths
