"""`GET /metrics`: the daemon's figures in Prometheus's text format, for a token holder.

Counted as things happen: build durations (oore.actors.metrics). Read when asked: stored
deliveries by provider and state, rejected deliveries, notification deliveries by kind and
state, queue length, running builds, actor restarts, mailbox use, log bytes and the store's
commits and lock retries. A read token suffices, as for every other read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from quart import Blueprint, Response

from oore.http.services import Services, services
from oore.model import BuildStatus

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
async def metrics() -> Response:
    svc = services()
    snapshot = await _snapshot(svc)
    now = CollectorRegistry(auto_describe=False)
    now.register(snapshot)
    text = generate_latest(svc.gauges.registry) + generate_latest(now)
    return Response(text, content_type=CONTENT_TYPE_LATEST)


@dataclass(frozen=True, slots=True, eq=False)  # a collector is registered by identity
class _Snapshot:
    events: dict[tuple[str, str], int]
    counters: dict[str, int]
    queued: int
    running: int
    restarts: dict[str, int]
    mailboxes: dict[str, tuple[int, float]]
    log_bytes: int
    store: dict[str, int]
    deliveries: dict[tuple[str, str], int]  # notification deliveries by (kind, state)

    def collect(self) -> Iterator[Metric]:
        yield self._deliveries()
        webhooks = CounterMetricFamily(
            "oore_webhooks_stored",
            "Deliveries stored, by provider and state",
            labels=["provider", "state"],
        )
        for (provider, state), count in sorted(self.events.items()):
            webhooks.add_metric([provider, state], count)
        yield webhooks
        rejected = CounterMetricFamily(
            "oore_webhooks_rejected",
            "Deliveries refused, by provider and reason (missing_signature, bad_signature, ...)",
            labels=["provider", "reason"],
        )
        for name, count in sorted(self.counters.items()):
            provider, sep, reason = name.removeprefix("webhooks_rejected_").partition(":")
            if name.startswith("webhooks_rejected_") and sep:
                rejected.add_metric([provider, reason], count)
        yield rejected
        yield GaugeMetricFamily("oore_builds_queued", "Builds waiting in the queue", self.queued)
        yield GaugeMetricFamily("oore_builds_running", "Builds running now", self.running)
        restarts = CounterMetricFamily(
            "oore_actor_restarts", "Restarts of each supervised actor", labels=["actor"]
        )
        for actor, count in sorted(self.restarts.items()):
            restarts.add_metric([actor], count)
        yield restarts
        used = GaugeMetricFamily(
            "oore_mailbox_messages", "Messages waiting in each actor mailbox", labels=["mailbox"]
        )
        size = GaugeMetricFamily(
            "oore_mailbox_capacity", "Capacity of each actor mailbox", labels=["mailbox"]
        )
        for name, (waiting, capacity) in sorted(self.mailboxes.items()):
            used.add_metric([name], waiting)
            size.add_metric([name], capacity)
        yield used
        yield size
        yield CounterMetricFamily(
            "oore_log_bytes", "Build log bytes written since start", value=self.log_bytes
        )
        yield CounterMetricFamily(
            "oore_store_commits", "Store transactions committed", value=self.store["batches"]
        )
        yield CounterMetricFamily(
            "oore_store_writes", "Store write units committed", value=self.store["writes"]
        )
        yield CounterMetricFamily(
            "oore_store_busy_retries",
            "Store reads and writes tried again because another process held the lock",
            value=self.store["busy_retries"],
        )

    def _deliveries(self) -> Metric:
        found = GaugeMetricFamily(
            "oore_notification_deliveries",
            "Notification deliveries in the outbox, by channel kind and state (pending, "
            "sending, delivered, dead)",
            labels=["kind", "state"],
        )
        for (kind, state), count in sorted(self.deliveries.items()):
            found.add_metric([kind, state], count)
        return found


async def _snapshot(svc: Services) -> _Snapshot:
    gauges = svc.gauges
    return _Snapshot(
        events=await svc.store.event_counts(),
        counters=await svc.store.counters(),
        queued=len(await svc.store.builds_in((BuildStatus.QUEUED,))),
        running=gauges.running_builds(),
        restarts=dict(gauges.restarts()),
        mailboxes=gauges.mailbox_use(),
        log_bytes=gauges.log_bytes(),
        store=svc.store.write_stats(),
        deliveries=await svc.store.delivery_counts(),
    )
