"""The GitLab commit-status channel against the fake GitLab: GitLab's state names, name
oore/<workflow>, the OAuth connection's token (refreshed once when refused) for an enabled
project, else the repository's own token; a state the commit already has counts as sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from oore.config import Settings
from oore.crypto import Sealer
from oore.model import Provider, Repository, utcnow
from oore.notify.base import DeliveryFailed
from oore.notify.gitlab_status import GitLabStatusChannel
from oore.notify.sending import Sender
from oore.providers.credentials import https_token, secret_aad
from oore.providers.gitlab_connection import GitLabConnection
from oore.store.base import GitLabProjectLink, RepositorySecrets
from oore.store.sqlite import SqliteStore
from tests.fakes.gitlab import APPLICATION_ID, APPLICATION_SECRET, FakeGitLab, Project
from tests.notify.payloads import BASE_URL, BUILD_ID, SHA, delivery
from tests.providers.test_gitlab_connection import sign_in

PAT = "glpat-statusToken0123456789"


@pytest.fixture
async def gitlab(nursery: trio.Nursery, tmp_path: Path) -> FakeGitLab:
    fake: FakeGitLab = await nursery.start(FakeGitLab(tmp_path).serve)
    fake.projects[100] = Project(100, "acme", "app", tmp_path, tmp_path)
    return fake


@pytest.fixture
def settings(make_settings: Callable[..., Settings], gitlab: FakeGitLab) -> Settings:
    made = make_settings(
        OORE_BIND="127.0.0.1:8080", OORE_GITLAB_URL=gitlab.url, OORE_ALLOW_PRIVATE_PROVIDERS="1"
    )
    gitlab.redirect_uri = made.base_url + "/api/gitlab/callback"
    return made


@pytest.fixture
async def connection(store: SqliteStore, sealer: Sealer, settings: Settings) -> GitLabConnection:
    made = GitLabConnection(store, sealer, settings)
    await made.set_application(APPLICATION_ID, APPLICATION_SECRET)
    return made


async def add_repo(store: SqliteStore, gitlab: FakeGitLab) -> Repository:
    now = utcnow()
    url = f"{gitlab.url}/acme/app.git"
    repo = Repository(
        "01JREPO", Provider.GITLAB, "acme", "app", url, created_at=now, updated_at=now
    )
    await store.create_repository(repo, RepositorySecrets(None, None))
    return repo


def channel(
    store: SqliteStore, sealer: Sealer, connection: GitLabConnection
) -> GitLabStatusChannel:
    return GitLabStatusChannel(
        store, sealer, connection, Sender(allow_private=True), base_url=BASE_URL
    )


async def test_an_enabled_project_gets_gitlabs_states_with_the_connections_token(
    store: SqliteStore, sealer: Sealer, gitlab: FakeGitLab, connection: GitLabConnection
) -> None:
    await sign_in(connection)
    repo = await add_repo(store, gitlab)
    await store.set_gitlab_project(GitLabProjectLink(repo.id, 100, 1))
    statuses = channel(store, sealer, connection)
    for event in ("queued", "started", "failed"):
        await statuses.send(delivery(repo, "gitlab_status", event, target="gitlab"))
    calls = gitlab.status_calls
    assert [c.body["state"] for c in calls] == ["pending", "running", "failed"]
    assert {(c.project, c.sha, c.status) for c in calls} == {("100", SHA, 201)}
    assert {c.body["name"] for c in calls} == {"oore/android"}
    assert {c.body["target_url"] for c in calls} == {f"{BASE_URL}/builds/{BUILD_ID}"}
    assert {c.body["ref"] for c in calls} == {"main"}
    assert calls[0].key == f"{BUILD_ID}:gitlab_status:gitlab:queued"
    assert {c.token for c in calls} <= set(gitlab.issued)


@pytest.mark.parametrize(
    ("event", "state"),
    [
        ("succeeded", "success"),
        ("timed_out", "failed"),
        ("errored", "failed"),
        ("cancelled", "canceled"),
        ("skipped", "skipped"),
    ],
)
async def test_a_repository_token_names_the_project_by_its_path(
    store: SqliteStore,
    sealer: Sealer,
    gitlab: FakeGitLab,
    connection: GitLabConnection,
    event: str,
    state: str,
) -> None:
    repo = await add_repo(store, gitlab)
    new = https_token(repo, PAT, "oauth2")
    await store.set_repository_credential(
        new.credential, sealer.seal(new.secret, secret_aad(new.credential.id))
    )
    gitlab.personal_tokens.add(PAT)
    await channel(store, sealer, connection).send(
        delivery(repo, "gitlab_status", event, target="gitlab")
    )
    (call,) = gitlab.status_calls
    assert (call.project, call.token, call.status) == ("acme%2Fapp", PAT, 201)
    assert call.body["state"] == state


async def test_a_refused_oauth_token_is_refreshed_once(
    store: SqliteStore, sealer: Sealer, gitlab: FakeGitLab, connection: GitLabConnection
) -> None:
    await sign_in(connection)
    repo = await add_repo(store, gitlab)
    await store.set_gitlab_project(GitLabProjectLink(repo.id, 100, 1))
    gitlab.expire_access_tokens()
    await channel(store, sealer, connection).send(
        delivery(repo, "gitlab_status", "started", target="gitlab")
    )
    assert gitlab.grants == ["authorization_code", "refresh_token"]
    assert [c.status for c in gitlab.status_calls] == [201]


async def test_a_state_the_commit_already_has_counts_as_sent(
    store: SqliteStore, sealer: Sealer, gitlab: FakeGitLab, connection: GitLabConnection
) -> None:
    # At least once: a resend after a crash asks for the state GitLab already shows.
    await sign_in(connection)
    repo = await add_repo(store, gitlab)
    await store.set_gitlab_project(GitLabProjectLink(repo.id, 100, 1))
    statuses = channel(store, sealer, connection)
    started = delivery(repo, "gitlab_status", "started", target="gitlab")
    await statuses.send(started)
    await statuses.send(started)
    assert [c.status for c in gitlab.status_calls] == [201, 400]


async def test_refusals_and_a_missing_token(
    store: SqliteStore, sealer: Sealer, gitlab: FakeGitLab, connection: GitLabConnection
) -> None:
    repo = await add_repo(store, gitlab)
    statuses = channel(store, sealer, connection)
    with pytest.raises(DeliveryFailed) as none:
        await statuses.send(delivery(repo, "gitlab_status", "queued", target="gitlab"))
    assert none.value.permanent
    new = https_token(repo, PAT, None)
    await store.set_repository_credential(
        new.credential, sealer.seal(new.secret, secret_aad(new.credential.id))
    )
    gitlab.personal_tokens.add(PAT)
    gitlab.refuse_next.append((429, {"Retry-After": "12"}))
    with pytest.raises(DeliveryFailed) as limited:
        await statuses.send(delivery(repo, "gitlab_status", "queued", target="gitlab"))
    assert (limited.value.permanent, limited.value.retry_after) == (False, 12.0)
    gitlab.personal_tokens.clear()
    with pytest.raises(DeliveryFailed) as refused:
        await statuses.send(delivery(repo, "gitlab_status", "queued", target="gitlab"))
    assert refused.value.permanent
    assert "HTTP 401" in refused.value.why
    assert PAT not in refused.value.why + limited.value.why
