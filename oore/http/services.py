"""What request handlers may use: settings, the store, the sealer, and actor mailboxes.

One `Services` object is built by the daemon and attached to the app; handlers reach it through
`services()`, never through globals of their own.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field

import trio
from quart import current_app

from oore.actors.ingester import DEFER_PATIENCE, DEFER_QUIET
from oore.actors.messages import IngestRequest, RepositoryMessage
from oore.config import Settings
from oore.crypto import Sealer
from oore.logs.hub import LogHub
from oore.model import WebhookEvent
from oore.paths import DataPaths
from oore.primitives import Broadcast, Doorbell, Lull
from oore.store.announcing import Change
from oore.store.base import Store
from oore.webhooks.intake import Intake

APP_KEY = "OORE_SERVICES"


@dataclass(slots=True)
class Services:
    settings: Settings
    store: Store
    sealer: Sealer
    webhook_inbox: trio.MemorySendChannel[IngestRequest] | None = None
    repository_inbox: trio.MemorySendChannel[RepositoryMessage] | None = None
    ingest_overflow: Doorbell = field(default_factory=Doorbell)
    # Touched by every new delivery; the ingester defers processing to a pause in them.
    deliveries: Lull = field(default_factory=lambda: Lull(DEFER_QUIET, DEFER_PATIENCE))
    log_hub: LogHub = field(init=False)
    changes: Broadcast[Change] = field(default_factory=Broadcast)
    started_monotonic: float = field(default_factory=time.monotonic)

    intake: Intake = field(init=False)

    def __post_init__(self) -> None:
        self.log_hub = LogHub(self.paths.logs)
        self.intake = Intake(
            self.store,
            self.sealer,
            shared_github_secret=self.settings.github_webhook_secret,
            gitlab_token_key=self.gitlab_token_key,
            kick=self.kick_ingester,
        )

    @property
    def paths(self) -> DataPaths:
        return DataPaths(self.settings.data_dir)

    @property
    def gitlab_token_key(self) -> bytes:
        """The key GitLab tokens are HMAC'd with: derived, so the sealing key has one use."""
        key = self.settings.encryption_key
        if key is None:
            raise RuntimeError("the daemon always runs with an encryption key")
        return hmac.new(key, b"oore gitlab webhook token", hashlib.sha256).digest()

    def kick_ingester(self, event: IngestRequest) -> None:
        """Wake the ingester; a full inbox is fine, the event is stored and will be swept."""
        if self.webhook_inbox is None:
            return
        if isinstance(event, WebhookEvent):  # a new delivery (not a reprocess request)
            self.deliveries.touch()
        try:
            self.webhook_inbox.send_nowait(event)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            self.ingest_overflow.ring()


def services() -> Services:
    found: Services = current_app.config[APP_KEY]
    return found
