"""Browser sessions: a random id in an HttpOnly cookie, its hash in the store, a CSRF secret.

The cookie never holds a token: it holds a random session id whose SHA-256 names the stored row,
bound to the token it was made from and to an expiry. Every state-changing request that is
authenticated by the cookie must also carry the session's CSRF secret (header `X-CSRF-Token`,
or a `csrf_token` form field): a page of another site can make the browser send the cookie, but
cannot read the secret that Oore's own pages embed.
"""

from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import urlsplit

from quart import Response, request

from oore.crypto import constant_time_equals, hash_token
from oore.http.services import services
from oore.model import TokenScope, WebSession, utcnow

SESSION_COOKIE = "oore_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
LIFETIME = dt.timedelta(hours=12)
TOUCH_EVERY = dt.timedelta(seconds=60)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def new_session(
    token_id: str | None, token_hash: str, name: str, scope: TokenScope
) -> tuple[str, WebSession]:
    """A fresh session id (for the cookie only) and the row stored for it."""
    session_id = secrets.token_urlsafe(32)
    now = dt.datetime.now(dt.UTC)
    session = WebSession(
        id_hash=hash_token(session_id),
        token_id=token_id,
        token_hash=token_hash,
        token_name=name,
        scope=scope,
        csrf_secret=secrets.token_urlsafe(32),
        created_at=utcnow(),
        expires_at=_iso(now + LIFETIME),
        last_seen_at=utcnow(),
    )
    return session_id, session


async def live_session(session_id: str | None) -> WebSession | None:
    """The live session for a cookie's value: unexpired, its token not revoked, and for an admin
    session the admin token unchanged since sign-in."""
    if not session_id:
        return None
    svc = services()
    found = await svc.store.find_session(hash_token(session_id))
    if found is None:
        return None
    if found.token_id is None:
        admin = svc.settings.admin_token
        if admin is None or not constant_time_equals(found.token_hash, hash_token(admin)):
            return None
    if _older_than(found.last_seen_at, TOUCH_EVERY):
        await svc.store.touch_session(found.id_hash)
    return found


async def csrf_matches(session: WebSession) -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.mimetype in FORM_TYPES:
        sent = (await request.form).get(CSRF_FIELD)
    return sent is not None and constant_time_equals(sent, session.csrf_secret)


def set_cookie(response: Response, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=_secure(),
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="Strict", secure=_secure()
    )


def local_path(target: str | None) -> str:
    """`target` when it is a path on this server, else "/": `next` must not send anyone away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _secure() -> bool:
    return services().settings.base_url.lower().startswith("https://")


def _older_than(stamp: str, age: dt.timedelta) -> bool:
    then = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return dt.datetime.now(dt.UTC) - then > age


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
