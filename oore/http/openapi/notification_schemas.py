"""The OpenAPI schemas of notifications: deliveries and signed webhook targets."""

from __future__ import annotations

from oore.http import notifications
from oore.http.openapi.schemas import ID, TIMESTAMP, Json, enum, nullable, obj, ref, string
from oore.model import DeliveryState


def _delivery() -> Json:
    return obj(
        {
            "id": ID,
            "build_id": ID,
            "kind": enum(list(notifications.KINDS)),
            "target": string(description="github, gitlab, slack, smtp or webhook:<target id>"),
            "event": enum(list(notifications.EVENTS)),
            "state": enum([s.value for s in DeliveryState]),
            "attempts": {"type": "integer", "minimum": 0},
            "next_attempt_at": nullable(TIMESTAMP | {"description": "While pending"}),
            "last_error": nullable(string()),
            "ref": nullable(string(description="What the target answered (a check run id)")),
            "idempotency_key": string(description="Sent as the Idempotency-Key header"),
            "created_at": TIMESTAMP,
            "delivered_at": nullable(TIMESTAMP),
        }
    )


def _target() -> Json:
    return {
        "id": ID,
        "repository_id": nullable(ID | {"description": "null: every repository"}),
        "url": string(description="scheme and host only; `/…` when the URL has more"),
        "url_sha256": string(
            description="the first hex digits of the URL's SHA-256: which URL it is, unshown"
        ),
        "events": {
            "type": "array",
            "items": enum(list(notifications.EVENTS)),
            "description": "The events sent; [] = every event",
        },
        "created_at": TIMESTAMP,
    }


def notification_schemas() -> Json:
    target = _target()
    create = {
        "url": string(format="uri"),
        "secret": string(
            minLength=notifications.MIN_SECRET,
            maxLength=notifications.MAX_SECRET,
            description="Signs each body (X-Oore-Signature-256); write-only",
        ),
        "repository_id": target["repository_id"],
        "events": target["events"],
    }
    return {
        "Delivery": _delivery(),
        "DeliveryPage": obj(
            {
                "items": {"type": "array", "items": ref("Delivery")},
                "next_cursor": nullable(string(description="Pass as ?cursor= for the next page")),
            }
        ),
        "WebhookTarget": obj(
            target
            | {
                "url": string(
                    description="scheme://host/path only: any user or password removed, a "
                    "query shown as ?… (it may carry the receiver's token)"
                )
            }
        ),
        "WebhookTargetList": obj({"items": {"type": "array", "items": ref("WebhookTarget")}}),
        "WebhookTargetCreate": obj(create, ("url", "secret")),
    }
