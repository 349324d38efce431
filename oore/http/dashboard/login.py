"""Signing in and out of the dashboard: `GET/POST /login`, `POST /logout`.

A token is checked in constant time (the admin token by comparison, an API token by its hash's
lookup), every attempt is logged with the client's address (never the token), and an address
that fails too often is refused for a while (throttle.py). The session cookie then holds a random
id, not the token (sessions.py).

The form is refused when a browser sends it from another site's page (login CSRF: another site
could otherwise sign the operator in under a token of its choosing). The browser says where a
request comes from in `Origin`, or failing that in `Sec-Fetch-Site`; a client that sends neither
is no browser, and no other site can make it post.
"""

from __future__ import annotations

import logging
import time

from quart import Response, current_app, redirect, request

from oore.crypto import constant_time_equals, hash_token
from oore.http.auth import public, session_principal
from oore.http.client_address import HEADER, client_address, throttle_key
from oore.http.dashboard import sessions
from oore.http.dashboard.render import blueprint, page_response
from oore.http.dashboard.throttle import LoginThrottle
from oore.http.services import services
from oore.http.wsauth import origin_of
from oore.model import TokenScope, WebSession

log = logging.getLogger(__name__)

_THROTTLE_KEY = "oore_login_throttle"
SAME_SITE_FETCHES = ("same-origin", "none")  # `none`: typed in or from a bookmark


@blueprint.get("/login")
@public
async def login_form() -> Response:
    target = sessions.local_path(request.args.get("next"))
    if await session_principal(request.cookies.get(sessions.SESSION_COOKIE)) is not None:
        return _redirect(target)
    return await page_response("login.html", status=200, next=target, error=None)


@blueprint.post("/login")
@public
async def login() -> Response:
    if _from_another_site():
        return await _refused_from_another_site()
    form = await request.form
    target = sessions.local_path(form.get("next"))
    address = _client()
    key, throttle, started = throttle_key(address), _throttle(), time.monotonic()
    # Counted before the token is checked: attempts sent at once must not all slip through.
    if not throttle.reserve(key, started):
        log.warning("sign-in refused from %s: too many failed attempts", address)
        message = "Too many failed sign-ins from this address; wait a few minutes and try again."
        return await page_response("login.html", status=429, next=target, error=message)
    made = await _session_for(form.get("token", "").strip())
    if made is None:
        log.warning("sign-in refused from %s: the token is not valid or was revoked", address)
        message = "That token is not valid or was revoked. Paste the admin token or an API token."
        return await page_response("login.html", status=401, next=target, error=message)
    throttle.release(key, started)
    session_id, session = made
    await services().store.create_session(session)
    log.info("signed in from %s as %s (%s)", address, session.token_name, session.scope)
    response = _redirect(target)
    sessions.set_cookie(response, session_id)
    return response


def _from_another_site() -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return request.headers.get("Sec-Fetch-Site", "none") not in SAME_SITE_FETCHES
    # The daemon's own origin as the browser saw it: OORE_BASE_URL's, or the Host it was sent to.
    own = {origin_of(services().settings.base_url), origin_of(request.host_url)} - {None}
    return origin_of(origin) not in own


async def _refused_from_another_site() -> Response:
    shown = (request.headers.get("Origin") or request.headers.get("Sec-Fetch-Site", ""))[:60]
    log.warning("sign-in refused from %s: the form was sent from %s", _client(), shown)
    return await page_response(
        "error.html", status=403, title="Sign-in refused",
        message="The sign-in form was sent from another site. Open this daemon's /login page "
        "yourself (OORE_BASE_URL) and sign in there.",
    )  # fmt: skip


@blueprint.post("/logout")
@public
async def logout() -> Response:
    # Public so that signing out with an expired session still clears the cookie; a live
    # session's CSRF token is required, so another site cannot sign the operator out.
    principal = await session_principal(request.cookies.get(sessions.SESSION_COOKIE))
    if principal is not None and principal.session is not None:
        if not await sessions.csrf_matches(principal.session):
            return await page_response(
                "error.html", status=403, title="Sign-out refused",
                message="The sign-out form had no valid CSRF token; reload the page and retry.",
            )  # fmt: skip
        await services().store.delete_session(principal.session.id_hash)
        log.info("signed out: %s", principal.session.token_name)
    response = _redirect("/login")
    sessions.clear_cookie(response)
    return response


async def _session_for(token: str) -> tuple[str, WebSession] | None:
    if not token:
        return None
    svc = services()
    admin = svc.settings.admin_token
    digest = hash_token(token)
    if admin is not None and constant_time_equals(token, admin):
        return sessions.new_session(None, digest, "admin", TokenScope.WRITE)
    found = await svc.store.find_token(digest)
    if found is None:
        return None
    return sessions.new_session(found.id, digest, found.name, found.scope)


def _client() -> str:
    """The address sign-ins are counted and logged by (a trusted proxy's client's)."""
    trusted = services().settings.trusted_proxies
    return client_address(request.remote_addr, request.headers.getlist(HEADER), trusted)


def _throttle() -> LoginThrottle:
    found = current_app.extensions.get(_THROTTLE_KEY)
    if not isinstance(found, LoginThrottle):
        found = current_app.extensions[_THROTTLE_KEY] = LoginThrottle()
    return found


def _redirect(target: str) -> Response:
    response: Response = redirect(target, 303)  # type: ignore[assignment]
    return response
