"""Authentication and authorisation for every route that is not public.

A route is public only when its view is marked with `@public`; everything else needs
`Authorization: Bearer <token>`: the admin token, or an API token looked up by its hash — or,
from the dashboard's pages, the session cookie (dashboard/sessions.py), with the session's CSRF
token on every state-changing request. A `read` token (or session) may only use safe methods
(GET, HEAD, OPTIONS); `@admin_only` routes refuse API tokens. Dashboard pages (`@page`) take only
the session cookie and send the browser to /login without one. The check runs in
`before_request`, so a new route cannot forget it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from quart import Response, current_app, g, redirect, request

from oore.crypto import constant_time_equals, hash_token
from oore.errors import Forbidden, Unauthorized

# Re-exported: wsauth and older callers know the cookie's name from here.
from oore.http.dashboard.sessions import SESSION_COOKIE as SESSION_COOKIE
from oore.http.dashboard.sessions import csrf_matches, live_session
from oore.http.services import services
from oore.model import TokenScope, WebSession

F = TypeVar("F", bound=Callable[..., Any])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY = dt.timedelta(seconds=60)
_PUBLIC = "_oore_public"
_ADMIN_ONLY = "_oore_admin_only"
_PAGE = "_oore_page"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "admin" or "token"
    scope: TokenScope
    token_id: str | None = None
    session: WebSession | None = None  # set when authenticated by the dashboard's cookie


def public(view: F) -> F:
    setattr(view, _PUBLIC, True)
    return view


def admin_only(view: F) -> F:
    setattr(view, _ADMIN_ONLY, True)
    return view


def page(view: F) -> F:
    """A dashboard page: needs a session cookie; without one the browser is sent to /login."""
    setattr(view, _PAGE, True)
    return view


def is_page(endpoint: str | None) -> bool:
    return bool(getattr(current_app.view_functions.get(endpoint or ""), _PAGE, False))


def is_public(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint or "")
    # An unknown endpoint (404/405) carries no data to protect; let routing answer it.
    return view is None or getattr(view, _PUBLIC, False)


async def authenticate_request() -> Response | None:
    if request.method == "OPTIONS" or is_public(request.endpoint):
        return None
    if is_page(request.endpoint):
        found = await session_principal(request.cookies.get(SESSION_COOKIE))
        if found is None:
            return _to_login()
        principal = found
    else:
        principal = await _api_principal()
    authorise(principal, request.method, request.endpoint)
    g.principal = principal
    return None


async def _api_principal() -> Principal:
    header = request.headers.get("Authorization")
    cookie = request.cookies.get(SESSION_COOKIE)
    if header is not None or not cookie:
        return await principal_for(header)
    principal = await session_principal(cookie)
    if principal is None or principal.session is None:
        raise Unauthorized("the dashboard session expired or was ended; sign in again at /login")
    if request.method not in SAFE_METHODS and not await csrf_matches(principal.session):
        # The cookie alone proves nothing: another site's page can make the browser send it.
        raise Forbidden(
            "a request authenticated by the session cookie must carry the session's CSRF token "
            "(header X-CSRF-Token or form field csrf_token); reload the page and try again"
        )
    return principal


async def session_principal(session_id: str | None) -> Principal | None:
    session = await live_session(session_id)
    if session is None:
        return None
    kind = "admin" if session.token_id is None else "token"
    return Principal(kind, session.scope, session.token_id, session)


def _to_login() -> Response:
    target = request.full_path.rstrip("?") if request.query_string else request.path
    response = redirect(f"/login?next={quote(target, safe='/')}", 303)
    return response  # type: ignore[return-value]


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
