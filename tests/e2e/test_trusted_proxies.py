"""A real `oored run` behind a reverse proxy (its connections come from 127.0.0.1, the proxy's
address here): with OORE_TRUSTED_PROXIES naming it, sign-ins are throttled per client named in
X-Forwarded-For and logs name that client; without it, the header is ignored, so a client can
not escape the throttle by writing one."""

from __future__ import annotations

from pathlib import Path

import httpx

from oore.http.dashboard.throttle import FAILURES_ALLOWED
from tests.e2e.daemon import Daemon


async def sign_in(http: httpx.AsyncClient, forwarded_for: str | None, token: str = "nope") -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    answer = await http.post("/login", data={"token": token}, headers=headers)
    return answer.status_code


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_count(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    proxied = {"OORE_TRUSTED_PROXIES": "127.0.0.1", "OORE_GITHUB_WEBHOOK_SECRET": "s" * 20}
    daemon = await daemon_factory(tmp_path, **proxied).start()
    async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as http:
        for _ in range(FAILURES_ALLOWED):
            assert await sign_in(http, "203.0.113.5") == 401
        assert await sign_in(http, "203.0.113.5") == 429
        # Another client behind the same proxy is not locked out...
        assert await sign_in(http, "203.0.113.6") == 401
        assert await sign_in(http, "203.0.113.6", daemon.admin_token.strip()) == 303
        # ...and the locked-out one cannot get out by writing an address of its own in front:
        # the proxy appends what it saw, and that is what counts.
        assert await sign_in(http, "198.51.100.9, 203.0.113.5") == 429
        # A header of no address from the proxy leaves the proxy's own (one count for all).
        assert await sign_in(http, "not-an-address") == 401

        refused = await http.post(
            "/api/webhooks/github",
            content=b'{"repository": {"id": 5, "full_name": "acme/app"}}',
            headers={"Content-Type": "application/json", "X-GitHub-Event": "push",
                     "X-GitHub-Hook-ID": "77", "X-GitHub-Delivery": "d-1",
                     "X-Hub-Signature-256": "sha256=" + "0" * 64,
                     "X-Forwarded-For": "192.0.2.44"},
        )  # fmt: skip
        assert refused.status_code == 401, refused.text
    await daemon.stop()
    log = daemon.log()
    assert "sign-in refused from 203.0.113.5: too many failed attempts" in log
    assert "signed in from 203.0.113.6 as admin" in log
    assert "sign-in refused from 127.0.0.1: the token is not valid" in log
    assert "refused a webhook delivery from GitHub hook 77 at 192.0.2.44" in log


async def test_without_trusted_proxies_the_header_is_not_believed(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    daemon = await daemon_factory(tmp_path).start()
    async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as http:
        for n in range(FAILURES_ALLOWED):
            assert await sign_in(http, f"203.0.113.{n}") == 401
        assert await sign_in(http, "198.51.100.1") == 429
    await daemon.stop()
    assert "sign-in refused from 127.0.0.1: too many failed attempts" in daemon.log()
    assert "203.0.113." not in daemon.log()
