"""Webhook receivers: verify, store, acknowledge; the ingester does everything else.

Each handler does only what must happen before the provider gets its answer: check the
signature or token on the raw body, store the delivery (unique per provider and delivery id),
wake the ingester without waiting for it, and answer 202 — in milliseconds. A rejected delivery
writes nothing but a counter.
"""

from __future__ import annotations

import json

from quart import Blueprint, Response, jsonify, request

from oore.crypto import aad, constant_time_equals, keyed_hash, verify_github_signature
from oore.errors import BadRequest, CryptoError, Unauthorized
from oore.http.auth import public
from oore.http.jsonio import read_body
from oore.http.services import Services, services
from oore.ids import new_id
from oore.model import Provider, Repository, WebhookEvent, utcnow
from oore.webhooks import github, gitlab
from oore.webhooks.delivery import content_delivery_id, json_document

blueprint = Blueprint("webhooks", __name__)

GITHUB_HEADERS = (
    "X-GitHub-Event",
    "X-GitHub-Delivery",
    "X-GitHub-Hook-ID",
    "X-GitHub-Hook-Installation-Target-Type",
    "X-GitHub-Hook-Installation-Target-ID",
    "Content-Type",
    "User-Agent",
)
GITLAB_HEADERS = (
    "X-Gitlab-Event",
    "X-Gitlab-Event-UUID",
    "X-Gitlab-Webhook-UUID",
    "X-Gitlab-Instance",
    "Content-Type",
    "User-Agent",
)
MAX_HEADER = 200


@blueprint.post("/api/webhooks/github")
@public
async def github_webhook() -> tuple[Response, int]:
    svc = services()
    raw = await read_body()
    event_type = _header("X-GitHub-Event")
    delivery_id = _header("X-GitHub-Delivery")
    document = json_document(request.headers.get("Content-Type"), raw)
    identity = github.identify(document)
    repo = None
    if identity is not None:
        repo = await svc.store.find_repository(
            Provider.GITHUB, identity.owner, identity.name, identity.provider_id
        )
    secret = await _github_secret(svc, repo)
    if not verify_github_signature(secret, raw, request.headers.get("X-Hub-Signature-256")):
        await svc.store.increment_counter("webhooks_rejected_github")
        raise Unauthorized("X-Hub-Signature-256 does not match this repository's webhook secret")
    _require_json_object(document)
    return await _store(svc, Provider.GITHUB, event_type, delivery_id, raw, repo, GITHUB_HEADERS)


@blueprint.post("/api/webhooks/gitlab/<repository_id>")
@public
async def gitlab_webhook(repository_id: str) -> tuple[Response, int]:
    svc = services()
    raw = await read_body()
    repo = await svc.store.get_repository(repository_id)
    if repo.provider is not Provider.GITLAB:
        raise BadRequest(f"repository {repo.full_name} is not a GitLab repository")
    await _check_gitlab_token(svc, repo)
    event_type = _header("X-Gitlab-Event")
    _require_json_object(raw)
    project = gitlab.project_id(raw)
    if repo.gitlab_project_id is not None and project != repo.gitlab_project_id:
        await svc.store.increment_counter("webhooks_rejected_gitlab")
        raise BadRequest(
            f"the payload is for GitLab project {project}, but repository {repo.full_name} "
            f"is project {repo.gitlab_project_id}"
        )
    # Scoped to the repository: another project's delivery with the same UUID (or body) must not
    # be taken for a redelivery of this one.
    delivery_id = (
        f"{repo.id}:{request.headers.get('X-Gitlab-Event-UUID') or content_delivery_id(raw)}"
    )
    return await _store(svc, Provider.GITLAB, event_type, delivery_id, raw, repo, GITLAB_HEADERS)


async def _github_secret(svc: Services, repo: Repository | None) -> bytes:
    # A repository's own secret is the only one accepted for it; the shared secret covers
    # repositories without one and deliveries for repositories not registered (yet).
    if repo is not None:
        sealed = (await svc.store.repository_secrets(repo.id)).webhook_secret_sealed
        if sealed is not None:
            try:
                return svc.sealer.open(sealed, aad("repositories", repo.id, "webhook_secret"))
            except CryptoError as exc:
                raise Unauthorized("this repository's webhook secret cannot be opened") from exc
    shared = svc.settings.github_webhook_secret
    if shared is None:
        await svc.store.increment_counter("webhooks_rejected_github")
        raise Unauthorized(
            "this delivery names no registered repository with a webhook secret, and "
            "OORE_GITHUB_WEBHOOK_SECRET is not set; register the repository with "
            "POST /api/repositories. (The payload is read from a JSON body, or from the "
            "'payload' field of a form body.)"
        )
    return shared.encode()


async def _check_gitlab_token(svc: Services, repo: Repository) -> None:
    token = request.headers.get("X-Gitlab-Token", "")
    stored = (await svc.store.repository_secrets(repo.id)).webhook_token_hmac
    if (
        not token
        or stored is None
        or not constant_time_equals(keyed_hash(svc.gitlab_token_key, token), stored)
    ):
        await svc.store.increment_counter("webhooks_rejected_gitlab")
        raise Unauthorized("X-Gitlab-Token does not match this repository's secret token")


async def _store(
    svc: Services,
    provider: Provider,
    event_type: str,
    delivery_id: str,
    raw: bytes,
    repo: Repository | None,
    kept_headers: tuple[str, ...],
) -> tuple[Response, int]:
    headers = {name: request.headers[name] for name in kept_headers if name in request.headers}
    event = WebhookEvent(
        id=new_id(),
        provider=provider,
        event_type=event_type,
        delivery_id=delivery_id,
        received_at=utcnow(),
        repository_id=repo.id if repo else None,
        headers={k: v[:MAX_HEADER] for k, v in headers.items()},
        body=raw,
    )
    event_id, created = await svc.store.insert_event(event)
    if not created:
        return jsonify({"status": "duplicate", "event_id": event_id}), 200
    svc.kick_ingester(event_id)
    return jsonify({"status": "accepted", "event_id": event_id}), 202


def _header(name: str) -> str:
    value = request.headers.get(name, "").strip()
    if not value:
        raise BadRequest(f"the {name} header is missing")
    if len(value) > MAX_HEADER:
        raise BadRequest(f"the {name} header is longer than {MAX_HEADER} characters")
    return value


def _require_json_object(document: bytes) -> None:
    try:
        value = json.loads(document)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the payload is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise BadRequest("the payload must be a JSON object")
