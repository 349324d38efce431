"""The webhook intake as a unit: verify, store, wake the ingester, and a cache that follows the
store's repository changes by itself (no one has to tell it to forget).

A real store and sealer; the only fake is the ingester's wake-up, a list that records kicks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
import trio

from oore.crypto import Sealer, aad, gitlab_token_key, keyed_hash
from oore.errors import BadRequest, NotFound, Unauthorized, WebhookRefused
from oore.ids import new_id
from oore.model import EventState, Provider, Repository, WebhookEvent, utcnow
from oore.store.base import RepositorySecrets
from oore.store.sqlite import SqliteStore
from oore.webhooks.intake import UNVERIFIED_BYTES, Headers, Intake

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks"
GITHUB_PUSH = (FIXTURES / "github" / "push" / "payload.json").read_bytes()
GITLAB_PUSH = (FIXTURES / "gitlab" / "push" / "docs.push.json").read_bytes()
HELLO_ID = 186853002  # the repository in GitHub's push example
KEY = b"k" * 32


class Kicks(list[WebhookEvent]):
    """The ingester's wake-up, recorded."""

    def __call__(self, event: WebhookEvent) -> None:
        self.append(event)


def signed(secret: str, body: bytes, delivery: str | None = None) -> Headers:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return Headers(
        {
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery or new_id(),
            "X-Hub-Signature-256": f"sha256={digest}",
            "Content-Type": "application/json",
        }
    )


async def github_repository(store: SqliteStore, sealer: Sealer, secret: str) -> Repository:
    repo = _repository(Provider.GITHUB, "Codertocat", "Hello-World", github_repo_id=HELLO_ID)
    await store.create_repository(repo, _github_secrets(sealer, repo.id, secret))
    return repo


def _github_secrets(sealer: Sealer, repository_id: str, secret: str) -> RepositorySecrets:
    where = aad("repositories", repository_id, "webhook_secret")
    return RepositorySecrets(sealer.seal(secret.encode(), where), None)


def _repository(provider: Provider, owner: str, name: str, **fields: object) -> Repository:
    now = utcnow()
    return Repository(
        id=new_id(),
        provider=provider,
        owner=owner,
        name=name,
        clone_url=f"file:///nonexistent/{owner}/{name}.git",
        created_at=now,
        updated_at=now,
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture
def kicks() -> Kicks:
    return Kicks()


@pytest.fixture
def intake(store: SqliteStore, sealer: Sealer, kicks: Kicks) -> Intake:
    return Intake(
        store,
        sealer,
        shared_github_secret=None,
        gitlab_token_key=gitlab_token_key(KEY),
        kick=kicks,
    )


async def test_a_signed_delivery_is_stored_once_and_wakes_the_ingester_once(
    store: SqliteStore, sealer: Sealer, intake: Intake, kicks: Kicks
) -> None:
    repo = await github_repository(store, sealer, "repo-secret")
    headers = signed("repo-secret", GITHUB_PUSH, delivery="d-1")
    first = await intake.github(headers, GITHUB_PUSH)
    again = await intake.github(headers, GITHUB_PUSH)
    assert (first.status, first.body["status"]) == (202, "accepted")
    assert (again.status, again.body) == (
        200,
        {"status": "duplicate", "event_id": first.body["event_id"]},
    )
    assert [k.id for k in kicks] == [first.body["event_id"]]
    stored = await store.get_event(first.body["event_id"])
    assert (stored.state, stored.repository_id, stored.body) == (
        EventState.PENDING,
        repo.id,
        GITHUB_PUSH,
    )


async def test_a_wrong_signature_stores_nothing_and_is_counted(
    store: SqliteStore, sealer: Sealer, intake: Intake, kicks: Kicks
) -> None:
    await github_repository(store, sealer, "repo-secret")
    with pytest.raises(Unauthorized, match="does not match"):
        await intake.github(signed("not-the-secret", GITHUB_PUSH), GITHUB_PUSH)
    assert kicks == []
    counters = await store.counters()
    assert counters.get("webhooks_rejected_github") == 1
    assert counters.get("webhooks_rejected_github:bad_signature") == 1
    assert await store.pending_event_ids() == []


async def test_a_changed_secret_takes_effect_at_once_without_being_told(
    store: SqliteStore, sealer: Sealer, intake: Intake
) -> None:
    repo = await github_repository(store, sealer, "old-secret")
    for _ in range(2):  # known, and cached
        assert (await intake.github(signed("old-secret", GITHUB_PUSH), GITHUB_PUSH)).status == 202
    # The store announces the change after commit; the intake's cache drops what it knew.
    await store.update_repository(repo.id, {}, _github_secrets(sealer, repo.id, "new-secret"))
    with pytest.raises(Unauthorized):
        await intake.github(signed("old-secret", GITHUB_PUSH), GITHUB_PUSH)
    assert (await intake.github(signed("new-secret", GITHUB_PUSH), GITHUB_PUSH)).status == 202


async def test_a_deleted_repository_is_forgotten_at_once(
    store: SqliteStore, intake: Intake
) -> None:
    repo = _repository(Provider.GITLAB, "grp", "svc", gitlab_project_id=15)
    token_hmac = keyed_hash(gitlab_token_key(KEY), "gitlab-token")
    await store.create_repository(repo, RepositorySecrets(None, token_hmac))
    headers = Headers({"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "gitlab-token"})
    for n in range(2):  # known, and cached
        headers = Headers(
            {**headers.kept(("X-Gitlab-Event", "X-Gitlab-Token")), "X-Gitlab-Event-UUID": str(n)}
        )
        assert (await intake.gitlab(repo.id, headers, GITLAB_PUSH)).status == 202
    await store.delete_repository(repo.id)
    with pytest.raises(NotFound):
        await intake.gitlab(repo.id, headers, GITLAB_PUSH)


async def test_gitlab_token_and_project_are_checked(store: SqliteStore, intake: Intake) -> None:
    repo = _repository(Provider.GITLAB, "grp", "svc", gitlab_project_id=99)
    token_hmac = keyed_hash(gitlab_token_key(KEY), "gitlab-token")
    await store.create_repository(repo, RepositorySecrets(None, token_hmac))
    wrong = Headers({"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "guess"})
    with pytest.raises(Unauthorized, match="X-Gitlab-Token"):
        await intake.gitlab_headers(repo.id, wrong)
    right = Headers({"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "gitlab-token"})
    with pytest.raises(BadRequest, match="project 15"):  # the example is project 15, not 99
        await intake.gitlab(repo.id, right, GITLAB_PUSH)
    assert (await store.counters()).get("webhooks_rejected_gitlab") == 2


async def test_a_large_body_naming_no_secret_is_refused_on_its_headers(intake: Intake) -> None:
    headers = signed("whatever", b"")
    with pytest.raises(Unauthorized, match=f"over {UNVERIFIED_BYTES} bytes"):
        await intake.github_headers(headers, UNVERIFIED_BYTES + 1)


async def test_the_target_header_cannot_vouch_for_another_repository(
    store: SqliteStore, sealer: Sealer, intake: Intake
) -> None:
    other = _repository(Provider.GITHUB, "acme", "other", github_repo_id=1)
    await store.create_repository(other, _github_secrets(sealer, other.id, "other-secret"))
    await github_repository(store, sealer, "repo-secret")
    headers = Headers(
        {
            **{k: signed("other-secret", GITHUB_PUSH).get(k) for k in _GITHUB_HEADER_NAMES},
            "X-GitHub-Hook-Installation-Target-Type": "repository",
            "X-GitHub-Hook-Installation-Target-ID": "1",
        }
    )
    with pytest.raises(BadRequest, match="names a different repository"):
        await intake.github(headers, GITHUB_PUSH)


_GITHUB_HEADER_NAMES = (
    "X-GitHub-Event",
    "X-GitHub-Delivery",
    "X-Hub-Signature-256",
    "Content-Type",
)


def test_fixtures_are_the_examples_the_tests_describe() -> None:
    assert json.loads(GITHUB_PUSH)["repository"]["id"] == HELLO_ID
    assert json.loads(GITLAB_PUSH)["project"]["id"] == 15


class CountedLookups(SqliteStore):
    """The same store (engine and broadcast shared), counting the intake's repository lookups;
    with `hold` set, reading a repository's secrets waits for it after the read (a slow read)."""

    def __init__(self, store: SqliteStore) -> None:
        super().__init__(store.engine, store.changes)
        self.lookups = 0
        self.hold: trio.Event | None = None
        self.holding = trio.Event()

    async def find_repository(
        self, provider: Provider, owner: str, name: str, provider_id: int | None
    ) -> Repository | None:
        self.lookups += 1
        return await super().find_repository(provider, owner, name, provider_id)

    async def repository_secrets(self, repository_id: str) -> RepositorySecrets:
        found = await super().repository_secrets(repository_id)
        if self.hold is not None:
            self.holding.set()
            await self.hold.wait()
        return found


async def test_a_known_repository_is_looked_up_once(store: SqliteStore, sealer: Sealer) -> None:
    counted = CountedLookups(store)
    intake = Intake(counted, sealer, shared_github_secret=None, gitlab_token_key=b"k", kick=Kicks())
    await github_repository(store, sealer, "repo-secret")
    for _ in range(3):
        assert (await intake.github(signed("repo-secret", GITHUB_PUSH), GITHUB_PUSH)).status == 202
    assert counted.lookups == 1


async def test_a_lookup_that_read_before_a_change_is_not_cached(
    store: SqliteStore, sealer: Sealer
) -> None:
    counted = CountedLookups(store)
    intake = Intake(counted, sealer, shared_github_secret=None, gitlab_token_key=b"k", kick=Kicks())
    repo = await github_repository(store, sealer, "old-secret")
    gate = trio.Event()
    counted.hold = gate
    async with trio.open_nursery() as nursery:
        # A delivery reads the repository and its secret (the old one), then is slow to go on...
        nursery.start_soon(intake.github, signed("old-secret", GITHUB_PUSH), GITHUB_PUSH)
        await counted.holding.wait()
        counted.hold = None
        # ...while the secret changes, and another delivery sees the change first.
        await store.update_repository(repo.id, {}, _github_secrets(sealer, repo.id, "new-secret"))
        assert (await intake.github(signed("new-secret", GITHUB_PUSH), GITHUB_PUSH)).status == 202
        gate.set()  # the slow one goes on (its delivery was signed in time: accepted)
    # What the slow one read is older than the change: it must not be what is cached now.
    with pytest.raises(Unauthorized):
        await intake.github(signed("old-secret", GITHUB_PUSH), GITHUB_PUSH)


async def test_a_missing_signature_is_called_missing(store: SqliteStore, intake: Intake) -> None:
    headers = Headers({"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-9"})
    with pytest.raises(WebhookRefused, match="X-Hub-Signature-256 header is missing") as refused:
        await intake.github(headers, GITHUB_PUSH)
    assert refused.value.why == "missing_signature"
    assert (await store.counters()).get("webhooks_rejected_github:missing_signature") == 1
