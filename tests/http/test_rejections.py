"""Refused deliveries are logged once a minute per source, with how many were not."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from oore.http.rejections import RejectionLog


async def test_a_source_is_logged_at_once_then_at_most_once_a_minute(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="oore.webhooks")
    log = RejectionLog(every=60)
    for _ in range(3):
        log.note("GitHub hook 7 at 10.0.0.1", "bad_signature", "does not match")
        await trio.sleep(10)
    log.note("GitHub hook 8 at 10.0.0.2", "missing_signature", "is missing")
    assert [r.getMessage() for r in caplog.records] == [
        "refused a webhook delivery from GitHub hook 7 at 10.0.0.1 (bad_signature): does not match",
        "refused a webhook delivery from GitHub hook 8 at 10.0.0.2 (missing_signature): is missing",
    ]
    await trio.sleep(60)
    log.note("GitHub hook 7 at 10.0.0.1", "bad_signature", "does not match")
    assert (
        caplog.records[-1]
        .getMessage()
        .endswith("does not match (2 more refused since the last report)")
    )
