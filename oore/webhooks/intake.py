"""Receiving a delivery: verify it, store it, and say what to answer — free of any web framework.

The HTTP layer calls this twice over: the Quart routes (documented, used by in-process tests)
and the ASGI fast path in front of Quart that serves the real daemon's webhook traffic without
Quart's per-request cost. Both get the same checks and the same answers.

What happens before the provider gets its answer is only what must: the signature or token is
checked on the raw body, the delivery is stored (unique per provider and delivery id), the
ingester is woken without waiting for it. Each body is parsed once. The repository and its
opened secret are cached per identity; the daemon is the only writer of repositories, and the
repositories routes call `forget()` on every change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from oore.crypto import Sealer, aad, constant_time_equals, keyed_hash, verify_github_signature
from oore.errors import BadRequest, CryptoError, NotFound, Unauthorized
from oore.ids import new_id
from oore.model import Provider, Repository, WebhookEvent, utcnow
from oore.store.base import Store
from oore.webhooks import RepoIdentity, github, gitlab
from oore.webhooks._json import PayloadError, read_object
from oore.webhooks.delivery import content_delivery_id, json_document

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
MAX_CACHED = 1024
BAD_SIGNATURE = "X-Hub-Signature-256 does not match this repository's webhook secret"
NO_SHARED_SECRET = (
    "this delivery names no registered repository with a webhook secret, and "
    "OORE_GITHUB_WEBHOOK_SECRET is not set; register the repository with POST /api/repositories. "
    "(The payload is read from a JSON body, or from the 'payload' field of a form body.)"
)


class Headers:
    """Case-insensitive request headers, from any framework."""

    def __init__(self, items: Mapping[str, str]) -> None:
        self._items = {name.lower(): value for name, value in items.items()}

    def get(self, name: str, default: str = "") -> str:
        return self._items.get(name.lower(), default)

    def kept(self, names: tuple[str, ...]) -> dict[str, str]:
        return {n: self._items[n.lower()][:MAX_HEADER] for n in names if n.lower() in self._items}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Known:
    repo: Repository | None
    secret: bytes | None  # GitHub: the opened webhook secret; GitLab: None
    token_hmac: str | None  # GitLab: the stored HMAC of the token


class Intake:
    def __init__(
        self,
        store: Store,
        sealer: Sealer,
        *,
        shared_github_secret: str | None,
        gitlab_token_key: bytes,
        kick: Callable[[WebhookEvent], None],
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.shared_github_secret = shared_github_secret
        self.gitlab_token_key = gitlab_token_key
        self.kick = kick
        self._cache: dict[tuple[str, ...], _Known] = {}

    def forget(self) -> None:
        """Drop every cached repository (called on any repository change)."""
        self._cache.clear()

    async def github(self, headers: Headers, raw: bytes) -> Answer:
        event_type = _header(headers, "X-GitHub-Event")
        delivery_id = _header(headers, "X-GitHub-Delivery")
        document = json_document(headers.get("Content-Type"), raw)
        payload = _parse(document)
        identity = github.identify(payload) if payload is not None else None
        known = await self._github_repository(identity)
        secret = self._github_secret(known)
        signature = headers.get("X-Hub-Signature-256") or None
        if secret is None or not verify_github_signature(secret, raw, signature):
            await self.store.increment_counter("webhooks_rejected_github")
            if secret is None:
                raise Unauthorized(NO_SHARED_SECRET)
            raise Unauthorized(BAD_SIGNATURE)
        _object_or_400(payload, document)
        event = _event(Provider.GITHUB, event_type, delivery_id, raw, known.repo)
        return await self._store(event, GITHUB_HEADERS, headers)

    async def gitlab(self, repository_id: str, headers: Headers, raw: bytes) -> Answer:
        known = await self._gitlab_repository(repository_id)
        repo = known.repo
        if repo is None:
            raise NotFound(f"repository {repository_id} not found")
        if repo.provider is not Provider.GITLAB:
            raise BadRequest(f"repository {repo.full_name} is not a GitLab repository")
        token = headers.get("X-Gitlab-Token")
        if (
            not token
            or known.token_hmac is None
            or not constant_time_equals(keyed_hash(self.gitlab_token_key, token), known.token_hmac)
        ):
            await self.store.increment_counter("webhooks_rejected_gitlab")
            raise Unauthorized("X-Gitlab-Token does not match this repository's secret token")
        event_type = _header(headers, "X-Gitlab-Event")
        project = gitlab.project_id(_object_or_400(_parse(raw), raw))
        if repo.gitlab_project_id is not None and project != repo.gitlab_project_id:
            await self.store.increment_counter("webhooks_rejected_gitlab")
            raise BadRequest(
                f"the payload is for GitLab project {project}, but repository {repo.full_name} "
                f"is project {repo.gitlab_project_id}"
            )
        # Scoped to the repository: another project's delivery with the same UUID (or body)
        # must not be taken for a redelivery of this one.
        uuid = headers.get("X-Gitlab-Event-UUID") or content_delivery_id(raw)
        event = _event(Provider.GITLAB, event_type, f"{repo.id}:{uuid}", raw, repo)
        return await self._store(event, GITLAB_HEADERS, headers)

    # --- repositories, cached ---------------------------------------------------------------

    async def _github_repository(self, identity: RepoIdentity | None) -> _Known:
        if identity is None:
            return _Known(None, None, None)
        key = ("github", identity.owner.lower(), identity.name.lower(), str(identity.provider_id))
        known = self._cache.get(key)
        if known is None:
            repo = await self.store.find_repository(
                Provider.GITHUB, identity.owner, identity.name, identity.provider_id
            )
            known = _Known(repo, await self._opened_secret(repo), None)
            self._remember(key, known)
        return known

    async def _opened_secret(self, repo: Repository | None) -> bytes | None:
        if repo is None:
            return None
        sealed = (await self.store.repository_secrets(repo.id)).webhook_secret_sealed
        if sealed is None:
            return None
        try:
            return self.sealer.open(sealed, aad("repositories", repo.id, "webhook_secret"))
        except CryptoError as exc:
            raise Unauthorized("this repository's webhook secret cannot be opened") from exc

    def _github_secret(self, known: _Known) -> bytes | None:
        # A repository's own secret is the only one accepted for it; the shared secret covers
        # repositories without one and deliveries for repositories not registered (yet).
        if known.secret is not None:
            return known.secret
        shared = self.shared_github_secret
        return shared.encode() if shared is not None else None

    async def _gitlab_repository(self, repository_id: str) -> _Known:
        key = ("gitlab", repository_id)
        known = self._cache.get(key)
        if known is None:
            try:
                repo = await self.store.get_repository(repository_id)
            except NotFound:
                repo = None
            token_hmac = None
            if repo is not None:
                token_hmac = (await self.store.repository_secrets(repo.id)).webhook_token_hmac
            known = _Known(repo, None, token_hmac)
            self._remember(key, known)
        return known

    def _remember(self, key: tuple[str, ...], known: _Known) -> None:
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[key] = known

    # --- storing --------------------------------------------------------------------------

    async def _store(self, event: WebhookEvent, kept: tuple[str, ...], headers: Headers) -> Answer:
        stored = WebhookEvent(**{**_fields(event), "headers": headers.kept(kept)})
        event_id, created = await self.store.insert_event(stored)
        if not created:
            return Answer(200, {"status": "duplicate", "event_id": event_id})
        self.kick(stored)  # the stored event itself: the ingester need not read it back
        return Answer(202, {"status": "accepted", "event_id": event_id})


def _fields(event: WebhookEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.__slots__}


def _event(
    provider: Provider,
    event_type: str,
    delivery_id: str,
    raw: bytes,
    repo: Repository | None,
) -> WebhookEvent:
    return WebhookEvent(
        id=new_id(),
        provider=provider,
        event_type=event_type,
        delivery_id=delivery_id,
        received_at=utcnow(),
        repository_id=repo.id if repo else None,
        body=raw,
    )


def _header(headers: Headers, name: str) -> str:
    value = headers.get(name).strip()
    if not value:
        raise BadRequest(f"the {name} header is missing")
    if len(value) > MAX_HEADER:
        raise BadRequest(f"the {name} header is longer than {MAX_HEADER} characters")
    return value


def _parse(document: bytes) -> dict[str, object] | None:
    try:
        return read_object(document)
    except PayloadError:
        return None


def _object_or_400(payload: dict[str, object] | None, document: bytes) -> dict[str, object]:
    """The parsed payload, or a 400 saying why the document is not a JSON object."""
    if payload is not None:
        return payload
    try:
        value = json.loads(document)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest(f"the payload is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise BadRequest("the payload must be a JSON object")
    raise BadRequest("the payload is not valid JSON")
