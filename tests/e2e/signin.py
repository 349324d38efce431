"""Signing in to a real daemon's dashboard as a browser does: `POST /login` with a token; the
session id comes back in the `oore_session` cookie (never the token itself)."""

from __future__ import annotations

import httpx

from tests.e2e.daemon import Daemon


async def session_id(daemon: Daemon, token: str) -> str:
    async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as http:
        answer = await http.post("/login", data={"token": token})
    assert answer.status_code == 303, answer.text
    found = answer.cookies.get("oore_session")
    assert found
    assert found != token
    return found
