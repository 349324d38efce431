"""The Slack and SMTP settings rows: config replaced, the sealed secret kept unless replaced."""

from __future__ import annotations

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
