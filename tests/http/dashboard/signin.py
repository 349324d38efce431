"""Signing a Quart test client in to the dashboard, as a browser does (the client keeps
cookies), and reading what the pages embed."""

from __future__ import annotations

import re

from quart.typing import TestClientProtocol

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


async def sign_in(client: TestClientProtocol, token: str) -> str:
    """Sign in with `token`; the session's CSRF token (as the pages embed it)."""
    answer = await client.post("/login", form={"token": token, "next": "/"})
    assert answer.status_code == 303, await answer.get_data(as_text=True)
    page = await client.get("/")
    assert page.status_code == 200
    found = CSRF_META.search(await page.get_data(as_text=True))
    assert found is not None
    assert found[1]
    return found[1]


def session_cookie(set_cookie: str) -> str:
    """The session id out of a Set-Cookie header."""
    found = re.match(r"oore_session=([^;]*)", set_cookie)
    assert found is not None, set_cookie
    return found[1]
