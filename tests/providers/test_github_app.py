"""The GitHub App against a fake GitHub on loopback: the manifest flow, JWTs GitHub accepts,
installation tokens cached until 5 minutes before they expire and replaced after a 401."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import trio

from oore.crypto import Sealer, hash_token
from oore.errors import Forbidden, NotFound
from oore.git.auth import GitCredential
from oore.model import GithubInstallation, GithubInstallationRepo, Provider, Repository
from oore.providers import github_manifest
from oore.providers.github_app import REFRESH_BEFORE, GithubApps
from oore.providers.github_credentials import GithubAppCredentials
from oore.store.sqlite import SqliteStore
from tests.fakes.github import FakeGitHub, FakeRepo, basic, serve_github

BASE_URL = "http://127.0.0.1:9"  # the daemon's address as the manifest names it


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    async with trio.open_nursery() as nursery:
        yield await nursery.start(serve_github)
        nursery.cancel_scope.cancel()


async def post_manifest(github: FakeGitHub, url: str, manifest: dict[str, object]) -> str:
    """Be the browser: post the manifest form to GitHub, follow nothing, return the redirect."""
    async with httpx.AsyncClient() as http:
        response = await http.post(url, data={"manifest": json.dumps(manifest)})
    assert response.status_code == 302, response.text
    return response.headers["Location"]


async def make_app(github: FakeGitHub, store: SqliteStore, sealer: Sealer) -> None:
    started = await github_manifest.start(store, github_url=github.url, base_url=BASE_URL)
    back = await post_manifest(github, started.url, started.manifest)
    query = parse_qs(urlsplit(back).query)
    assert back.startswith(f"{BASE_URL}/api/github/callback?")
    await github_manifest.complete(
        store,
        sealer,
        api_url=github.url,
        allow_private=True,
        code=query["code"][0],
        state=query["state"][0],
    )


def apps(github: FakeGitHub, store: SqliteStore, sealer: Sealer, clock: Clock) -> GithubApps:
    return GithubApps(store, sealer, api_url=github.url, allow_private=True, clock=clock)


async def test_manifest_names_hook_urls_permissions_and_events(store: SqliteStore) -> None:
    started = await github_manifest.start(
        store, github_url="https://github.example", base_url=BASE_URL, organization="acme"
    )
    new_app = "https://github.example/organizations/acme/settings/apps/new"
    assert started.url == f"{new_app}?state={started.state}"
    manifest = started.manifest
    assert manifest["hook_attributes"] == {"url": f"{BASE_URL}/api/webhooks/github", "active": True}
    assert manifest["redirect_url"] == f"{BASE_URL}/api/github/callback"
    assert manifest["default_permissions"] == {
        "contents": "read",
        "metadata": "read",
        "statuses": "write",
        "checks": "write",
        "pull_requests": "read",
    }
    assert manifest["default_events"] == ["push", "pull_request"]
    assert manifest["public"] is False


async def test_a_state_is_valid_for_ten_minutes(store: SqliteStore) -> None:
    started = await github_manifest.start(store, github_url="https://g.example", base_url=BASE_URL)
    ((stored, expires),) = await store.engine.read(
        lambda db: list(db.execute("SELECT state_hash, expires_at FROM github_manifest_states"))
    )
    left = dt.datetime.fromisoformat(expires.replace("Z", "+00:00")) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=9, seconds=50) < left <= dt.timedelta(minutes=10)
    assert stored == hash_token(started.state)  # only its hash is kept
    assert await store.take_manifest_state(hash_token(started.state))


async def test_the_code_is_exchanged_once_and_the_secrets_stored_sealed(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    started = await github_manifest.start(store, github_url=github.url, base_url=BASE_URL)
    back = await post_manifest(github, started.url, started.manifest)
    code = parse_qs(urlsplit(back).query)["code"][0]
    app = await github_manifest.complete(
        store, sealer, api_url=github.url, allow_private=True, code=code, state=started.state
    )
    fake = github.app
    assert (app.app_id, app.slug) == (fake.id, fake.slug)
    sealed = await store.github_app_secrets(app.id)
    raw = b"".join([sealed.private_key_sealed, sealed.webhook_secret_sealed])
    assert fake.webhook_secret.encode() not in raw
    assert b"PRIVATE KEY" not in raw
    keys = await GithubApps(store, sealer, api_url=github.url, allow_private=True).keys()
    assert keys.private_key == fake.pem.encode()
    assert keys.webhook_secret == fake.webhook_secret.encode()
    assert fake.pem not in repr(keys)
    assert fake.webhook_secret not in repr(keys)
    # The state works once: a replayed callback is refused before GitHub is asked.
    asked = len(github.requests)
    with pytest.raises(Forbidden, match="used already"):
        await github_manifest.complete(
            store, sealer, api_url=github.url, allow_private=True, code=code, state=started.state
        )
    assert len(github.requests) == asked


async def test_a_token_is_reused_until_five_minutes_before_it_expires(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    await make_app(github, store, sealer)
    github.installations[7] = set()
    clock = Clock()
    app = apps(github, store, sealer, clock)
    first = await app.installation_token(7)
    assert github.jwt_refusals == []
    assert await app.installation_token(7) == first
    clock.now += 3600 - REFRESH_BEFORE - 1
    assert await app.installation_token(7) == first
    clock.now += 2
    second = await app.installation_token(7)
    assert second != first
    assert [i.token for i in github.issued] == [first, second]


async def test_concurrent_callers_share_one_new_token(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    await make_app(github, store, sealer)
    github.installations[7] = set()
    app = apps(github, store, sealer, Clock())
    got: list[str] = []
    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(lambda: _append(got, app.installation_token(7)))
    assert len(set(got)) == 1
    assert len(github.issued) == 1


async def _append(into: list[str], value: object) -> None:
    into.append(await value)  # type: ignore[misc]


async def test_an_api_call_refused_with_401_gets_a_new_token_once(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    await make_app(github, store, sealer)
    repo = github.add_repository(FakeRepo(42, "acme", "app", "https://git.example/acme/app.git"))
    github.installations[7] = {repo.id}
    app = apps(github, store, sealer, Clock())
    assert (await app.installation_get(7, "/repositories/42"))["name"] == "app"
    github.expire_tokens()  # GitHub refuses it although its hour is not up
    assert (await app.installation_get(7, "/repositories/42"))["name"] == "app"
    assert len(github.issued) == 2
    assert github.requests.count(("GET", "/repositories/42")) == 3


async def test_the_credential_is_the_token_as_basic_auth_for_app_repositories_only(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer, caplog: pytest.LogCaptureFixture
) -> None:
    await make_app(github, store, sealer)
    github.installations[7] = {42}
    await store.put_github_installation(covering(7, 42))
    source = GithubAppCredentials(apps(github, store, sealer, Clock()), github.url)
    repo = Repository(
        "r",
        Provider.GITHUB,
        "acme",
        "app",
        github.clone_url("acme", "app"),
        github_repo_id=42,
        github_installation_id=7,
    )
    found = await source.credential_for(repo)
    assert isinstance(found, GitCredential)
    assert found.http_authorization == basic(github.issued[0].token)
    assert github.issued[0].token not in repr(found)
    plain = Repository("p", Provider.GITHUB, "acme", "lib", github.clone_url("acme", "lib"))
    assert await source.credential_for(plain) is None
    # Pointed elsewhere (a PATCH of its clone URL): the token is not sent there.
    moved = dataclasses.replace(repo, clone_url="https://evil.example/acme/app.git")
    assert await source.credential_for(moved) is None
    assert "not sent there" in caplog.text
    assert len(github.issued) == 1


def covering(installation_id: int, *repo_ids: int) -> GithubInstallation:
    """An installation as the app's webhooks record it, covering `repo_ids`."""
    repos = tuple(GithubInstallationRepo(i, f"acme/r{i}", True) for i in repo_ids)
    return GithubInstallation(installation_id, "acme", "Organization", "selected", False, repos, "")


async def test_no_token_for_a_repository_the_installation_does_not_cover(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer, caplog: pytest.LogCaptureFixture
) -> None:
    # Any write token may set github_installation_id: it alone must not earn the app's token.
    await make_app(github, store, sealer)
    github.installations[7] = {42}
    await store.put_github_installation(covering(7, 42))
    source = GithubAppCredentials(apps(github, store, sealer, Clock()), github.url)
    url = github.clone_url("someone", "else")
    other = Repository(
        "o", Provider.GITHUB, "someone", "else", url, github_repo_id=99, github_installation_id=7
    )
    no_id = dataclasses.replace(other, id="n", github_repo_id=None)
    for _ in range(2):
        assert await source.credential_for(other) is None
        assert await source.credential_for(no_id) is None
    assert github.issued == []
    warnings = [r for r in caplog.records if "has not reported" in r.getMessage()]
    assert len(warnings) == 2  # once per repository


async def test_a_repository_with_an_installation_but_no_app_fetches_without_one(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer, caplog: pytest.LogCaptureFixture
) -> None:
    # Registered with github_installation_id before any app was set up: no credential (it
    # fetches as a public repository), rather than every fetch failing with "no GitHub App".
    source = GithubAppCredentials(apps(github, store, sealer, Clock()), github.url)
    repo = Repository(
        "r",
        Provider.GITHUB,
        "acme",
        "app",
        github.clone_url("acme", "app"),
        github_repo_id=42,
        github_installation_id=7,
    )
    assert await source.credential_for(repo) is None
    assert await source.credential_for(repo) is None
    assert [r.getMessage() for r in caplog.records].count(
        "repository acme/app names GitHub App installation 7, but no GitHub App is set up: "
        "it is fetched without one"
    ) == 1
    assert github.issued == []


async def test_an_unknown_installation_or_missing_app_says_what_to_do(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    app = apps(github, store, sealer, Clock())
    with pytest.raises(NotFound, match="oore github setup"):
        await app.installation_token(7)
    await make_app(github, store, sealer)
    with pytest.raises(NotFound, match="install the app again"):
        await app.installation_token(99)
