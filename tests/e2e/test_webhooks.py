"""Webhook intake through a real `oored run`: signed deliveries in, stored events out.

Each test plays GitHub or GitLab with httpx against a daemon subprocess on 127.0.0.1, using the
providers' published example payloads, and checks what the daemon answered and what it recorded,
through the same API an operator uses.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode

import httpx
import pytest
import trio

from oore.ids import new_id
from oore.model import Provider as ProviderName
from oore.model import Trigger, WebhookEvent, utcnow
from oore.store.sqlite import open_sqlite_store
from oore.webhooks import Ignored, Malformed, ParseResult, github, gitlab
from tests.e2e.daemon import Daemon
from tests.e2e.webhook_client import (
    FIXTURES,
    GITLAB_HOOKS,
    Operator,
    Provider,
    accepted_id,
    delivery_id,
    error_of,
    fixture,
    signature,
)

SHARED_SECRET = "shared-secret-for-every-unregistered-repository"
HELLO_WORLD_ID = 186853002
NEW_BRANCH_PUSH = "github/push/with-new-branch.payload.json"
HELLO_WORLD_PUSH = {
    "provider": "github",
    "kind": "push",
    "repo_owner": "Codertocat",
    "repo_name": "Hello-World",
    "sha": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
    "repo_provider_id": HELLO_WORLD_ID,
    "branch": "master",
    "tag": None,
    "pr_number": None,
    "pr_source_branch": None,
    "pr_target_branch": None,
    "author": "Codertocat",
    "message": "Initial commit",
    "before_sha": None,
    "from_fork": False,
}
UNKNOWN_ID = "01J0000000000000000000000Z"


@asynccontextmanager
async def connect(daemon: Daemon) -> AsyncIterator[tuple[Provider, Operator]]:
    async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as http:
        yield Provider(http), Operator(http, daemon.headers())


@pytest.fixture
async def shared_daemon(daemon_factory: type[Daemon], tmp_path: Path) -> AsyncIterator[Daemon]:
    """A daemon that also accepts deliveries signed with OORE_GITHUB_WEBHOOK_SECRET."""
    running = await daemon_factory(tmp_path, OORE_GITHUB_WEBHOOK_SECRET=SHARED_SECRET).start()
    yield running
    await running.stop()


async def register_hello_world(operator: Operator, **fields: Any) -> dict[str, Any]:
    return await operator.register(
        "github", "Codertocat", "Hello-World", github_repo_id=HELLO_WORLD_ID, **fields
    )


# --- 1, 2: accepted, processed, deduplicated ----------------------------------------------------


async def test_github_push_is_processed_once_and_redelivery_is_duplicate(daemon: Daemon) -> None:
    async with connect(daemon) as (provider, operator):
        repo = await register_hello_world(operator)
        assert repo["has_webhook_secret"] is True
        assert repo["webhook_url"] == f"{daemon.url}/api/webhooks/github"
        secret = repo["webhook_secret"]
        body = fixture(NEW_BRANCH_PUSH)
        delivery = delivery_id()

        event_id = accepted_id(await provider.github("push", body, secret, delivery=delivery))
        event = await operator.settled(event_id)
        assert event["state"] == "processed"
        assert isinstance(event["reason"], str)
        assert event["repository_id"] == repo["id"]
        assert event["trigger"] == HELLO_WORLD_PUSH
        assert event["processed_at"] is not None

        again = await provider.github("push", body, secret, delivery=delivery)
        assert again.status_code == 200
        assert again.json() == {"status": "duplicate", "event_id": event_id}
        assert [e["id"] for e in await operator.events()] == [event_id]
        assert await operator.event(event_id) == event
        # The secret is write-only: no later read shows it.
        shown = await operator.get(f"/api/repositories/{repo['id']}")
        assert "webhook_secret" not in shown.json()
        assert secret not in shown.text


# --- 3: signatures ------------------------------------------------------------------------------


async def test_only_the_repository_secret_is_accepted(shared_daemon: Daemon) -> None:
    async with connect(shared_daemon) as (provider, operator):
        repo = await register_hello_world(operator)
        body = fixture(NEW_BRANCH_PUSH)
        secret = repo["webhook_secret"]
        legacy = "sha1=" + signature(secret, body).removeprefix("sha256=")
        refused = [
            await provider.github("push", body, SHARED_SECRET),
            await provider.github("push", body, "another-secret-entirely"),
            await provider.github("push", body, None),
            await provider.github("push", body, secret, extra={"X-Hub-Signature-256": legacy}),
            await provider.github("push", body, secret, extra={"X-Hub-Signature-256": "sha256="}),
            await provider.github(
                "push", body, secret, extra={"X-Hub-Signature-256": "sha256=" + "0" * 64}
            ),
            await provider.github(
                "push", body, secret, extra={"X-Hub-Signature-256": signature(secret, body + b" ")}
            ),
        ]
        for index, response in enumerate(refused):
            message = error_of(response, 401, "unauthorized")
            if index == 2:  # no signature at all: said so, not "does not match"
                assert message.startswith("the X-Hub-Signature-256 header is missing")
                continue
            assert message == "X-Hub-Signature-256 does not match this repository's webhook secret"
        assert await operator.events() == []

        # The shared secret still covers a repository that is not registered.
        other = fixture("github/ping/payload.json")
        accepted_id(await provider.github("ping", other, SHARED_SECRET))
        error_of(await provider.github("ping", other, repo["webhook_secret"]), 401, "unauthorized")
        accepted_id(await provider.github("push", body, repo["webhook_secret"]))
        assert len(await operator.events()) == 2


async def test_without_shared_secret_unregistered_repository_is_refused(daemon: Daemon) -> None:
    async with connect(daemon) as (provider, operator):
        response = await provider.github("push", fixture(NEW_BRANCH_PUSH), "any-secret-at-all")
        message = error_of(response, 401, "unauthorized")
        assert "OORE_GITHUB_WEBHOOK_SECRET is not set" in message
        assert await operator.events() == []


# --- 4: unregistered, then registered and reprocessed -------------------------------------------


async def test_unknown_repository_is_ignored_until_registered_and_reprocessed(
    shared_daemon: Daemon,
) -> None:
    async with connect(shared_daemon) as (provider, operator):
        event_id = accepted_id(
            await provider.github("push", fixture(NEW_BRANCH_PUSH), SHARED_SECRET)
        )
        ignored = await operator.settled(event_id)
        assert ignored["state"] == "ignored"
        assert ignored["repository_id"] is None
        assert ignored["trigger"] is None
        assert ignored["reason"] == (
            "no github repository Codertocat/Hello-World is registered; add it with "
            "POST /api/repositories, then reprocess this event"
        )

        repo = await register_hello_world(operator)
        reprocess = await operator.post(f"/api/webhooks/events/{event_id}/reprocess")
        assert reprocess.status_code == 202, reprocess.text
        assert reprocess.json()["id"] == event_id
        assert reprocess.json()["state"] == "pending"
        assert reprocess.json()["processed_at"] is None

        processed = await operator.settled(event_id)
        assert processed["state"] == "processed"
        assert processed["repository_id"] == repo["id"]
        assert processed["trigger"] == HELLO_WORLD_PUSH
        assert [e["id"] for e in await operator.events()] == [event_id]
        missing = await operator.post(f"/api/webhooks/events/{UNKNOWN_ID}/reprocess")
        error_of(missing, 404, "not_found")


# --- 5: ignored and failed events ---------------------------------------------------------------


async def test_unbuilt_events_are_ignored_and_malformed_ones_failed(shared_daemon: Daemon) -> None:
    async with connect(shared_daemon) as (provider, operator):
        repo = await register_hello_world(operator)
        secret = repo["webhook_secret"]
        no_after = json.loads(fixture(NEW_BRANCH_PUSH))
        del no_after["after"]
        bad_sha = json.loads(fixture("github/pull_request/opened.payload.json"))
        bad_sha["pull_request"]["head"]["sha"] = "main"
        sent = {
            "ping": ("ping", fixture("github/ping/payload.json"), SHARED_SECRET),
            "closed": ("pull_request", fixture("github/pull_request/closed.payload.json"), secret),
            "tag deletion": ("push", fixture("github/push/payload.json"), secret),
            "installation": (
                "installation",
                fixture("github/installation/created.payload.json"),
                SHARED_SECRET,
            ),
            "release": ("release", fixture("github/release/published.payload.json"), secret),
            "no after": ("push", json.dumps(no_after).encode(), secret),
            "bad sha": ("pull_request", json.dumps(bad_sha).encode(), secret),
        }
        ids = {
            name: accepted_id(await provider.github(event, body, key))
            for name, (event, body, key) in sent.items()
        }
        outcomes = {}
        for name, event_id in ids.items():
            event = await operator.settled(event_id)
            assert event["trigger"] is None, name
            outcomes[name] = (event["state"], event["reason"])
        assert outcomes == {
            "ping": ("ignored", "ping"),
            "closed": ("ignored", "pull_request action 'closed' is not built"),
            "tag deletion": ("ignored", "tag deletion is not built"),
            "installation": (
                "ignored",
                "installation event: applied to the GitHub App's installations on receipt",
            ),
            "release": ("ignored", "event 'release' is not built"),
            "no after": ("failed", "push payload: 'after' is missing"),
            "bad sha": (
                "failed",
                "pull_request payload: 'pull_request.head.sha' is not a commit sha: 'main'",
            ),
        }


async def test_inactive_repository_events_are_ignored(daemon: Daemon) -> None:
    async with connect(daemon) as (provider, operator):
        repo = await register_hello_world(operator, active=False)
        body = fixture(NEW_BRANCH_PUSH)
        event_id = accepted_id(await provider.github("push", body, repo["webhook_secret"]))
        event = await operator.settled(event_id)
        assert (event["state"], event["reason"]) == (
            "ignored",
            "repository Codertocat/Hello-World is inactive",
        )
        assert event["repository_id"] == repo["id"]


# --- 6: bad requests ----------------------------------------------------------------------------


async def test_bad_json_and_missing_headers_are_400_without_a_row(shared_daemon: Daemon) -> None:
    async with connect(shared_daemon) as (provider, operator):
        repo = await register_hello_world(operator)
        body = fixture(NEW_BRANCH_PUSH)
        bad_json = await provider.github("push", b'{"ref": "refs/heads/main",', SHARED_SECRET)
        assert error_of(bad_json, 400, "bad_request").startswith("the payload is not valid JSON")
        array = await provider.github("push", b"[1, 2]", SHARED_SECRET)
        assert error_of(array, 400, "bad_request") == "the payload must be a JSON object"
        not_utf8 = await provider.github("push", b'{"a": "\xff"}', SHARED_SECRET)
        assert error_of(not_utf8, 400, "bad_request").startswith("the payload is not valid JSON")
        for header in ("X-GitHub-Event", "X-GitHub-Delivery"):
            missing = await provider.github("push", body, repo["webhook_secret"], omit=(header,))
            assert error_of(missing, 400, "bad_request") == f"the {header} header is missing"
        blank = await provider.github(
            "push", body, repo["webhook_secret"], extra={"X-GitHub-Delivery": ""}
        )
        assert error_of(blank, 400, "bad_request") == "the X-GitHub-Delivery header is missing"
        long = await provider.github("push", body, repo["webhook_secret"], delivery="d" * 201)
        assert error_of(long, 400, "bad_request") == (
            "the X-GitHub-Delivery header is longer than 200 characters"
        )
        assert await operator.events() == []
        health = await provider.http.get("/api/health")
        assert health.status_code == 200


# --- 7: body size -------------------------------------------------------------------------------


# The daemon answers 413 as soon as the body passes the limit and closes the connection, so
# httpx stops iterating the request's async generator before its end.
@pytest.mark.filterwarnings("ignore:Async generator:ResourceWarning")
async def test_oversized_bodies_are_413_declared_or_chunked(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    small = await daemon_factory(
        tmp_path, OORE_MAX_BODY_BYTES="2000", OORE_GITHUB_WEBHOOK_SECRET=SHARED_SECRET
    ).start()
    big = json.dumps({"zen": "x" * 3000}).encode()
    headers = {
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": delivery_id(),
        "X-Hub-Signature-256": signature(SHARED_SECRET, big),
        "Content-Type": "application/json",
    }

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 500):
            yield big[start : start + 500]

    async with connect(small) as (provider, operator):
        declared = await provider.http.post("/api/webhooks/github", content=big, headers=headers)
        assert error_of(declared, 413, "payload_too_large") == (
            "the request body is over the 2000-byte limit"
        )
        # Its own connection: the daemon leaves a connection it refused this way open and
        # sometimes never answers on it again (see test_refused_chunked_body_closes_connection).
        async with httpx.AsyncClient(base_url=small.url, timeout=10) as once:
            chunked = await once.post("/api/webhooks/github", content=chunks(), headers=headers)
        assert "content-length" not in chunked.request.headers
        assert chunked.request.headers["transfer-encoding"] == "chunked"
        # Cut off while it is read, with the same answer as a declared length over the limit.
        assert chunked.status_code == 413, chunked.text
        assert chunked.json()["error"] == {
            "code": "payload_too_large",
            "message": "the request body is over the 2000-byte limit",
        }

        assert (await provider.http.get("/api/health")).status_code == 200
        assert await operator.events() == []
        small_ping = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()

        async def one_chunk() -> AsyncIterator[bytes]:
            yield small_ping

        under = await provider.http.post(
            "/api/webhooks/github",
            content=one_chunk(),
            headers={**headers, "X-Hub-Signature-256": signature(SHARED_SECRET, small_ping)},
        )
        event = await operator.settled(accepted_id(under))
        assert (event["state"], event["reason"]) == ("ignored", "ping")
    assert await small.stop() == 0


# The daemon answers 413 as soon as the body passes the limit and closes the connection, so
# httpx stops iterating the request's async generator before its end.
@pytest.mark.filterwarnings("ignore:Async generator:ResourceWarning")
async def test_refused_chunked_body_closes_connection(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    small = await daemon_factory(tmp_path, OORE_MAX_BODY_BYTES="2000").start()

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 500

    async with httpx.AsyncClient(base_url=small.url, timeout=10) as http:
        refused = await http.post("/api/webhooks/github", content=chunks())
    assert refused.status_code == 413
    assert refused.headers.get("connection") == "close"
    assert refused.json()["error"]["code"] == "payload_too_large"


# --- 8: form-encoded GitHub deliveries ----------------------------------------------------------


async def test_form_encoded_delivery_is_verified_on_the_raw_body(daemon: Daemon) -> None:
    async with connect(daemon) as (provider, operator):
        repo = await register_hello_world(operator)
        form = urlencode({"payload": fixture(NEW_BRANCH_PUSH).decode()}).encode()
        content_type = "application/x-www-form-urlencoded"
        wrong = await provider.github(
            "push",
            form,
            repo["webhook_secret"],
            content_type=content_type,
            extra={
                "X-Hub-Signature-256": signature(repo["webhook_secret"], fixture(NEW_BRANCH_PUSH))
            },
        )
        error_of(wrong, 401, "unauthorized")
        # A form without 'payload' names no repository, so no secret can vouch for it.
        no_payload = urlencode({"other": fixture(NEW_BRANCH_PUSH).decode()}).encode()
        missing = await provider.github(
            "push", no_payload, repo["webhook_secret"], content_type=content_type
        )
        assert "OORE_GITHUB_WEBHOOK_SECRET is not set" in error_of(missing, 401, "unauthorized")

        response = await provider.github(
            "push", form, repo["webhook_secret"], content_type=content_type
        )
        event = await operator.settled(accepted_id(response))
        assert event["state"] == "processed"
        assert event["trigger"] == HELLO_WORLD_PUSH
        assert event["headers"]["Content-Type"] == content_type
        assert event["size"] == len(form)


# --- 9: GitLab ----------------------------------------------------------------------------------


async def test_gitlab_deliveries(daemon: Daemon) -> None:
    push, tag_push = (
        fixture("gitlab/push/docs.push.json"),
        fixture("gitlab/tag_push/docs.tag_push.json"),
    )
    merge_request = fixture("gitlab/merge_request/docs.merge_request.open.json")
    async with connect(daemon) as (provider, operator):
        diaspora = await operator.register("gitlab", "mike", "diaspora", gitlab_project_id=15)
        assert diaspora["webhook_url"] == f"{daemon.url}/api/webhooks/gitlab/{diaspora['id']}"
        example = await operator.register("gitlab", "jsmith", "example", gitlab_project_id=1)
        hello = await register_hello_world(operator)
        token = diaspora["webhook_secret"]

        wrong = await provider.gitlab(diaspora["id"], "Push Hook", push, example["webhook_secret"])
        assert error_of(wrong, 401, "unauthorized") == (
            "X-Gitlab-Token does not match this repository's secret token"
        )
        error_of(
            await provider.gitlab(diaspora["id"], "Push Hook", push, None), 401, "unauthorized"
        )
        error_of(await provider.gitlab(diaspora["id"], "Push Hook", push, ""), 401, "unauthorized")
        other_project = await provider.gitlab(diaspora["id"], "Tag Push Hook", tag_push, token)
        assert error_of(other_project, 400, "bad_request") == (
            "the payload is for GitLab project 1, but repository mike/diaspora is project 15"
        )
        unknown = await provider.gitlab(UNKNOWN_ID, "Push Hook", push, token)
        error_of(unknown, 404, "not_found")
        github_repo = await provider.gitlab(hello["id"], "Push Hook", push, hello["webhook_secret"])
        error_of(github_repo, 400, "bad_request")
        bad_json = await provider.gitlab(diaspora["id"], "Push Hook", b"{not json", token)
        assert error_of(bad_json, 400, "bad_request").startswith("the payload is not valid JSON")
        no_event = await provider.http.post(
            f"/api/webhooks/gitlab/{diaspora['id']}",
            content=push,
            headers={"X-Gitlab-Token": token},
        )
        assert error_of(no_event, 400, "bad_request") == "the X-Gitlab-Event header is missing"
        assert await operator.events() == []

        pushed = await operator.settled(
            accepted_id(await provider.gitlab(diaspora["id"], "Push Hook", push, token))
        )
        tagged = await operator.settled(
            accepted_id(
                await provider.gitlab(
                    example["id"], "Tag Push Hook", tag_push, example["webhook_secret"]
                )
            )
        )
        merged = await operator.settled(
            accepted_id(
                await provider.gitlab(
                    example["id"], "Merge Request Hook", merge_request, example["webhook_secret"]
                )
            )
        )
        assert (pushed["state"], pushed["repository_id"]) == ("processed", diaspora["id"])
        expected = gitlab.parse("Push Hook", push)
        assert isinstance(expected, Trigger)
        assert pushed["trigger"] == expected.to_json()
        assert pushed["trigger"]["kind"] == "push"
        assert pushed["trigger"]["branch"] == "master"
        assert pushed["trigger"]["sha"] == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
        assert (tagged["state"], tagged["repository_id"]) == ("processed", example["id"])
        assert tagged["trigger"]["kind"] == "tag"
        assert tagged["trigger"]["tag"] == "v1.0.0"
        assert tagged["trigger"]["sha"] == "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"
        assert (merged["state"], merged["repository_id"]) == ("processed", example["id"])
        assert merged["trigger"]["kind"] == "pull_request"
        assert merged["trigger"]["pr_number"] == 1
        assert merged["trigger"]["pr_source_branch"] == "ms-viewport"
        assert merged["headers"]["X-Gitlab-Event"] == "Merge Request Hook"
        assert "X-Gitlab-Token" not in merged["headers"]

        # Without X-Gitlab-Event-UUID the body itself is the delivery's identity.
        first = await provider.gitlab(diaspora["id"], "Push Hook", push, token, event_uuid=None)
        first_id = accepted_id(first)
        second = await provider.gitlab(diaspora["id"], "Push Hook", push, token, event_uuid=None)
        assert second.status_code == 200
        assert second.json() == {"status": "duplicate", "event_id": first_id}
        assert len(await operator.events(provider="gitlab")) == 4


# --- 10: every published example through the daemon, against the parser ------------------------

GITHUB_REPOSITORIES = [
    ("Codertocat", "Hello-World", HELLO_WORLD_ID),
    ("Octocoders", "Hello-World", 186853261),
    ("electron", "electron", 9384267),
    ("octo-org", "octo-repo", 300029405),
]
# GitLab fixtures route by the repository in the URL; one repository per project id they name
# (None: the example has no project id, so its repository is registered without one).
GITLAB_REPOSITORIES = {
    1: ("gitlab-org", "gitlab-test"),
    2: ("test", "woodpecker"),
    15: ("mike", "diaspora"),
    None: ("exm-namespace", "example-project"),
}


class Outcome(NamedTuple):
    """How a delivery ended (a processed event's reason is the build planner's: not compared)."""

    state: str
    reason: str | None
    trigger: dict[str, Any] | None
    repository_id: str | None


def predicted(result: ParseResult, repository_id: str | None) -> Outcome:
    if isinstance(result, Trigger):
        return Outcome("processed", None, result.to_json(), repository_id)
    if isinstance(result, Ignored):
        return Outcome("ignored", result.reason, None, repository_id)
    assert isinstance(result, Malformed)
    return Outcome("failed", result.reason, None, repository_id)


def recorded(event: dict[str, Any]) -> Outcome:
    reason = None if event["state"] == "processed" else event["reason"]
    return Outcome(event["state"], reason, event["trigger"], event["repository_id"])


async def test_every_fixture_ends_as_the_parser_says(shared_daemon: Daemon) -> None:
    async with connect(shared_daemon) as (provider, operator):
        github_repos = {}
        for owner, name, provider_id in GITHUB_REPOSITORIES:
            repo = await operator.register("github", owner, name, github_repo_id=provider_id)
            github_repos[(owner, name)] = repo
        gitlab_repos = {}
        for project, (namespace, name) in GITLAB_REPOSITORIES.items():
            ids = {} if project is None else {"gitlab_project_id": project}
            gitlab_repos[project] = await operator.register("gitlab", namespace, name, **ids)

        expected: dict[str, tuple[str, Outcome]] = {}
        for path in sorted((FIXTURES / "github").glob("*/*.json")):
            event, body = path.parent.name, path.read_bytes()
            identity = github.identify(body)
            named = github_repos.get((identity.owner, identity.name)) if identity else None
            secret = named["webhook_secret"] if named else SHARED_SECRET
            event_id = accepted_id(await provider.github(event, body, secret))
            outcome = predicted(github.parse(event, body), named["id"] if named else None)
            expected[event_id] = (str(path.relative_to(FIXTURES)), outcome)
        for path in sorted((FIXTURES / "gitlab").glob("*/*.json")):
            event, body = GITLAB_HOOKS[path.parent.name], path.read_bytes()
            repo = gitlab_repos[gitlab.project_id(body)]
            response = await provider.gitlab(repo["id"], event, body, repo["webhook_secret"])
            outcome = predicted(gitlab.parse(event, body), repo["id"])
            expected[accepted_id(response)] = (str(path.relative_to(FIXTURES)), outcome)
        assert len(expected) == len(list(FIXTURES.glob("*/*/*.json"))) > 50
        assert {o.state for _, o in expected.values()} == {"processed", "ignored"}

        await operator.all_settled()
        mismatches = []
        for event_id, (name, outcome) in expected.items():
            got = recorded(await operator.event(event_id))
            if got != outcome:
                mismatches.append((name, got, outcome))
        assert mismatches == []


# --- 11: nothing acknowledged is lost -----------------------------------------------------------


def trigger_lines(daemon: Daemon, event_id: str) -> list[str]:
    """What the repository supervisor logged for an event: one line per trigger it acted on."""
    return [
        line
        for line in daemon.log().splitlines()
        if re.search(rf"\boore\.actors\.repository: .*\b{event_id}\b", line)
    ]


async def test_event_stored_before_a_crash_is_processed_once_on_restart(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    oored = await daemon_factory(tmp_path).start()
    async with connect(oored) as (_, operator):
        repo = await register_hello_world(operator)
    assert await oored.stop() == 0

    # Exactly what the receiver writes before it answers 202, then no ingester ever ran.
    body, delivery = fixture(NEW_BRANCH_PUSH), delivery_id()
    stored = WebhookEvent(
        id=new_id(),
        provider=ProviderName.GITHUB,
        event_type="push",
        delivery_id=delivery,
        received_at=utcnow(),
        repository_id=repo["id"],
        headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery},
        body=body,
    )
    async with open_sqlite_store(oored.data_dir / "oore.db") as store:
        assert await store.insert_event(stored) == (stored.id, True)
        assert await store.pending_event_ids() == [stored.id]

    await oored.start()
    async with connect(oored) as (provider, operator):
        event = await operator.settled(stored.id)
        assert (event["state"], event["trigger"]) == ("processed", HELLO_WORLD_PUSH)
        assert event["repository_id"] == repo["id"]
        duplicate = await provider.github("push", body, repo["webhook_secret"], delivery=delivery)
        assert duplicate.json() == {"status": "duplicate", "event_id": stored.id}
    assert await oored.stop() == 0

    # A further start sweeps again and finds nothing to do: the event was closed once.
    await oored.start()
    async with connect(oored) as (_, operator):
        assert await operator.event(stored.id) == event
        assert await operator.events(state="pending") == []
    assert await oored.stop() == 0
    assert len(trigger_lines(oored, stored.id)) == 1, oored.log()


async def test_kill_9_after_a_burst_loses_no_acknowledged_event(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    oored = await daemon_factory(tmp_path).start()
    body = fixture(NEW_BRANCH_PUSH)
    acknowledged: list[str] = []
    async with connect(oored) as (provider, operator):
        repo = await register_hello_world(operator)

        async def deliver() -> None:
            response = await provider.github("push", body, repo["webhook_secret"])
            acknowledged.append(accepted_id(response))

        async with trio.open_nursery() as nursery:
            for _ in range(50):
                nursery.start_soon(deliver)
    oored.kill()
    assert oored.process is not None
    assert oored.process.returncode == -9
    assert len(set(acknowledged)) == 50

    await oored.start()
    async with connect(oored) as (_, operator):
        events = await operator.all_settled()
        assert sorted(e["id"] for e in events) == sorted(acknowledged)
        assert {e["state"] for e in events} == {"processed"}
    assert await oored.stop() == 0
    for event_id in acknowledged:
        assert len(trigger_lines(oored, event_id)) <= 1


# --- 12: the events API -------------------------------------------------------------------------


async def test_events_api_filters_pages_and_details(shared_daemon: Daemon) -> None:
    async with connect(shared_daemon) as (provider, operator):
        hello = await register_hello_world(operator)
        # No project id: this repository takes payloads of any project (the pipeline is for 1).
        diaspora = await operator.register("gitlab", "mike", "diaspora")
        push_body = fixture(NEW_BRANCH_PUSH)
        push_delivery = delivery_id()
        sent = [
            await provider.github(
                "push", push_body, hello["webhook_secret"], delivery=push_delivery
            ),
            await provider.github(
                "pull_request",
                fixture("github/pull_request/closed.payload.json"),
                hello["webhook_secret"],
            ),
            await provider.github("ping", fixture("github/ping/payload.json"), SHARED_SECRET),
            await provider.gitlab(
                diaspora["id"],
                "Push Hook",
                fixture("gitlab/push/docs.push.json"),
                diaspora["webhook_secret"],
            ),
            await provider.gitlab(
                diaspora["id"],
                "Pipeline Hook",
                fixture("gitlab/pipeline/docs.pipeline.json"),
                diaspora["webhook_secret"],
            ),
        ]
        push, closed, ping, gl_push, gl_pipeline = (accepted_id(r) for r in sent)
        newest_first = [gl_pipeline, gl_push, ping, closed, push]
        everything = await operator.all_settled()
        assert [e["id"] for e in everything] == newest_first
        received = [e["received_at"] for e in everything]
        assert received == sorted(received, reverse=True)

        async def ids(**params: str) -> list[str]:
            return [e["id"] for e in await operator.events(**params)]

        assert await ids(provider="gitlab") == [gl_pipeline, gl_push]
        assert await ids(provider="github") == [ping, closed, push]
        assert await ids(state="ignored") == [gl_pipeline, ping, closed]
        assert await ids(state="processed") == [gl_push, push]
        assert await ids(state="failed") == []
        assert await ids(repository=hello["id"]) == [closed, push]
        assert await ids(repository=diaspora["id"], state="processed") == [gl_push]
        assert await ids(repository=UNKNOWN_ID) == []

        walked, pages, cursor = [], 0, None
        while True:
            params = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
            page = (await operator.get("/api/webhooks/events", **params)).json()
            pages += 1
            assert len(page["items"]) <= 2
            walked += [e["id"] for e in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert (walked, pages) == (newest_first, 3)

        for field, params in (
            ("state", {"state": "bogus"}),
            ("provider", {"provider": "bitbucket"}),
            ("limit", {"limit": "0"}),
            ("limit", {"limit": "many"}),
        ):
            refused = await operator.get("/api/webhooks/events", **params)
            message = error_of(refused, 422, "validation_error")
            assert refused.json()["error"]["field"] == field
            assert message.startswith(f"{field}: ")
        bogus = await operator.get("/api/webhooks/events", state="bogus")
        assert bogus.json()["error"]["message"] == (
            "state: must be one of pending, processed, ignored, failed"
        )
        error_of(await operator.get(f"/api/webhooks/events/{UNKNOWN_ID}"), 404, "not_found")

        detail = await operator.event(push)
        assert detail == {
            "id": push,
            "provider": "github",
            "event_type": "push",
            "delivery_id": push_delivery,
            "repository_id": hello["id"],
            "state": "processed",
            "reason": detail["reason"],
            "received_at": detail["received_at"],
            "processed_at": detail["processed_at"],
            "headers": {
                "X-GitHub-Event": "push",
                "X-GitHub-Delivery": push_delivery,
                "X-GitHub-Hook-ID": "292430182",
                "Content-Type": "application/json",
                "User-Agent": "GitHub-Hookshot/e2e",
            },
            "payload": json.loads(push_body),
            "size": len(push_body),
            "trigger": HELLO_WORLD_PUSH,
            "workflows": [],  # its fetch failed: no pipeline file was read
            "builds": detail["builds"],
        }
        # Builds come with build execution; until then a processed event has none.
        assert isinstance(detail["builds"], list)
        assert detail["processed_at"] >= detail["received_at"]
        ignored = await operator.event(ping)
        assert (ignored["state"], ignored["reason"], ignored["trigger"]) == (
            "ignored",
            "ping",
            None,
        )
        assert ignored["repository_id"] is None
        assert ignored["builds"] == []
        assert "X-Hub-Signature-256" not in ignored["headers"]


# --- 13: who may call what ----------------------------------------------------------------------


async def test_tokens_scopes_and_public_webhooks(daemon: Daemon) -> None:
    async with connect(daemon) as (provider, operator):
        http = provider.http

        async def token(scope: str) -> dict[str, Any]:
            created = await operator.post("/api/tokens", {"name": f"{scope} bot", "scope": scope})
            assert created.status_code == 201, created.text
            assert created.json()["scope"] == scope
            return dict(created.json())

        reader, writer = await token("read"), await token("write")
        as_reader = {"Authorization": f"Bearer {reader['token']}"}
        as_writer = {"Authorization": f"Bearer {writer['token']}"}
        listed = (await operator.get("/api/tokens")).json()["items"]
        assert {t["id"] for t in listed} == {reader["id"], writer["id"]}
        assert reader["token"] not in json.dumps(listed)

        new_repo = {
            "provider": "github",
            "owner": "Codertocat",
            "name": "Hello-World",
            "clone_url": "file:///srv/git/hello.git",
        }
        assert (await http.get("/api/repositories", headers=as_reader)).status_code == 200
        assert (await http.get("/api/webhooks/events", headers=as_reader)).status_code == 200
        read_write = await http.post("/api/repositories", json=new_repo, headers=as_reader)
        assert error_of(read_write, 403, "forbidden") == (
            "this token has read scope; this request needs a write token"
        )
        created = await http.post("/api/repositories", json=new_repo, headers=as_writer)
        assert created.status_code == 201, created.text
        admin_only = [
            await http.post("/api/tokens", json={"name": "x", "scope": "read"}, headers=as_writer),
            await http.get("/api/tokens", headers=as_writer),
            await http.get("/api/tokens", headers=as_reader),
        ]
        for response in admin_only:
            assert error_of(response, 403, "forbidden") == "this endpoint needs the admin token"

        # Webhook endpoints are public: no bearer token, and a bad one changes nothing.
        body, secret = fixture(NEW_BRANCH_PUSH), created.json()["webhook_secret"]
        event_id = accepted_id(await provider.github("push", body, secret))
        with_junk = await http.post(
            "/api/webhooks/github",
            content=body,
            headers={
                "Authorization": "Bearer not-a-token",
                "X-GitHub-Event": "push",
                "X-GitHub-Delivery": delivery_id(),
                "X-Hub-Signature-256": signature(secret, body),
            },
        )
        accepted_id(with_junk)
        reprocess = f"/api/webhooks/events/{event_id}/reprocess"
        error_of(await http.post(reprocess), 401, "unauthorized")
        error_of(await http.post(reprocess, headers=as_reader), 403, "forbidden")

        revoked = await http.delete(f"/api/tokens/{reader['id']}", headers=daemon.headers())
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        gone = await http.get("/api/repositories", headers=as_reader)
        assert error_of(gone, 401, "unauthorized") == "the token is not valid or was revoked"
        assert (await http.get("/api/repositories", headers=as_writer)).status_code == 200
        for headers in (
            {},
            {"Authorization": "Bearer not-a-token"},
            {"Authorization": f"Basic {writer['token']}"},
            {"Authorization": "Bearer"},
        ):
            error_of(await http.get("/api/repositories", headers=headers), 401, "unauthorized")
            error_of(await http.get("/api/webhooks/events", headers=headers), 401, "unauthorized")
