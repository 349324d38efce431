"""Signed webhook targets over HTTP: a global target (every repository's builds) is the admin
token's only, a repository's target any write token's; no answer shows a URL's query (it may
carry the receiver's token), path (which may too) nor a user or password in it."""

from __future__ import annotations

import hashlib
from typing import Any

from quart_trio import QuartTrio

from oore.crypto import generate_token, hash_token
from oore.http.services import Services
from oore.ids import new_id
from oore.model import (
    ApiToken,
    Provider,
    Repository,
    TokenScope,
    WebhookTarget,
    utcnow,
)
from oore.notify.webhook import secret_aad
from oore.store.base import RepositorySecrets

URL = "/api/notifications/webhooks"
TOKEN = "rcv-query-token-0123456789"
SECRET = "signing-secret-0123456789"


async def bearer(services: Services, scope: TokenScope | None) -> dict[str, str]:
    if scope is None:
        return {"Authorization": f"Bearer {services.settings.admin_token}"}
    secret = generate_token()
    token = ApiToken(id=new_id(), name=f"{scope}-token", scope=scope, created_at=utcnow())
    await services.store.create_token(token, hash_token(secret))
    return {"Authorization": f"Bearer {secret}"}


async def call(
    app: QuartTrio, method: str, url: str, headers: dict[str, str], status: int, **kw: Any
) -> tuple[Any, str]:
    response = await app.test_client().open(url, method=method, headers=headers, **kw)
    text = await response.get_data(as_text=True)
    assert response.status_code == status, text
    return (await response.get_json() if text else None), text


async def repository(services: Services) -> str:
    repo = Repository(new_id(), Provider.GITHUB, "acme", "app", "https://github.com/acme/app.git")
    await services.store.create_repository(repo, RepositorySecrets(None, None))
    return repo.id


async def test_global_targets_are_the_admin_tokens_only(app: QuartTrio, services: Services) -> None:
    admin = await bearer(services, None)
    writer = await bearer(services, TokenScope.WRITE)
    repo_id = await repository(services)
    target = {"url": "https://hooks.example.com/in", "secret": SECRET}

    refused, _ = await call(app, "POST", URL, writer, 403, json=target)
    assert "only the admin token" in refused["error"]["message"]
    glob, _ = await call(app, "POST", URL, admin, 201, json=target)
    mine, _ = await call(app, "POST", URL, writer, 201, json=target | {"repository_id": repo_id})

    listed, _ = await call(app, "GET", URL, writer, 200)
    assert [t["id"] for t in listed["items"]] == [mine["id"]]  # the global one is not listed
    listed, _ = await call(app, "GET", URL, admin, 200)
    assert {t["id"] for t in listed["items"]} == {glob["id"], mine["id"]}

    await call(app, "DELETE", f"{URL}/{glob['id']}", writer, 403)
    assert glob["id"] in {t.id for t in await services.store.webhook_targets()}
    await call(app, "DELETE", f"{URL}/{mine['id']}", writer, 204)
    await call(app, "DELETE", f"{URL}/{mine['id']}", writer, 404)
    await call(app, "DELETE", f"{URL}/{glob['id']}", admin, 204)
    assert await services.store.webhook_targets() == []


async def test_no_answer_shows_a_urls_query_or_credentials(
    app: QuartTrio, services: Services
) -> None:
    admin = await bearer(services, None)
    reader = await bearer(services, TokenScope.READ)
    repo_id = await repository(services)
    body = {
        "url": f"https://hooks.example.com:8443/in/oore?token={TOKEN}&x=1#frag",
        "secret": SECRET,
        "repository_id": repo_id,
    }
    added, seen = await call(app, "POST", URL, admin, 201, json=body)
    assert added["url"] == "https://hooks.example.com:8443/…"
    # Zapier, Discord, n8n: the receiver's key in the path.
    in_path = {"url": f"https://hooks.example.net/hooks/catch/1/{TOKEN}/", "secret": SECRET}
    keyed, text = await call(
        app, "POST", URL, admin, 201, json=in_path | {"repository_id": repo_id}
    )
    seen += text
    assert keyed["url"] == "https://hooks.example.net/…"
    assert keyed["url_sha256"] == hashlib.sha256(in_path["url"].encode()).hexdigest()[:12]
    # One stored before user:password was refused (or by hand): shown without it.
    old = WebhookTarget(new_id(), repo_id, f"http://user:{TOKEN}@h.example.com/x", (), utcnow())
    await services.store.add_webhook_target(old, services.sealer.seal(b"s", secret_aad(old.id)))
    for headers in (admin, reader):
        listed, text = await call(app, "GET", URL, headers, 200)
        seen += text
        shown = {t["id"]: t["url"] for t in listed["items"]}
        assert shown == {
            added["id"]: "https://hooks.example.com:8443/…",
            keyed["id"]: "https://hooks.example.net/…",
            old.id: "http://h.example.com/…",
        }
    assert TOKEN not in seen
    assert "user" not in seen
