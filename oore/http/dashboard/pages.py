"""The dashboard's build pages: overview, builds list, build detail.

Handlers read the store directly, with the same paged queries as the API (a page of 50 builds
is one indexed query, whatever the number stored), and never call the API over HTTP.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import trio
from quart import Response, request

from oore.errors import Unavailable, ValidationError
from oore.execution.diskspace import short_of_space
from oore.http import present
from oore.http.auth import page
from oore.http.dashboard.render import blueprint, page_response
from oore.http.services import Services, services
from oore.model import BuildStatus, Repository
from oore.store.base import BuildFilter

PAGE_SIZE = 50
RECENT = 10
ACTIVE = (BuildStatus.PREPARING, BuildStatus.RUNNING)
FINAL = frozenset(
    {
        BuildStatus.SUCCEEDED,
        BuildStatus.FAILED,
        BuildStatus.CANCELLED,
        BuildStatus.TIMED_OUT,
        BuildStatus.SKIPPED,
        BuildStatus.ERRORED,
    }
)


@blueprint.get("/")
@page
async def overview() -> Response:
    svc = services()
    store = svc.store
    running = await store.builds_in(ACTIVE)
    queued = sorted(await store.builds_in((BuildStatus.QUEUED,)), key=lambda b: b.id)
    recent = await store.list_builds(BuildFilter(), None, RECENT)
    return await page_response(
        "overview.html", section="overview", running=running, queued=queued,
        recent=recent.items, repos=await _repositories(svc), health=await _health(svc),
    )  # fmt: skip


@blueprint.get("/builds")
@page
async def builds() -> Response:
    svc = services()
    args = request.args
    status = args.get("status") or None
    if status is not None and status not in {s.value for s in BuildStatus}:
        raise ValidationError("status", f"must be one of {', '.join(s.value for s in BuildStatus)}")
    where = BuildFilter(
        repository_id=args.get("repository") or None,
        status=BuildStatus(status) if status else None,
        branch=args.get("branch") or None,
        workflow=args.get("workflow") or None,
    )
    cursor = args.get("cursor") or None
    found = await svc.store.list_builds(where, cursor, PAGE_SIZE)
    return await page_response(
        "builds.html", section="builds", builds=found.items, next_cursor=found.next_cursor,
        first_page=cursor is None, where=where, statuses=[s.value for s in BuildStatus],
        repos=await _repositories(svc), query=_query_without_cursor(),
    )  # fmt: skip


@blueprint.get("/builds/<build_id>")
@page
async def build(build_id: str) -> Response:
    svc = services()
    store = svc.store
    found = await store.get_build(build_id)
    position = await store.queue_position(build_id) if found.status is BuildStatus.QUEUED else None
    steps = [present.step(s) for s in await store.get_steps(build_id)]
    artifacts = await store.list_artifacts(build_id)
    repos = await _repositories(svc)
    return await page_response(
        "build.html", section="builds", build=found, summary=present.build_summary(found),
        steps=steps, artifacts=artifacts, position=position, repo=repos.get(found.repository_id),
        final=found.status in FINAL,
    )  # fmt: skip


async def _repositories(svc: Services) -> dict[str, Repository]:
    return {r.id: r for r in await svc.store.list_repositories()}


async def _health(svc: Services) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    try:
        with trio.fail_after(2.0):
            await svc.store.ping()
        checks.append({"name": "Store", "ok": True, "detail": "answering"})
    except (Unavailable, trio.TooSlowError) as exc:
        checks.append({"name": "Store", "ok": False, "detail": str(exc) or "no answer in 2 s"})
    short = await short_of_space(svc.paths.workspaces, svc.settings.min_free_disk)
    checks.append({"name": "Disk", "ok": short is None, "detail": short or "enough free space"})
    app = await svc.store.github_app()
    checks.append(
        {
            "name": "GitHub App",
            "ok": app is not None,
            "detail": f"{app.name} ({app.owner})" if app else "not set up (optional)",
            "optional": app is None,
        }
    )
    connection = await svc.store.gitlab_connection()
    checks.append(
        {
            "name": "GitLab",
            "ok": connection is not None,
            "detail": "connected" if connection else "not connected (optional)",
            "optional": connection is None,
        }
    )
    counts = await svc.store.event_counts()
    failed = sum(n for (_, state), n in counts.items() if state == "failed")
    checks.append(
        {
            "name": "Webhook events",
            "ok": failed == 0,
            "detail": f"{failed} failed" if failed else "none failed",
        }
    )
    return checks


def _query_without_cursor() -> str:
    return urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "cursor" and v])
