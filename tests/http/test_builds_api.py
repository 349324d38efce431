"""Builds over HTTP: listing with filters and cursors, detail, steps, log, artifacts, downloads,
manual triggers (body rules, then the real build queue), cancel and retry.

Rows are put in through the real store; the in-process app runs the daemon's actors, so a
trigger, cancel or retry is answered by the real RepositorySupervisor. Repositories point at
local paths only (a real git repository where a build is meant to run).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client
from quart_trio import QuartTrio

from oore.http.services import Services
from oore.ids import new_id
from oore.logs.hub import DISK_SLICE_LINES
from oore.logs.logfile import LogWriter
from oore.model import (
    Artifact,
    Build,
    BuildStatus,
    Provider,
    Repository,
    Step,
    StepStatus,
    Trigger,
    TriggerKind,
    utcnow,
)
from oore.store.base import BuildFilter, RepositorySecrets
from tests.e2e.gitrepo import GitRepo

SHA = "a" * 40
T0 = "2024-05-01T10:00:00.000Z"
T1 = "2024-05-01T10:01:30.500Z"


async def add_repository(
    services: Services, name: str = "app", clone_url: str | None = None
) -> Repository:
    now = utcnow()
    repo = Repository(
        id=new_id(),
        provider=Provider.GITHUB,
        owner="acme",
        name=name,
        # Never fetched unless a build starts; a path that cannot exist rather than a network URL.
        clone_url=clone_url or f"file:///nonexistent/acme/{name}.git",
        created_at=now,
        updated_at=now,
    )
    await services.store.create_repository(repo, RepositorySecrets(None, None))
    return repo


async def add_build(
    services: Services,
    repository_id: str,
    *,
    build_id: str | None = None,
    workflow: str = "ios",
    branch: str = "main",
    status: BuildStatus = BuildStatus.QUEUED,
    **fields: Any,
) -> Build:
    """A build row as the planner would store it; pass ids from `sorted_ids` to fix the order."""
    build = Build(
        id=build_id or new_id(),
        repository_id=repository_id,
        number=0,
        workflow=workflow,
        status=status,
        trigger=Trigger(Provider.GITHUB, TriggerKind.PUSH, "acme", "app", SHA, branch=branch),
        created_at=utcnow(),
        **fields,
    )
    return await services.store.create_build(build)


async def add_artifact(
    services: Services, build_id: str, name: str, data: bytes, *, keep_file: bool = True
) -> Artifact:
    artifact = Artifact(
        id=new_id(),
        build_id=build_id,
        name=name,
        path=f"{build_id}/{name}",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="application/octet-stream",
        created_at=utcnow(),
    )
    if keep_file:
        target = services.paths.artifacts / artifact.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    await services.store.add_artifacts([artifact])
    return artifact


def write_log(services: Services, build_id: str, lines: list[tuple[int, str, str]]) -> None:
    """Lines as the LogStreamer writes them: (step, stream, text) each."""
    services.paths.logs.mkdir(parents=True, exist_ok=True)
    writer = LogWriter(services.paths.logs, build_id)
    try:
        for step, stream, text in lines:
            writer.append(step, stream, f"{text}\n".encode())
    finally:
        writer.close()


def sorted_ids(count: int) -> list[str]:
    # new_id() is monotonic within the process: ids made in turn sort in creation order.
    return [new_id() for _ in range(count)]


@pytest.fixture
def client(app: QuartTrio) -> Client:
    return app.test_client()


@pytest.fixture
def admin(services: Services) -> dict[str, str]:
    assert services.settings.admin_token is not None
    return {"Authorization": f"Bearer {services.settings.admin_token}"}


async def get_json(
    client: Client, url: str, headers: dict[str, str], status: int = 200, **kw: Any
) -> Any:
    response = await client.get(url, headers=headers, **kw)
    assert response.status_code == status, await response.get_data()
    return await response.get_json()


async def ids_of(client: Client, admin: dict[str, str], **query: str) -> list[str]:
    page = await get_json(client, "/api/builds", admin, query_string=query)
    return [item["id"] for item in page["items"]]


# --- listing -----------------------------------------------------------------------------


async def test_list_filters_by_repository_status_branch_and_workflow(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    one, two = await add_repository(services, "one"), await add_repository(services, "two")
    i1, i2, i3, i4 = sorted_ids(4)
    await add_build(services, one.id, build_id=i1)
    await add_build(services, one.id, build_id=i2, workflow="android", status=BuildStatus.FAILED)
    await add_build(services, one.id, build_id=i3, branch="dev", status=BuildStatus.FAILED)
    await add_build(services, two.id, build_id=i4)

    assert await ids_of(client, admin) == [i4, i3, i2, i1]
    assert await ids_of(client, admin, repository=one.id) == [i3, i2, i1]
    assert await ids_of(client, admin, repository=two.id) == [i4]
    assert await ids_of(client, admin, status="failed") == [i3, i2]
    assert await ids_of(client, admin, branch="dev") == [i3]
    assert await ids_of(client, admin, workflow="android") == [i2]
    assert await ids_of(client, admin, repository=one.id, status="queued", branch="main") == [i1]
    assert await ids_of(client, admin, repository=new_id()) == []
    # Numbered per repository: one's third build and two's first.
    assert await ids_of(client, admin, number="3") == [i3]
    assert await ids_of(client, admin, number="1") == [i4, i1]
    assert await ids_of(client, admin, repository=two.id, number="1") == [i4]
    for bad in ("0", "x"):
        response = await client.get("/api/builds", query_string={"number": bad}, headers=admin)
        assert response.status_code == 422
        assert (await response.get_json())["error"]["field"] == "number"


async def test_list_pages_newest_first_with_a_cursor(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    ids = sorted_ids(5)
    for build_id in ids:
        await add_build(services, repo.id, build_id=build_id)
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = await get_json(client, "/api/builds", admin, query_string=query)
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor, pages = page["next_cursor"], pages + 1
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert pages == 3
    numbers = [b["number"] for b in (await get_json(client, "/api/builds", admin))["items"]]
    assert numbers == [5, 4, 3, 2, 1]


@pytest.mark.parametrize(
    ("query", "field"),
    [({"status": "done"}, "status"), ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit")],
)
async def test_bad_list_query_is_422_naming_the_parameter(
    client: Client, admin: dict[str, str], query: dict[str, str], field: str
) -> None:
    body = await get_json(client, "/api/builds", admin, 422, query_string=query)
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["field"] == field


# --- one build ---------------------------------------------------------------------------


async def test_detail_has_steps_durations_and_trigger(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    build = await add_build(
        services,
        repo.id,
        status=BuildStatus.FAILED,
        started_at=T0,
        finished_at=T1,
        error="step 2 failed",
        inputs={"flavor": "beta"},
        extra_env={"B": "value-of-b", "A": "value-of-a"},
    )
    await services.store.create_steps(
        [
            Step(new_id(), build.id, 0, "Get packages", StepStatus.SUCCEEDED, T0, T1, 0),
            Step(new_id(), build.id, 1, "Test", StepStatus.FAILED, T0, None, 1, error="exit 1"),
            Step(new_id(), build.id, 2, "Notify", kind="publishing"),
        ]
    )
    response = await client.get(f"/api/builds/{build.id}", headers=admin)
    assert b"value-of-" not in await response.get_data()
    detail = await response.get_json()
    assert (detail["id"], detail["status"], detail["number"]) == (build.id, "failed", 1)
    assert (detail["branch"], detail["sha"], detail["kind"]) == ("main", SHA, "push")
    # The stored trigger is typed; the API still shows it as the JSON object it always was.
    assert detail["trigger"] == {
        "provider": "github",
        "kind": "push",
        "repo_owner": "acme",
        "repo_name": "app",
        "sha": SHA,
        "repo_provider_id": None,
        "branch": "main",
        "tag": None,
        "pr_number": None,
        "pr_source_branch": None,
        "pr_target_branch": None,
        "author": None,
        "message": None,
        "before_sha": None,
        "from_fork": False,
    }
    assert detail["duration_seconds"] == 90.5
    assert detail["reason"] == "step 2 failed"
    assert detail["queue_position"] is None
    assert detail["inputs"] == {"flavor": "beta"}
    assert detail["env_names"] == ["A", "B"]
    assert [(s["index"], s["name"], s["status"]) for s in detail["steps"]] == [
        (0, "Get packages", "succeeded"),
        (1, "Test", "failed"),
        (2, "Notify", "pending"),
    ]
    assert [s["duration_seconds"] for s in detail["steps"]] == [90.5, None, None]
    assert [s["exit_code"] for s in detail["steps"]] == [0, 1, None]
    assert detail["steps"][1]["reason"] == "exit 1"
    assert detail["steps"][2]["kind"] == "publishing"
    steps = await get_json(client, f"/api/builds/{build.id}/steps", admin)
    assert steps == {"items": detail["steps"]}


async def test_queue_position_counts_queued_builds_in_order(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    one, two = await add_repository(services, "one"), await add_repository(services, "two")
    first, running, second, third = sorted_ids(4)
    await add_build(services, one.id, build_id=first)
    await add_build(services, one.id, build_id=running, status=BuildStatus.RUNNING, started_at=T0)
    await add_build(services, two.id, build_id=second)
    await add_build(services, one.id, build_id=third, workflow="android")
    positions = {
        build_id: (await get_json(client, f"/api/builds/{build_id}", admin))["queue_position"]
        for build_id in (first, running, second, third)
    }
    assert positions == {first: 1, running: None, second: 2, third: 3}
    await services.store.transition_build(first, BuildStatus.CANCELLED)
    after = await get_json(client, f"/api/builds/{third}", admin)
    assert after["queue_position"] == 2


# --- log -----------------------------------------------------------------------------------


async def test_log_is_the_log_file_text_or_empty(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    build = await add_build(services, repo.id)
    url = f"/api/builds/{build.id}/log"
    empty = await client.get(url, headers=admin)
    assert empty.status_code == 200
    assert empty.mimetype == "text/plain"
    assert await empty.get_data() == b""
    write_log(services, build.id, [(0, "stdout", "$ flutter test"), (0, "stdout", "All passed ✓")])
    response = await client.get(url, headers=admin)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert await response.get_data(as_text=True) == "$ flutter test\nAll passed ✓\n"
    assert response.headers["X-Next-Line"] == "3"
    later = await client.get(url, headers=admin, query_string={"since": "2"})
    assert await later.get_data(as_text=True) == "All passed ✓\n"


async def test_a_log_longer_than_one_slice_is_streamed_whole(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    build = await add_build(services, repo.id)
    count = DISK_SLICE_LINES * 2 + 7
    write_log(services, build.id, [(i % 3, "stdout", f"line {i + 1}") for i in range(count)])
    url = f"/api/builds/{build.id}/log"
    whole = await client.get(url, headers=admin)
    assert (await whole.get_data(as_text=True)).splitlines() == [
        f"line {i + 1}" for i in range(count)
    ]
    assert whole.headers["X-Next-Line"] == str(count + 1)
    step_one = await client.get(url, headers=admin, query_string={"since": "100", "step": "1"})
    expected = [f"line {i + 1}" for i in range(99, count) if i % 3 == 1]
    assert (await step_one.get_data(as_text=True)).splitlines() == expected


# --- artifacts -----------------------------------------------------------------------------


async def test_artifacts_list_gives_download_urls(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    build = await add_build(services, repo.id, status=BuildStatus.SUCCEEDED)
    apk = await add_artifact(services, build.id, "app.apk", b"apk bytes")
    ipa = await add_artifact(services, build.id, "app.ipa", b"ipa")
    listed = await get_json(client, f"/api/builds/{build.id}/artifacts", admin)
    base = services.settings.base_url
    assert [(a["id"], a["name"], a["size"], a["url"]) for a in listed["items"]] == [
        (apk.id, "app.apk", 9, f"{base}/api/artifacts/{apk.id}"),
        (ipa.id, "app.ipa", 3, f"{base}/api/artifacts/{ipa.id}"),
    ]
    assert listed["items"][0]["sha256"] == hashlib.sha256(b"apk bytes").hexdigest()
    other = await add_build(services, repo.id)
    assert await get_json(client, f"/api/builds/{other.id}/artifacts", admin) == {"items": []}


async def test_download_sends_the_file_with_name_and_checksum(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    build = await add_build(services, repo.id, status=BuildStatus.SUCCEEDED)
    data = bytes(range(256)) * 40
    artifact = await add_artifact(services, build.id, "app-release.apk", data)
    response = await client.get(f"/api/artifacts/{artifact.id}", headers=admin)
    assert response.status_code == 200
    assert await response.get_data() == data
    assert response.headers["Content-Disposition"] == "attachment; filename=app-release.apk"
    assert response.headers["X-Checksum-SHA256"] == hashlib.sha256(data).hexdigest()
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.mimetype == "application/octet-stream"


async def test_download_serves_a_byte_range(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    build = await add_build(services, repo.id, status=BuildStatus.SUCCEEDED)
    data = b"0123456789abcdef"
    artifact = await add_artifact(services, build.id, "out.bin", data)
    url = f"/api/artifacts/{artifact.id}"
    part = await client.get(url, headers=admin | {"Range": "bytes=2-5"})
    assert part.status_code == 206
    assert await part.get_data() == b"2345"
    assert part.headers["Content-Range"] == "bytes 2-5/16"
    assert part.headers["X-Checksum-SHA256"] == hashlib.sha256(data).hexdigest()
    tail = await client.get(url, headers=admin | {"Range": "bytes=10-"})
    assert (tail.status_code, await tail.get_data()) == (206, b"abcdef")
    outside = await client.get(url, headers=admin | {"Range": "bytes=100-200"})
    assert outside.status_code == 416
    assert (await outside.get_json())["error"]["code"] == "requested_range_not_satisfiable"


async def test_unchanged_download_is_304_with_its_etag(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    build = await add_build(services, repo.id, status=BuildStatus.SUCCEEDED)
    artifact = await add_artifact(services, build.id, "a.txt", b"text")
    url = f"/api/artifacts/{artifact.id}"
    etag = (await client.get(url, headers=admin)).headers["ETag"]
    again = await client.get(url, headers=admin | {"If-None-Match": etag})
    assert again.status_code == 304
    assert await again.get_data() == b""


async def test_recorded_artifact_whose_file_is_gone_is_404(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    build = await add_build(services, repo.id, status=BuildStatus.SUCCEEDED)
    artifact = await add_artifact(services, build.id, "gone.apk", b"x", keep_file=False)
    body = await get_json(client, f"/api/artifacts/{artifact.id}", admin, 404)
    assert body["error"]["code"] == "not_found"
    assert "file is gone" in body["error"]["message"]


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/api/builds/{}"),
        ("GET", "/api/builds/{}/steps"),
        ("GET", "/api/builds/{}/log"),
        ("GET", "/api/builds/{}/artifacts"),
        ("GET", "/api/artifacts/{}"),
        ("POST", "/api/builds/{}/cancel"),
        ("POST", "/api/builds/{}/retry"),
    ],
)
async def test_unknown_ids_are_404(
    client: Client, admin: dict[str, str], method: str, template: str
) -> None:
    response = await client.open(template.format(new_id()), method=method, headers=admin)
    assert response.status_code == 404
    assert (await response.get_json())["error"]["code"] == "not_found"


# --- manual trigger, cancel, retry ---------------------------------------------------------

GOOD_TRIGGER: dict[str, Any] = {"workflow": "ios", "branch": "main"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"branch": "main"}, "workflow"),
        ({"workflow": "", "branch": "main"}, "workflow"),
        ({"workflow": "ios"}, "branch"),
        ({"workflow": "ios", "branch": None, "tag": None}, "branch"),
        ({"workflow": "ios", "branch": "main", "tag": "v1"}, "branch"),
        ({"workflow": "ios", "tag": "v1", "sha": SHA}, "branch"),
        ({"workflow": "ios", "branch": "a..b"}, "branch"),
        ({"workflow": "ios", "tag": "-v1"}, "tag"),
        ({"workflow": "ios", "sha": "abc123"}, "sha"),
        ({"workflow": "ios", "sha": "g" * 40}, "sha"),
        (GOOD_TRIGGER | {"env": {"OORE_TOKEN": "x"}}, "env"),
        (GOOD_TRIGGER | {"env": {"CM_BUILD_DIR": "/"}}, "env"),
        (GOOD_TRIGGER | {"env": {"1BAD": "x"}}, "env"),
        (GOOD_TRIGGER | {"env": {"A": 1}}, "env"),
        (GOOD_TRIGGER | {"inputs": "flavor=beta"}, "inputs"),
        (GOOD_TRIGGER | {"inputs": ["beta"]}, "inputs"),
        (GOOD_TRIGGER | {"inputs": []}, "inputs"),
        (GOOD_TRIGGER | {"inputs": {"flavor": {"nested": 1}}}, "inputs"),
        (GOOD_TRIGGER | {"priority": 1}, "priority"),
    ],
)
async def test_manual_trigger_body_errors_are_422_naming_the_field(
    client: Client,
    admin: dict[str, str],
    services: Services,
    body: dict[str, Any],
    field: str,
) -> None:
    repo = await add_repository(services)
    response = await client.post(f"/api/repositories/{repo.id}/builds", json=body, headers=admin)
    assert response.status_code == 422, await response.get_data()
    error = (await response.get_json())["error"]
    assert (error["code"], error["field"]) == ("validation_error", field)


PIPELINE = """\
workflows:
  ios:
    scripts:
      - name: hello
        script: echo "$FLAVOR"
"""


@pytest.fixture
def origin(tmp_path: Path) -> GitRepo:
    git = GitRepo(tmp_path / "origin")
    git.commit("first", {"codemagic.yaml": PIPELINE})
    git.tag("v1.2.0")
    git.branch("feature/x")
    return git


async def test_valid_manual_triggers_queue_a_build_at_the_ref_they_name(
    client: Client, admin: dict[str, str], services: Services, origin: GitRepo
) -> None:
    repo = await add_repository(services, clone_url=origin.url)
    head = origin.head()
    cases = [
        ({"branch": "feature/x"}, {"branch": "feature/x", "tag": None}),
        ({"tag": "v1.2.0", "branch": None}, {"branch": None, "tag": "v1.2.0"}),
        ({"sha": head, "env": {"FLAVOR": "beta"}}, {"branch": None, "tag": None}),
    ]
    url = f"/api/repositories/{repo.id}/builds"
    for ref, expected in cases:
        response = await client.post(url, json={"workflow": "ios", **ref}, headers=admin)
        assert response.status_code == 201, (ref, await response.get_data())
        summary = await response.get_json()
        assert summary["kind"] == "manual"
        assert summary["sha"] == head
        assert {k: summary[k] for k in expected} == expected
        stored = await services.store.get_build(summary["id"])
        assert (stored.trigger.branch, stored.trigger.tag) == (expected["branch"], expected["tag"])


async def test_a_manual_trigger_at_an_unknown_ref_is_refused_clearly(
    client: Client, admin: dict[str, str], services: Services, origin: GitRepo
) -> None:
    repo = await add_repository(services, clone_url=origin.url)
    url = f"/api/repositories/{repo.id}/builds"
    # A sha the repository does not have is the provider's failure to serve it: 502.
    for ref, status in (({"branch": "nope"}, 422), ({"tag": "v9"}, 422), ({"sha": "b" * 40}, 502)):
        response = await client.post(url, json={"workflow": "ios", **ref}, headers=admin)
        assert response.status_code == status, (ref, await response.get_data())
        message = (await response.get_json())["error"]["message"]
        assert next(iter(ref.values()))[:12] in message
    assert (await services.store.list_builds(BuildFilter(), None, 10)).items == []


async def test_manual_trigger_for_an_unknown_repository_is_404(
    client: Client, admin: dict[str, str]
) -> None:
    url = f"/api/repositories/{new_id()}/builds"
    response = await client.post(url, json=GOOD_TRIGGER, headers=admin)
    assert response.status_code == 404


async def test_cancel_then_retry_of_a_queued_build_go_through_the_queue(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    build = await add_build(services, repo.id)
    response = await client.post(f"/api/builds/{build.id}/cancel", headers=admin)
    assert response.status_code == 202, await response.get_data()
    assert (await response.get_json())["status"] == "cancelled"
    assert (await services.store.get_build(build.id)).status is BuildStatus.CANCELLED
    response = await client.post(f"/api/builds/{build.id}/retry", headers=admin)
    assert response.status_code == 201, await response.get_data()
    retried = await response.get_json()
    assert retried["id"] != build.id
    assert (retried["workflow"], retried["branch"]) == ("ios", "main")


async def test_deleting_a_finished_build_removes_its_rows_and_files(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    done = await add_build(services, repo.id, status=BuildStatus.FAILED)
    other = await add_build(services, repo.id, status=BuildStatus.SUCCEEDED)
    for build in (done, other):
        await add_artifact(services, build.id, "app.apk", b"bytes")
        write_log(services, build.id, [(0, "stdout", "hello")])
    await services.store.create_steps(
        [Step(new_id(), done.id, 0, "Test", StepStatus.FAILED, utcnow(), utcnow(), 1)]
    )
    with services.changes.subscribe() as changes:
        response = await client.delete(f"/api/builds/{done.id}", headers=admin)
        assert response.status_code == 204, await response.get_data()
        change = changes.receive.receive_nowait()
    assert (change.kind, change.build and change.build.id) == ("build_deleted", done.id)
    assert (await client.get(f"/api/builds/{done.id}", headers=admin)).status_code == 404
    assert (await client.get(f"/api/builds/{done.id}/steps", headers=admin)).status_code == 404
    assert not (services.paths.artifacts / done.id).exists()
    assert not (services.paths.logs / f"{done.id}.log").exists()
    # Another build of the same repository keeps everything.
    assert (services.paths.artifacts / other.id / "app.apk").read_bytes() == b"bytes"
    assert (services.paths.logs / f"{other.id}.log").exists()


async def test_a_build_not_finished_is_not_deleted(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    running = await add_build(services, repo.id, status=BuildStatus.RUNNING)
    response = await client.delete(f"/api/builds/{running.id}", headers=admin)
    assert response.status_code == 409
    assert "cancel it first" in (await response.get_json())["error"]["message"]
    assert (await services.store.get_build(running.id)).status is BuildStatus.RUNNING
