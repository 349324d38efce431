"""Making the GitHub App with GitHub's manifest flow: nothing to copy by hand.

https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest:
the user's browser posts a manifest (name, webhook and redirect URLs, permissions, events) to
GitHub with a `state`; GitHub makes the app and sends the browser back to the redirect URL with a
one-time `code` and that state; the code is exchanged for the app's id, private key, webhook
secret and client secret, which are sealed before they are stored. The state is what protects
the (public) callback: only a hash of it is stored, it works once, and for 10 minutes.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from oore.crypto import Sealer, aad, hash_token
from oore.errors import BadRequest, Forbidden
from oore.ids import new_id
from oore.model import GithubApp, utcnow
from oore.providers.outbound import provider_client
from oore.providers.provider_http import GITHUB
from oore.store.base import GithubAppSecrets, GithubAppStore

STATE_LIFETIME = dt.timedelta(minutes=10)
PERMISSIONS = {
    "contents": "read",
    "metadata": "read",
    "statuses": "write",
    "checks": "write",
    "pull_requests": "read",
}
# GitHub sends `installation` and `installation_repositories` to every app whatever it
# subscribes to, and refuses them in a manifest's `default_events`.
EVENTS = ("push", "pull_request")
CODE = re.compile(r"[A-Za-z0-9_-]{1,200}")
LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")  # a GitHub user or organization
MAX_NAME = 34  # GitHub's limit for an app's name
BAD_STATE = (
    "this GitHub App setup link is unknown, was used already, or is older than 10 minutes; "
    "start again with `oore github setup`"
)


@dataclass(frozen=True, slots=True)
class ManifestStart:
    url: str  # where the browser posts the manifest (the state is in its query, as documented)
    manifest: dict[str, Any]
    state: str


def manifest(base_url: str, name: str) -> dict[str, Any]:
    callback = f"{base_url}/api/github/callback"
    return {
        "name": name,
        "url": base_url,
        "description": "Builds from Oore, a self-hosted CI",
        "hook_attributes": {"url": f"{base_url}/api/webhooks/github", "active": True},
        "redirect_url": callback,
        "callback_urls": [callback],
        "setup_url": callback,
        "setup_on_update": False,
        "public": False,
        "default_permissions": dict(PERMISSIONS),
        "default_events": list(EVENTS),
    }


def default_name(base_url: str) -> str:
    host = urlsplit(base_url).hostname or "oore"
    return f"Oore {host}"[:MAX_NAME]


async def start(
    store: GithubAppStore,
    *,
    github_url: str,
    base_url: str,
    name: str | None = None,
    organization: str | None = None,
) -> ManifestStart:
    """A new single-use state and the manifest to post with it."""
    state = secrets.token_urlsafe(32)
    expires = dt.datetime.now(dt.UTC) + STATE_LIFETIME
    stamp = expires.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    await store.add_manifest_state(hash_token(state), stamp)
    where = f"/organizations/{quote(organization, safe='')}" if organization else ""
    url = f"{github_url.rstrip('/')}{where}/settings/apps/new?state={state}"
    return ManifestStart(url, manifest(base_url, name or default_name(base_url)), state)


async def complete(
    store: GithubAppStore,
    sealer: Sealer,
    *,
    api_url: str,
    allow_private: bool,
    code: str,
    state: str,
) -> GithubApp:
    """Use the state, exchange the code, and store the app with its secrets sealed."""
    if not CODE.fullmatch(code):
        raise BadRequest("code: not a code GitHub gives")
    if not state or not await store.take_manifest_state(hash_token(state)):
        raise Forbidden(BAD_STATE)
    url = f"{api_url.rstrip('/')}/app-manifests/{code}/conversions"
    async with provider_client(allow_private=allow_private) as http:
        response = await GITHUB.send(http, "POST", url)
    body = GITHUB.json_object(response, "make the GitHub App from the manifest")
    app = _app(body)
    await store.save_github_app(app, _sealed(sealer, app.id, body))
    return app


def _app(body: dict[str, Any]) -> GithubApp:
    what = "the manifest conversion"
    owner = body.get("owner")
    login = owner.get("login") if isinstance(owner, dict) else None
    return GithubApp(
        id=new_id(),
        app_id=GITHUB.field(body, "id", int, what),
        slug=GITHUB.field(body, "slug", str, what),
        name=GITHUB.field(body, "name", str, what),
        owner=login if isinstance(login, str) else "",
        html_url=GITHUB.field(body, "html_url", str, what),
        client_id=GITHUB.field(body, "client_id", str, what),
        created_at=utcnow(),
    )


def _sealed(sealer: Sealer, row_id: str, body: dict[str, Any]) -> GithubAppSecrets:
    what = "the manifest conversion"

    def seal(name: str, column: str) -> bytes:
        value: str = GITHUB.field(body, name, str, what)
        return sealer.seal(value.encode(), aad("github_app", row_id, column))

    return GithubAppSecrets(
        private_key_sealed=seal("pem", "private_key"),
        webhook_secret_sealed=seal("webhook_secret", "webhook_secret"),
        client_secret_sealed=seal("client_secret", "client_secret"),
    )
