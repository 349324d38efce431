"""Identifiers: ULIDs as 26-character, time-sortable, URL-safe strings."""

from __future__ import annotations

from ulid import ULID


def new_id() -> str:
    return str(ULID())


def is_id(value: str) -> bool:
    """True when `value` is a well-formed ULID string (used to reject bad path parameters)."""
    if len(value) != 26:
        return False
    try:
        ULID.from_str(value)
    except ValueError:
        return False
    return True
