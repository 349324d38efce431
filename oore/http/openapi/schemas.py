"""The schemas of the OpenAPI document: plain dicts built by small functions.

Request-body rules come from the same patterns and field sets the handlers validate with, so the
document cannot drift from what the API accepts without a test noticing.
"""

from __future__ import annotations

import re
from typing import Any

from oore.git.names import CLONE_URL, GITLAB_NAMESPACE, NAME
from oore.http import builds, credentials, gitlab, repositories, secrets
from oore.logs.logfile import STREAMS
from oore.model import BuildStatus, EventState, Provider, StepStatus, TokenScope, TriggerKind
from oore.store.base import CredentialKind

Json = dict[str, Any]

MAX_ID = 2**63 - 1
OCTETS = "application/octet-stream"


def ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def string(**extra: Any) -> Json:
    return {"type": "string", **extra}


def nullable(schema: Json) -> Json:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: Json, required: tuple[str, ...] | None = None) -> Json:
    """A closed object; every property is required unless `required` says otherwise."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
        "additionalProperties": False,
    }


def anchored(pattern: re.Pattern[str]) -> str:
    # Handlers use fullmatch; a JSON Schema pattern is a search, so anchor it.
    return f"^(?:{pattern.pattern})$"


TIMESTAMP = string(format="date-time", description="ISO-8601 UTC, milliseconds")
ID = string(description="ULID", minLength=26, maxLength=26)
POSITIVE_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def enum(values: list[str]) -> Json:
    return string(enum=values)


def _repository_properties() -> Json:
    return {
        "id": ID,
        "provider": enum([p.value for p in Provider]),
        "owner": string(),
        "name": string(),
        "full_name": string(),
        "clone_url": string(),
        "default_branch": string(),
        "active": {"type": "boolean"},
        "github_repo_id": nullable({"type": "integer"}),
        "github_installation_id": nullable({"type": "integer"}),
        "gitlab_project_id": nullable({"type": "integer"}),
        "badge_public": {"type": "boolean"},
        "has_webhook_secret": {"type": "boolean"},
        "allow_fork_secrets": {
            "type": "boolean",
            "description": "Builds of pull requests from forks may use secret groups",
        },
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "webhook_url": string(format="uri", description="Where the provider should deliver"),
    }


def _updatable_fields() -> Json:
    """The fields `_updatable_fields` and `_secret` in repositories.py accept (null = absent)."""
    flag = nullable({"type": "boolean"})
    fields: Json = {
        "clone_url": nullable(
            string(
                pattern=f"^(?!-)(?:{CLONE_URL.pattern})$",
                maxLength=2000,
                description=(
                    "https://, ssh://, git://, file:// or user@host:path; no leading -; "
                    "no credentials (no user on http(s), no password on ssh://, git://)"
                ),
            )
        ),
        "default_branch": nullable(string(pattern=anchored(repositories.BRANCH), maxLength=255)),
        "active": flag,
        "badge_public": flag,
        "allow_fork_secrets": flag,
        "github_repo_id": nullable(POSITIVE_ID),
        "github_installation_id": nullable(POSITIVE_ID),
        "gitlab_project_id": nullable(POSITIVE_ID),
        "webhook_secret": nullable(
            string(minLength=8, maxLength=255, description="Generated when omitted on create")
        ),
    }
    return fields


def _repository_create() -> Json:
    properties: Json = {
        "provider": enum([p.value for p in Provider]),
        "owner": string(
            pattern=anchored(GITLAB_NAMESPACE),
            maxLength=255,
            description="GitHub: one name segment (at most 100 characters); GitLab: a group path",
        ),
        "name": string(pattern=anchored(NAME)),
        **_updatable_fields(),
    }
    return obj(properties, ("provider", "owner", "name", "clone_url"))


def _token_properties() -> Json:
    return {
        "id": ID,
        "name": string(),
        "scope": enum([s.value for s in TokenScope]),
        "created_at": TIMESTAMP,
        "last_used_at": nullable(TIMESTAMP),
        "revoked_at": nullable(TIMESTAMP),
    }


def _event_summary_properties() -> Json:
    return {
        "id": ID,
        "provider": enum([p.value for p in Provider]),
        "event_type": string(),
        "delivery_id": string(),
        "repository_id": nullable(ID),
        "state": enum([s.value for s in EventState]),
        "reason": nullable(string()),
        "received_at": TIMESTAMP,
        "processed_at": nullable(TIMESTAMP),
    }


def _event_detail() -> Json:
    return obj(
        _event_summary_properties()
        | {
            "headers": {"type": "object", "additionalProperties": string()},
            "payload": {"description": "The body as JSON, or {base64} when it is not JSON"},
            "size": {"type": "integer", "minimum": 0},
            "trigger": nullable({"type": "object"}),
            "workflows": {
                "type": "array",
                "description": "Each workflow of the pipeline file: whether this event ran it,"
                " and if not, why (empty until the event is processed)",
                "items": obj(
                    {
                        "workflow": string(),
                        "matched": {"type": "boolean"},
                        "reason": nullable(string()),
                    }
                ),
            },
            "builds": {"type": "array", "items": ref("BuildSummary")},
        }
    )


def _build_summary_properties() -> Json:
    text = nullable(string())
    return {
        "id": ID,
        "repository_id": ID,
        "number": {"type": "integer", "minimum": 1, "description": "Per repository"},
        "project_build_number": {"type": "integer", "description": "Per workflow"},
        "workflow": string(),
        "status": enum([s.value for s in BuildStatus]),
        "branch": text,
        "tag": text,
        "sha": text,
        "kind": nullable(enum([k.value for k in TriggerKind])),
        "pr_number": nullable({"type": "integer"}),
        "attempt": {"type": "integer", "minimum": 1},
        "retry_of": nullable(ID),
        "queue_reason": nullable(string(description="Why a queued build waits")),
        "reason": nullable(string(description="Why it errored, was skipped or cancelled")),
        "cancelled_by": nullable(  # the newer build that superseded it (cancel_previous_builds)
            obj({"id": ID, "number": {"type": "integer", "minimum": 1}})
        ),
        "created_at": TIMESTAMP,
        "started_at": nullable(TIMESTAMP),
        "finished_at": nullable(TIMESTAMP),
        "duration_seconds": nullable({"type": "number", "minimum": 0}),
    }


def _build_detail() -> Json:
    return obj(
        _build_summary_properties()
        | {
            "trigger": {"type": "object", "description": "What started the build"},
            "event_id": nullable(ID),
            "inputs": {"type": "object"},
            "env_names": {
                "type": "array",
                "items": string(),
                "description": "Names of the variables the trigger set (never their values)",
            },
            "queue_position": nullable(
                {"type": "integer", "minimum": 1, "description": "1 = next; null unless queued"}
            ),
            "steps": {"type": "array", "items": ref("Step")},
            "log_expired_at": nullable(
                TIMESTAMP | {"description": "When retention removed the log (then 410)"}
            ),
            "artifacts_expired_at": nullable(
                TIMESTAMP | {"description": "When retention removed the artifacts"}
            ),
        }
    )


def _step() -> Json:
    return obj(
        {
            "index": {
                "type": "integer",
                "minimum": 0,
                "description": "From 0: the `step` of log lines and of ?step=",
            },
            "number": {
                "type": "integer",
                "minimum": 1,
                "description": "From 1: as people see it (the log's `==> [1] name` header)",
            },
            "name": string(),
            "kind": enum(["script", "publishing"]),
            "status": enum([s.value for s in StepStatus]),
            "exit_code": nullable({"type": "integer"}),
            "reason": nullable(string()),
            "started_at": nullable(TIMESTAMP),
            "finished_at": nullable(TIMESTAMP),
            "duration_seconds": nullable({"type": "number", "minimum": 0}),
        }
    )


def _artifact() -> Json:
    return obj(
        {
            "id": ID,
            "build_id": ID,
            "name": string(),
            "size": {"type": "integer", "minimum": 0},
            "sha256": string(pattern="^[0-9a-f]{64}$"),
            "content_type": string(),
            "created_at": TIMESTAMP,
            "url": string(format="uri", description="GET it to download"),
        }
    )


def _build_trigger() -> Json:
    """The body `trigger_build` in builds.py accepts: a workflow and exactly one ref."""
    ref = {
        "branch": string(pattern=anchored(repositories.BRANCH), maxLength=255),
        "tag": string(pattern=anchored(repositories.BRANCH), maxLength=255),
        "sha": string(pattern=anchored(builds.SHA), description="A full hex commit id"),
    }
    env_name = f"^(?!OORE_|CM_)(?:{builds.ENV_NAME.pattern})$"
    schema = obj(
        {
            "workflow": string(minLength=1, maxLength=100, pattern=r"\S"),
            **{name: nullable(value) for name, value in ref.items()},
            "inputs": nullable(
                {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "number", "boolean"]},
                    "description": "Values for the workflow's `inputs`",
                }
            ),
            "env": nullable(
                {
                    "type": "object",
                    "propertyNames": {"pattern": env_name},
                    "additionalProperties": string(),
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
    return obj(
        {
            "file": string(),
            "line": nullable({"type": "integer", "minimum": 1}),
            "key": nullable(string(description="Dotted path, e.g. workflows.ios.scripts")),
            "message": string(),
        }
    )


def _issues() -> Json:
    return {"type": "array", "items": ref("PipelineIssue")}


def _workflow_ids() -> Json:
    return {"type": "array", "items": string(), "description": "Workflow ids that loaded"}


def _pipeline_schemas() -> Json:
    return {
        "PipelineIssue": _pipeline_issue(),
        "PipelineReport": obj(
            {
                "ok": {"type": "boolean"},
                "errors": _issues(),
                "warnings": _issues(),
                "workflows": _workflow_ids(),
            }
        ),
        "PipelineSource": obj(
            {
                "content": string(description="The pipeline file's YAML text"),
                "file": string(description="Name used in messages; codemagic.yaml by default"),
            },
            ("content",),
        ),
        "PipelineStored": obj({"workflows": _workflow_ids(), "warnings": _issues()}),
    }


def _credential_schemas() -> Json:
    kinds = [k.value for k in CredentialKind]
    return {
        "RepositoryCredential": obj(
            {
                "repository_id": ID,
                "kind": enum(kinds),
                "username": nullable(string(description="Sent with an HTTPS token")),
                "public_key": nullable(
                    string(description="A deploy key's OpenSSH public key, for the provider")
                ),
                "origin": string(
                    description="Scheme, host and port of the clone URL it was set for; "
                    "it is sent nowhere else"
                ),
                "created_at": TIMESTAMP,
            }
        ),
        "RepositoryCredentialPut": {
            "oneOf": [
                obj(
                    {
                        "kind": enum([CredentialKind.HTTPS_TOKEN.value]),
                        "token": string(
                            pattern=anchored(credentials.TOKEN),
                            description="A personal, project or app token (write-only)",
                        ),
                        "username": string(
                            pattern=anchored(credentials.USERNAME),
                            description="Default x-access-token (Bitbucket: your user name)",
                        ),
                    },
                    ("kind", "token"),
                ),
                obj({"kind": enum([CredentialKind.SSH_DEPLOY_KEY.value])}),
            ]
        },
    }


def _secret_schemas() -> Json:
    names = {"type": "array", "items": string(), "description": "Variable names; never values"}
    scope = {
        "type": "array",
        "items": ID,
        "maxItems": secrets.MAX_SCOPE,
        "description": "Ids of the repositories whose builds may use the group; [] = all",
    }
    group = obj(
        {"name": string(pattern=anchored(secrets.GROUP)), "variables": names, "repositories": scope}
    )
    variables = {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": anchored(secrets.NAME)},
        "additionalProperties": string(
            maxLength=secrets.MAX_VALUE, pattern="^[^\\x00]*$", description="No NUL character"
        ),
        "description": "NAME: value; replaces the whole group",
    }
    put_scope = nullable(
        scope | {"description": "Repository ids; [] = all; omitted or null keeps the scope"}
    )
    return {
        "SecretGroup": group,
        "SecretGroupList": _list_of("SecretGroup"),
        "SecretGroupPut": obj({"variables": variables, "repositories": put_scope}, ("variables",)),
    }


def _build_schemas() -> Json:
    return {
        "BuildSummary": obj(_build_summary_properties()),
        "Build": _build_detail(),
        "BuildPage": obj(
            {
                "items": {"type": "array", "items": ref("BuildSummary")},
                "next_cursor": nullable(string(description="Pass as ?cursor= for the next page")),
            }
        ),
        "BuildTrigger": _build_trigger(),
        "Step": _step(),
        "StepList": _list_of("Step"),
        "Artifact": _artifact(),
        "ArtifactList": _list_of("Artifact"),
        "Text": string(),
        "Binary": {"contentMediaType": OCTETS},
        "Svg": {"type": "string", "contentMediaType": "image/svg+xml"},
        "LogLine": obj(
            {
                "n": {"type": "integer", "minimum": 1, "description": "Line number, from 1"},
                "step": {"type": "integer", "minimum": -1, "description": "-1: Oore's own notes"},
                "stream": enum(list(STREAMS)),
                "text": string(),
            }
        ),
    }


def _webhook_instructions() -> Json:
    return obj(
        {
            "url": string(format="uri"),
            "content_type": string(description="GitHub only"),
            "secret": string(description="Where to find the secret (never the secret itself)"),
            "events": {"type": "array", "items": string()},
            "header": string(),
        },
        ("url", "secret", "events", "header"),
    )


def _error() -> Json:
    detail = obj({"code": string(), "message": string(), "field": string()}, ("code", "message"))
    return obj({"error": detail})


def _list_of(name: str) -> Json:
    return obj({"items": {"type": "array", "items": ref(name)}})


def schemas() -> Json:
    repository = _repository_properties()
    secret = string(description="Shown only in the response that set it")
    return {
        "Error": _error(),
        "Health": obj(
            {
                "status": enum(["ok", "degraded"]),
                "store": enum(["ok"]),
                "uptime_seconds": {"type": "number"},
                # With "degraded": what is wrong (free disk below OORE_MIN_FREE_DISK).
                "problems": {"type": "array", "items": string()},
            },
            ("status", "store", "uptime_seconds"),
        ),
        "Version": obj({"version": string(), "python": string(), "trio": string()}),
        "OpenApiDocument": {"type": "object", "required": ["openapi", "paths"]},
        "Repository": obj(repository),
        "RepositoryWithSecret": obj(repository | {"webhook_secret": secret}),
        "RepositoryUpdated": obj(repository | {"webhook_secret": secret}, tuple(repository)),
        "RepositoryCreate": _repository_create(),
        "RepositoryUpdate": obj(_updatable_fields(), ()),
        "RepositoryList": _list_of("Repository"),
        "WebhookInstructions": _webhook_instructions(),
        "Token": obj(_token_properties()),
        "TokenCreated": obj(_token_properties() | {"token": string(pattern="^oore_")}),
        "TokenCreate": obj(
            {
                "name": string(minLength=1, maxLength=100, pattern=r"\S"),
                "scope": enum([s.value for s in TokenScope]),
            }
        ),
        "TokenList": _list_of("Token"),
        "WebhookAck": obj(
            {"status": enum(["accepted", "duplicate"]), "event_id": ID},
        ),
        "WebhookEventSummary": obj(_event_summary_properties()),
        "WebhookEvent": _event_detail(),
        "WebhookEventPage": obj(
            {
                "items": {"type": "array", "items": ref("WebhookEventSummary")},
                "next_cursor": nullable(string(description="Pass as ?cursor= for the next page")),
            }
        ),
        **_build_schemas(),
        **_pipeline_schemas(),
        **_secret_schemas(),
        **_credential_schemas(),
        **_gitlab_schemas(),
        **_github_schemas(),
        **_notification_schemas(),
        **_notify_settings_schemas(),
    }


def _gitlab_schemas() -> Json:
    project = {
        "id": POSITIVE_ID,
        "path_with_namespace": string(),
        "namespace": string(description="The namespace's full path"),
        "path": string(),
        "http_url_to_repo": string(),
        "default_branch": nullable(string()),
        "web_url": nullable(string()),
        "enabled": {"type": "boolean", "description": "Oore holds a webhook on the project"},
        "repository_id": nullable(ID),
    }
    repository = obj(_repository_properties())
    return {
        "GitLabStatus": obj(
            {
                "gitlab_url": string(format="uri"),
                "redirect_uri": string(
                    format="uri", description="The application's redirect URI in GitLab"
                ),
                "application_id": nullable(string()),
                "connected": {"type": "boolean"},
                "username": nullable(string()),
                "expires_at": nullable(TIMESTAMP),
            }
        ),
        "GitLabApplicationPut": obj(
            {
                "application_id": string(pattern=anchored(gitlab.APPLICATION_ID)),
                "secret": string(minLength=1, maxLength=255, pattern=r"\S"),
            }
        ),
        "GitLabAuthorize": obj(
            {"url": string(format="uri", description="Open in a browser"), "expires_at": TIMESTAMP}
        ),
        "GitLabProject": obj(project),
        "GitLabProjectList": _list_of("GitLabProject"),
        "GitLabEnabled": obj({"repository": repository, "hook_id": POSITIVE_ID}),
        "GitLabDisabled": obj({"repository": repository}),
    }


def query_param(name: str, schema: Json, description: str) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _github_schemas() -> Json:
    app = {
        "app_id": POSITIVE_ID,
        "slug": string(),
        "name": string(),
        "owner": string(),
        "html_url": string(format="uri"),
        "install_url": string(format="uri", description="Where to install the app"),
        "created_at": TIMESTAMP,
    }
    repository = {
        "id": POSITIVE_ID,
        "full_name": string(),
        "private": {"type": "boolean"},
        "repository_id": nullable(ID | {"description": "The Oore repository, once registered"}),
    }
    installation = {
        "id": POSITIVE_ID,
        "account": string(),
        "account_type": string(),
        "repository_selection": string(),
        "suspended": {"type": "boolean"},
        "updated_at": TIMESTAMP,
        "repositories": {"type": "array", "items": obj(repository)},
    }
    flag = nullable({"type": "boolean"})
    return {
        "GithubManifestRequest": obj(
            {
                "name": string(maxLength=34, description="The app's name on GitHub"),
                "organization": string(description="Make the app for this organization"),
            },
            (),
        ),
        "GithubManifest": obj(
            {
                "url": string(format="uri", description="Post `manifest` here from a browser"),
                "manifest": {"type": "object"},
                "state": string(description="Usable once, for 10 minutes"),
            }
        ),
        "GithubApp": obj(app),
        "GithubInstallationList": obj({"items": {"type": "array", "items": obj(installation)}}),
        "RepositoryCreateFromInstallation": obj(
            {
                "provider": enum(["github"]),
                "installation_id": POSITIVE_ID,
                "github_repo_id": POSITIVE_ID,
                "active": flag,
                "badge_public": flag,
                "allow_fork_secrets": flag,
            },
            ("provider", "installation_id", "github_repo_id"),
        ),
        "RepositoryRegistration": {
            "oneOf": [ref("RepositoryCreate"), ref("RepositoryCreateFromInstallation")]
        },
        "RepositoryRegistered": {"oneOf": [ref("RepositoryWithSecret"), ref("Repository")]},
    }


def _notification_schemas() -> Json:
    # Imported here: that module builds on the helpers above.
    from oore.http.openapi.notification_schemas import notification_schemas

    return notification_schemas()


def _notify_settings_schemas() -> Json:
    # Imported here: that module builds on the helpers above.
    from oore.http.openapi.notify_settings_schemas import notify_settings_schemas

    return notify_settings_schemas()
