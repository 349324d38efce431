"""Builds: list, read, trigger by hand, cancel, retry, steps, log, artifacts and downloads.

Changes go through the RepositorySupervisor (it owns the queue and the running builds), as a
request with a bounded wait; reads come straight from the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import trio
from quart import Blueprint, Response, jsonify, request, send_file

from oore.actors.messages import (
    CancelBuild,
    DeleteBuild,
    ManualBuild,
    Reply,
    RepositoryMessage,
    RetryBuild,
)
from oore.actors.runtime import RequestError
from oore.actors.runtime import request as ask
from oore.errors import NotFound, Unavailable, ValidationError
from oore.http import present, validate
from oore.http.jsonio import read_json_object
from oore.http.repositories import BRANCH
from oore.http.services import services
from oore.model import Build, BuildStatus
from oore.store.base import BuildFilter

blueprint = Blueprint("builds", __name__)

REQUEST_TIMEOUT = 30.0
SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


@blueprint.get("/api/builds")
async def list_builds() -> Response:
    args = request.args
    status = args.get("status") or None
    if status is not None and status not in {s.value for s in BuildStatus}:
        raise ValidationError("status", f"must be one of {', '.join(s.value for s in BuildStatus)}")
    where = BuildFilter(
        repository_id=args.get("repository") or None,
        status=BuildStatus(status) if status else None,
        branch=args.get("branch") or None,
        workflow=args.get("workflow") or None,
        number=validate.query_int(args.get("number"), "number", default=None, low=1, high=2**62),
    )
    limit = validate.query_int(args.get("limit"), "limit", default=50, low=1, high=500)
    page = await services().store.list_builds(where, args.get("cursor") or None, limit)
    return jsonify(
        {"items": [present.build_summary(b) for b in page.items], "next_cursor": page.next_cursor}
    )


@blueprint.get("/api/builds/<build_id>")
async def get_build(build_id: str) -> Response:
    store = services().store
    build = await store.get_build(build_id)
    position = None
    if build.status is BuildStatus.QUEUED:
        position = await store.queue_position(build_id)
        if position is None:  # it left the queue meanwhile: answer with what it is now
            build = await store.get_build(build_id)
    steps = await store.get_steps(build_id)
    return jsonify(present.build_detail(build, steps, position))


@blueprint.get("/api/builds/<build_id>/steps")
async def get_steps(build_id: str) -> Response:
    store = services().store
    await store.get_build(build_id)
    return jsonify({"items": [present.step(s) for s in await store.get_steps(build_id)]})


@blueprint.post("/api/repositories/<repository_id>/builds")
async def trigger_build(repository_id: str) -> tuple[Response, int]:
    body = await read_json_object()
    validate.unknown_fields(body, {"workflow", "branch", "tag", "sha", "inputs", "env"})
    workflow = validate.required_text(body, "workflow", max_length=100)
    refs = {k: body[k] for k in ("branch", "tag", "sha") if body.get(k) is not None}
    if len(refs) != 1:
        raise ValidationError("branch", "give exactly one of branch, tag or sha")
    branch = validate.text(body, "branch", required=False, pattern=BRANCH, hint="not a branch")
    tag = validate.text(body, "tag", required=False, pattern=BRANCH, hint="not a tag name")
    sha = validate.text(body, "sha", required=False, pattern=SHA, hint="must be a full hex sha")
    inputs = _mapping(body, "inputs", lambda v: isinstance(v, str | int | float | bool))
    env = _mapping(body, "env", lambda v: isinstance(v, str))
    for name in env:
        if not ENV_NAME.fullmatch(name) or name.startswith(("OORE_", "CM_")):
            raise ValidationError("env", f"{name!r} is not a variable name a build may set")
    await services().store.get_repository(repository_id)  # 404 before the queue is asked
    build = await _ask(
        lambda reply: ManualBuild(
            repository_id,
            workflow,
            reply,
            branch,
            tag,
            sha,
            inputs,
            {k: str(v) for k, v in env.items()},
        )
    )
    return jsonify(present.build_summary(build)), 201


@blueprint.post("/api/builds/<build_id>/cancel")
async def cancel_build(build_id: str) -> tuple[Response, int]:
    await services().store.get_build(build_id)
    build = await _ask(lambda reply: CancelBuild(build_id, reply))
    return jsonify(present.build_summary(build)), 202


@blueprint.delete("/api/builds/<build_id>")
async def delete_build(build_id: str) -> tuple[str, int]:
    await services().store.get_build(build_id)  # 404 before the queue is asked
    await _ask(lambda reply: DeleteBuild(build_id, reply))
    return "", 204


@blueprint.post("/api/builds/<build_id>/retry")
async def retry_build(build_id: str) -> tuple[Response, int]:
    await services().store.get_build(build_id)
    build = await _ask(lambda reply: RetryBuild(build_id, reply))
    return jsonify(present.build_summary(build)), 201


@blueprint.get("/api/builds/<build_id>/artifacts")
async def list_artifacts(build_id: str) -> Response:
    svc = services()
    await svc.store.get_build(build_id)
    items = await svc.store.list_artifacts(build_id)
    return jsonify({"items": [present.artifact(a, svc.settings.base_url) for a in items]})


@blueprint.get("/api/artifacts/<artifact_id>")
async def download_artifact(artifact_id: str) -> Response:
    svc = services()
    found = await svc.store.get_artifact(artifact_id)
    path = svc.paths.artifacts / found.path
    if not await trio.Path(path).is_file():
        raise NotFound(f"artifact {artifact_id} is recorded but its file is gone")
    response = await send_file(
        path,
        mimetype=found.content_type,
        as_attachment=True,
        attachment_filename=found.name,
        conditional=True,
    )
    response.headers["X-Checksum-SHA256"] = found.sha256
    response.headers["Accept-Ranges"] = "bytes"
    return response


async def _ask(make: Callable[[trio.MemorySendChannel[Reply]], RepositoryMessage]) -> Build:
    try:
        answer: Reply = await ask(services().repository_inbox, make, timeout=REQUEST_TIMEOUT)
    except RequestError as exc:
        raise Unavailable(f"the build queue did not answer: {exc}") from exc
    return answer.unwrap()


def _mapping(body: dict[str, Any], field: str, ok: Callable[[Any], bool]) -> dict[str, Any]:
    value = {} if body.get(field) is None else body[field]  # [] or "" is not an object
    if not isinstance(value, dict) or not all(ok(v) for v in value.values()):
        raise ValidationError(field, "must be an object of simple values")
    return value
