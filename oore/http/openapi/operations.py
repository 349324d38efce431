"""Every route of the HTTP API as one row of `OPERATIONS`, and the WebSockets beside them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from oore.http.notifications import KINDS as NOTIFICATION_KINDS
from oore.http.openapi.schemas import ID, OCTETS, Json, enum, query_param, string
from oore.model import BuildStatus, DeliveryState, EventState, Provider

ERROR_DESCRIPTIONS = {
    400: "The request is malformed (bad JSON, missing header, wrong provider).",
    401: "No valid credentials (bearer token, webhook signature or token).",
    403: "The token's scope or kind does not allow this request.",
    404: "No such object.",
    409: "The request conflicts with the current state.",
    410: "Retention removed it (`expired`): the message says when and which setting.",
    413: "The request body is over the configured limit.",
    416: "The Range header asks for bytes the file does not have.",
    422: "A field is invalid; `error.field` names it.",
    502: (
        "The repository's clone URL could not serve the commit asked for (`fetch_failed`), or "
        "a provider's API answered an error (`provider_error`)."
    ),
    503: "A dependency (the store or the build queue) is unavailable.",
}
JSON_MEDIA = "application/json"
NDJSON_MEDIA = "application/x-ndjson"
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


PAGE_SIZE: Json = {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}
FIRST_LINE: Json = {"type": "integer", "minimum": 1, "default": 1}
EVENT_QUERY = (
    query_param("repository", ID, "Only events for this repository id"),
    query_param("provider", enum([p.value for p in Provider]), "Only events from this provider"),
    query_param("state", enum([s.value for s in EventState]), "Only events in this state"),
    query_param("cursor", string(), "`next_cursor` of the previous page"),
    query_param(
        "limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "Page size"
    ),
)
BUILD_QUERY = (
    query_param("repository", ID, "Only builds of this repository id"),
    query_param("status", enum([s.value for s in BuildStatus]), "Only builds in this status"),
    query_param("branch", string(), "Only builds of this branch"),
    query_param("workflow", string(), "Only builds of this workflow id"),
    query_param(
        "number", {"type": "integer", "minimum": 1}, "Only builds with this number (per repository)"
    ),
    query_param("cursor", string(), "`next_cursor` of the previous page"),
    query_param(
        "limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "Page size"
    ),
)
LOG_QUERY = (
    query_param("since", {"type": "integer", "minimum": 1, "default": 1}, "First line to send"),
    query_param("step", {"type": "integer", "minimum": -1}, "Only this step's lines (-1: Oore's)"),
    query_param("download", string(), "Any value: the whole log file as an attachment"),
)
# name -> (description, schema, always sent)
RESPONSE_HEADERS: dict[str, tuple[str, Json, bool]] = {
    "X-Checksum-SHA256": (
        "SHA-256 of the whole artifact, hex",
        string(pattern="^[0-9a-f]{64}$"),
        True,
    ),
    "Content-Disposition": ("attachment; filename=<name>", string(pattern="^attachment"), False),
    "Accept-Ranges": ("Byte ranges are served", enum(["bytes"]), True),
    "Content-Range": ("bytes first-last/size", string(pattern=r"^bytes \d+-\d+/\d+$"), True),
    "ETag": ("Send as If-None-Match to get 304 while unchanged", string(), True),
    "X-Next-Line": (
        "`since` for the next request (absent with ?download)",
        string(pattern="^[1-9][0-9]*$"),
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
QUEUE = 503  # asked of the RepositorySupervisor: unavailable when it does not answer in time
ONE_BUILD = "/api/builds/{build_id}"
STORED_PIPELINE = "/api/repositories/{repository_id}/pipeline"
SECRET_GROUP = "/api/secret-groups/{name}"
CREDENTIALS = "/api/repositories/{repository_id}/credentials"

GITLAB_PROJECT = "/api/gitlab/projects/{project_id}"
PROVIDER = (409, 502, 503)  # not connected; GitLab answered an error; GitLab did not answer
GITLAB_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET", "/api/gitlab", "GitLab OAuth: the application, and whom Oore is connected as",
        "gitlab", {200: ("The connection", "GitLabStatus")}, (401,),
    ),
    Operation(
        "PUT", "/api/gitlab/application",
        "Set the GitLab OAuth application (id and secret; the secret is stored sealed, never "
        "answered; admin token only)", "gitlab", {200: ("Stored", "GitLabStatus")},
        (400, *WRITE, 422), body="GitLabApplicationPut",
    ),
    Operation(
        "GET", "/api/gitlab/authorize",
        "The GitLab sign-in URL to open, with a state usable once for 10 minutes (admin token "
        "only)", "gitlab", {200: ("The URL", "GitLabAuthorize")}, (401, 403, 409),
    ),
    Operation(
        "GET", "/api/gitlab/callback",
        "Where GitLab sends the browser back: uses up the state, exchanges the code",
        "gitlab", {200: ("Connected; a page for the browser", {"text/html": "Text"})},
        (400, *PROVIDER), public=True,
        query=(
            query_param("code", string(), "The authorization code GitLab issued"),
            query_param("state", string(), "The state from GET /api/gitlab/authorize"),
            query_param("error", string(), "GitLab's error code when no access was granted"),
        ),
    ),
    Operation(
        "GET", "/api/gitlab/projects",
        "The GitLab projects the connected user maintains, and which are enabled", "gitlab",
        {200: ("Projects", "GitLabProjectList")}, (401, *PROVIDER),
    ),
    Operation(
        "POST", GITLAB_PROJECT + "/enable",
        "Create the project's webhook in GitLab and register (or re-activate) its repository",
        "gitlab", {200: ("Enabled", "GitLabEnabled")}, (401, 403, 404, *PROVIDER),
    ),
    Operation(
        "POST", GITLAB_PROJECT + "/disable",
        "Delete the project's webhook in GitLab and deactivate its repository", "gitlab",
        {200: ("Disabled", "GitLabDisabled")}, (401, 403, 404, *PROVIDER),
    ),
)  # fmt: skip

GITHUB_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST", "/api/github/manifest",
        "Start making the GitHub App: the manifest and single-use state (10 minutes) to post "
        "to `url` from a browser (admin token only)", "github",
        {200: ("What to post", "GithubManifest")}, (400, *WRITE, 422),
        body="GithubManifestRequest",
    ),
    Operation(
        "GET", "/api/github/callback",
        "Where GitHub sends the browser back: uses up the state and exchanges the code for the "
        "app's credentials (stored sealed); after an installation, only says what is next",
        "github", {200: ("A page for the browser", {"text/html": "Text"})},
        (400, 403, 502, 503), public=True,
        query=(
            query_param("code", string(), "The one-time code GitHub issued"),
            query_param("state", string(), "The state from POST /api/github/manifest"),
            query_param("setup_action", string(), "Set by GitHub after an installation"),
            query_param("installation_id", string(), "Set by GitHub after an installation"),
        ),
    ),
    Operation(
        "GET", "/api/github/app", "The GitHub App (never its secrets)", "github",
        {200: ("The app", "GithubApp")}, (401, 404),
    ),
    Operation(
        "GET", "/api/github/installations",
        "Where the GitHub App is installed and the repositories each installation covers, as "
        "GitHub reported them through the app's webhook", "github",
        {200: ("Installations", "GithubInstallationList")}, (401,),
    ),
)  # fmt: skip

DELIVERY_QUERY = (
    query_param("state", enum([s.value for s in DeliveryState]), "Only deliveries in this state"),
    query_param("build", ID, "Only deliveries about this build id"),
    query_param("kind", enum(list(NOTIFICATION_KINDS)), "Only deliveries of this channel kind"),
    query_param("cursor", string(), "`next_cursor` of the previous page"),
    query_param("limit", PAGE_SIZE, "Page size"),
)
WEBHOOK_TARGETS = "/api/notifications/webhooks"
NOTIFICATION_OPERATIONS = (
    Operation(
        "GET", "/api/notifications",
        "List notification deliveries (statuses, checks, Slack, email, signed webhooks), "
        "newest first", "notifications",
        {200: ("A page of deliveries", "DeliveryPage")}, (401, 422), query=DELIVERY_QUERY,
    ),
    Operation(
        "POST", "/api/notifications/{delivery_id}/resend",
        "Send a dead or delivered delivery again (its maximum age starts over)", "notifications",
        {200: ("Pending again", "Delivery")}, (401, 403, 404, 409),
    ),
    Operation(
        "GET", WEBHOOK_TARGETS,
        "List signed webhook targets (never their secrets; each URL without user, password or "
        "query); global targets only for the admin token", "notifications",
        {200: ("Targets", "WebhookTargetList")}, (401,),
    ),
    Operation(
        "POST", WEBHOOK_TARGETS,
        "Add a signed webhook target; the secret is stored sealed and never shown (a global "
        "target, without repository_id: admin token only)",
        "notifications", {201: ("Added", "WebhookTarget")}, (400, *WRITE, 404, 422),
        body="WebhookTargetCreate",
    ),
    Operation(
        "DELETE", WEBHOOK_TARGETS + "/{target_id}",
        "Remove a signed webhook target (a global one: admin token only)",
        "notifications", {204: ("Removed", None)}, (401, 403, 404),
    ),
)  # fmt: skip

SLACK_SETTING = "/api/settings/slack"
SMTP_SETTING = "/api/settings/smtp"
NOTIFY_SETTINGS_OPERATIONS = (
    Operation(
        "GET", SLACK_SETTING,
        "How Oore posts to Slack (never the webhook URL or token; admin token only)",
        "settings", {200: ("The setting", "SlackSetting")}, (401, 403, 404),
    ),
    Operation(
        "PUT", SLACK_SETTING,
        "Set how Oore posts to Slack: an incoming webhook or a bot token, stored sealed; "
        "without one, the stored one is kept (admin token only; 409 when the setting was "
        "changed meanwhile)", "settings",
        {200: ("Set", "SlackSetting")}, (400, *WRITE, 409, 422), body="SlackSettingPut",
    ),
    Operation(
        "DELETE", SLACK_SETTING, "Stop posting to Slack (admin token only)", "settings",
        {204: ("Removed", None)}, (401, 403, 404),
    ),
    Operation(
        "POST", SLACK_SETTING + "/test",
        "Post a sample build report to Slack now (admin token only)", "settings",
        {200: ("Sent", "TestSent")}, (400, *WRITE, 404, 422, 502), body="SlackTest",
    ),
    Operation(
        "GET", SMTP_SETTING,
        "The SMTP server Oore sends email through (never the password; admin token only)",
        "settings", {200: ("The setting", "SmtpSetting")}, (401, 403, 404),
    ),
    Operation(
        "PUT", SMTP_SETTING,
        "Set the SMTP server (admin token only); the password is stored sealed, and kept "
        "when not sent only while host, port, security and username stay the same (else 400: "
        "send it again; 409 when the setting was changed meanwhile); a host at a private "
        "address needs OORE_ALLOW_PRIVATE_PROVIDERS",
        "settings", {200: ("Set", "SmtpSetting")}, (400, *WRITE, 409, 422), body="SmtpSettingPut",
    ),
    Operation(
        "DELETE", SMTP_SETTING, "Stop sending email (admin token only)", "settings",
        {204: ("Removed", None)}, (401, 403, 404),
    ),
    Operation(
        "POST", SMTP_SETTING + "/test", "Email a sample build report now (admin token only)",
        "settings",
        {200: ("Sent", "TestSent")}, (400, *WRITE, 404, 422, 502), body="SmtpTest",
    ),
)  # fmt: skip

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
        "GET", "/api/badges/{repository_id}.svg",
        "The status of the repository's latest finished build (succeeded, failed, timed out or "
        "errored) as an SVG badge; public, for repositories with `badge_public` only (404 for "
        "any other, as for a missing one). Sent with Cache-Control: no-cache", "repositories",
        {200: ("The badge", {"image/svg+xml": "Svg"})}, (404,), public=True,
        query=(
            query_param("branch", string(), "Only builds of this branch"),
            query_param("workflow", string(), "Only builds of this workflow id"),
        ),
    ),
    Operation(
        "GET", "/metrics", "The daemon's figures in Prometheus's text format", "system",
        {200: ("Metrics (text/plain; version=0.0.4)", {"text/plain": "Text"})}, (401,),
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
        {
            201: (
                "Registered; `webhook_secret` is shown only here (none when registered from a "
                "GitHub App installation)",
                "RepositoryRegistered",
            )
        },
        (400, *WRITE, 404, 409, 422, 502, 503), body="RepositoryRegistration",
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
        "DELETE", "/api/repositories/{repository_id}",
        "Remove a repository: its builds are cancelled and waited for, then its builds, logs, "
        "artifacts, cache and mirror are deleted", "repositories",
        {204: ("Removed", None)}, (401, 403, 404, 409, QUEUE),
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
        {201: ("Queued", "BuildSummary")}, (400, *WRITE, 404, 409, 422, 502, QUEUE),
        body="BuildTrigger",
    ),
    Operation(
        "GET", ONE_BUILD, "Read a build with its steps and queue position", "builds",
        {200: ("The build", "Build")}, (401, 404),
    ),
    Operation(
        "DELETE", ONE_BUILD, "Delete a finished build with its log, artifacts and workspace",
        "builds", {204: ("Deleted", None)}, (401, 403, 404, 409, QUEUE),
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
        (401, 404, 410, 422),
        query=LOG_QUERY, headers={200: ("X-Next-Line", "Content-Disposition")},
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
    Operation(
        "GET", CREDENTIALS, "Read a repository's git credential: its kind, never its secret",
        "credentials", {200: ("The credential", "RepositoryCredential")}, (401, 404),
    ),
    Operation(
        "PUT", CREDENTIALS,
        "Set the repository's git credential: an HTTPS token, or a new SSH deploy key "
        "(answered with its public key); the secret is stored sealed and never shown",
        "credentials", {200: ("Stored", "RepositoryCredential")}, (400, *WRITE, 404, 422),
        body="RepositoryCredentialPut",
    ),
    Operation(
        "DELETE", CREDENTIALS, "Remove the repository's git credential", "credentials",
        {204: ("Removed", None)}, (401, 403, 404),
    ),
    *GITLAB_OPERATIONS,
    *GITHUB_OPERATIONS,
    *NOTIFICATION_OPERATIONS,
    *NOTIFY_SETTINGS_OPERATIONS,
)  # fmt: skip


WEBSOCKETS = (
    Socket(
        "/api/builds/{build_id}/logs/stream",
        "Log lines from `since` (catch-up, then live), step changes and heartbeats; ends with "
        "{type: end, status} and close 1000. Lines come in binary messages: a JSON header line "
        "{type: lines, first, step, stream}, then the lines' bytes; the rest are JSON text",
        (
            query_param(
                "since", {"type": "integer", "minimum": 1, "default": 1}, "First line to send"
            ),
        ),
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
    "4410": "Retention removed the build's log",
}
