"""The Notifier: sends the outbox's deliveries through the channels, retrying until they land.

The outbox rows are written by the store in the build changes' own transactions
(oore.store.outbox), so the build path never waits on a target: this actor only follows, and
during a burst of build changes it waits for a pause (`Lull`, as the webhook ingester does) so
that its sends and writes do not slow the builds' own. It wakes on the store's build
announcements (each change that plans deliveries is one), on a resend,
when one of its sends ends, and at the next delivery's due time. It claims what is due (in order
within a chain, within each target's free room), sends each in its own task under the target's
`trio.CapacityLimiter`, and records the outcome: delivered, pending again after a backoff with
jitter (or the target's Retry-After), or dead once older than the maximum age or refused for
good. On (re)start, rows left `sending` go back to pending: delivery is at least once, and every
HTTP channel sends the `Idempotency-Key` the receiver dedupes on.

A delivery whose kind has no channel in this daemon is a retryable failure that says so: it
stays in the outbox (visible, with that error) until the maximum age, so a daemon upgraded
with the channel within that time still sends it; after that it is dead and can be resent.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import trio

from oore.model import DeliveryRecord
from oore.notify.base import Channel, Delivery, DeliveryFailed
from oore.primitives import Doorbell, Lull, Subscription
from oore.store.base import Store
from oore.store.changes import Change, ChangeKind

log = logging.getLogger("oore.notifier")

SEND_TIMEOUT = 120.0  # a channel that neither answers nor fails in this long has failed
IDLE_RECHECK = 60.0  # looked at again this often even without a wake-up (a clock step, say)
RETRY_AFTER_CAP = 3600.0  # a Retry-After longer than this is not believed
# Sending waits for a pause of this long in build changes (at most PATIENCE): a burst of builds
# finishing is written first, its notifications right after (bench/notifier.py).
QUIET = 0.05
PATIENCE = 2.0
BUILD_CHANGES = frozenset({ChangeKind.BUILD_CREATED, ChangeKind.BUILD_CHANGED})
WAKES = frozenset(
    {ChangeKind.BUILD_CREATED, ChangeKind.BUILD_CHANGED, ChangeKind.NOTIFICATIONS_CHANGED}
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float = 5.0  # seconds before the first retry
    cap: float = 600.0  # the longest backoff
    max_age: float = 86400.0  # seconds after creation (or a resend) a failure makes it dead

    def delay(self, attempts: int, retry_after: float | None, jitter: float) -> float:
        """Seconds until the next attempt after the `attempts`-th failed one; `jitter` in
        [0.5, 1.0] spreads retries of many deliveries that failed together."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), RETRY_AFTER_CAP)
        return float(min(self.cap, self.base * 2.0 ** min(attempts, 32)) * jitter)


class Notifier:
    """Supervised actor; `channels` maps a delivery kind to the channel that sends it."""

    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        policy: RetryPolicy = RetryPolicy(),
        *,
        per_target: int = 4,
        jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0),
        lull: Lull | None = None,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.policy = policy
        self.per_target = per_target
        self._jitter = jitter
        self._limiters: dict[str, trio.CapacityLimiter] = {}
        self._wake = Doorbell()
        self._lull = lull if lull is not None else Lull(QUIET, PATIENCE)
        self.sent = 0  # deliveries delivered since start (for tests and benchmarks)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        reset = await self.store.reset_sending()
        if reset:
            log.info("%d notification deliveries interrupted by a stop are pending again", reset)
        self._limiters.clear()  # a restart forgets the sends of the crashed self
        with self.store.changes.subscribe(buffer=64, accept=_wakes) as changes:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._listen, changes)
                task_status.started()
                await self._serve(nursery)

    async def _listen(self, changes: Subscription[Change]) -> None:
        async for change in changes:
            if change.kind in BUILD_CHANGES:
                self._lull.touch()
            self._wake.ring()

    async def _serve(self, nursery: trio.Nursery) -> None:
        while True:
            # The build path first: its writes share the store's writer and this event loop.
            await self._lull.wait()
            now = _now()
            claimed = await self.store.claim_deliveries(
                _iso(now), self._in_flight(), self.per_target
            )
            for record in claimed:
                limiter = self._limiter(record.target)
                limiter.acquire_on_behalf_of_nowait(record.id)
                nursery.start_soon(self._send, record, limiter)
            if not claimed:
                await self._sleep(now)

    async def _sleep(self, claimed_at: dt.datetime) -> None:
        """Until woken or the next delivery is due. One due at claim time was left for want
        of room at its target: a send ending (which rings) makes room."""
        due = await self.store.next_delivery_due()
        wait = IDLE_RECHECK
        if due is not None and due > _iso(claimed_at):
            wait = min(wait, (_parse(due) - _now()).total_seconds())
        with trio.move_on_after(max(wait, 0.0)):
            await self._wake.wait()

    def _in_flight(self) -> dict[str, int]:
        return {target: int(lim.borrowed_tokens) for target, lim in self._limiters.items()}

    def _limiter(self, target: str) -> trio.CapacityLimiter:
        if target not in self._limiters:
            self._limiters[target] = trio.CapacityLimiter(self.per_target)
        return self._limiters[target]

    async def _send(self, record: DeliveryRecord, limiter: trio.CapacityLimiter) -> None:
        try:
            await self._attempt(record)
        finally:
            limiter.release_on_behalf_of(record.id)
            self._wake.ring()

    async def _attempt(self, record: DeliveryRecord) -> None:
        channel = self.channels.get(record.kind)
        try:
            if channel is None:
                raise DeliveryFailed(f"no {record.kind} channel is registered in this daemon")
            with trio.fail_after(SEND_TIMEOUT):
                sent = await channel.send(delivery_of(record))
        except DeliveryFailed as exc:
            await self._failed(record, exc.why, exc.retry_after, exc.permanent)
        except trio.TooSlowError:
            await self._failed(record, f"no answer within {SEND_TIMEOUT:.0f} s", None, False)
        except Exception as exc:  # a channel's bug must not stop the others' deliveries
            log.exception("the %s channel failed on delivery %s", record.kind, record.id)
            await self._failed(record, f"the {record.kind} channel failed: {type(exc).__name__}")
        else:
            await self.store.delivery_sent(record.id, sent.ref)
            self.sent += 1

    async def _failed(
        self,
        record: DeliveryRecord,
        why: str,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> None:
        now = _now()
        age = (now - _parse(record.retry_since)).total_seconds()
        next_at: str | None = None
        if not permanent and age < self.policy.max_age:
            delay = self.policy.delay(record.attempts, retry_after, self._jitter())
            next_at = _iso(now + dt.timedelta(seconds=delay))
        await self.store.delivery_failed(record.id, why, next_at)
        if next_at is None:
            log.warning(
                "notification %s (%s, %s, build %s) is dead after %d attempt(s): %s",
                record.id, record.kind, record.target, record.build_id, record.attempts + 1, why,
            )  # fmt: skip
        else:
            log.info(
                "notification %s (%s, %s) failed, next attempt at %s: %s",
                record.id, record.kind, record.target, next_at, why,
            )  # fmt: skip


def delivery_of(record: DeliveryRecord) -> Delivery:
    return Delivery(
        id=record.id,
        kind=record.kind,
        target=record.target,
        build_id=record.build_id,
        event=record.event,
        payload=record.payload,
        idempotency_key=record.idempotency_key,
        attempts=record.attempts,
        chain_ref=record.chain_ref,
    )


def _wakes(change: Change) -> bool:
    return change.kind in WAKES


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    # The store's time format (oore.model.utcnow), so that times compare as text in SQL.
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
