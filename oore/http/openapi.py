"""The OpenAPI 3.1 document of the HTTP API, served at `GET /api/openapi.json`.

Every route is one row of `OPERATIONS`; schemas are plain dicts built by small functions so that
request-body rules are taken from the same patterns and field sets the handlers validate with.
`tests/http/test_openapi.py` compares the rows with the app's URL map and checks real responses
against the documented schemas, so a route or field added without documenting it fails CI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from quart import Blueprint, Response, jsonify

from oore import __version__
from oore.http import repositories
from oore.http.auth import public
from oore.http.services import services
from oore.model import EventState, Provider, TokenScope

blueprint = Blueprint("openapi", __name__)

Json = dict[str, Any]

MAX_ID = 2**63 - 1
ERROR_DESCRIPTIONS = {
    400: "The request is malformed (bad JSON, missing header, wrong provider).",
    401: "No valid credentials (bearer token, webhook signature or token).",
    403: "The token's scope or kind does not allow this request.",
    404: "No such object.",
    409: "The request conflicts with the current state.",
    413: "The request body is over the configured limit.",
    422: "A field is invalid; `error.field` names it.",
    503: "A dependency (the store) is unavailable.",
}


@dataclass(frozen=True, slots=True)
class Operation:
    """One (path, method) of the API and what it can answer."""

    method: str
    path: str
    summary: str
    tag: str
    ok: Mapping[int, tuple[str, str | None]]  # status -> (description, schema name or None)
    errors: tuple[int, ...] = ()
    public: bool = False
    body: str | None = None  # request-body schema name
    query: tuple[Json, ...] = ()


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _string(**extra: Any) -> Json:
    return {"type": "string", **extra}


def _nullable(schema: Json) -> Json:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(properties: Json, required: tuple[str, ...] | None = None) -> Json:
    """A closed object; every property is required unless `required` says otherwise."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
        "additionalProperties": False,
    }


def _anchored(pattern: re.Pattern[str]) -> str:
    # Handlers use fullmatch; a JSON Schema pattern is a search, so anchor it.
    return f"^(?:{pattern.pattern})$"


TIMESTAMP = _string(format="date-time", description="ISO-8601 UTC, milliseconds")
ID = _string(description="ULID", minLength=26, maxLength=26)
POSITIVE_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _enum(values: list[str]) -> Json:
    return _string(enum=values)


def _repository_properties() -> Json:
    return {
        "id": ID,
        "provider": _enum([p.value for p in Provider]),
        "owner": _string(),
        "name": _string(),
        "full_name": _string(),
        "clone_url": _string(),
        "default_branch": _string(),
        "active": {"type": "boolean"},
        "github_repo_id": _nullable({"type": "integer"}),
        "github_installation_id": _nullable({"type": "integer"}),
        "gitlab_project_id": _nullable({"type": "integer"}),
        "badge_public": {"type": "boolean"},
        "has_webhook_secret": {"type": "boolean"},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "webhook_url": _string(format="uri", description="Where the provider should deliver"),
    }


def _updatable_fields() -> Json:
    """The fields `_updatable_fields` and `_secret` in repositories.py accept (null = absent)."""
    flag = _nullable({"type": "boolean"})
    fields: Json = {
        "clone_url": _nullable(
            _string(
                pattern=f"^(?!-)(?:{repositories.CLONE_URL.pattern})$",
                maxLength=2000,
                description="https://, ssh://, git://, file:// or user@host:path; no leading -",
            )
        ),
        "default_branch": _nullable(_string(pattern=_anchored(repositories.BRANCH), maxLength=255)),
        "active": flag,
        "badge_public": flag,
        "github_repo_id": _nullable(POSITIVE_ID),
        "github_installation_id": _nullable(POSITIVE_ID),
        "gitlab_project_id": _nullable(POSITIVE_ID),
        "webhook_secret": _nullable(
            _string(minLength=8, maxLength=255, description="Generated when omitted on create")
        ),
    }
    return fields


def _repository_create() -> Json:
    properties: Json = {
        "provider": _enum([p.value for p in Provider]),
        "owner": _string(
            pattern=_anchored(repositories.GITLAB_NAMESPACE),
            maxLength=255,
            description="GitHub: one name segment (at most 100 characters); GitLab: a group path",
        ),
        "name": _string(pattern=_anchored(repositories.NAME)),
        **_updatable_fields(),
    }
    return _obj(properties, ("provider", "owner", "name", "clone_url"))


def _token_properties() -> Json:
    return {
        "id": ID,
        "name": _string(),
        "scope": _enum([s.value for s in TokenScope]),
        "created_at": TIMESTAMP,
        "last_used_at": _nullable(TIMESTAMP),
        "revoked_at": _nullable(TIMESTAMP),
    }


def _event_summary_properties() -> Json:
    return {
        "id": ID,
        "provider": _enum([p.value for p in Provider]),
        "event_type": _string(),
        "delivery_id": _string(),
        "repository_id": _nullable(ID),
        "state": _enum([s.value for s in EventState]),
        "reason": _nullable(_string()),
        "received_at": TIMESTAMP,
        "processed_at": _nullable(TIMESTAMP),
    }


def _event_detail() -> Json:
    return _obj(
        _event_summary_properties()
        | {
            "headers": {"type": "object", "additionalProperties": _string()},
            "payload": {"description": "The body as JSON, or {base64} when it is not JSON"},
            "size": {"type": "integer", "minimum": 0},
            "trigger": _nullable({"type": "object"}),
            "builds": {"type": "array", "items": _ref("BuildSummary")},
        }
    )


def _build_summary() -> Json:
    return _obj(
        {
            "id": ID,
            "repository_id": ID,
            "number": {"type": "integer"},
            "workflow": _string(),
            "status": _string(),
            "created_at": TIMESTAMP,
        }
    )


def _webhook_instructions() -> Json:
    return _obj(
        {
            "url": _string(format="uri"),
            "content_type": _string(description="GitHub only"),
            "secret": _string(description="Where to find the secret (never the secret itself)"),
            "events": {"type": "array", "items": _string()},
            "header": _string(),
        },
        ("url", "secret", "events", "header"),
    )


def _error() -> Json:
    detail = _obj(
        {"code": _string(), "message": _string(), "field": _string()}, ("code", "message")
    )
    return _obj({"error": detail})


def _list_of(name: str) -> Json:
    return _obj({"items": {"type": "array", "items": _ref(name)}})


def schemas() -> Json:
    repository = _repository_properties()
    secret = _string(description="Shown only in the response that set it")
    return {
        "Error": _error(),
        "Health": _obj(
            {"status": _enum(["ok"]), "store": _enum(["ok"]), "uptime_seconds": {"type": "number"}}
        ),
        "Version": _obj({"version": _string(), "python": _string(), "trio": _string()}),
        "OpenApiDocument": {"type": "object", "required": ["openapi", "paths"]},
        "Repository": _obj(repository),
        "RepositoryWithSecret": _obj(repository | {"webhook_secret": secret}),
        "RepositoryUpdated": _obj(repository | {"webhook_secret": secret}, tuple(repository)),
        "RepositoryCreate": _repository_create(),
        "RepositoryUpdate": _obj(_updatable_fields(), ()),
        "RepositoryList": _list_of("Repository"),
        "WebhookInstructions": _webhook_instructions(),
        "Token": _obj(_token_properties()),
        "TokenCreated": _obj(_token_properties() | {"token": _string(pattern="^oore_")}),
        "TokenCreate": _obj(
            {
                "name": _string(minLength=1, maxLength=100, pattern=r"\S"),
                "scope": _enum([s.value for s in TokenScope]),
            }
        ),
        "TokenList": _list_of("Token"),
        "WebhookAck": _obj(
            {"status": _enum(["accepted", "duplicate"]), "event_id": ID},
        ),
        "WebhookEventSummary": _obj(_event_summary_properties()),
        "WebhookEvent": _event_detail(),
        "WebhookEventPage": _obj(
            {
                "items": {"type": "array", "items": _ref("WebhookEventSummary")},
                "next_cursor": _nullable(_string(description="Pass as ?cursor= for the next page")),
            }
        ),
        "BuildSummary": _build_summary(),
    }


def _query(name: str, schema: Json, description: str) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


EVENT_QUERY = (
    _query("repository", ID, "Only events for this repository id"),
    _query("provider", _enum([p.value for p in Provider]), "Only events from this provider"),
    _query("state", _enum([s.value for s in EventState]), "Only events in this state"),
    _query("cursor", _string(), "`next_cursor` of the previous page"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "Page size"),
)
WRITE = (401, 403, 413)  # an authenticated route with a body: bad token, read scope, size
ACK: dict[int, tuple[str, str | None]] = {
    202: ("Stored; processing continues in the background", "WebhookAck")
}
DUPLICATE: dict[int, tuple[str, str | None]] = {
    200: ("Already stored under this delivery id; nothing new", "WebhookAck")
}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET", "/api/health", "Liveness and store health", "system",
        {200: ("Healthy", "Health")}, (503,), public=True,
    ),
    Operation(
        "GET", "/api/version", "Daemon and runtime versions", "system",
        {200: ("Versions", "Version")}, public=True,
    ),
    Operation(
        "GET", "/api/openapi.json", "This document", "system",
        {200: ("The OpenAPI document", "OpenApiDocument")}, public=True,
    ),
    Operation(
        "POST", "/api/tokens", "Create an API token (admin token only)", "tokens",
        {201: ("Created; `token` is shown only here", "TokenCreated")},
        (400, *WRITE, 422), body="TokenCreate",
    ),
    Operation(
        "GET", "/api/tokens", "List API tokens without their secrets (admin token only)",
        "tokens", {200: ("Tokens", "TokenList")}, (401, 403),
    ),
    Operation(
        "DELETE", "/api/tokens/{token_id}", "Revoke an API token (admin token only)", "tokens",
        {200: ("Revoked (revoking twice keeps the first time)", "Token")}, (401, 403, 404),
    ),
    Operation(
        "POST", "/api/repositories", "Register a repository", "repositories",
        {201: ("Registered; `webhook_secret` is shown only here", "RepositoryWithSecret")},
        (400, *WRITE, 409, 422), body="RepositoryCreate",
    ),
    Operation(
        "GET", "/api/repositories", "List repositories", "repositories",
        {200: ("Repositories", "RepositoryList")}, (401,),
    ),
    Operation(
        "GET", "/api/repositories/{repository_id}", "Read a repository", "repositories",
        {200: ("The repository", "Repository")}, (401, 404),
    ),
    Operation(
        "PATCH", "/api/repositories/{repository_id}", "Change a repository", "repositories",
        {200: ("Changed; `webhook_secret` only when this request set it", "RepositoryUpdated")},
        (400, *WRITE, 404, 422), body="RepositoryUpdate",
    ),
    Operation(
        "DELETE", "/api/repositories/{repository_id}", "Remove a repository", "repositories",
        {204: ("Removed", None)}, (401, 403, 404),
    ),
    Operation(
        "GET", "/api/repositories/{repository_id}/webhook-url",
        "How to configure the provider's webhook", "repositories",
        {200: ("Webhook settings", "WebhookInstructions")}, (401, 404),
    ),
    Operation(
        "POST", "/api/webhooks/github", "GitHub webhook receiver (X-Hub-Signature-256)",
        "webhooks", ACK | DUPLICATE, (400, 401, 413), public=True,
    ),
    Operation(
        "POST", "/api/webhooks/gitlab/{repository_id}", "GitLab webhook receiver (X-Gitlab-Token)",
        "webhooks", ACK | DUPLICATE, (400, 401, 404, 413), public=True,
    ),
    Operation(
        "GET", "/api/webhooks/events", "List stored webhook deliveries, newest first", "events",
        {200: ("A page of deliveries", "WebhookEventPage")}, (401, 422), query=EVENT_QUERY,
    ),
    Operation(
        "GET", "/api/webhooks/events/{event_id}", "Read a stored delivery", "events",
        {200: ("The delivery, its payload and the builds it started", "WebhookEvent")},
        (401, 404),
    ),
    Operation(
        "POST", "/api/webhooks/events/{event_id}/reprocess", "Process a delivery again",
        "events", {202: ("Queued again", "WebhookEventSummary")}, (401, 403, 404, 409),
    ),
)  # fmt: skip


def _path_parameters(path: str) -> list[Json]:
    return [
        {"name": name, "in": "path", "required": True, "schema": _string()}
        for name in re.findall(r"\{(\w+)\}", path)
    ]


def _responses(op: Operation) -> Json:
    out: Json = {}
    for status, (description, schema) in op.ok.items():
        out[str(status)] = {"description": description}
        if schema is not None:
            out[str(status)]["content"] = {"application/json": {"schema": _ref(schema)}}
    for status in op.errors:
        out[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    return out


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
    if op.body is not None:
        content = {"application/json": {"schema": _ref(op.body)}}
        out["requestBody"] = {"required": True, "content": content}
    return out


def _error_responses() -> Json:
    content = {"application/json": {"schema": _ref("Error")}}
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
            "description": "Self-hosted CI: repositories, webhook intake, builds.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "responses": _error_responses(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The admin token, or an API token (read or write scope)",
                }
            },
        },
        "security": [{"bearerAuth": []}],
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc


@blueprint.get("/api/openapi.json")
@public
async def openapi_json() -> Response:
    return jsonify(document(services().settings.base_url))
