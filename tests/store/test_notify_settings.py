"""The Slack and SMTP settings rows: config replaced, the sealed secret kept unless replaced."""

from __future__ import annotations

import pytest

from oore.errors import Conflict
from oore.store.sqlite import SqliteStore


async def test_a_put_replaces_the_config_and_keeps_the_secret_unless_given(
    store: SqliteStore,
) -> None:
    assert await store.notification_setting("slack") is None
    first = await store.put_notification_setting("slack", {"mode": "webhook"}, b"sealed-1")
    assert (dict(first.config), first.secret_set) == ({"mode": "webhook"}, True)
    kept = await store.put_notification_setting("slack", {"mode": "webhook", "x": 1}, None)
    assert dict(kept.config) == {"mode": "webhook", "x": 1}
    found = await store.sealed_notification_setting("slack")
    assert found is not None
    assert found[1] == b"sealed-1"
    await store.put_notification_setting("slack", {"mode": "bot"}, b"sealed-2")
    found = await store.sealed_notification_setting("slack")
    assert found is not None
    assert found[1] == b"sealed-2"
    bare = await store.put_notification_setting("smtp", {"host": "mail"}, None)
    assert bare.secret_set is False
    await store.put_notification_setting("smtp", {"host": "mail"}, b"sealed-3")
    cleared = await store.put_notification_setting("smtp", {}, None, clear_secret=True)
    assert cleared.secret_set is False
    assert await store.sealed_notification_setting("smtp") == (cleared, None)
    assert await store.delete_notification_setting("slack") is True
    assert await store.delete_notification_setting("slack") is False
    assert await store.notification_setting("slack") is None
    assert await store.notification_setting("smtp") is not None


async def test_keeping_the_secret_needs_the_config_it_was_checked_against(
    store: SqliteStore,
) -> None:
    """Two admins at once: one moves SMTP to another host with a new password while the other
    saves without a password, checked against the old host. The second write must not pair
    the new password with what it was not checked against."""
    old = {"host": "mail.example.com", "username": "ci"}
    await store.put_notification_setting("smtp", old, b"sealed-old")
    moved = {"host": "mx.other.example", "username": "ci"}
    await store.put_notification_setting("smtp", moved, b"sealed-new")

    with pytest.raises(Conflict, match="changed or removed meanwhile"):
        await store.put_notification_setting(
            "smtp", old | {"from": "ci@example.com"}, None, unless_changed_from=old
        )
    assert await store.sealed_notification_setting("smtp") == (
        await store.notification_setting("smtp"),
        b"sealed-new",
    )
    stored = await store.notification_setting("smtp")
    assert stored is not None
    assert dict(stored.config) == moved

    kept = await store.put_notification_setting(
        "smtp", moved | {"port": 465}, None, unless_changed_from=moved
    )
    assert (kept.config["port"], kept.secret_set) == (465, True)

    await store.delete_notification_setting("smtp")
    with pytest.raises(Conflict):
        await store.put_notification_setting("smtp", moved, None, unless_changed_from=moved)
    assert await store.notification_setting("smtp") is None
