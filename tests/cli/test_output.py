"""Relative times, durations and sizes as `oore` prints them."""

from __future__ import annotations

import datetime as dt

from oore.cli.client.output import ago, duration, size

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def stamp(**delta: float) -> str:
    return (NOW - dt.timedelta(**delta)).isoformat().replace("+00:00", "Z")


def test_relative_times() -> None:
    assert ago(stamp(seconds=3), NOW) == "just now"
    assert ago(stamp(seconds=42), NOW) == "42 s ago"
    assert ago(stamp(minutes=3, seconds=20), NOW) == "3 min ago"
    assert ago(stamp(hours=5), NOW) == "5 h ago"
    assert ago(stamp(days=1), NOW) == "1 day ago"
    assert ago(stamp(days=12), NOW) == "12 days ago"
    assert ago(stamp(days=90), NOW) == "2025-12-01"
    assert ago(None, NOW) == "-"


def test_durations_and_sizes() -> None:
    assert duration(0.031) == "0.03s"
    assert duration(4.25) == "4.2s"
    assert duration(42.4) == "42s"
    assert duration(72) == "1m 12s"
    assert duration(3 * 3600 + 5 * 60 + 9) == "3h 05m"
    assert duration(None) == "-"
    assert size(512) == "512 B"
    assert size(307200) == "300.0 KiB"
    assert size(5 * 1024**3) == "5.0 GiB"
