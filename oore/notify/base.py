"""What a channel is given (a `Delivery` claimed from the outbox) and what it answers.

A channel sends one delivery and returns `Sent`, or raises `DeliveryFailed`: retryable unless
`permanent`, after `retry_after` seconds when the target said so (`Retry-After`). The actor owns
retries, backoff, ordering and concurrency; a channel never sleeps or loops.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    kind: str  # github_check | github_status | gitlab_status | slack | email | webhook
    # What per-target concurrency counts ("github", "gitlab", "slack", "smtp", "webhook:<id>").
    target: str
    build_id: str
    # The build change it reports: queued | started | succeeded | failed | cancelled |
    # timed_out | skipped | errored.
    event: str
    # The build report snapshot taken in the transaction of the change (see `report` below).
    payload: Mapping[str, Any]
    # Stable across retries and restarts; sent as the `Idempotency-Key` header where HTTP.
    idempotency_key: str
    attempts: int = 0
    # What the latest earlier delivery of the same chain (build, kind, target) answered in
    # `Sent.ref`: GitHub's check run id, so `started` and `completed` update the run `queued`
    # created.
    chain_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    ref: str | None = None


class DeliveryFailed(Exception):
    """The target refused or could not be reached; `why` is safe to store and show (never a
    credential, never a URL carrying one)."""

    def __init__(
        self, why: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(why)
        self.why = why
        self.retry_after = retry_after
        self.permanent = permanent


class Channel(Protocol):
    kind: ClassVar[str]

    async def send(self, delivery: Delivery) -> Sent: ...
