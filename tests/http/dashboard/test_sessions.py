"""Dashboard sessions: sign-in and out, the cookie, CSRF on cookie-authenticated writes,
read-only sessions, revocation and the sign-in throttle."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
import trio
from quart_trio import QuartTrio

from oore.crypto import generate_token, hash_token
from oore.http.dashboard.throttle import FAILURES_ALLOWED
from oore.http.services import Services
from oore.ids import new_id
from oore.model import ApiToken, TokenScope, utcnow
from tests.http.dashboard.signin import sign_in
from tests.http.test_builds_api import add_build, add_repository
from tests.http.test_route_auth import close_code


async def api_token(services: Services, scope: TokenScope) -> tuple[str, str]:
    secret = generate_token()
    token = ApiToken(id=new_id(), name=f"{scope}-viewer", scope=scope, created_at=utcnow())
    await services.store.create_token(token, hash_token(secret))
    return token.id, secret


def admin_token(services: Services) -> str:
    token = services.settings.admin_token
    assert token is not None
    return token


async def test_a_page_without_a_session_sends_the_browser_to_login(app: QuartTrio) -> None:
    answer = await app.test_client().get("/builds?status=failed")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/login?next=/builds%3Fstatus%3Dfailed"
    form = await app.test_client().get("/login?next=/builds")
    assert form.status_code == 200
    assert 'name="token"' in await form.get_data(as_text=True)


async def test_signing_in_sets_a_strict_httponly_cookie_holding_no_token(
    app: QuartTrio, services: Services
) -> None:
    client = app.test_client()
    token = admin_token(services)
    answer = await client.post("/login", form={"token": token, "next": "/builds"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/builds"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("oore_session=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
        assert attribute in cookie, cookie
    assert "Secure" not in cookie  # OORE_BASE_URL is http here
    session_id = cookie.split(";")[0].removeprefix("oore_session=")
    assert token not in cookie
    # Stored by its hash only.
    assert await services.store.find_session(hash_token(session_id)) is not None
    assert await services.store.find_session(session_id) is None
    assert (await client.get("/builds")).status_code == 200


async def test_a_wrong_token_is_refused_and_logged_without_the_token(
    app: QuartTrio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = app.test_client()
    wrong = generate_token()
    answer = await client.post("/login", form={"token": wrong})
    assert answer.status_code == 401
    assert "Set-Cookie" not in answer.headers
    assert "not valid" in await answer.get_data(as_text=True)
    assert "sign-in refused" in caplog.text
    assert wrong not in caplog.text
    assert (await client.get("/")).status_code == 303


async def test_next_must_be_a_local_path(app: QuartTrio, services: Services) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "builds"):
        answer = await app.test_client().post(
            "/login", form={"token": admin_token(services), "next": target}
        )
        assert answer.headers["Location"] == "/", target


async def test_many_failed_sign_ins_from_one_address_are_throttled(
    app: QuartTrio, services: Services
) -> None:
    client = app.test_client()
    for _ in range(FAILURES_ALLOWED):
        assert (await client.post("/login", form={"token": "nope"})).status_code == 401
    # Even the right token waits now: guessing must not be cheap.
    blocked = await client.post("/login", form={"token": admin_token(services)})
    assert blocked.status_code == 429


async def test_failed_sign_ins_sent_at_once_cannot_outrun_the_throttle(app: QuartTrio) -> None:
    answers: Counter[int] = Counter()

    async def attempt() -> None:
        answer = await app.test_client().post("/login", form={"token": generate_token()})
        answers[answer.status_code] += 1

    async with trio.open_nursery() as nursery:
        for _ in range(3 * FAILURES_ALLOWED):
            nursery.start_soon(attempt)
    assert answers == {401: FAILURES_ALLOWED, 429: 2 * FAILURES_ALLOWED}


async def test_a_successful_sign_in_is_not_counted_as_a_failure(
    app: QuartTrio, services: Services
) -> None:
    client = app.test_client()
    for _ in range(FAILURES_ALLOWED + 2):
        assert (
            await client.post("/login", form={"token": admin_token(services)})
        ).status_code == 303
    for _ in range(FAILURES_ALLOWED):
        assert (await client.post("/login", form={"token": "nope"})).status_code == 401
    assert (await client.post("/login", form={"token": "nope"})).status_code == 429


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a redirect across sites
        {"Origin": "http://localhost.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another origin
    ],
)
async def test_the_sign_in_form_is_refused_from_another_site(
    app: QuartTrio, services: Services, headers: dict[str, str]
) -> None:
    answer = await app.test_client().post(
        "/login", form={"token": admin_token(services)}, headers=headers
    )
    assert answer.status_code == 403
    assert "Set-Cookie" not in answer.headers
    assert "another site" in await answer.get_data(as_text=True)


async def test_the_sign_in_form_is_taken_from_the_daemons_own_origin(
    app: QuartTrio, services: Services
) -> None:
    base = services.settings.base_url.rstrip("/")
    assert "localhost" not in base  # so the Host, not OORE_BASE_URL, is what matches below
    for headers in (
        {"Origin": base, "Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://localhost"},  # the Host the request was sent to
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},  # typed into the address bar
        {},  # no browser: curl, scripts
    ):
        answer = await app.test_client().post(
            "/login", form={"token": admin_token(services)}, headers=headers
        )
        assert answer.status_code == 303, headers


async def test_the_api_takes_the_cookie_but_a_write_needs_the_csrf_token(
    app: QuartTrio, services: Services
) -> None:
    client = app.test_client()
    csrf = await sign_in(client, admin_token(services))
    assert (await client.get("/api/repositories")).status_code == 200
    refused = await client.post("/api/repositories", json={})
    assert refused.status_code == 403
    assert "CSRF" in (await refused.get_json())["error"]["message"]
    wrong = await client.post("/api/repositories", json={}, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    # Past authentication: the empty body is what is wrong now.
    passed = await client.post("/api/repositories", json={}, headers={"X-CSRF-Token": csrf})
    assert passed.status_code == 422


async def test_the_csrf_token_may_come_as_a_form_field(app: QuartTrio, services: Services) -> None:
    client = app.test_client()
    csrf = await sign_in(client, admin_token(services))
    repo = await add_repository(services)
    event_url = f"/api/repositories/{repo.id}/builds"
    without = await client.post(event_url, form={"workflow": "x"})
    assert without.status_code == 403
    with_field = await client.post(event_url, form={"workflow": "x", "csrf_token": csrf})
    assert with_field.status_code != 403  # past CSRF (the body is not JSON: 400)


async def test_a_bearer_token_needs_no_csrf_token(app: QuartTrio, services: Services) -> None:
    answer = await app.test_client().post(
        "/api/repositories",
        json={},
        headers={"Authorization": f"Bearer {admin_token(services)}"},
    )
    assert answer.status_code == 422


async def test_a_read_session_sees_no_write_controls_and_cannot_write(
    app: QuartTrio, services: Services
) -> None:
    _, secret = await api_token(services, TokenScope.READ)
    client = app.test_client()
    csrf = await sign_in(client, secret)
    repo = await add_repository(services)
    build = await add_build(services, repo.id)
    page = await (await client.get(f"/builds/{build.id}")).get_data(as_text=True)
    assert "read-only" in page
    assert "read-viewer" in page
    assert 'data-action="cancel"' not in page
    refused = await client.post(f"/api/builds/{build.id}/cancel", headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403
    assert "read scope" in (await refused.get_json())["error"]["message"]

    writer = app.test_client()
    _, write_secret = await api_token(services, TokenScope.WRITE)
    await sign_in(writer, write_secret)
    page = await (await writer.get(f"/builds/{build.id}")).get_data(as_text=True)
    assert 'data-action="cancel"' in page


async def test_revoking_the_token_ends_its_sessions(app: QuartTrio, services: Services) -> None:
    token_id, secret = await api_token(services, TokenScope.WRITE)
    client = app.test_client()
    await sign_in(client, secret)
    assert (await client.get("/api/repositories")).status_code == 200
    await services.store.revoke_token(token_id)
    assert (await client.get("/")).status_code == 303
    answer = await client.get("/api/repositories")
    assert answer.status_code == 401
    assert "sign in again" in (await answer.get_json())["error"]["message"]


async def test_signing_out_ends_the_session(app: QuartTrio, services: Services) -> None:
    client = app.test_client()
    csrf = await sign_in(client, admin_token(services))
    refused = await client.post("/logout", form={})
    assert refused.status_code == 403
    assert (await client.get("/")).status_code == 200
    out = await client.post("/logout", form={"csrf_token": csrf})
    assert out.status_code == 303
    assert out.headers["Location"] == "/login"
    assert "oore_session=;" in out.headers["Set-Cookie"]
    assert (await client.get("/")).status_code == 303


async def test_the_token_itself_is_no_session_cookie(app: QuartTrio, services: Services) -> None:
    # Before sessions existed the cookie held the token; it must not work any more.
    cookie = {"Cookie": f"oore_session={admin_token(services)}"}
    assert (await app.test_client().get("/", headers=cookie)).status_code == 303
    assert (await app.test_client().get("/api/repositories", headers=cookie)).status_code == 401


async def test_websockets_take_the_session_cookie_from_the_dashboards_origin(
    app: QuartTrio, services: Services
) -> None:
    client = app.test_client()
    await client.post("/login", form={"token": admin_token(services)})
    jar = client.cookie_jar
    assert jar is not None
    session_id = next(c.value for c in jar if c.name == "oore_session")
    origin = {"Origin": services.settings.base_url}
    with_session = {"Cookie": f"oore_session={session_id}", **origin}
    assert await close_code(app, "/api/events", with_session) is None
    foreign = {**with_session, "Origin": "https://evil.example"}
    assert await close_code(app, "/api/events", foreign) == 4403
    as_token = {"Cookie": f"oore_session={admin_token(services)}", **origin}
    assert await close_code(app, "/api/events", as_token) == 4401
