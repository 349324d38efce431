"""Signed webhook notifications through a real `oored run` to a real receiver on loopback.

Builds are started through the API in real git repositories; the receiver (tests/fakes/
webhook_receiver.py) checks every signature and dedupes on Idempotency-Key. What a user relies
on: every build event arrives signed and in order; a target down for 30 s gets every delivery
once it is back; `kill -9` of the daemon loses none and sends none twice per key; a 429's
Retry-After is waited out; the secret appears in no log line and no API answer.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.e2e.daemon import Daemon
from tests.e2e.test_builds import Ci, Repo, make_repo, running_ci
from tests.fakes.webhook_receiver import WebhookReceiver, serve_receiver

SECRET = "whsec_e2e_notifications_0123456789abcdef"
PIPELINE = """\
workflows:
  quick:
    scripts:
      - name: hello
        script: echo hello
"""
ENV = {
    "OORE_ALLOW_PRIVATE_PROVIDERS": "1",
    "OORE_NOTIFY_RETRY_BASE": "0.5",
    "OORE_NOTIFY_RETRY_MAX": "2",
    "OORE_MAX_CONCURRENT_BUILDS": "4",
}
EVENTS = ["queued", "started", "succeeded"]


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with trio.open_nursery() as nursery:
        yield await nursery.start(serve_receiver, SECRET)
        nursery.cancel_scope.cancel()


async def setup(ci: Ci, tmp_path: Path, receiver: WebhookReceiver, **body: Any) -> Repo:
    repo = await ci.register(make_repo(tmp_path, "app", PIPELINE), "app")
    target = {"url": receiver.url + "/oore", "secret": SECRET, "repository_id": repo.id, **body}
    added = await ci.operator.post("/api/notifications/webhooks", target)
    assert added.status_code == 201, added.text
    assert SECRET not in added.text
    return repo


async def build_all(ci: Ci, repo: Repo, count: int) -> list[str]:
    ids = [(await ci.trigger(repo, workflow="quick", branch="main"))["id"] for _ in range(count)]
    for build_id in ids:
        await ci.succeeded(build_id)
    return ids


async def deliveries(ci: Ci, **params: Any) -> list[dict[str, Any]]:
    response = await ci.operator.get("/api/notifications", limit=500, **params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    assert SECRET not in response.text
    return items


async def all_delivered(ci: Ci, **params: Any) -> list[dict[str, Any]]:
    """The deliveries, once the daemon has recorded every one delivered (the receiver may have
    answered a moment before the daemon wrote it down)."""
    with trio.fail_after(5):
        while True:
            found = await deliveries(ci, **params)
            if {d["state"] for d in found} == {"delivered"}:
                return found
            await trio.sleep(0.05)


def assert_no_secret(daemon: Daemon) -> None:
    log = daemon.log()
    assert log, "the daemon wrote no log"
    assert SECRET not in log


async def test_build_events_arrive_signed_and_in_order(
    daemon_factory: type[Daemon], tmp_path: Path, receiver: WebhookReceiver
) -> None:
    async with running_ci(daemon_factory, tmp_path, **ENV) as ci:
        repo = await setup(ci, tmp_path, receiver)
        (build_id,) = await build_all(ci, repo, 1)
        with trio.fail_after(10):
            await receiver.wait_for(3)
        got = [r for r in receiver.received if r.status == 200]
        assert [r.event for r in got] == EVENTS
        assert all(r.signed for r in receiver.received)
        assert {r.path for r in got} == {"/oore"}
        assert [r.key for r in got] == [f"{build_id}:webhook:{_target(r)}:{r.event}" for r in got]
        done = got[-1].body
        assert (done["event"], done["build"]["id"], done["build"]["status"]) == (
            "succeeded",
            build_id,
            "succeeded",
        )
        assert done["repository"]["full_name"] == "octo/app"
        assert [s["name"] for s in done["steps"]] == ["hello"]
        listed = await all_delivered(ci, build=build_id)
        assert {(d["event"], d["state"]) for d in listed} == {(e, "delivered") for e in EVENTS}
        metrics = await ci.operator.get("/metrics")
        assert 'oore_notification_deliveries{kind="webhook",state="delivered"} 3.0' in metrics.text
        targets = await ci.operator.get("/api/notifications/webhooks")
        assert SECRET not in targets.text
        assert_no_secret(ci.daemon)


def _target(received: Any) -> str:
    return f"webhook:{received.body['to']['target_id']}"


async def test_a_target_down_for_30_seconds_gets_every_delivery_once_back(
    daemon_factory: type[Daemon], tmp_path: Path, receiver: WebhookReceiver
) -> None:
    async with running_ci(daemon_factory, tmp_path, **ENV) as ci:
        repo = await setup(ci, tmp_path, receiver)
        receiver.down(refuse=True)
        down_at = trio.current_time()
        await build_all(ci, repo, 3)
        await trio.sleep_until(down_at + 30)
        assert receiver.accepted == {}
        pending = await deliveries(ci)
        assert len(pending) == 9
        assert {d["state"] for d in pending} <= {"pending", "sending"}
        assert all(
            d["attempts"] >= 1 and d["last_error"] for d in pending if d["event"] == "queued"
        )
        await receiver.up()
        with trio.fail_after(8):  # OORE_NOTIFY_RETRY_MAX is 2 s: every chain moves within it
            await receiver.wait_for(9)
        assert receiver.duplicates == 0
        assert len(await all_delivered(ci)) == 9
        by_build: dict[str, list[str | None]] = {}
        for received in receiver.accepted.values():
            by_build.setdefault(received.body["build"]["id"], []).append(received.event)
        assert all(events == EVENTS for events in by_build.values())
        assert_no_secret(ci.daemon)


async def test_kill_9_with_20_deliveries_pending_delivers_each_exactly_once(
    daemon_factory: type[Daemon], tmp_path: Path, receiver: WebhookReceiver
) -> None:
    home = tmp_path
    async with running_ci(daemon_factory, home, **ENV) as ci:
        repo = await setup(ci, tmp_path, receiver, events=["queued", "succeeded"])
        receiver.down()  # 503: each delivery is tried, fails, and waits in the outbox
        await build_all(ci, repo, 10)
        waiting = await deliveries(ci)
        assert len(waiting) == 20
        assert {d["state"] for d in waiting} <= {"pending", "sending"}
        ci.daemon.kill()  # SIGKILL: nothing is flushed, some may be mid-send
        await receiver.up()
    async with running_ci(daemon_factory, home, **ENV) as again:
        with trio.fail_after(15):
            await receiver.wait_for(20)
        await trio.sleep(1)  # anything sent twice would have arrived by now
        assert len(receiver.accepted) == 20
        assert receiver.duplicates == 0
        assert len(await all_delivered(again)) == 20
        assert_no_secret(again.daemon)


async def test_a_429_retry_after_is_honoured(
    daemon_factory: type[Daemon], tmp_path: Path, receiver: WebhookReceiver
) -> None:
    async with running_ci(daemon_factory, tmp_path, **ENV) as ci:
        repo = await setup(ci, tmp_path, receiver, events=["succeeded"])
        receiver.throttle(1, "3")
        (build_id,) = await build_all(ci, repo, 1)
        with trio.fail_after(10):
            await receiver.wait_for(1)
        throttled, accepted = receiver.received
        assert (throttled.status, accepted.status) == (429, 200)
        assert throttled.key == accepted.key
        # The backoff alone would have tried again within 0.5 s.
        assert accepted.at - throttled.at >= 3.0
        (done,) = await all_delivered(ci, build=build_id)
        assert (done["state"], done["attempts"]) == ("delivered", 2)
        assert_no_secret(ci.daemon)


async def test_the_cli_adds_lists_and_removes_a_webhook_and_lists_deliveries(
    daemon_factory: type[Daemon], tmp_path: Path, receiver: WebhookReceiver
) -> None:
    async with running_ci(daemon_factory, tmp_path, **ENV) as ci:
        repo = await ci.register(make_repo(tmp_path, "app", PIPELINE), "app")
        env = {
            **os.environ,
            "OORE_SERVER": ci.daemon.url,
            "OORE_TOKEN": ci.daemon.admin_token.strip(),
            "HOME": str(tmp_path),
        }

        async def oore(*args: str, stdin: bytes = b"", ok: bool = True) -> str:
            done = await trio.run_process(
                [sys.executable, "-m", "oore.cli.client", *args],
                env=env,
                stdin=stdin,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
            assert (done.returncode == 0) == ok, done.stderr.decode()
            return done.stdout.decode() + done.stderr.decode()

        added = json.loads(
            await oore(
                "--json", "notifications", "webhooks", "add", receiver.url, "--repo", "octo/app"
            )
        )
        generated = added["secret"]
        assert generated.startswith("whsec_")
        listed = await oore("notifications", "webhooks", "list")
        assert added["id"] in listed
        assert generated not in listed
        await oore(
            "notifications", "webhooks", "add", receiver.url + "/two", "--secret-stdin",
            stdin=generated.encode() + b"\n",
        )  # fmt: skip
        receiver.secret = generated
        build_id = (await build_all(ci, repo, 1))[0]
        with trio.fail_after(10):
            await receiver.wait_for(6)  # both targets' queued, started, succeeded
        await all_delivered(ci, build=build_id)
        table = await oore("notifications", "list", "--build", build_id)
        assert table.count("delivered") == 6
        await oore("notifications", "webhooks", "remove", added["id"])
        assert added["id"] not in await oore("notifications", "webhooks", "list")
        delivered = (await deliveries(ci, build=build_id))[0]["id"]
        assert "is pending again" in await oore("notifications", "resend", delivered)
        assert "not found" in await oore("notifications", "resend", "01NOSUCH", ok=False)
        assert generated not in ci.daemon.log()
