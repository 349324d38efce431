"""`kill -9` of a real daemon in the middle of 2,000 signed webhooks sent concurrently over
loopback: every delivery answered 2xx is stored exactly once and processed (its build made, or
the event ignored with the reason), none stays pending, and what got no answer is redelivered
and deduplicated by its delivery id. Bounded: about ten seconds on two shared cores.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import trio

from bench.loadgen import Connection, PostTemplate, ProtocolError, post_template
from tests.e2e.daemon import Daemon
from tests.e2e.test_builds import BASE_ENV, SECRET, Ci, make_repo, push_payload
from tests.e2e.test_faults import POLL, SETTLE, connected, unfinished
from tests.e2e.webhook_client import delivery_id, signature

RELEASE_PIPELINE = """\
workflows:
  release:
    triggering:
      events: [push]
      branch_patterns:
        - pattern: release
    scripts:
      - name: ship
        script: echo shipped
"""
WEBHOOKS = 2000
RELEASE_EVERY = 200  # one delivery in so many is a push to `release`, which builds
CONNECTIONS = 16
KILL_AT = 700  # answers received when the daemon is killed
REDELIVERED = 100  # deliveries answered before the kill and sent again after it


@dataclass(slots=True)
class Burst:
    """2,000 signed pushes, each with its own delivery id, and what the daemon answered.

    Sent with bench/loadgen.py's raw HTTP/1.1 connections: cheaper than httpx on two shared
    cores, and a connection dying under a request is an ordinary outcome here, not a leak.
    """

    bodies: dict[str, bytes]
    branches: dict[str, str]  # delivery id -> branch pushed
    acknowledged: dict[str, str] = field(default_factory=dict)  # delivery id -> event id
    answers: int = 0
    duplicates: int = 0  # answered "duplicate": stored already (before the kill)

    def templates(self, url: str) -> dict[str, PostTemplate]:
        """By branch, the signed request with its delivery id left to fill in."""
        return {
            branch: post_template(
                url,
                "/api/webhooks/github",
                {
                    "X-GitHub-Event": "push",
                    "X-Hub-Signature-256": signature(SECRET, body),
                    "Content-Type": "application/json",
                },
                "X-GitHub-Delivery",
                body,
            )
            for branch, body in self.bodies.items()
        }

    async def send(self, url: str, deliveries: list[str], kill: Daemon | None = None) -> None:
        """Deliver over `CONNECTIONS` connections; with `kill`, SIGKILL it after `KILL_AT`
        answers. A delivery that got no answer (refused, reset) is simply not acknowledged."""
        pending = iter(deliveries)
        templates = self.templates(url)
        host, port = url.removeprefix("http://").rsplit(":", 1)
        async with trio.open_nursery() as nursery:
            for _ in range(CONNECTIONS):
                nursery.start_soon(self._worker, (host, int(port)), templates, pending, kill)

    async def _worker(
        self,
        address: tuple[str, int],
        templates: dict[str, PostTemplate],
        pending: Iterator[str],
        kill: Daemon | None,
    ) -> None:
        connection: Connection | None = None
        try:
            for delivery in pending:
                request = templates[self.branches[delivery]].render(delivery)
                try:
                    if connection is None:
                        connection = Connection(await trio.open_tcp_stream(*address))
                    status, body, keep_alive = await connection.exchange(request)
                except (OSError, trio.BrokenResourceError, ProtocolError):
                    await closed(connection)
                    connection = None
                    continue
                self._answered(delivery, status, body, kill)
                if not keep_alive:
                    await closed(connection)
                    connection = None
        finally:
            await closed(connection)

    def _answered(self, delivery: str, status: int, body: bytes, kill: Daemon | None) -> None:
        assert status in (200, 202), body
        answer = json.loads(body)
        self.acknowledged[delivery] = answer["event_id"]
        self.duplicates += answer["status"] == "duplicate"
        self.answers += 1
        if kill is not None and self.answers == KILL_AT:
            assert kill.process is not None
            kill.process.kill()


async def closed(connection: Connection | None) -> None:
    if connection is not None:
        with trio.CancelScope(shield=True):
            await connection.aclose()


async def any_pending(ci: Ci) -> bool:
    page = await ci.operator.get("/api/webhooks/events", state="pending", limit=1)
    return bool(page.json()["items"])


async def no_pending(ci: Ci) -> None:
    with trio.fail_after(SETTLE):
        while await any_pending(ci):  # noqa: ASYNC110 - polling the API is what a client does
            await trio.sleep(POLL * 4)


async def test_kill_9_during_2000_webhooks_stores_each_delivery_once_and_processes_it(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", RELEASE_PIPELINE)
    git.branch("release")
    daemon = await daemon_factory(tmp_path, **BASE_ENV).start()
    async with connected(daemon) as ci:
        repo = await ci.register(git, "app")
    bodies = {
        branch: json.dumps(push_payload(repo, f"refs/heads/{branch}", git.head())).encode()
        for branch in ("main", "release")
    }
    branches = {
        delivery_id(): "release" if n % RELEASE_EVERY == 0 else "main" for n in range(WEBHOOKS)
    }
    burst = Burst(bodies, branches)
    await burst.send(daemon.url, list(branches), kill=daemon)
    assert await daemon.wait_exit(10) == -signal.SIGKILL
    first = dict(burst.acknowledged)
    assert KILL_AT <= len(first) < WEBHOOKS  # killed in the middle, as meant

    await daemon.start()
    async with connected(daemon) as ci:
        # The provider redelivers what got no answer (had it been stored before the kill, it
        # answers "duplicate"), and a person redelivers some that were answered.
        unanswered = [d for d in branches if d not in first]
        await burst.send(daemon.url, unanswered)
        assert set(burst.acknowledged) == set(branches)
        again = list(first)[:REDELIVERED]
        duplicates = burst.duplicates
        await burst.send(daemon.url, again)
        assert burst.duplicates - duplicates == REDELIVERED
        assert {d: burst.acknowledged[d] for d in first} == first  # the same event, not a new one
        await no_pending(ci)
        events = await ci.operator.events()
        by_delivery = Counter(e["delivery_id"] for e in events)
        assert len(events) == WEBHOOKS
        assert set(by_delivery.values()) == {1}
        assert {e["delivery_id"]: e["id"] for e in events} == burst.acknowledged
        states = Counter((e["state"], branches[e["delivery_id"]]) for e in events)
        releases = WEBHOOKS // RELEASE_EVERY
        # A push to main matches no workflow: the event is ignored, saying why; one to release
        # made its build.
        assert states == {
            ("ignored", "main"): WEBHOOKS - releases,
            ("processed", "release"): releases,
        }
        assert all(e["reason"] for e in events if e["state"] == "ignored")
        built = [e for e in events if e["state"] == "processed"]
        for event in built:
            detail = await ci.operator.event(event["id"])
            made = [(b["workflow"], b["status"], b["reason"]) for b in detail["builds"]]
            assert [m[0] for m in made] == ["release"], made
        with trio.fail_after(SETTLE):
            while await unfinished(ci, repo.id):  # noqa: ASYNC110 - the API is what a client sees
                await trio.sleep(POLL * 4)
        builds = await ci.builds(repository=repo.id)
        assert len(builds) == releases
        assert [(b["status"], b["reason"]) for b in builds if b["status"] != "succeeded"] == []
    assert await daemon.stop() == 0
    assert "Traceback" not in daemon.log(), daemon.log()
