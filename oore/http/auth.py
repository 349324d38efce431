"""Bearer-token authentication and authorisation for every route that is not public.

A route is public only when its view is marked with `@public`; everything else needs
`Authorization: Bearer <token>`: the admin token, or an API token looked up by its hash. A `read`
token may only use safe methods (GET, HEAD, OPTIONS); `@admin_only` routes refuse API tokens.
The check runs in `before_request`, so a new route cannot forget it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from quart import current_app, g, request

from oore.crypto import constant_time_equals, hash_token
from oore.errors import Forbidden, Unauthorized
from oore.http.services import services
from oore.model import TokenScope

F = TypeVar("F", bound=Callable[..., Any])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "oore_session"
TOUCH_EVERY = dt.timedelta(seconds=60)
_PUBLIC = "_oore_public"
_ADMIN_ONLY = "_oore_admin_only"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "admin" or "token"
    scope: TokenScope
    token_id: str | None = None


def public(view: F) -> F:
    setattr(view, _PUBLIC, True)
    return view


def admin_only(view: F) -> F:
    setattr(view, _ADMIN_ONLY, True)
    return view


def is_public(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint or "")
    # An unknown endpoint (404/405) carries no data to protect; let routing answer it.
    return view is None or getattr(view, _PUBLIC, False)


async def authenticate_request() -> None:
    if request.method == "OPTIONS" or is_public(request.endpoint):
        return
    principal = await principal_for(request.headers.get("Authorization"))
    authorise(principal, request.method, request.endpoint)
    g.principal = principal


async def principal_for(header: str | None) -> Principal:
    token = _bearer(header)
    svc = services()
    admin = svc.settings.admin_token
    if admin is not None and constant_time_equals(token, admin):
        return Principal("admin", TokenScope.WRITE)
    found = await svc.store.find_token(hash_token(token))
    if found is None:
        raise Unauthorized("the token is not valid or was revoked")
    if _stale(found.last_used_at):
        await svc.store.touch_token(found.id)
    return Principal("token", found.scope, found.id)


def authorise(principal: Principal, method: str, endpoint: str | None) -> None:
    view = current_app.view_functions.get(endpoint or "")
    if getattr(view, _ADMIN_ONLY, False) and principal.kind != "admin":
        raise Forbidden("this endpoint needs the admin token")
    if method not in SAFE_METHODS and principal.scope is not TokenScope.WRITE:
        raise Forbidden("this token has read scope; this request needs a write token")


def _bearer(header: str | None) -> str:
    if not header:
        raise Unauthorized("send 'Authorization: Bearer <token>' (the admin token or an API token)")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def _stale(last_used_at: str | None) -> bool:
    # Recording every use would turn each read into a write; once a minute is enough to audit.
    if last_used_at is None:
        return True
    last = dt.datetime.fromisoformat(last_used_at.replace("Z", "+00:00"))
    return dt.datetime.now(dt.UTC) - last > TOUCH_EVERY
