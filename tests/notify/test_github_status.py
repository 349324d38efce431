"""The GitHub commit-status channel against the fake GitHub: the repository's own token,
context oore/<workflow>, GitHub's four states; the token only to the GitHub it was set for."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from oore.crypto import Sealer
from oore.model import Provider, Repository, utcnow
from oore.notify.base import DeliveryFailed
from oore.notify.github_status import GithubStatusChannel
from oore.notify.sending import Sender
from oore.providers.credentials import https_token, secret_aad
from oore.store.base import RepositorySecrets
from oore.store.sqlite import SqliteStore
from tests.fakes.github import FakeGitHub, serve_github
from tests.notify.payloads import BASE_URL, BUILD_ID, SHA, delivery

PAT = "ghp_statusToken0123456789abcdefABCDEF"


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    async with trio.open_nursery() as nursery:
        yield await nursery.start(serve_github)
        nursery.cancel_scope.cancel()


async def repo_with_token(github: FakeGitHub, store: SqliteStore, sealer: Sealer) -> Repository:
    now = utcnow()
    url = github.clone_url("acme", "app")
    repo = Repository(
        "01JREPO", Provider.GITHUB, "acme", "app", url, created_at=now, updated_at=now
    )
    await store.create_repository(repo, RepositorySecrets(None, None))
    new = https_token(repo, PAT, None)
    sealed = sealer.seal(new.secret, secret_aad(new.credential.id))
    await store.set_repository_credential(new.credential, sealed)
    github.pats.add(PAT)
    return repo


def channel(github: FakeGitHub, store: SqliteStore, sealer: Sealer) -> GithubStatusChannel:
    return GithubStatusChannel(
        store, sealer, Sender(allow_private=True),
        api_url=github.url, github_url=github.url, base_url=BASE_URL,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("event", "state"),
    [
        ("queued", "pending"),
        ("started", "pending"),
        ("succeeded", "success"),
        ("failed", "failure"),
        ("timed_out", "failure"),
        ("errored", "error"),
        ("cancelled", "error"),
    ],
)
async def test_each_event_sets_githubs_state_for_the_workflows_context(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer, event: str, state: str
) -> None:
    repo = await repo_with_token(github, store, sealer)
    sent = await channel(github, store, sealer).send(delivery(repo, "github_status", event))
    (call,) = github.status_calls
    assert (call.status, call.path) == (201, f"/repos/acme/app/statuses/{SHA}")
    assert call.body["state"] == state
    assert call.body["context"] == "oore/android"
    assert call.body["target_url"] == f"{BASE_URL}/builds/{BUILD_ID}"
    assert call.body["description"].startswith("Build #12 ")
    assert len(call.body["description"]) <= 140
    assert (call.token, call.key) == (PAT, f"{BUILD_ID}:github_status:github:{event}")
    assert sent.ref is not None


async def test_the_token_is_not_sent_to_another_github(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    repo = await repo_with_token(github, store, sealer)
    elsewhere = GithubStatusChannel(
        store, sealer, Sender(allow_private=True),
        api_url=github.url, github_url="https://github.com", base_url=BASE_URL,
    )  # fmt: skip
    with pytest.raises(DeliveryFailed) as failed:
        await elsewhere.send(delivery(repo, "github_status", "queued"))
    assert failed.value.permanent
    assert "not sent there" in failed.value.why
    assert github.status_calls == []


async def test_a_repository_without_a_token_or_a_moved_clone_url_is_given_up(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    repo = await repo_with_token(github, store, sealer)
    await store.update_repository(repo.id, {"clone_url": "https://evil.example/acme/app.git"})
    with pytest.raises(DeliveryFailed) as moved:
        await channel(github, store, sealer).send(delivery(repo, "github_status", "queued"))
    assert moved.value.permanent
    await store.delete_repository_credential(repo.id)
    with pytest.raises(DeliveryFailed) as none:
        await channel(github, store, sealer).send(delivery(repo, "github_status", "queued"))
    assert none.value.permanent
    assert "no HTTPS token" in none.value.why
    assert github.status_calls == []


async def test_a_refused_token_is_given_up_and_not_quoted(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    repo = await repo_with_token(github, store, sealer)
    github.pats.clear()  # revoked
    with pytest.raises(DeliveryFailed) as failed:
        await channel(github, store, sealer).send(delivery(repo, "github_status", "failed"))
    assert failed.value.permanent
    assert "HTTP 401 (Bad credentials)" in failed.value.why
    assert PAT not in failed.value.why
    github.pats.add(PAT)
    github.refuse_next.append((503, {"Retry-After": "30"}))
    with pytest.raises(DeliveryFailed) as later:
        await channel(github, store, sealer).send(delivery(repo, "github_status", "failed"))
    assert (later.value.permanent, later.value.retry_after) == (False, 30.0)
