"""The webhook intake and the GitHub App: app deliveries verify with the app's secret (and only
it), keep the installations table current, and belong to the repositories registered from them.

A real store and sealer, the app stored as the manifest flow stores it.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from oore.crypto import Sealer, aad
from oore.errors import Unauthorized
from oore.ids import new_id
from oore.model import GithubApp, Provider, utcnow
from oore.store.base import GithubAppSecrets, RepositorySecrets
from oore.store.sqlite import SqliteStore
from oore.webhooks.intake import Headers, Intake
from tests.webhooks.test_intake import GITHUB_PUSH, HELLO_ID, KEY, Kicks, _repository

APP_ID = 555
APP_SECRET = "the-app-webhook-secret"
INSTALLED = {
    "action": "created",
    "installation": {"id": 9, "account": {"login": "acme", "type": "Organization"}},
    "repositories": [{"id": 1, "full_name": "acme/a", "private": True}],
}


async def save_app(store: SqliteStore, sealer: Sealer, secret: str = APP_SECRET) -> None:
    app = GithubApp(new_id(), APP_ID, "oore", "Oore", "acme", "https://x/apps/oore", "I", utcnow())

    def seal(value: str, column: str) -> bytes:
        return sealer.seal(value.encode(), aad("github_app", app.id, column))

    secrets = GithubAppSecrets(
        seal("pem", "private_key"), seal(secret, "webhook_secret"), seal("c", "client_secret")
    )
    await store.save_github_app(app, secrets)


def app_headers(event: str, body: bytes, secret: str, *, target: int | None = APP_ID) -> Headers:
    """As GitHub sends an app's deliveries (`target` None: without the target headers)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": new_id(),
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
    }
    if target is not None:
        headers["X-GitHub-Hook-Installation-Target-Type"] = "integration"
        headers["X-GitHub-Hook-Installation-Target-ID"] = str(target)
    return Headers(headers)


@pytest.fixture
def intake(store: SqliteStore, sealer: Sealer) -> Intake:
    return Intake(store, sealer, shared_github_secret=None, gitlab_token_key=KEY, kick=Kicks())


async def test_installation_deliveries_update_installations_when_signed_by_the_app(
    store: SqliteStore, sealer: Sealer, intake: Intake
) -> None:
    await save_app(store, sealer)
    body = json.dumps(INSTALLED).encode()
    with pytest.raises(Unauthorized):
        await intake.github(app_headers("installation", body, "not-the-secret"), body)
    assert await store.github_installations() == []
    answer = await intake.github(app_headers("installation", body, APP_SECRET), body)
    assert answer.status == 202
    (found,) = await store.github_installations()
    assert (found.id, [r.full_name for r in found.repositories]) == (9, ["acme/a"])

    change = {
        "action": "added",
        "installation": {"id": 9},
        "repositories_added": [{"id": 2, "full_name": "acme/b", "private": False}],
        "repositories_removed": [{"id": 1, "full_name": "acme/a"}],
    }
    body = json.dumps(change).encode()
    await intake.github(app_headers("installation_repositories", body, APP_SECRET), body)
    (found,) = await store.github_installations()
    assert [r.full_name for r in found.repositories] == ["acme/b"]

    body = json.dumps({"action": "deleted", "installation": {"id": 9}}).encode()
    await intake.github(app_headers("installation", body, APP_SECRET), body)
    assert await store.github_installations() == []


async def test_another_apps_deliveries_or_no_app_are_refused(
    store: SqliteStore, sealer: Sealer, intake: Intake
) -> None:
    body = json.dumps(INSTALLED).encode()
    with pytest.raises(Unauthorized):  # no app set up yet
        await intake.github(app_headers("installation", body, APP_SECRET), body)
    await save_app(store, sealer)
    with pytest.raises(Unauthorized):  # signed right, but for an app that is not Oore's
        await intake.github(app_headers("installation", body, APP_SECRET, target=1), body)
    assert await store.github_installations() == []


async def test_a_repository_registered_from_the_app_verifies_with_the_apps_secret(
    store: SqliteStore, sealer: Sealer, intake: Intake
) -> None:
    await save_app(store, sealer)
    repo = _repository(
        Provider.GITHUB,
        "Codertocat",
        "Hello-World",
        github_repo_id=HELLO_ID,
        github_installation_id=9,
    )
    await store.create_repository(repo, RepositorySecrets(None, None))
    # From the app (its headers): the event belongs to the repository the payload names.
    answer = await intake.github(app_headers("push", GITHUB_PUSH, APP_SECRET), GITHUB_PUSH)
    assert answer.status == 202
    stored = await store.get_event(answer.body["event_id"])
    assert stored.repository_id == repo.id
    # Without the app's headers (only the payload says whose it is): still the app's secret.
    plain = app_headers("push", GITHUB_PUSH, APP_SECRET, target=None)
    assert (await intake.github(plain, GITHUB_PUSH)).status == 202
    with pytest.raises(Unauthorized):
        await intake.github(app_headers("push", GITHUB_PUSH, "guess"), GITHUB_PUSH)


async def test_a_new_app_secret_is_used_at_once(
    store: SqliteStore, sealer: Sealer, intake: Intake
) -> None:
    await save_app(store, sealer, "first-secret")
    body = json.dumps(INSTALLED).encode()
    answer = await intake.github(app_headers("installation", body, "first-secret"), body)
    assert answer.status == 202
    await save_app(store, sealer, "second-secret")  # `oore github setup` again
    with pytest.raises(Unauthorized):
        await intake.github(app_headers("installation", body, "first-secret"), body)
    answer = await intake.github(app_headers("installation", body, "second-secret"), body)
    assert answer.status == 202


async def test_a_redelivered_older_event_does_not_roll_the_installations_back(
    store: SqliteStore, sealer: Sealer, intake: Intake
) -> None:
    await save_app(store, sealer)
    created = json.dumps(INSTALLED).encode()
    created_headers = app_headers("installation", created, APP_SECRET)
    assert (await intake.github(created_headers, created)).status == 202
    deleted = json.dumps({"action": "deleted", "installation": {"id": 9}}).encode()
    await intake.github(app_headers("installation", deleted, APP_SECRET), deleted)
    # GitHub redelivers the `created` (same delivery id) after the `deleted`: nothing changes.
    answer = await intake.github(created_headers, created)
    assert (answer.status, answer.body["status"]) == (200, "duplicate")
    assert await store.github_installations() == []
