"""GitLab OAuth: the application, connecting (sign-in URL and callback), the projects the user
maintains, and enabling or disabling a project (its webhook and repository).

The callback is public: the browser GitLab sends back carries no Oore token. Its protection is
the state, issued by `GET /api/gitlab/authorize` and usable once. Nothing here ever answers the
application's secret, a token or a webhook token.
"""

from __future__ import annotations

import html
import re
from typing import Any

from quart import Blueprint, Response, jsonify, request

from oore.errors import BadRequest, NotFound
from oore.http import present, validate
from oore.http.auth import admin_only, public
from oore.http.jsonio import read_json_object
from oore.http.repositories import webhook_instructions
from oore.http.services import Services, services
from oore.providers import gitlab_projects
from oore.providers.gitlab_api import GitLabApi
from oore.providers.gitlab_connection import Status
from oore.providers.gitlab_projects import Listed

blueprint = Blueprint("gitlab", __name__)

APPLICATION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
PROJECT_ID = re.compile(r"[1-9][0-9]{0,17}")
ERROR_CODE = re.compile(r"[a-z_]{1,64}")
CONNECTED_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Oore: GitLab connected</title></head>
<body><h1>GitLab connected</h1><p>Oore now acts as <b>{user}</b> on {gitlab}.
You can close this window; <code>oore gitlab projects</code> lists what you can enable.</p>
</body></html>
"""


@blueprint.get("/api/gitlab")
async def gitlab_status() -> Response:
    return jsonify(_status(await services().gitlab.status()))


@blueprint.put("/api/gitlab/application")
@admin_only
async def set_application() -> Response:
    body = await read_json_object()
    validate.unknown_fields(body, {"application_id", "secret"})
    application_id = validate.required_text(
        body, "application_id", pattern=APPLICATION_ID, hint="is GitLab's 'Application ID'"
    )
    secret = validate.required_text(body, "secret", max_length=255)
    connection = services().gitlab
    await connection.set_application(application_id, secret)
    return jsonify(_status(await connection.status()))


@blueprint.get("/api/gitlab/authorize")
@admin_only
async def authorize() -> Response:
    url, expires_at = await services().gitlab.start()
    return jsonify({"url": url, "expires_at": expires_at})


@blueprint.get("/api/gitlab/callback")
@public
async def callback() -> Response:
    state = validate.query_parameter(request.args, "state")
    connection = services().gitlab
    if state is None:
        raise BadRequest("the callback has no state: open the URL `oore gitlab connect` prints")
    error = validate.query_parameter(request.args, "error")
    if error is not None:
        await connection.refuse(state)
        said = error if ERROR_CODE.fullmatch(error) else "an error"
        raise BadRequest(f"GitLab did not connect Oore ({said}); run `oore gitlab connect` again")
    code = validate.query_parameter(request.args, "code")
    if code is None:
        raise BadRequest("the callback has no code: open the URL `oore gitlab connect` prints")
    user = await connection.finish(code, state)
    page = CONNECTED_PAGE.format(user=html.escape(user), gitlab=html.escape(connection.gitlab_url))
    return Response(page, 200, content_type="text/html; charset=utf-8")


@blueprint.get("/api/gitlab/projects")
async def list_projects() -> Response:
    svc = services()
    listed = await gitlab_projects.listing(GitLabApi(svc.gitlab), svc.store)
    return jsonify({"items": [_project(item) for item in listed]})


@blueprint.post("/api/gitlab/projects/<project_id>/enable")
async def enable_project(project_id: str) -> Response:
    svc = services()
    enabled = await gitlab_projects.enable(
        GitLabApi(svc.gitlab),
        svc.store,
        svc.gitlab_token_key,
        svc.settings.base_url,
        _project_id(project_id),
    )
    return jsonify({"repository": _repository(svc, enabled.repository), "hook_id": enabled.hook_id})


@blueprint.post("/api/gitlab/projects/<project_id>/disable")
async def disable_project(project_id: str) -> Response:
    svc = services()
    repo = await gitlab_projects.disable(GitLabApi(svc.gitlab), svc.store, _project_id(project_id))
    return jsonify({"repository": _repository(svc, repo)})


def _project_id(text: str) -> int:
    if not PROJECT_ID.fullmatch(text):
        raise NotFound(f"no GitLab project {text!r}: project ids are numbers")
    return int(text)


def _status(status: Status) -> dict[str, Any]:
    return {
        "gitlab_url": status.gitlab_url,
        "redirect_uri": status.redirect_uri,
        "application_id": status.application_id,
        "connected": status.connected,
        "username": status.username,
        "expires_at": status.expires_at,
    }


def _project(item: Listed) -> dict[str, Any]:
    project = item.project
    return {
        "id": project.id,
        "path_with_namespace": project.path_with_namespace,
        "namespace": project.namespace,
        "path": project.path,
        "http_url_to_repo": project.http_url_to_repo,
        "default_branch": project.default_branch,
        "web_url": project.web_url,
        "enabled": item.enabled,
        "repository_id": item.repository_id,
    }


def _repository(svc: Services, repo: Any) -> dict[str, Any]:
    return present.repository(repo) | {"webhook_url": webhook_instructions(svc, repo)["url"]}
