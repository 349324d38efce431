"""Receiving a delivery: verify it, store it, and say what to answer — free of any web framework.

The HTTP layer's webhook receivers (`oore.http.fastpath`, an ASGI layer in front of Quart) call
this; so can any other front end, and the unit tests do.

What happens before the provider gets its answer is only what must: the signature or token is
checked on the raw body, the delivery is stored (unique per provider and delivery id), the
ingester is woken without waiting for it. Anyone may post a delivery, so nothing unverified is
parsed that need not be: what the headers alone condemn is refused before the body is read
(`github_headers`, `gitlab_headers`); the signature is checked before parsing whenever the
secret is known without it; a body is parsed unverified (to learn its repository) only when
it is at most `UNVERIFIED_BYTES`; a large body is verified and parsed in a worker thread.
Verified bodies are parsed once. The GitHub App's deliveries (GitHub names the app in
`X-GitHub-Hook-Installation-Target-*`) and those of repositories registered from it are verified
with the app's webhook secret; its `installation*` events update the installations table once
they are stored, and only when new (`github_installations`). The repository and its opened
secret (and the app's) are cached per identity; the daemon is the only writer of repositories
and of the app, and its store announces every change of either, after which the cache starts
afresh.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import trio

from oore.crypto import (
    GITHUB_SIGNATURE_PREFIX,
    Sealer,
    aad,
    constant_time_equals,
    keyed_hash,
    verify_github_signature,
)
from oore.errors import BadRequest, CryptoError, NotFound, Unauthorized, WebhookRefused
from oore.ids import new_id
from oore.model import Provider, Repository, WebhookEvent, utcnow
from oore.store.base import Store
from oore.store.changes import Change, ChangeKind
from oore.webhooks import RepoIdentity, github, github_installations, gitlab
from oore.webhooks.delivery import (
    ON_LOOP_BYTES,
    content_delivery_id,
    json_document,
    parse_payload,
    payload_of,
)

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
MAX_ID_DIGITS = 18  # GitHub's ids are 64-bit
# The most of a body parsed before its signature is checked, and only when neither the shared
# secret nor a header says whose secret signs it: parsing a 25 MB body on the loop stalled
# every request for seconds (and a worker thread parsing it still holds the GIL).
UNVERIFIED_BYTES = 1024 * 1024
BAD_SIGNATURE = "X-Hub-Signature-256 does not match this repository's webhook secret"
MISSING_SIGNATURE = (
    "the X-Hub-Signature-256 header is missing: give the webhook a secret (the repository's "
    "webhook_secret, or OORE_GITHUB_WEBHOOK_SECRET)"
)
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
    app_id: int | None = None  # set for the GitHub App itself (its deliveries, its secret)


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
        # Never closed: it lives as long as the intake (the daemon's life).
        self._changes = store.changes.subscribe(buffer=1, accept=_about_repositories)
        self._generation = 0  # how often the cache was dropped

    async def github_headers(self, headers: Headers, size: int) -> _Known | None:
        """Refuse what the headers alone condemn, before any of a `size`-byte body is read.

        Answers the registered repository GitHub names in its target headers, if any."""
        _header(headers, "X-GitHub-Event")
        _header(headers, "X-GitHub-Delivery")
        if not headers.get("X-Hub-Signature-256"):
            await self._refuse_github(MISSING_SIGNATURE, "missing_signature")
        by_header = await self._github_by_header(headers)
        if by_header is None and self.shared_github_secret is None and size > UNVERIFIED_BYTES:
            await self._refuse_github(_too_large_to_identify(size), "unverifiable")
        return by_header

    async def github_expected_secret(self, headers: Headers) -> bytes | None:
        """The secret the body must be signed with, when the headers alone tell (after
        `github_headers`): the named repository's, else the shared one."""
        by_header = await self._github_by_header(headers)
        return self._github_secret(by_header) if by_header else self._shared_secret()

    async def github_large(self, headers: Headers, size: int, digest: str | None) -> None:
        """Refuse a body over `UNVERIFIED_BYTES` from its HMAC with the expected secret (taken
        while it was read), before it is ever joined or parsed."""
        if size <= UNVERIFIED_BYTES:
            return
        if digest is None:
            await self._refuse_github(_too_large_to_identify(size), "unverifiable")
        if not verify_github_digest(digest, headers.get("X-Hub-Signature-256") or None):
            if await self._github_by_header(headers) is None:
                # Checked against the shared secret only: the repository's own may sign it.
                await self._refuse_github(_too_large_to_identify(size), "unverifiable")
            await self._refuse_github(BAD_SIGNATURE, "bad_signature")

    async def github(self, headers: Headers, raw: bytes) -> Answer:
        by_header = await self.github_headers(headers, len(raw))
        event_type = _header(headers, "X-GitHub-Event")
        delivery_id = _header(headers, "X-GitHub-Delivery")
        known, payload = await self._github_verified(headers, raw, by_header)
        from_app = known.app_id is not None
        if from_app:
            # A delivery the app's secret vouched for: it belongs to the registered repository
            # it names, if any.
            known = await self._github_repository(github.identify(payload))
        elif by_header is not None:
            await self._same_repository(known, payload)
        event = _event(Provider.GITHUB, event_type, delivery_id, raw, known.repo)
        if not (from_app and event_type in github_installations.EVENTS):
            return await self._store(event, GITHUB_HEADERS, headers)

        async def apply() -> None:
            await github_installations.apply(self.store, event_type, payload)

        # Applied only for a new delivery: a redelivery of an older one (GitHub redelivers on
        # request, in any order) must not roll the installations back, e.g. revive a deleted one.
        return await self._store(event, GITHUB_HEADERS, headers, when_new=apply)

    async def _github_verified(
        self, headers: Headers, raw: bytes, by_header: _Known | None
    ) -> tuple[_Known, dict[str, object]]:
        """The delivery's repository and payload, its signature checked on the raw bytes first
        whenever the secret is known without parsing (the repository GitHub names in a header,
        or the shared secret)."""
        signature = headers.get("X-Hub-Signature-256")
        content_type = headers.get("Content-Type")
        shared = self._shared_secret()
        payload: dict[str, object] | None = None
        verified_with = None
        if by_header is not None:
            known = by_header
        elif shared is not None and await _signed(shared, raw, signature):
            payload = await _payload_or_400(content_type, raw)
            known, verified_with = await self._github_repository(github.identify(payload)), shared
        else:
            known = await self._github_unverified(content_type, raw)
        secret = self._github_secret(known)
        if secret is None:
            await self._refuse_github(NO_SHARED_SECRET, "no_secret")
        # A repository's own secret is the only one accepted for it, even when the shared
        # secret signed the body.
        if secret != verified_with and not await _signed(secret, raw, signature):
            await self._refuse_github(BAD_SIGNATURE, "bad_signature")
        if payload is None:
            payload = await _payload_or_400(content_type, raw)
        return known, payload

    async def _github_unverified(self, content_type: str, raw: bytes) -> _Known:
        """The repository a body names, parsed before it is verified only to learn whose secret
        signs it: so only when small (see `UNVERIFIED_BYTES`)."""
        if len(raw) > UNVERIFIED_BYTES:
            await self._refuse_github(_too_large_to_identify(len(raw)), "unverifiable")
        unverified = await parse_payload(content_type, raw)
        return await self._github_repository(
            github.identify(unverified) if unverified is not None else None
        )

    async def _refuse_github(self, reason: str, why: str) -> NoReturn:
        await self._count_refusal("github", why)
        raise WebhookRefused(reason, why)

    async def _count_refusal(self, provider: str, why: str) -> None:
        await self.store.increment_counter(f"webhooks_rejected_{provider}")
        await self.store.increment_counter(f"webhooks_rejected_{provider}:{why}")

    def _shared_secret(self) -> bytes | None:
        shared = self.shared_github_secret
        return shared.encode() if shared is not None else None

    async def _github_by_header(self, headers: Headers) -> _Known | None:
        """The registered repository GitHub names in its target headers, or the GitHub App
        when they name it (its deliveries are signed with the app's secret), if any."""
        kind = headers.get("X-GitHub-Hook-Installation-Target-Type").strip().lower()
        target = headers.get("X-GitHub-Hook-Installation-Target-ID").strip()
        if not target.isdigit() or len(target) > MAX_ID_DIGITS:
            return None
        if kind == "integration":
            app = await self._github_app()
            return app if app.app_id == int(target) else None
        if kind != "repository":
            return None
        known = await self._github_repository(RepoIdentity("", "", int(target)))
        return known if known.repo is not None else None

    async def _same_repository(self, known: _Known, payload: dict[str, object]) -> None:
        # The target header is not signed: the body must be about the repository whose secret
        # vouched for it, or one repository's secret could inject events for another.
        named = await self._github_repository(github.identify(payload))
        if named.repo is None or known.repo is None or named.repo.id != known.repo.id:
            raise BadRequest(
                "the payload names a different repository than X-GitHub-Hook-Installation-Target-ID"
            )

    async def gitlab_headers(self, repository_id: str, headers: Headers) -> None:
        """Refuse what the headers alone condemn, before any of the body is read."""
        await self._gitlab_checked(repository_id, headers)

    async def gitlab(self, repository_id: str, headers: Headers, raw: bytes) -> Answer:
        repo = await self._gitlab_checked(repository_id, headers)
        event_type = _header(headers, "X-Gitlab-Event")
        project = gitlab.project_id(await _payload_or_400(None, raw))
        if repo.gitlab_project_id is not None and project != repo.gitlab_project_id:
            await self._count_refusal("gitlab", "wrong_project")
            raise BadRequest(
                f"the payload is for GitLab project {project}, but repository {repo.full_name} "
                f"is project {repo.gitlab_project_id}"
            )
        # Scoped to the repository: another project's delivery with the same UUID (or body)
        # must not be taken for a redelivery of this one.
        uuid = headers.get("X-Gitlab-Event-UUID") or content_delivery_id(raw)
        event = _event(Provider.GITLAB, event_type, f"{repo.id}:{uuid}", raw, repo)
        return await self._store(event, GITLAB_HEADERS, headers)

    async def _gitlab_checked(self, repository_id: str, headers: Headers) -> Repository:
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
            why = "bad_token" if token else "missing_token"
            await self._count_refusal("gitlab", why)
            raise WebhookRefused(
                "X-Gitlab-Token does not match this repository's secret token"
                if token
                else "the X-Gitlab-Token header is missing: set the webhook's secret token",
                why,
            )
        return repo

    # --- repositories, cached ---------------------------------------------------------------

    async def _github_repository(self, identity: RepoIdentity | None) -> _Known:
        if identity is None:
            return _Known(None, None, None)
        key = ("github", identity.owner.lower(), identity.name.lower(), str(identity.provider_id))
        known, generation = self._cached(key)
        if known is None:
            repo = await self.store.find_repository(
                Provider.GITHUB, identity.owner, identity.name, identity.provider_id
            )
            known = _Known(repo, await self._opened_secret(repo), None)
            self._remember(key, known, generation)
        return known

    async def _opened_secret(self, repo: Repository | None) -> bytes | None:
        if repo is None:
            return None
        sealed = (await self.store.repository_secrets(repo.id)).webhook_secret_sealed
        if sealed is None and repo.github_installation_id is not None:
            # Registered through the GitHub App: GitHub signs its deliveries with the app's.
            return (await self._github_app()).secret
        if sealed is None:
            return None
        try:
            return self.sealer.open(sealed, aad("repositories", repo.id, "webhook_secret"))
        except CryptoError as exc:
            raise Unauthorized("this repository's webhook secret cannot be opened") from exc

    async def _github_app(self) -> _Known:
        """The GitHub App's id and opened webhook secret (both None without an app)."""
        key = ("github-app",)
        known, generation = self._cached(key)
        if known is None:
            found = await self.store.github_app_with_secrets()
            known = _Known(None, None, None)
            if found is not None:
                app, sealed_secrets = found
                sealed = sealed_secrets.webhook_secret_sealed
                where = aad("github_app", app.id, "webhook_secret")
                try:
                    known = _Known(None, self.sealer.open(sealed, where), None, app.app_id)
                except CryptoError as exc:
                    raise Unauthorized("the GitHub App's webhook secret cannot be opened") from exc
            self._remember(key, known, generation)
        return known

    def _github_secret(self, known: _Known) -> bytes | None:
        # A repository's own secret is the only one accepted for it; the shared secret covers
        # repositories without one and deliveries for repositories not registered (yet).
        return known.secret if known.secret is not None else self._shared_secret()

    async def _gitlab_repository(self, repository_id: str) -> _Known:
        key = ("gitlab", repository_id)
        known, generation = self._cached(key)
        if known is None:
            try:
                repo = await self.store.get_repository(repository_id)
            except NotFound:
                repo = None
            token_hmac = None
            if repo is not None:
                token_hmac = (await self.store.repository_secrets(repo.id)).webhook_token_hmac
            known = _Known(repo, None, token_hmac)
            self._remember(key, known, generation)
        return known

    def _cached(self, key: tuple[str, ...]) -> tuple[_Known | None, int]:
        """What is cached for `key` (None once any repository changed), and the cache's
        generation, for `_remember`."""
        if self._changes.pending():
            self._cache.clear()
            self._generation += 1
        return self._cache.get(key), self._generation

    def _remember(self, key: tuple[str, ...], known: _Known, generation: int) -> None:
        # Read before a change that another lookup has already seen: it may be stale.
        if generation != self._generation or self._changes.pending():
            self._cache.clear()
            self._generation += 1
            return
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[key] = known

    # --- storing --------------------------------------------------------------------------

    async def _store(
        self,
        event: WebhookEvent,
        kept: tuple[str, ...],
        headers: Headers,
        *,
        when_new: Callable[[], Awaitable[None]] | None = None,
    ) -> Answer:
        """Store the delivery; `when_new` runs only when it is not a redelivery, before the
        ingester is woken."""
        stored = WebhookEvent(**{**_fields(event), "headers": headers.kept(kept)})
        event_id, created = await self.store.insert_event(stored)
        if not created:
            return Answer(200, {"status": "duplicate", "event_id": event_id})
        if when_new is not None:
            await when_new()
        self.kick(stored)  # the stored event itself: the ingester need not read it back
        return Answer(202, {"status": "accepted", "event_id": event_id})


def _about_repositories(change: Change) -> bool:
    return change.kind is ChangeKind.REPOSITORY_CHANGED


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


def verify_github_digest(digest: str, header: str | None) -> bool:
    """`verify_github_signature` for an HMAC taken as the body arrived."""
    if header is None or not header.startswith(GITHUB_SIGNATURE_PREFIX):
        return False
    return constant_time_equals(digest, header[len(GITHUB_SIGNATURE_PREFIX) :].lower())


async def _signed(secret: bytes, raw: bytes, signature: str | None) -> bool:
    if len(raw) <= ON_LOOP_BYTES:
        return verify_github_signature(secret, raw, signature)
    # hashlib lets go of the GIL while it hashes a large buffer: the loop keeps serving.
    return await trio.to_thread.run_sync(verify_github_signature, secret, raw, signature)


async def _payload_or_400(content_type: str | None, raw: bytes) -> dict[str, object]:
    """A verified body's JSON object (parsed off the loop when large), or a 400 saying why not."""
    if len(raw) <= ON_LOOP_BYTES:
        return _object_or_400(content_type, raw)
    return await trio.to_thread.run_sync(_object_or_400, content_type, raw)


def _object_or_400(content_type: str | None, raw: bytes) -> dict[str, object]:
    document = json_document(content_type, raw)
    payload = payload_of(None, document)
    if payload is not None:
        return payload
    try:
        value = json.loads(document)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest(f"the payload is not valid JSON: {_short(exc)}") from exc
    if not isinstance(value, dict):
        raise BadRequest("the payload must be a JSON object")
    raise BadRequest("the payload is not valid JSON")


def _short(exc: BaseException) -> str:
    return str(exc)[:200]


def _too_large_to_identify(size: int) -> str:
    return (
        f"this {size}-byte delivery could not be verified: a body over {UNVERIFIED_BYTES} "
        "bytes is only checked against OORE_GITHUB_WEBHOOK_SECRET or the secret of the "
        "repository GitHub names in X-GitHub-Hook-Installation-Target-ID (register the "
        "repository with its github_repo_id)"
    )
