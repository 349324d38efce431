"""The OpenAPI 3.1 document, built from `operations.OPERATIONS` and `schemas`."""

from __future__ import annotations

import re

from oore import __version__
from oore.http.openapi.operations import (
    CLOSE_CODES,
    ERROR_DESCRIPTIONS,
    JSON_MEDIA,
    NDJSON_MEDIA,
    OPERATIONS,
    RESPONSE_HEADERS,
    WEBSOCKETS,
    Operation,
)
from oore.http.openapi.schemas import Json, ref, schemas, string


def _websockets() -> Json:
    return {
        socket.path: {
            "summary": socket.summary,
            "parameters": _path_parameters(socket.path) + list(socket.query),
            "security": [{"bearerAuth": []}],
            "closeCodes": CLOSE_CODES,
        }
        for socket in WEBSOCKETS
    }


def _path_parameters(path: str) -> list[Json]:
    return [
        {"name": name, "in": "path", "required": True, "schema": string()}
        for name in re.findall(r"\{(\w+)\}", path)
    ]


def _responses(op: Operation) -> Json:
    out: Json = {}
    for status, (description, schema) in op.ok.items():
        answer: Json = {"description": description}
        out[str(status)] = answer
        if schema is not None:
            media = {JSON_MEDIA: schema} if isinstance(schema, str) else schema
            answer["content"] = {kind: _media(kind, name) for kind, name in media.items()}
        if op.headers.get(status):
            answer["headers"] = {
                name: {"$ref": f"#/components/headers/{name}"} for name in op.headers[status]
            }
    for status in op.errors:
        out[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    return out


def _media(kind: str, schema: str) -> Json:
    if kind == NDJSON_MEDIA:  # OpenAPI 3.1 has no item schema for streams; say it as an extension
        return {"schema": ref("Text"), "x-item-schema": ref(schema)}
    return {"schema": ref(schema)}


def _request_body(op: Operation) -> Json | None:
    content: Json = {}
    if op.body is not None:
        content[JSON_MEDIA] = {"schema": ref(op.body)}
    if op.raw_body is not None:
        content[op.raw_body] = {"schema": ref("Text")}
    return {"required": True, "content": content} if content else None


def _operation(op: Operation) -> Json:
    out: Json = {
        "operationId": f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', op.path.lower())}",
        "summary": op.summary,
        "tags": [op.tag],
        "security": [] if op.public else [{"bearerAuth": []}],
        "responses": _responses(op),
    }
    parameters = _path_parameters(op.path) + list(op.query)
    if parameters:
        out["parameters"] = parameters
    body = _request_body(op)
    if body is not None:
        out["requestBody"] = body
    return out


def _error_responses() -> Json:
    content = {"application/json": {"schema": ref("Error")}}
    return {f"E{s}": {"description": d, "content": content} for s, d in ERROR_DESCRIPTIONS.items()}


def document(server_url: str | None = None) -> Json:
    paths: Json = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    doc: Json = {
        "openapi": "3.1.0",
        "info": {
            "title": "Oore",
            "version": __version__,
            "description": "Self-hosted CI: repositories, webhooks, builds, pipelines, secrets.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "responses": _error_responses(),
            "headers": {
                name: {"description": description, "schema": schema, "required": always}
                for name, (description, schema, always) in RESPONSE_HEADERS.items()
            },
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The admin token, or an API token (read or write scope)",
                }
            },
        },
        "security": [{"bearerAuth": []}],
        "x-websockets": _websockets(),
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
