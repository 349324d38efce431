"""Every message actors exchange: frozen dataclasses, one module, so the protocol is visible."""

from __future__ import annotations

from dataclasses import dataclass

from oore.model import Trigger


@dataclass(frozen=True, slots=True)
class TriggerReceived:
    """WebhookIngester → RepositorySupervisor: a stored delivery resolved to a repository.

    The receiver must be idempotent per `event_id`: after a crash the ingester sends a still
    pending event again, and the receiver's guarded write is what makes it count once.
    """

    event_id: str
    repository_id: str
    trigger: Trigger
