"""The OpenAPI 3.1 document of the HTTP API, served at `GET /api/openapi.json`.

Every route is one row of `OPERATIONS`; schemas are plain dicts built by small functions so that
request-body rules are taken from the same patterns and field sets the handlers validate with.
`tests/http/test_openapi.py` compares the rows with the app's URL map and checks real responses
against the documented schemas, so a route or field added without documenting it fails CI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from quart import Blueprint, Response, jsonify

from oore import __version__
from oore.http import builds, repositories, secrets
from oore.http.auth import public
from oore.http.services import services
from oore.logs.logfile import STREAMS
from oore.model import BuildStatus, EventState, Provider, StepStatus, TokenScope, TriggerKind

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
    416: "The Range header asks for bytes the file does not have.",
    422: "A field is invalid; `error.field` names it.",
    503: "A dependency (the store or the build queue) is unavailable.",
}
JSON_MEDIA = "application/json"
NDJSON_MEDIA = "application/x-ndjson"
OCTETS = "application/octet-stream"
# A success response's content: a schema name (as JSON), None (no body), or media type -> schema
# name. An NDJSON body is text; its schema name is that of each line.
Content = str | Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class Operation:
    """One (path, method) of the API and what it can answer."""

    method: str
    path: str
    summary: str
    tag: str
    ok: Mapping[int, tuple[str, Content]]  # status -> (description, content)
    errors: tuple[int, ...] = ()
    public: bool = False
    body: str | None = None  # request-body schema name (JSON)
    query: tuple[Json, ...] = ()
    raw_body: str | None = None  # a text media type the body may be sent as instead of JSON
    # status -> names of response headers documented in components.headers
    headers: Mapping[int, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Socket:
    """A WebSocket route; OpenAPI cannot describe one, so the document lists it in x-websockets."""

    path: str
    summary: str
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


def _build_summary_properties() -> Json:
    text = _nullable(_string())
    return {
        "id": ID,
        "repository_id": ID,
        "number": {"type": "integer", "minimum": 1, "description": "Per repository"},
        "project_build_number": {"type": "integer", "description": "Per workflow"},
        "workflow": _string(),
        "status": _enum([s.value for s in BuildStatus]),
        "branch": text,
        "tag": text,
        "sha": text,
        "kind": _nullable(_enum([k.value for k in TriggerKind])),
        "pr_number": _nullable({"type": "integer"}),
        "attempt": {"type": "integer", "minimum": 1},
        "retry_of": _nullable(ID),
        "queue_reason": _nullable(_string(description="Why a queued build waits")),
        "reason": _nullable(_string(description="Why it errored, was skipped or cancelled")),
        "created_at": TIMESTAMP,
        "started_at": _nullable(TIMESTAMP),
        "finished_at": _nullable(TIMESTAMP),
        "duration_seconds": _nullable({"type": "number", "minimum": 0}),
    }


def _build_detail() -> Json:
    return _obj(
        _build_summary_properties()
        | {
            "trigger": {"type": "object", "description": "What started the build"},
            "event_id": _nullable(ID),
            "inputs": {"type": "object"},
            "env_names": {
                "type": "array",
                "items": _string(),
                "description": "Names of the variables the trigger set (never their values)",
            },
            "queue_position": _nullable(
                {"type": "integer", "minimum": 1, "description": "1 = next; null unless queued"}
            ),
            "steps": {"type": "array", "items": _ref("Step")},
        }
    )


def _step() -> Json:
    return _obj(
        {
            "index": {"type": "integer", "minimum": 0},
            "name": _string(),
            "kind": _enum(["script", "publishing"]),
            "status": _enum([s.value for s in StepStatus]),
            "exit_code": _nullable({"type": "integer"}),
            "reason": _nullable(_string()),
            "started_at": _nullable(TIMESTAMP),
            "finished_at": _nullable(TIMESTAMP),
            "duration_seconds": _nullable({"type": "number", "minimum": 0}),
        }
    )


def _artifact() -> Json:
    return _obj(
        {
            "id": ID,
            "build_id": ID,
            "name": _string(),
            "size": {"type": "integer", "minimum": 0},
            "sha256": _string(pattern="^[0-9a-f]{64}$"),
            "content_type": _string(),
            "created_at": TIMESTAMP,
            "url": _string(format="uri", description="GET it to download"),
        }
    )


def _build_trigger() -> Json:
    """The body `trigger_build` in builds.py accepts: a workflow and exactly one ref."""
    ref = {
        "branch": _string(pattern=_anchored(repositories.BRANCH), maxLength=255),
        "tag": _string(pattern=_anchored(repositories.BRANCH), maxLength=255),
        "sha": _string(pattern=_anchored(builds.SHA), description="A full hex commit id"),
    }
    env_name = f"^(?!OORE_|CM_)(?:{builds.ENV_NAME.pattern})$"
    schema = _obj(
        {
            "workflow": _string(minLength=1, maxLength=100, pattern=r"\S"),
            **{name: _nullable(value) for name, value in ref.items()},
            "inputs": _nullable(
                {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "number", "boolean"]},
                    "description": "Values for the workflow's `inputs`",
                }
            ),
            "env": _nullable(
                {
                    "type": "object",
                    "propertyNames": {"pattern": env_name},
                    "additionalProperties": _string(),
                    "description": "Extra build variables; OORE_ and CM_ names are reserved",
                }
            ),
        },
        ("workflow",),
    )
    # Exactly one of branch, tag or sha is given as a string (null counts as absent).
    schema["oneOf"] = [
        {"required": [name], "properties": {name: {"type": "string"}}} for name in ref
    ]
    return schema


def _pipeline_issue() -> Json:
    return _obj(
        {
            "file": _string(),
            "line": _nullable({"type": "integer", "minimum": 1}),
            "key": _nullable(_string(description="Dotted path, e.g. workflows.ios.scripts")),
            "message": _string(),
        }
    )


def _issues() -> Json:
    return {"type": "array", "items": _ref("PipelineIssue")}


def _workflow_ids() -> Json:
    return {"type": "array", "items": _string(), "description": "Workflow ids that loaded"}


def _pipeline_schemas() -> Json:
    return {
        "PipelineIssue": _pipeline_issue(),
        "PipelineReport": _obj(
            {
                "ok": {"type": "boolean"},
                "errors": _issues(),
                "warnings": _issues(),
                "workflows": _workflow_ids(),
            }
        ),
        "PipelineSource": _obj(
            {
                "content": _string(description="The pipeline file's YAML text"),
                "file": _string(description="Name used in messages; codemagic.yaml by default"),
            },
            ("content",),
        ),
        "PipelineStored": _obj({"workflows": _workflow_ids(), "warnings": _issues()}),
    }


def _secret_schemas() -> Json:
    names = {"type": "array", "items": _string(), "description": "Variable names; never values"}
    group = _obj({"name": _string(pattern=_anchored(secrets.GROUP)), "variables": names})
    variables = {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": _anchored(secrets.NAME)},
        "additionalProperties": _string(maxLength=secrets.MAX_VALUE),
        "description": "NAME: value; replaces the whole group",
    }
    return {
        "SecretGroup": group,
        "SecretGroupList": _list_of("SecretGroup"),
        "SecretGroupPut": _obj({"variables": variables}),
    }


def _build_schemas() -> Json:
    return {
        "BuildSummary": _obj(_build_summary_properties()),
        "Build": _build_detail(),
        "BuildPage": _obj(
            {
                "items": {"type": "array", "items": _ref("BuildSummary")},
                "next_cursor": _nullable(_string(description="Pass as ?cursor= for the next page")),
            }
        ),
        "BuildTrigger": _build_trigger(),
        "Step": _step(),
        "StepList": _list_of("Step"),
        "Artifact": _artifact(),
        "ArtifactList": _list_of("Artifact"),
        "Text": _string(),
        "Binary": {"contentMediaType": OCTETS},
        "LogLine": _obj(
            {
                "n": {"type": "integer", "minimum": 1, "description": "Line number, from 1"},
                "step": {"type": "integer", "minimum": -1, "description": "-1: Oore's own notes"},
                "stream": _enum(list(STREAMS)),
                "text": _string(),
            }
        ),
    }


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
        **_build_schemas(),
        **_pipeline_schemas(),
        **_secret_schemas(),
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
BUILD_QUERY = (
    _query("repository", ID, "Only builds of this repository id"),
    _query("status", _enum([s.value for s in BuildStatus]), "Only builds in this status"),
    _query("branch", _string(), "Only builds of this branch"),
    _query("workflow", _string(), "Only builds of this workflow id"),
    _query("cursor", _string(), "`next_cursor` of the previous page"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "Page size"),
)
LOG_QUERY = (
    _query("since", {"type": "integer", "minimum": 1, "default": 1}, "First line to send"),
    _query("step", {"type": "integer", "minimum": -1}, "Only this step's lines (-1: Oore's)"),
    _query("download", _string(), "Any value: the whole log file as an attachment"),
)
# name -> (description, schema, always sent)
RESPONSE_HEADERS: dict[str, tuple[str, Json, bool]] = {
    "X-Checksum-SHA256": (
        "SHA-256 of the whole artifact, hex",
        _string(pattern="^[0-9a-f]{64}$"),
        True,
    ),
    "Content-Disposition": ("attachment; filename=<name>", _string(pattern="^attachment"), False),
    "Accept-Ranges": ("Byte ranges are served", _enum(["bytes"]), True),
    "Content-Range": ("bytes first-last/size", _string(pattern=r"^bytes \d+-\d+/\d+$"), True),
    "ETag": ("Send as If-None-Match to get 304 while unchanged", _string(), True),
    "X-Next-Line": (
        "`since` for the next request (absent with ?download)",
        _string(pattern="^[1-9][0-9]*$"),
        False,
    ),
}
LOG_CONTENT = {"text/plain": "Text", NDJSON_MEDIA: "LogLine"}
DOWNLOAD_HEADERS = ("X-Checksum-SHA256", "Content-Disposition", "Accept-Ranges", "ETag")
WRITE = (401, 403, 413)  # an authenticated route with a body: bad token, read scope, size
ACK: dict[int, tuple[str, Content]] = {
    202: ("Stored; processing continues in the background", "WebhookAck")
}
DUPLICATE: dict[int, tuple[str, Content]] = {
    200: ("Already stored under this delivery id; nothing new", "WebhookAck")
}
QUEUE = 503  # asked of the RepositorySupervisor: unavailable when the build queue is not running
ONE_BUILD = "/api/builds/{build_id}"
STORED_PIPELINE = "/api/repositories/{repository_id}/pipeline"
SECRET_GROUP = "/api/secret-groups/{name}"

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
    Operation(
        "GET", "/api/builds", "List builds, newest first", "builds",
        {200: ("A page of builds", "BuildPage")}, (401, 422), query=BUILD_QUERY,
    ),
    Operation(
        "POST", "/api/repositories/{repository_id}/builds",
        "Start a build by hand at a branch, tag or commit", "builds",
        {201: ("Queued", "BuildSummary")}, (400, *WRITE, 404, 409, 422, QUEUE), body="BuildTrigger",
    ),
    Operation(
        "GET", ONE_BUILD, "Read a build with its steps and queue position", "builds",
        {200: ("The build", "Build")}, (401, 404),
    ),
    Operation(
        "POST", ONE_BUILD + "/cancel", "Cancel a queued or running build", "builds",
        {202: ("Cancelling (a running build stops shortly)", "BuildSummary")},
        (401, 403, 404, 409, QUEUE),
    ),
    Operation(
        "POST", ONE_BUILD + "/retry", "Run a finished build again, as a new build", "builds",
        {201: ("The new build (`retry_of` names this one)", "BuildSummary")},
        (401, 403, 404, 409, QUEUE),
    ),
    Operation(
        "GET", ONE_BUILD + "/steps", "A build's steps", "builds",
        {200: ("Steps in order", "StepList")}, (401, 404),
    ),
    Operation(
        "GET", ONE_BUILD + "/log",
        "A build's log from line `since`: text, or NDJSON lines when Accept asks for it",
        "builds",
        {200: ("The lines (none before the build starts)", LOG_CONTENT)},
        (401, 404, 422), query=LOG_QUERY, headers={200: ("X-Next-Line", "Content-Disposition")},
    ),
    Operation(
        "GET", ONE_BUILD + "/artifacts", "A build's artifacts", "builds",
        {200: ("Artifacts with download URLs", "ArtifactList")}, (401, 404),
    ),
    Operation(
        "GET", "/api/artifacts/{artifact_id}", "Download an artifact (Range supported)",
        "builds",
        {
            200: ("The whole file; its Content-Type is the artifact's", {OCTETS: "Binary"}),
            206: ("The requested byte range", {OCTETS: "Binary"}),
            304: ("Unchanged since the ETag sent in If-None-Match", None),
        },
        (401, 404, 416),
        headers={
            200: DOWNLOAD_HEADERS, 206: (*DOWNLOAD_HEADERS, "Content-Range"), 304: ("ETag",)
        },
    ),
    Operation(
        "POST", "/api/pipelines/validate", "Check a pipeline file; the answer lists every issue",
        "pipelines", {200: ("The report (`ok` false when it would not load)", "PipelineReport")},
        (400, *WRITE), body="PipelineSource", raw_body="application/yaml",
    ),
    Operation(
        "GET", STORED_PIPELINE, "The repository's stored pipeline file", "pipelines",
        {200: ("The YAML text", {"application/yaml": "Text"})}, (401, 404),
    ),
    Operation(
        "PUT", STORED_PIPELINE,
        "Store the pipeline used when a commit has no pipeline file", "pipelines",
        {200: ("Stored", "PipelineStored")}, (400, *WRITE, 404, 422),
        body="PipelineSource", raw_body="application/yaml",
    ),
    Operation(
        "DELETE", STORED_PIPELINE, "Remove the stored pipeline", "pipelines",
        {204: ("Removed", None)}, (401, 403, 404),
    ),
    Operation(
        "GET", "/api/secret-groups", "List secret groups with variable names (never values)",
        "secrets", {200: ("Groups", "SecretGroupList")}, (401,),
    ),
    Operation(
        "GET", SECRET_GROUP, "Read a secret group's variable names", "secrets",
        {200: ("The group", "SecretGroup")}, (401, 404),
    ),
    Operation(
        "PUT", SECRET_GROUP, "Create or replace a secret group; values are stored sealed",
        "secrets", {200: ("Stored; names only", "SecretGroup")}, (400, *WRITE, 422),
        body="SecretGroupPut",
    ),
    Operation(
        "DELETE", SECRET_GROUP, "Remove a secret group", "secrets",
        {204: ("Removed", None)}, (401, 403, 404),
    ),
)  # fmt: skip


WEBSOCKETS = (
    Socket(
        "/api/builds/{build_id}/logs/stream",
        "Log lines from `since` (catch-up, then live), step changes and heartbeats, as JSON "
        "messages; ends with {type: end, status} and close 1000",
        (_query("since", {"type": "integer", "minimum": 1, "default": 1}, "First line to send"),),
    ),
    Socket(
        "/api/events",
        "Builds created or changed, steps changed and the queue, as they are committed; "
        "heartbeats; {type: resync} when the client fell behind and should re-read",
    ),
)
CLOSE_CODES = {
    "4400": "A query parameter is malformed",
    "4401": "No or bad credentials (bearer token or session cookie)",
    "4403": "The credentials do not allow this",
    "4404": "No such build",
}


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
        {"name": name, "in": "path", "required": True, "schema": _string()}
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
        return {"schema": _ref("Text"), "x-item-schema": _ref(schema)}
    return {"schema": _ref(schema)}


def _request_body(op: Operation) -> Json | None:
    content: Json = {}
    if op.body is not None:
        content[JSON_MEDIA] = {"schema": _ref(op.body)}
    if op.raw_body is not None:
        content[op.raw_body] = {"schema": _ref("Text")}
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


@blueprint.get("/api/openapi.json")
@public
async def openapi_json() -> Response:
    return jsonify(document(services().settings.base_url))
