"""What the entity modules share: reading one row by id, and guarded status transitions (which
fields a write may set, the start and end times it stamps, and the compare-and-set that makes a
transition atomic)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from sqlite_utils import Database

from oore.errors import Conflict, NotFound
from oore.model import utcnow
from oore.store import rows

T = TypeVar("T")


class _HasStatus(Protocol):
    @property
    def status(self) -> StrEnum: ...


R = TypeVar("R", bound=_HasStatus)


def get_row(
    db: Database, table: str, row_id: str, convert: Callable[[dict[str, Any]], T], noun: str
) -> T:
    """The row with `row_id`, converted; NotFound names it as `noun`."""
    found = rows.dicts(db.execute(f"SELECT * FROM {table} WHERE id = ?", [row_id]))
    if not found:
        raise NotFound(f"{noun} {row_id} not found")
    return convert(found[0])


def transition(
    db: Database,
    table: str,
    row_id: str,
    get: Callable[[Database, str], R],
    check: Callable[[Any, Any], None],
    status: StrEnum,
    values: dict[str, Any],
) -> R:
    """Move the row to `status` if the transition table allows it from its current one."""
    current = get(db, row_id)
    check(current.status, status)
    guarded_update(db, table, row_id, str(current.status), values | {"status": str(status)})
    return get(db, row_id)


# Stamped by a transition (unless given); never set on their own.
TIMES = frozenset({"started_at", "finished_at"})


def check_fields(fields: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")


def with_times(fields: dict[str, Any], *, started: bool, ended: bool) -> dict[str, Any]:
    """The update's values, with started_at/finished_at stamped now unless given."""
    values = dict(fields)
    if started:
        values.setdefault("started_at", utcnow())
    if ended:
        values.setdefault("finished_at", utcnow())
    return values


def guarded_update(
    db: Database, table: str, row_id: str, expected_status: str, values: dict[str, Any]
) -> None:
    # Guarded by the status we read: the single atomic claim DESIGN.md §7 needs for sharing a
    # queue between nodes (queued → preparing) is this same statement.
    assignments = ", ".join(f"{column} = ?" for column in values)
    cursor = db.execute(
        f"UPDATE {table} SET {assignments} WHERE id = ? AND status = ?",
        [*values.values(), row_id, expected_status],
    )
    if cursor.rowcount != 1:
        raise Conflict(f"{table[:-1]} {row_id} changed status concurrently")
