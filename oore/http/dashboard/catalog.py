"""The dashboard's other pages: repositories (with the stored pipeline's editor, static/js/
pipeline.js), webhook events, settings (with integrations.py's items)."""

from __future__ import annotations

import json

from quart import Response, g, request

from oore.errors import ValidationError
from oore.http import present
from oore.http.auth import page
from oore.http.dashboard.integrations import integrations
from oore.http.dashboard.render import blueprint, page_response
from oore.http.repositories import webhook_instructions
from oore.http.services import services
from oore.model import EventState
from oore.store.base import BuildFilter, EventFilter

PAGE_SIZE = 50
RECENT = 10


@blueprint.get("/repositories")
@page
async def repositories() -> Response:
    repos = await services().store.list_repositories()
    return await page_response("repositories.html", section="repositories", repos=repos)


@blueprint.get("/repositories/<repository_id>")
@page
async def repository(repository_id: str) -> Response:
    svc = services()
    repo = await svc.store.get_repository(repository_id)
    recent = await svc.store.list_builds(BuildFilter(repository_id=repo.id), None, RECENT)
    badge = f"{svc.settings.base_url}/api/badges/{repo.id}.svg?branch={repo.default_branch}"
    return await page_response(
        "repository.html", section="repositories", repo=repo, recent=recent.items,
        webhook=webhook_instructions(svc, repo), badge_url=badge,
        repos={repo.id: repo}, base_url=svc.settings.base_url,
        pipeline=await svc.store.get_pipeline(repo.id),
    )  # fmt: skip


@blueprint.get("/events")
@page
async def events() -> Response:
    svc = services()
    state = request.args.get("state") or None
    if state is not None and state not in {s.value for s in EventState}:
        raise ValidationError("state", f"must be one of {', '.join(s.value for s in EventState)}")
    where = EventFilter(state=EventState(state) if state else None)
    cursor = request.args.get("cursor") or None
    found = await svc.store.list_events(where, cursor, PAGE_SIZE)
    repos = {r.id: r for r in await svc.store.list_repositories()}
    return await page_response(
        "events.html", section="events", events=found.items, next_cursor=found.next_cursor,
        state=state, states=[s.value for s in EventState], repos=repos,
    )  # fmt: skip


@blueprint.get("/events/<event_id>")
@page
async def event(event_id: str) -> Response:
    store = services().store
    found = await store.get_event(event_id)
    detail = present.event_detail(found, await store.builds_for_event(event_id))
    repos = {r.id: r for r in await store.list_repositories()}
    return await page_response(
        "event.html", section="events", event=found, detail=detail, repos=repos,
        payload=json.dumps(detail["payload"], indent=2, sort_keys=True),
    )  # fmt: skip


@blueprint.get("/settings")
@page
async def settings() -> Response:
    svc = services()
    # Listing tokens is the admin token's alone, in the API as here.
    tokens = await svc.store.list_tokens() if g.principal.kind == "admin" else None
    groups = await svc.store.secret_groups()
    repos = {r.id: r for r in await svc.store.list_repositories()}
    return await page_response(
        "settings.html", section="settings", tokens=tokens, groups=groups, repos=repos,
        base_url=svc.settings.base_url, integrations=await integrations(svc, g.principal),
    )  # fmt: skip
