"""Pipeline files: validate one, and the pipeline stored for a repository (used when the
commit has no pipeline file of its own)."""

from __future__ import annotations

import dataclasses

from quart import Blueprint, Response, jsonify, request

from oore.errors import BadRequest, NotFound
from oore.http import validate as validate_fields
from oore.http.jsonio import read_body, read_json_object
from oore.http.services import services
from oore.pipeline.offloop import load_off_loop, validate_off_loop

blueprint = Blueprint("pipelines", __name__)

MAX_PIPELINE = 1024 * 1024


async def _pipeline_text() -> tuple[str, str]:
    """The file's text and name: a JSON `{"content", "file"?}` body or the raw YAML itself."""
    if request.mimetype == "application/json":
        body = await read_json_object()
        validate_fields.unknown_fields(body, {"content", "file"})
        content, name = body.get("content"), body.get("file", "codemagic.yaml")
        if isinstance(content, str) and len(content.encode()) > MAX_PIPELINE:
            raise BadRequest(f"a pipeline file may be at most {MAX_PIPELINE} bytes")
        if not isinstance(content, str) or not isinstance(name, str):
            raise BadRequest('send {"content": "<yaml text>", "file": "name"}')
        return content, name
    raw = await read_body()
    if len(raw) > MAX_PIPELINE:
        raise BadRequest(f"a pipeline file may be at most {MAX_PIPELINE} bytes")
    try:
        return raw.decode("utf-8"), "codemagic.yaml"
    except UnicodeDecodeError as exc:
        raise BadRequest("the pipeline file is not UTF-8 text") from exc


@blueprint.post("/api/pipelines/validate")
async def validate_pipeline() -> Response:
    text, name = await _pipeline_text()
    return jsonify(dataclasses.asdict(await validate_off_loop(text, name)))


@blueprint.get("/api/repositories/<repository_id>/pipeline")
async def get_pipeline(repository_id: str) -> Response:
    text = await services().store.get_pipeline(repository_id)
    if text is None:
        raise NotFound(f"repository {repository_id} has no stored pipeline")
    return Response(text, mimetype="application/yaml")


@blueprint.put("/api/repositories/<repository_id>/pipeline")
async def put_pipeline(repository_id: str) -> Response:
    text, name = await _pipeline_text()
    pipeline = await load_off_loop(
        text, name
    )  # an InvalidPipeline is a 422 naming file, line and key
    await services().store.set_pipeline(repository_id, text)
    return jsonify(
        {
            "workflows": list(pipeline.workflows),
            "warnings": [w.to_json() for w in pipeline.warnings],
        }
    )


@blueprint.delete("/api/repositories/<repository_id>/pipeline")
async def delete_pipeline(repository_id: str) -> tuple[str, int]:
    store = services().store
    if await store.get_pipeline(repository_id) is None:
        raise NotFound(f"repository {repository_id} has no stored pipeline")
    await store.set_pipeline(repository_id, None)
    return "", 204
