"""Every registered route is authenticated unless it is on the hard-coded public list.

Dashboard pages are checked apart: they take only the session cookie and send a browser without
one to /login; the API takes the cookie too, but refuses a write that lacks the CSRF token.

Routes are read from the app's URL map (plus the webhook receivers in front of Quart), so a route
added later is covered without touching this file; the public set is written out here so that
marking a route `@public` by mistake fails too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import trio
from quart.testing.connections import WebsocketDisconnectError
from quart_trio import QuartTrio

from oore.crypto import generate_token, hash_token
from oore.http import fastpath
from oore.http.services import Services
from oore.ids import new_id
from oore.model import ApiToken, TokenScope, utcnow

PUBLIC = {
    ("GET", "/api/health"),
    ("GET", "/api/version"),
    ("GET", "/api/openapi.json"),
    ("POST", "/api/webhooks/github"),
    ("POST", "/api/webhooks/gitlab/{repository_id}"),
    ("GET", "/api/github/callback"),  # protected by its single-use state
    ("GET", "/api/gitlab/callback"),  # protected by its single-use state
    ("GET", "/api/badges/{repository_id}.svg"),  # only for repositories with badge_public
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),  # needs the session's CSRF token when there is a session
    ("GET", "/static/{asset_version}/{filename}"),  # the dashboard's CSS and scripts
}
# The dashboard's pages: a session cookie, or a redirect to /login.
PAGES = {
    ("GET", "/"),
    ("GET", "/builds"),
    ("GET", "/builds/{build_id}"),
    ("GET", "/repositories"),
    ("GET", "/repositories/{repository_id}"),
    ("GET", "/events"),
    ("GET", "/events/{event_id}"),
    ("GET", "/settings"),
}
# At least these need the admin token; more may be marked `@admin_only` later.
ADMIN_ONLY = {
    ("POST", "/api/tokens"),
    ("GET", "/api/tokens"),
    ("DELETE", "/api/tokens/{token_id}"),
    ("PUT", "/api/gitlab/application"),
    ("GET", "/api/gitlab/authorize"),
    ("POST", "/api/github/manifest"),
    # Where Oore sends its Slack and SMTP secrets (issue 13's review).
    ("GET", "/api/settings/slack"),
    ("PUT", "/api/settings/slack"),
    ("DELETE", "/api/settings/slack"),
    ("POST", "/api/settings/slack/test"),
    ("GET", "/api/settings/smtp"),
    ("PUT", "/api/settings/smtp"),
    ("DELETE", "/api/settings/smtp"),
    ("POST", "/api/settings/smtp/test"),
}
SAFE = {"GET"}
FAST_PATH = "webhook fast path"


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str
    url: str
    endpoint: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.template)


def all_routes(app: QuartTrio, *, websocket: bool = False, pages: bool = False) -> list[Route]:
    """The HTTP routes, or with `websocket` the WebSocket ones, each with a random id filled in;
    the dashboard's pages only with `pages` (and then only they)."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.websocket is not websocket:
            continue
        is_page = bool(getattr(app.view_functions[rule.endpoint], "_oore_page", False))
        if is_page is not pages:
            continue
        template = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        url = rule.rule
        for argument in rule.arguments:
            url = re.sub(rf"<(?:[^:<>]+:)?{argument}>", new_id(), url)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append(Route(method, template, url, rule.endpoint))
    if not websocket and not pages:
        for method, template in fastpath.ROUTES:
            url = template.replace("{repository_id}", new_id())
            found.append(Route(method, template, url, FAST_PATH))
    if not pages:
        assert len(found) >= (2 if websocket else 17)
    return found


def marked(app: QuartTrio, route: Route, marker: str) -> bool:
    """Whether the route's view carries `marker`. The webhook receivers have no view (they are
    answered before Quart) and are public by design: taken as marked, so only the tests that
    send requests check them (they must answer without a bearer token, and never 401 for one)."""
    if route.endpoint == FAST_PATH:
        return marker == "_oore_public"
    return bool(getattr(app.view_functions[route.endpoint], marker, False))


async def _token(services: Services, scope: TokenScope, *, revoked: bool = False) -> str:
    secret = generate_token()
    token = ApiToken(id=new_id(), name=f"{scope}-token", scope=scope, created_at=utcnow())
    await services.store.create_token(token, hash_token(secret))
    if revoked:
        await services.store.revoke_token(token.id)
    return secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def answers(app: QuartTrio, route: Route, headers: dict[str, str]) -> tuple[int, str | None]:
    response = await app.test_client().open(route.url, method=route.method, headers=headers)
    body = await response.get_json(silent=True)
    code = body["error"]["code"] if isinstance(body, dict) and "error" in body else None
    return response.status_code, code


@pytest.fixture
def admin(services: Services) -> dict[str, str]:
    token = services.settings.admin_token
    assert token is not None
    return bearer(token)


async def test_routes_without_a_bearer_token_are_401_except_the_public_ones(
    app: QuartTrio,
) -> None:
    open_routes = set()
    for route in all_routes(app):
        status, code = await answers(app, route, {})
        if (status, code) != (401, "unauthorized"):
            open_routes.add(route.key)
    assert open_routes == PUBLIC


async def test_public_marker_is_exactly_the_public_list(app: QuartTrio) -> None:
    assert {r.key for r in all_routes(app) if marked(app, r, "_oore_public")} == PUBLIC


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-token",
        "Bearer oore_" + "x" * 43,
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "bearer",
        "Token abc",
    ],
)
async def test_bad_credentials_are_401_on_every_private_route(app: QuartTrio, header: str) -> None:
    wrong = []
    for route in all_routes(app):
        if route.key in PUBLIC:
            continue
        if await answers(app, route, {"Authorization": header}) != (401, "unauthorized"):
            wrong.append(route.key)
    assert wrong == []


async def test_revoked_token_is_401_on_every_private_route(
    app: QuartTrio, services: Services
) -> None:
    revoked = bearer(await _token(services, TokenScope.WRITE, revoked=True))
    wrong = [
        r.key
        for r in all_routes(app)
        if r.key not in PUBLIC and await answers(app, r, revoked) != (401, "unauthorized")
    ]
    assert wrong == []


async def test_read_token_may_only_read(app: QuartTrio, services: Services) -> None:
    read = bearer(await _token(services, TokenScope.READ))
    refused, allowed = set(), set()
    for route in all_routes(app):
        if route.key in PUBLIC:
            continue
        status, code = await answers(app, route, read)
        assert status != 401, route
        if (status, code) == (403, "forbidden"):
            refused.add(route.key)
        else:
            allowed.add(route.key)
    private = {r.key for r in all_routes(app)} - PUBLIC
    writes = {k for k in private if k[0] not in SAFE}
    assert refused == writes | (ADMIN_ONLY & private)
    assert allowed == private - refused
    assert ("GET", "/api/repositories") in allowed
    assert ("POST", "/api/repositories") in refused


async def test_write_token_is_refused_only_on_admin_routes(
    app: QuartTrio, services: Services
) -> None:
    write = bearer(await _token(services, TokenScope.WRITE))
    refused = set()
    for route in all_routes(app):
        if route.key in PUBLIC:
            continue
        status, code = await answers(app, route, write)
        assert status != 401, route
        if (status, code) == (403, "forbidden"):
            refused.add(route.key)
    admin_only = {r.key for r in all_routes(app) if marked(app, r, "_oore_admin_only")}
    assert ADMIN_ONLY <= admin_only
    assert refused == admin_only


async def test_admin_token_is_never_refused(app: QuartTrio, admin: dict[str, str]) -> None:
    refused = []
    for route in all_routes(app):
        status, _ = await answers(app, route, admin)
        if status in (401, 403) and route.key not in PUBLIC:
            refused.append((route.key, status))
    assert refused == []


async def test_public_routes_never_ask_for_a_bearer_token(app: QuartTrio) -> None:
    for route in all_routes(app):
        if route.key not in PUBLIC:
            continue
        without = await answers(app, route, {})
        with_bad = await answers(app, route, {"Authorization": "Bearer wrong"})
        # POST /login answers a missing token with its form page (401, HTML): not a bearer ask.
        assert without != (401, "unauthorized"), route
        assert with_bad == without, route


async def test_api_token_via_the_api_works_until_revoked(
    app: QuartTrio, admin: dict[str, str]
) -> None:
    client = app.test_client()
    created = await client.post("/api/tokens", json={"name": "r", "scope": "read"}, headers=admin)
    assert created.status_code == 201
    token = await created.get_json()
    read = bearer(token["token"])
    assert (await client.get("/api/repositories", headers=read)).status_code == 200
    post = await client.post("/api/repositories", json={}, headers=read)
    assert post.status_code == 403
    assert "read scope" in (await post.get_json())["error"]["message"]
    revoke = await client.delete(f"/api/tokens/{token['id']}", headers=admin)
    assert revoke.status_code == 200
    after = await client.get("/api/repositories", headers=read)
    assert after.status_code == 401
    assert (await after.get_json())["error"]["code"] == "unauthorized"


async def close_code(app: QuartTrio, url: str, headers: dict[str, str]) -> int | None:
    """The code a WebSocket is closed with at once, or None when it is accepted and stays open."""
    async with app.test_client().websocket(url, headers=headers) as socket:
        try:
            # A refusal closes at once; an accepted socket stays silent until there is news.
            with trio.move_on_after(0.3):
                await socket.receive()
        except WebsocketDisconnectError as exc:
            return int(exc.args[0])
        assert socket.accepted
    return None


async def test_websockets_close_4401_without_valid_credentials(
    app: QuartTrio, services: Services, admin: dict[str, str]
) -> None:
    revoked = bearer(await _token(services, TokenScope.WRITE, revoked=True))
    read = bearer(await _token(services, TokenScope.READ))
    for route in all_routes(app, websocket=True):
        for refused in ({}, {"Authorization": "Bearer oore_" + "x" * 43}, revoked):
            assert await close_code(app, route.url, refused) == 4401, (route, refused)
        for allowed in (admin, read):
            # An unknown build is 4404: past authentication, unlike 4401.
            assert await close_code(app, route.url, allowed) in (None, 4404), route


async def test_pages_without_a_session_send_the_browser_to_login(
    app: QuartTrio, admin: dict[str, str]
) -> None:
    routes = all_routes(app, pages=True)
    assert {r.key for r in routes} == PAGES
    for route in routes:
        for headers in ({}, admin, {"Cookie": "oore_session=not-a-session"}):
            # A page takes only the session cookie: a bearer token is not a sign-in.
            response = await app.test_client().get(route.url, headers=headers)
            assert response.status_code == 303, (route, headers)
            assert response.headers["Location"].startswith("/login?next=/"), route


async def _signed_in(app: QuartTrio, token: str) -> tuple[dict[str, str], str]:
    client = app.test_client()
    answer = await client.post("/login", form={"token": token})
    assert answer.status_code == 303
    session_id = answer.headers["Set-Cookie"].split(";")[0]
    page = await (await client.get("/", headers={"Cookie": session_id})).get_data(as_text=True)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert csrf is not None
    return {"Cookie": session_id}, csrf[1]


async def test_a_session_cookie_works_everywhere_but_writes_need_the_csrf_token(
    app: QuartTrio, services: Services
) -> None:
    assert services.settings.admin_token is not None
    cookie, csrf = await _signed_in(app, services.settings.admin_token)
    for route in all_routes(app, pages=True):
        response = await app.test_client().get(route.url, headers=cookie)
        assert response.status_code in (200, 404), route
    without_csrf, with_csrf = [], []
    for route in all_routes(app):
        if route.key in PUBLIC:
            continue
        status, code = await answers(app, route, cookie)
        if route.method in SAFE:
            assert status not in (401, 403), route
            continue
        if (status, code) != (403, "forbidden"):
            without_csrf.append(route.key)
        status, _ = await answers(app, route, {**cookie, "X-CSRF-Token": csrf})
        if status in (401, 403):
            with_csrf.append(route.key)
    assert without_csrf == []
    assert with_csrf == []


async def test_a_read_session_may_only_read(app: QuartTrio, services: Services) -> None:
    cookie, csrf = await _signed_in(app, await _token(services, TokenScope.READ))
    refused = set()
    for route in all_routes(app):
        if route.key in PUBLIC:
            continue
        status, code = await answers(app, route, {**cookie, "X-CSRF-Token": csrf})
        assert status != 401, route
        if (status, code) == (403, "forbidden"):
            refused.add(route.key)
    private = {r.key for r in all_routes(app)} - PUBLIC
    assert refused == {k for k in private if k[0] not in SAFE} | (ADMIN_ONLY & private)
