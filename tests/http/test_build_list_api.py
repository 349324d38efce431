"""What the API says for a usable build list (issue 15): a webhook event's workflows and why
each did not match, the build that cancelled a superseded one, and steps numbered from 1 the
way the log's headers number them -- each answer checked against the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client
from quart_trio import QuartTrio

from oore.http import openapi
from oore.http.services import Services
from oore.ids import new_id
from oore.model import BuildStatus, Provider, Step, StepStatus, WebhookEvent, WorkflowMatch, utcnow
from tests.http.test_builds_api import add_build, add_repository, get_json
from tests.http.test_openapi import _validator
from tests.store.factories import make_trigger


@pytest.fixture
def client(app: QuartTrio) -> Client:
    return app.test_client()


@pytest.fixture
def admin(services: Services) -> dict[str, str]:
    assert services.settings.admin_token is not None
    return {"Authorization": f"Bearer {services.settings.admin_token}"}


def schema_errors(services: Services, schema: str, value: Any) -> list[str]:
    doc = openapi.document(services.settings.base_url)
    return [e.message for e in _validator(doc, schema).iter_errors(value)]


async def test_an_event_shows_each_workflow_and_why_it_did_not_match(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    event = WebhookEvent(
        id=new_id(),
        provider=Provider.GITHUB,
        event_type="push",
        delivery_id="d-1",
        received_at=utcnow(),
        repository_id=repo.id,
        headers={"X-GitHub-Event": "push"},
        body=b"{}",
    )
    await services.store.insert_event(event)
    reason = "branch 'feature/x' not matched by branch_patterns"
    matches = (WorkflowMatch("ios", False, reason), WorkflowMatch("android", False, reason))
    summary = f"no workflow matched (ios: {reason}; android: {reason})"
    await services.store.create_builds_for_event(event.id, [], summary, make_trigger(), matches)

    detail = await get_json(client, f"/api/webhooks/events/{event.id}", admin)
    assert (detail["state"], detail["reason"], detail["builds"]) == ("ignored", summary, [])
    assert detail["workflows"] == [
        {"workflow": "ios", "matched": False, "reason": reason},
        {"workflow": "android", "matched": False, "reason": reason},
    ]
    assert schema_errors(services, "WebhookEvent", detail) == []


async def test_a_superseded_build_names_the_build_that_cancelled_it(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    newer_id = new_id()
    older = await add_build(
        services,
        repo.id,
        status=BuildStatus.CANCELLED,
        error="cancelled by #2 (a newer push to main)",
        cancelled_by=newer_id,
        cancelled_by_number=2,
    )
    await add_build(services, repo.id, build_id=newer_id)
    detail = await get_json(client, f"/api/builds/{older.id}", admin)
    assert detail["cancelled_by"] == {"id": newer_id, "number": 2}
    assert detail["reason"] == "cancelled by #2 (a newer push to main)"
    assert schema_errors(services, "Build", detail) == []
    page = await get_json(client, "/api/builds", admin)
    by_id = {b["id"]: b["cancelled_by"] for b in page["items"]}
    assert by_id == {older.id: {"id": newer_id, "number": 2}, newer_id: None}
    assert schema_errors(services, "BuildPage", page) == []


async def test_steps_carry_the_number_the_log_headers_use(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    build = await add_build(services, repo.id)
    await services.store.create_steps(
        [
            Step(new_id(), build.id, 0, "Get packages", StepStatus.PENDING),
            Step(new_id(), build.id, 1, "Upload", kind="publishing"),
        ]
    )
    steps = (await get_json(client, f"/api/builds/{build.id}/steps", admin))["items"]
    # `index` stays the log lines' `step` (and ?step=); `number` is what "==> [1] ..." says.
    assert [(s["index"], s["number"], s["name"]) for s in steps] == [
        (0, 1, "Get packages"),
        (1, 2, "Upload"),
    ]
