"""The GitLab OAuth connection and its fetch credentials, against the fake GitLab on loopback:
state lifetime (on an injected clock), serialised refreshes, and where the token may go."""

from __future__ import annotations

import base64
import datetime as dt
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import trio

from oore.config import Settings
from oore.crypto import Sealer
from oore.errors import BadRequest, Conflict
from oore.model import Provider, Repository, utcnow
from oore.providers.gitlab_connection import GitLabConnection
from oore.providers.gitlab_credentials import GitLabOAuthCredentials, same_origin
from oore.store.base import GitLabProjectLink, RepositorySecrets
from oore.store.sqlite import SqliteStore
from tests.fakes.gitlab import APPLICATION_ID, APPLICATION_SECRET, FakeGitLab, authorize_query


class Clock:
    def __init__(self) -> None:
        self.moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.moment


@pytest.fixture
async def gitlab(nursery: trio.Nursery, tmp_path: Path) -> FakeGitLab:
    fake: FakeGitLab = await nursery.start(FakeGitLab(tmp_path).serve)
    return fake


@pytest.fixture
def settings(make_settings: Callable[..., Settings], gitlab: FakeGitLab) -> Settings:
    made = make_settings(
        OORE_BIND="127.0.0.1:8080",
        OORE_GITLAB_URL=gitlab.url,
        OORE_ALLOW_PRIVATE_PROVIDERS="1",
    )
    gitlab.redirect_uri = made.base_url + "/api/gitlab/callback"
    return made


@pytest.fixture
async def connection(store: SqliteStore, sealer: Sealer, settings: Settings) -> GitLabConnection:
    made = GitLabConnection(store, sealer, settings)
    await made.set_application(APPLICATION_ID, APPLICATION_SECRET)
    return made


async def sign_in(connection: GitLabConnection) -> None:
    url, _ = await connection.start()
    async with httpx.AsyncClient() as browser:
        back = authorize_query((await browser.get(url)).headers["Location"])
    assert await connection.finish(back["code"], back["state"]) == "maintainer"


async def test_a_state_expires_after_ten_minutes(
    store: SqliteStore, sealer: Sealer, settings: Settings, gitlab: FakeGitLab
) -> None:
    clock = Clock()
    connection = GitLabConnection(store, sealer, settings, now=clock)
    await connection.set_application(APPLICATION_ID, APPLICATION_SECRET)
    url, expires_at = await connection.start()
    assert expires_at == "2026-01-01T00:10:00.000Z"
    async with httpx.AsyncClient() as browser:
        back = authorize_query((await browser.get(url)).headers["Location"])
    clock.moment += dt.timedelta(minutes=10)
    with pytest.raises(BadRequest, match="expired"):
        await connection.finish(back["code"], back["state"])
    assert gitlab.grants == []


async def test_concurrent_users_of_an_expiring_token_refresh_it_once(
    connection: GitLabConnection, gitlab: FakeGitLab
) -> None:
    gitlab.access_ttl = 60  # inside the margin: the next use refreshes
    await sign_in(connection)
    tokens: list[str] = []

    async def use() -> None:
        tokens.append(await connection.access_token())

    # Refresh tokens work once: without the lock the second refresh would be refused.
    gitlab.access_ttl = 3600
    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(use)
    assert gitlab.grants == ["authorization_code", "refresh_token"]
    assert len(set(tokens)) == 1
    assert gitlab.access_tokens[tokens[0]] > 0


async def test_a_caller_cancelled_during_a_refresh_keeps_the_connection(
    connection: GitLabConnection, gitlab: FakeGitLab
) -> None:
    gitlab.access_ttl = 60  # inside the margin: the next use refreshes
    await sign_in(connection)
    gitlab.access_ttl = 3600
    gitlab.token_delay = 0.5  # GitLab has used up the refresh token but not yet answered
    caller = trio.CancelScope()

    async def use() -> None:
        with caller:
            await connection.access_token()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(use)
        await gitlab.refresh_used.wait()
        caller.cancel()
    # The new tokens were stored although their caller went away: the connection still works
    # (without them the next use would refresh with a used-up token and be refused).
    token = await connection.access_token()
    assert gitlab.grants == ["authorization_code", "refresh_token"]
    assert gitlab.access_tokens[token] > time.time()


async def test_not_connected_and_not_configured_say_what_to_run(
    store: SqliteStore, sealer: Sealer, settings: Settings
) -> None:
    bare = GitLabConnection(store, sealer, settings)
    with pytest.raises(
        Conflict, match=re.escape("redirect URI http://127.0.0.1:8080/api/gitlab/callback")
    ):
        await bare.start()
    with pytest.raises(Conflict, match="oore gitlab connect"):
        await bare.access_token()


async def repository(store: SqliteStore, clone_url: str, *, linked: bool) -> Repository:
    now = utcnow()
    repo = Repository(
        f"r{len(await store.list_repositories())}",
        Provider.GITLAB,
        "acme",
        f"app{len(await store.list_repositories())}",
        clone_url,
        created_at=now,
        updated_at=now,
    )
    await store.create_repository(repo, RepositorySecrets(None, "hmac"))
    if linked:
        await store.set_gitlab_project(GitLabProjectLink(repo.id, 5, 50))
    return repo


async def test_credentials_only_for_enabled_projects_on_the_same_gitlab(
    connection: GitLabConnection, gitlab: FakeGitLab, store: SqliteStore
) -> None:
    await sign_in(connection)
    source = GitLabOAuthCredentials(store, connection)
    enabled = await repository(store, f"{gitlab.url}/acme/app.git", linked=True)
    credential = await source.credential_for(enabled)
    assert credential is not None
    assert credential.http_authorization is not None
    scheme, _, encoded = credential.http_authorization.partition(" ")
    user, _, token = base64.b64decode(encoded).decode().partition(":")
    assert (scheme, user) == ("Basic", "oauth2")
    assert token in gitlab.access_tokens
    assert token not in repr(credential)
    by_hand = await repository(store, f"{gitlab.url}/acme/other.git", linked=False)
    assert await source.credential_for(by_hand) is None
    elsewhere = await repository(store, "https://evil.example/acme/app.git", linked=True)
    assert await source.credential_for(elsewhere) is None
    other_port = await repository(store, "http://127.0.0.1:1/acme/app.git", linked=True)
    assert await source.credential_for(other_port) is None


@pytest.mark.parametrize(
    ("url", "base", "same"),
    [
        ("https://gitlab.com/a/b.git", "https://gitlab.com", True),
        ("https://gitlab.com:443/a/b.git", "https://GitLab.com", True),
        ("http://gitlab.com/a/b.git", "https://gitlab.com", False),
        ("https://gitlab.com.evil.io/a/b.git", "https://gitlab.com", False),
        ("https://gitlab.com@evil.io/a/b.git", "https://gitlab.com", False),
        ("git@gitlab.com:a/b.git", "https://gitlab.com", False),
        ("https://gitlab.com:x/a.git", "https://gitlab.com", False),
    ],
)
def test_same_origin(url: str, base: str, same: bool) -> None:
    assert same_origin(url, base) is same
