"""Signed webhooks: POST the build report as JSON to a target's URL, signed with its secret.

Headers: `X-Oore-Signature-256: sha256=<hex HMAC-SHA256 of the exact body>` (GitHub's scheme,
so existing verifiers work), `X-Oore-Event` (queued, started, succeeded, ...), `Idempotency-Key`
(stable across retries and restarts: the receiver dedupes on it) and `X-Oore-Delivery`. 2xx is
sent; any other answer, or none, is retried or refused for good by the rule of
`oore.notify.sending`, whose `Sender` posts it (through the SSRF guard of
`oore.providers.outbound`). The URL is never put in an error (a URL may carry a token of its
own); the target is named by its id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import ClassVar, Protocol

from oore.crypto import Sealer, aad
from oore.errors import CryptoError, NotFound
from oore.model import WebhookTarget
from oore.notify.base import Delivery, DeliveryFailed, Sent
from oore.notify.sending import Request, Sender, failed

SIGNATURE_HEADER = "X-Oore-Signature-256"


class WebhookTargets(Protocol):
    async def sealed_webhook_target(self, target_id: str) -> tuple[WebhookTarget, bytes]: ...


def secret_aad(target_id: str) -> bytes:
    return aad("notification_targets", target_id, "secret")


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def body_of(payload: Mapping[str, object]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class WebhookChannel:
    kind: ClassVar[str] = "webhook"

    def __init__(self, targets: WebhookTargets, sealer: Sealer, *, allow_private: bool) -> None:
        self.targets = targets
        self.sealer = sealer
        self.sender = Sender(allow_private=allow_private)

    async def send(self, delivery: Delivery) -> Sent:
        target_id = delivery.target.removeprefix("webhook:")
        try:
            target, sealed = await self.targets.sealed_webhook_target(target_id)
        except NotFound:
            raise DeliveryFailed(
                f"webhook target {target_id} was removed", permanent=True
            ) from None
        body = body_of(delivery.payload)
        try:
            secret = self.sealer.open(sealed, secret_aad(target.id))
        except CryptoError:
            raise DeliveryFailed(
                f"the secret of webhook target {target.id} cannot be opened (was the encryption "
                "key changed?); add the target again",
                permanent=True,
            ) from None
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(secret, body),
            "X-Oore-Event": delivery.event,
            "X-Oore-Delivery": delivery.id,
            "Idempotency-Key": delivery.idempotency_key,
        }
        name = f"webhook target {target.id}"
        response = await self.sender.send(name, Request("POST", target.url, headers, body))
        if not response.is_success:
            raise failed(f"{name} answered HTTP {response.status_code}", response)
        return Sent()
