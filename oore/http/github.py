"""The GitHub App: making it with the manifest flow, reading it, and its installations.

`POST /api/github/manifest` answers what the browser must post to GitHub; GitHub sends the
browser back to the public `GET /api/github/callback`, whose protection is the single-use state
(see `oore.providers.github_manifest`). Nothing here ever answers the app's private key, webhook
secret, client secret or a token. Registering a repository from an installation is
`POST /api/repositories` (`oore.http.github_registration`).
"""

from __future__ import annotations

import html
from typing import Any

from quart import Blueprint, Response, jsonify, request

from oore.errors import BadRequest, NotFound
from oore.http import validate
from oore.http.auth import admin_only, public
from oore.http.jsonio import read_body, read_json_object
from oore.http.services import services
from oore.model import GithubApp, GithubInstallation
from oore.providers import github_manifest
from oore.providers.github_app import NO_APP

blueprint = Blueprint("github", __name__)

CREATED_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Oore: GitHub App created</title></head>
<body><h1>GitHub App {name} created</h1>
<p>Now install it on the repositories Oore should build:
<a href="{install}">{install}</a>.</p>
<p>GitHub tells Oore about the installation through the app's webhook;
<code>oore github installations</code> lists what it may build.</p></body></html>
"""
INSTALLED_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Oore: GitHub App installed</title></head>
<body><h1>Installed</h1><p>GitHub tells Oore which repositories the installation covers
through the app's webhook; <code>oore github installations</code> lists them.
You can close this window.</p></body></html>
"""


@blueprint.post("/api/github/manifest")
@admin_only
async def manifest() -> Response:
    # The body is optional: nothing at all asks for the defaults.
    body = await read_json_object() if (await read_body()).strip() else {}
    validate.unknown_fields(body, {"name", "organization"})
    name = validate.text(body, "name", required=False, max_length=github_manifest.MAX_NAME)
    org = validate.text(
        body, "organization", required=False, pattern=github_manifest.LOGIN, hint="is not a login"
    )
    svc = services()
    started = await github_manifest.start(
        svc.store,
        github_url=svc.settings.github_url,
        base_url=svc.settings.base_url,
        name=name,
        organization=org,
    )
    return jsonify({"url": started.url, "manifest": started.manifest, "state": started.state})


@blueprint.get("/api/github/callback")
@public
async def callback() -> Response:
    code = validate.query_parameter(request.args, "code")
    if validate.query_parameter(request.args, "setup_action") is not None and code is None:
        # GitHub's setup URL, after an installation: nothing to do but say what happens next.
        return Response(INSTALLED_PAGE, 200, content_type="text/html; charset=utf-8")
    state = validate.query_parameter(request.args, "state")
    if code is None or state is None:
        raise BadRequest("the callback needs GitHub's code and the state; run `oore github setup`")
    svc = services()
    app = await github_manifest.complete(
        svc.store,
        svc.sealer,
        api_url=svc.settings.github_api_url,
        allow_private=svc.settings.allow_private_providers,
        code=code,
        state=state,
    )
    page = CREATED_PAGE.format(name=html.escape(app.name), install=html.escape(_install_url(app)))
    return Response(page, 200, content_type="text/html; charset=utf-8")


@blueprint.get("/api/github/app")
async def get_app() -> Response:
    app = await services().store.github_app()
    if app is None:
        raise NotFound(NO_APP)
    return jsonify(present_app(app))


@blueprint.get("/api/github/installations")
async def installations() -> Response:
    svc = services()
    registered = {
        r.github_repo_id: r.id
        for r in await svc.store.list_repositories()
        if r.github_installation_id is not None
    }
    found = await svc.store.github_installations()
    return jsonify({"items": [present_installation(i, registered) for i in found]})


def present_app(app: GithubApp) -> dict[str, Any]:
    return {
        "app_id": app.app_id,
        "slug": app.slug,
        "name": app.name,
        "owner": app.owner,
        "html_url": app.html_url,
        "install_url": _install_url(app),
        "created_at": app.created_at,
    }


def present_installation(
    installation: GithubInstallation, registered: dict[int | None, str]
) -> dict[str, Any]:
    return {
        "id": installation.id,
        "account": installation.account,
        "account_type": installation.account_type,
        "repository_selection": installation.repository_selection,
        "suspended": installation.suspended,
        "updated_at": installation.updated_at,
        "repositories": [
            {
                "id": r.id,
                "full_name": r.full_name,
                "private": r.private,
                "repository_id": registered.get(r.id),
            }
            for r in installation.repositories
        ],
    }


def _install_url(app: GithubApp) -> str:
    return f"{app.html_url.rstrip('/')}/installations/new"
