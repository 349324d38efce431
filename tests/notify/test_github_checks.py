"""The GitHub check-run channel against the fake GitHub on loopback: one run per build, created
queued and updated in_progress then completed with GitHub's conclusion and the steps' table,
with the App's installation token; GitHub's refusals mapped to retry or give up, never quoting
the token."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

from oore.crypto import Sealer
from oore.model import Provider, Repository, utcnow
from oore.notify.base import Delivery, DeliveryFailed
from oore.notify.github_checks import GithubCheckChannel
from oore.notify.sending import Sender
from oore.providers.github_app import GithubApps
from oore.store.base import RepositorySecrets
from oore.store.sqlite import SqliteStore
from tests.fakes.github import FakeGitHub, FakeRepo, serve_github
from tests.notify.payloads import BASE_URL, BUILD_ID, SHA, delivery
from tests.providers.test_github_app import covering, make_app


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    async with trio.open_nursery() as nursery:
        yield await nursery.start(serve_github)
        nursery.cancel_scope.cancel()


async def installed_repo(github: FakeGitHub, store: SqliteStore, sealer: Sealer) -> Repository:
    await make_app(github, store, sealer)
    github.add_repository(FakeRepo(42, "acme", "app", github.clone_url("acme", "app")))
    github.installations[7] = {42}
    await store.put_github_installation(covering(7, 42))
    now = utcnow()
    repo = Repository(
        "01JREPO", Provider.GITHUB, "acme", "app", github.clone_url("acme", "app"),
        github_repo_id=42, github_installation_id=7, created_at=now, updated_at=now,
    )  # fmt: skip
    await store.create_repository(repo, RepositorySecrets(None, None))
    return repo


def channel(github: FakeGitHub, store: SqliteStore, sealer: Sealer) -> GithubCheckChannel:
    apps = GithubApps(store, sealer, api_url=github.url, allow_private=True)
    return GithubCheckChannel(store, apps, Sender(allow_private=True), base_url=BASE_URL)


def sent_again(repo: Repository, event: str, attempts: int = 1) -> Delivery:
    """A delivery an earlier attempt may have sent (a restart, or an answer lost)."""
    return dataclasses.replace(delivery(repo, "github_check", event), attempts=attempts)


async def with_queued_run(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> tuple[Repository, GithubCheckChannel, str, dict[str, Any]]:
    """The installed repository, the channel, and the run its `queued` delivery made (id, run)."""
    repo = await installed_repo(github, store, sealer)
    checks = channel(github, store, sealer)
    first = await checks.send(delivery(repo, "github_check", "queued"))
    ref = str(first.ref)
    return repo, checks, ref, github.check_runs[int(ref)]


async def test_a_build_makes_one_run_queued_then_in_progress_then_completed(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    repo = await installed_repo(github, store, sealer)
    checks = channel(github, store, sealer)
    created = await checks.send(delivery(repo, "github_check", "queued"))
    assert created.ref is not None
    (run,) = github.check_runs.values()
    assert str(run["id"]) == created.ref
    assert (run["name"], run["head_sha"], run["external_id"]) == ("android", SHA, BUILD_ID)
    assert run["status"] == "queued"
    assert run["details_url"] == f"{BASE_URL}/builds/{BUILD_ID}"

    started = await checks.send(delivery(repo, "github_check", "started", chain_ref=created.ref))
    assert started.ref == created.ref
    assert run["status"] == "in_progress"
    assert run["started_at"] == "2026-12-04T10:00:01.000Z"

    await checks.send(delivery(repo, "github_check", "succeeded", chain_ref=created.ref))
    assert len(github.check_runs) == 1
    assert (run["status"], run["conclusion"]) == ("completed", "success")
    assert run["completed_at"] == "2026-12-04T10:02:11.000Z"
    assert run["output"]["title"] == "android succeeded in 2m 10s"
    summary = run["output"]["summary"]
    assert "| # | Step | Status | Duration |" in summary
    assert "| 1 | Get packages | succeeded | 4.2s |" in summary
    assert "| 2 | Build \\| APK | failed | 2m 05s |" in summary  # the pipe escaped
    assert f"[app.apk]({BASE_URL}/api/artifacts/01ART)" in summary

    calls = github.check_calls
    assert [(c.method, c.status) for c in calls] == [("POST", 201), ("PATCH", 200), ("PATCH", 200)]
    assert [c.path for c in calls[1:]] == [f"/repos/acme/app/check-runs/{created.ref}"] * 2
    keys = [c.key for c in calls]
    assert keys == [
        f"{BUILD_ID}:github_check:github:{e}" for e in ("queued", "started", "succeeded")
    ]
    (issued,) = github.issued  # one installation token, reused
    assert {c.token for c in calls} == {issued.token}


@pytest.mark.parametrize(
    ("event", "conclusion"),
    [
        ("failed", "failure"),
        ("errored", "failure"),
        ("cancelled", "cancelled"),
        ("timed_out", "timed_out"),
        ("skipped", "skipped"),
    ],
)
async def test_an_outcome_without_a_run_creates_it_completed_with_githubs_conclusion(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer, event: str, conclusion: str
) -> None:
    # The queued delivery went dead: the outcome still shows, as a new completed run.
    repo = await installed_repo(github, store, sealer)
    await channel(github, store, sealer).send(delivery(repo, "github_check", event))
    (run,) = github.check_runs.values()
    assert (run["status"], run["conclusion"]) == ("completed", conclusion)


async def test_a_queued_delivery_sent_again_updates_the_run_its_first_attempt_made(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    """GitHub made the run, then the daemon died before storing its id: the retry (attempts
    is not 0 after a restart) finds the run by the build id and makes no second one."""
    repo = await installed_repo(github, store, sealer)
    checks = channel(github, store, sealer)
    # Another build's run of this workflow on the same commit, first in GitHub's list.
    other = delivery(repo, "github_check", "queued")
    other_build = {**other.payload["build"], "id": "01JOTHER"}
    await checks.send(dataclasses.replace(other, payload={**other.payload, "build": other_build}))
    first = await checks.send(delivery(repo, "github_check", "queued"))

    assert (await checks.send(sent_again(repo, "queued"))).ref == first.ref
    assert [r["name"] for r in github.check_runs.values()] == ["android", "android"]
    lookup, update = github.check_calls[-2:]
    assert (lookup.method, lookup.path, lookup.status) == (
        "GET", f"/repos/acme/app/commits/{SHA}/check-runs", 200
    )  # fmt: skip
    assert (update.method, update.path) == ("PATCH", f"/repos/acme/app/check-runs/{first.ref}")
    assert update.key == f"{BUILD_ID}:github_check:github:queued"


async def test_the_lookup_pages_past_a_hundred_newer_runs_of_the_workflow(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    repo, checks, ref, ours = await with_queued_run(github, store, sealer)
    for n in range(100):  # retried builds of the same commit and workflow, listed before ours
        github.check_runs[8000 + n] = ours | {"id": 8000 + n, "external_id": f"01JOTHER{n}"}

    assert (await checks.send(sent_again(repo, "succeeded"))).ref == ref
    pages = [c.path for c in github.check_calls if c.method == "GET"]
    assert len(pages) == 2
    assert len(github.check_runs) == 101
    assert (ours["status"], ours["conclusion"]) == ("completed", "success")


async def test_the_lookup_reads_only_this_apps_runs(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    repo, checks, ref, ours = await with_queued_run(github, store, sealer)
    # Another app's run of the same name (GitHub Actions' "android" job), newer than ours.
    github.check_runs[9999] = ours | {"id": 9999, "app": {"id": 99, "slug": "actions"}}

    assert (await checks.send(sent_again(repo, "queued"))).ref == ref
    (lookup,) = [c for c in github.check_calls if c.method == "GET"]
    assert lookup.status == 200
    assert github.check_runs[9999]["status"] == "queued"  # untouched


async def test_an_outcome_after_a_lost_queued_answer_completes_that_run(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    """The queued delivery went dead although GitHub made its run (its answer was lost): the
    outcome, with no run id to update, finds that run rather than leaving it queued."""
    repo = await installed_repo(github, store, sealer)
    checks = channel(github, store, sealer)
    await checks.send(delivery(repo, "github_check", "queued"))
    done = await checks.send(delivery(repo, "github_check", "failed"))
    (run,) = github.check_runs.values()
    assert done.ref == str(run["id"])
    assert (run["status"], run["conclusion"]) == ("completed", "failure")


async def test_the_first_attempt_of_queued_creates_without_looking(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    repo = await installed_repo(github, store, sealer)
    await channel(github, store, sealer).send(delivery(repo, "github_check", "queued"))
    assert [c.method for c in github.check_calls] == ["POST"]


async def test_a_refused_lookup_is_mapped_like_any_refusal(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    repo = await installed_repo(github, store, sealer)
    github.refuse_next.append((502, {}))
    again = sent_again(repo, "queued", attempts=2)
    with pytest.raises(DeliveryFailed) as failed:
        await channel(github, store, sealer).send(again)
    assert not failed.value.permanent
    assert "look for the build's check run" in failed.value.why
    assert github.check_runs == {}  # nothing created while GitHub could not say


async def test_a_token_github_refuses_is_replaced_once(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    repo = await installed_repo(github, store, sealer)
    checks = channel(github, store, sealer)
    await checks.send(delivery(repo, "github_check", "queued"))
    github.expire_tokens()  # revoked before its hour was up
    await checks.send(delivery(repo, "github_check", "succeeded", chain_ref="7001"))
    assert [c.status for c in github.check_calls] == [201, 401, 200]
    assert len(github.issued) == 2


@pytest.mark.parametrize(
    ("status", "headers", "retry_after", "permanent"),
    [
        (429, {"Retry-After": "7"}, 7.0, False),
        (502, {}, None, False),
        (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"}, 0.0, False),
        (403, {}, None, True),
        (422, {}, None, True),
        (404, {}, None, True),
    ],
)
async def test_refusals_are_retried_or_given_up_as_github_means_them(
    github: FakeGitHub,
    store: SqliteStore,
    sealer: Sealer,
    status: int,
    headers: dict[str, str],
    retry_after: float | None,
    permanent: bool,
) -> None:
    repo = await installed_repo(github, store, sealer)
    github.refuse_next.append((status, headers))
    with pytest.raises(DeliveryFailed) as failed:
        await channel(github, store, sealer).send(delivery(repo, "github_check", "queued"))
    assert (failed.value.retry_after, failed.value.permanent) == (retry_after, permanent)
    assert f"HTTP {status}" in failed.value.why
    assert github.issued[0].token not in failed.value.why


async def test_no_answer_is_retried(store: SqliteStore, sealer: Sealer, github: FakeGitHub) -> None:
    repo = await installed_repo(github, store, sealer)
    apps = GithubApps(store, sealer, api_url="http://127.0.0.1:9", allow_private=True)
    down = GithubCheckChannel(store, apps, Sender(allow_private=True), base_url=BASE_URL)
    with pytest.raises(DeliveryFailed) as failed:
        await down.send(delivery(repo, "github_check", "queued"))
    assert not failed.value.permanent
    assert "GitHub did not answer (ConnectError)" in failed.value.why


async def test_a_repository_the_installation_does_not_cover_gets_no_run(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    repo = await installed_repo(github, store, sealer)
    other = dataclasses.replace(repo, id="01JOTHER", name="other", github_repo_id=99)
    await store.create_repository(other, RepositorySecrets(None, None))
    with pytest.raises(DeliveryFailed) as failed:
        await channel(github, store, sealer).send(delivery(other, "github_check", "queued"))
    assert failed.value.permanent
    assert "has not reported" in failed.value.why
    assert github.issued == []
    assert github.check_calls == []


async def test_a_removed_repository_is_given_up(
    github: FakeGitHub, store: SqliteStore, sealer: Sealer
) -> None:
    repo = await installed_repo(github, store, sealer)
    await store.delete_repository(repo.id)
    with pytest.raises(DeliveryFailed) as failed:
        await channel(github, store, sealer).send(delivery(repo, "github_check", "queued"))
    assert failed.value.permanent
    assert "was removed" in failed.value.why
