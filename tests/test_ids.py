"""Ids: ULIDs that sort in the order they were made, also when made several at once."""

from __future__ import annotations

from ulid import ULID

from oore.ids import new_id, new_ids


def test_ids_made_in_a_row_are_increasing_ulids() -> None:
    made = [new_id(), *new_ids(5), new_id(), *new_ids(1)]
    assert made == sorted(made)
    assert len(set(made)) == len(made) == 8
    assert all(len(i) == 26 and str(ULID.from_str(i)) == i for i in made)
    assert new_ids(0) == []
