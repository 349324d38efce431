"""GitLab OAuth through the API, against a fake GitLab on loopback (tests/fakes/gitlab.py): the
application, connecting (single-use state), listing, enable/disable and token refresh."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import trio
from quart_trio import QuartTrio

from oore.config import Settings
from oore.crypto import keyed_hash
from oore.http import openapi
from oore.http.services import Services
from tests.e2e.gitrepo import GitRepo
from tests.fakes.gitlab import (
    APPLICATION_ID,
    APPLICATION_SECRET,
    DEVELOPER,
    FakeGitLab,
    Project,
    authorize_query,
)
from tests.http.test_openapi import Checker


@pytest.fixture
async def gitlab(nursery: trio.Nursery, tmp_path: Path) -> FakeGitLab:
    fake: FakeGitLab = await nursery.start(FakeGitLab(tmp_path).serve)
    return fake


@pytest.fixture
async def settings(make_settings: Callable[..., Settings], gitlab: FakeGitLab) -> Settings:
    made = make_settings(
        OORE_BIND="127.0.0.1:0",
        OORE_GITLAB_URL=gitlab.url,
        OORE_ALLOW_PRIVATE_PROVIDERS="1",
    )
    gitlab.redirect_uri = made.base_url + "/api/gitlab/callback"
    return made


@pytest.fixture
def projects(gitlab: FakeGitLab, tmp_path: Path) -> list[Project]:
    made = []
    for namespace, path, level in [
        ("acme/mobile", "app", 40),
        ("acme", "api", 40),
        ("acme", "readonly", DEVELOPER),
        ("solo", "tool", 50),
    ]:
        repo = GitRepo(tmp_path / "src" / namespace / path)
        repo.commit("first", {"README": path})
        made.append(gitlab.add_project(namespace, path, repo.path, access_level=level))
    return made


class Api:
    """The admin's requests to the app, remembering every answer's text for secret greps."""

    def __init__(self, app: QuartTrio, services: Services) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {services.settings.admin_token}"}
        self.answers: list[str] = []

    async def __call__(
        self, method: str, path: str, expect: int, *, anonymous: bool = False, **kwargs: Any
    ) -> Any:
        headers = {} if anonymous else self.headers
        response = await self.client.open(path, method=method, headers=headers, **kwargs)
        text = (await response.get_data()).decode()
        self.answers.append(text)
        assert response.status_code == expect, text
        return json.loads(text) if response.mimetype == "application/json" else text


async def connect(api: Api, gitlab: FakeGitLab) -> dict[str, str]:
    """Set the application, sign in as the browser would; the callback's query string."""
    body = {"application_id": APPLICATION_ID, "secret": APPLICATION_SECRET}
    await api("PUT", "/api/gitlab/application", 200, json=body)
    started = await api("GET", "/api/gitlab/authorize", 200)
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(started["url"])
    assert consent.status_code == 302
    back = urlsplit(consent.headers["Location"])
    query = authorize_query(consent.headers["Location"])
    page = await api("GET", back.path, 200, query_string=query, anonymous=True)
    assert "GitLab connected" in page
    return query


@pytest.fixture
def api(app: QuartTrio, services: Services) -> Api:
    return Api(app, services)


async def test_connect_signs_in_once_and_shows_no_secret(
    api: Api, gitlab: FakeGitLab, services: Services
) -> None:
    status = await api("GET", "/api/gitlab", 200)
    assert (status["connected"], status["application_id"]) == (False, None)
    await api("GET", "/api/gitlab/authorize", 409)  # no application yet
    query = await connect(api, gitlab)
    started = await api("GET", "/api/gitlab/authorize", 200)
    asked = authorize_query(started["url"])
    assert started["url"].startswith(f"{gitlab.url}/oauth/authorize?")
    assert asked["redirect_uri"] == services.settings.base_url + "/api/gitlab/callback"
    assert (asked["client_id"], asked["scope"], asked["response_type"]) == (
        APPLICATION_ID,
        "api",
        "code",
    )
    status = await api("GET", "/api/gitlab", 200)
    assert status["connected"] is True
    assert status["username"] == "maintainer"
    assert status["application_id"] == APPLICATION_ID
    assert gitlab.grants == ["authorization_code"]
    # The same callback again (a replayed or leaked URL) is refused: its state was used up.
    replay = await api("GET", "/api/gitlab/callback", 400, query_string=query, anonymous=True)
    assert "already used" in str(replay)
    assert gitlab.grants == ["authorization_code"]
    forged = {"code": "x", "state": "not-issued"}
    await api("GET", "/api/gitlab/callback", 400, query_string=forged, anonymous=True)
    await api("GET", "/api/gitlab/callback", 400, query_string={"code": "x"}, anonymous=True)
    for secret in [APPLICATION_SECRET, *gitlab.issued]:
        assert not any(secret in answer for answer in api.answers)


async def test_a_refusal_uses_up_the_state(api: Api, gitlab: FakeGitLab) -> None:
    await connect(api, gitlab)
    state = authorize_query((await api("GET", "/api/gitlab/authorize", 200))["url"])["state"]
    denied = {"error": "access_denied", "state": state}
    answer = await api("GET", "/api/gitlab/callback", 400, query_string=denied, anonymous=True)
    assert "access_denied" in str(answer)
    late = {"code": "anything", "state": state}
    refused = await api("GET", "/api/gitlab/callback", 400, query_string=late, anonymous=True)
    assert "already used" in str(refused)


async def test_the_callback_is_refused_when_gitlab_refuses_the_code(
    api: Api, gitlab: FakeGitLab
) -> None:
    await connect(api, gitlab)
    state = authorize_query((await api("GET", "/api/gitlab/authorize", 200))["url"])["state"]
    forged = {"code": "forged", "state": state}
    answer = await api("GET", "/api/gitlab/callback", 502, query_string=forged, anonymous=True)
    assert "invalid_grant" in str(answer)


async def test_projects_lists_what_the_user_maintains_across_pages(
    api: Api, gitlab: FakeGitLab, projects: list[Project]
) -> None:
    await api("GET", "/api/gitlab/projects", 409)  # not connected
    await connect(api, gitlab)
    listed = await api("GET", "/api/gitlab/projects", 200)
    paths = [p["path_with_namespace"] for p in listed["items"]]
    assert paths == ["acme/mobile/app", "acme/api", "solo/tool"]
    calls = [q for m, p, q in gitlab.api_calls if p == "/api/v4/projects"]
    assert [q["page"] for q in calls] == [["1"], ["2"]]
    assert all(q["min_access_level"] == ["40"] for q in calls)
    first = listed["items"][0]
    assert first["namespace"] == "acme/mobile"
    assert first["http_url_to_repo"] == f"{gitlab.url}/acme/mobile/app.git"
    assert (first["enabled"], first["repository_id"]) == (False, None)


async def test_enable_creates_the_hook_and_registers_the_repository(
    api: Api, gitlab: FakeGitLab, projects: list[Project], services: Services
) -> None:
    await connect(api, gitlab)
    project = projects[0]
    enabled = await api("POST", f"/api/gitlab/projects/{project.id}/enable", 200)
    repo = enabled["repository"]
    assert (repo["provider"], repo["owner"], repo["name"]) == ("gitlab", "acme/mobile", "app")
    assert repo["clone_url"] == f"{gitlab.url}/acme/mobile/app.git"
    assert (repo["gitlab_project_id"], repo["active"]) == (project.id, True)
    [hook] = gitlab.project_hooks(project.id)
    assert enabled["hook_id"] == hook.id
    assert hook.url == f"{services.settings.base_url}/api/webhooks/gitlab/{repo['id']}"
    assert {k: hook.body[k] for k in ("push_events", "tag_push_events")} == {
        "push_events": True,
        "tag_push_events": True,
    }
    assert hook.body["merge_requests_events"] is True
    assert hook.body["enable_ssl_verification"] is False  # http:// here; https is verified
    # Only the HMAC the intake checks is kept; the token is in no answer.
    secrets = await services.store.repository_secrets(repo["id"])
    assert secrets.webhook_token_hmac == keyed_hash(services.gitlab_token_key, hook.token)
    push = {"object_kind": "push", "project": {"id": project.id}}
    delivered = await api.client.post(
        f"/api/webhooks/gitlab/{repo['id']}",
        json=push,
        headers={"X-Gitlab-Token": hook.token, "X-Gitlab-Event": "Push Hook"},
    )
    assert delivered.status_code == 202
    listed = await api("GET", "/api/gitlab/projects", 200)
    first = listed["items"][0]
    assert (first["enabled"], first["repository_id"]) == (True, repo["id"])
    await api("GET", f"/api/repositories/{repo['id']}", 200)
    assert not any(hook.token in answer for answer in api.answers)


async def test_enable_again_replaces_the_hook_and_its_token(
    api: Api, gitlab: FakeGitLab, projects: list[Project], services: Services
) -> None:
    await connect(api, gitlab)
    project = projects[1]
    first = await api("POST", f"/api/gitlab/projects/{project.id}/enable", 200)
    [old] = gitlab.project_hooks(project.id)
    again = await api("POST", f"/api/gitlab/projects/{project.id}/enable", 200)
    [new] = gitlab.project_hooks(project.id)
    assert again["repository"]["id"] == first["repository"]["id"]
    assert (new.id, new.token) != (old.id, old.token)
    secrets = await services.store.repository_secrets(first["repository"]["id"])
    assert secrets.webhook_token_hmac == keyed_hash(services.gitlab_token_key, new.token)


async def test_enable_refused_by_gitlab_registers_nothing(
    api: Api, gitlab: FakeGitLab, projects: list[Project], services: Services
) -> None:
    await connect(api, gitlab)
    readonly = projects[2]
    answer = await api("POST", f"/api/gitlab/projects/{readonly.id}/enable", 502)
    assert "403" in str(answer)
    assert gitlab.hooks == {}
    assert await services.store.list_repositories() == []
    await api("POST", "/api/gitlab/projects/999/enable", 404)
    await api("POST", "/api/gitlab/projects/abc/enable", 404)


@pytest.mark.parametrize(
    ("described", "named"),
    [
        ({"http_url_to_repo": "http://gitlab.evil.example/acme/api.git"}, "http_url_to_repo"),
        ({"http_url_to_repo": "file:///srv/git/acme/api.git"}, "http_url_to_repo"),
        ({"http_url_to_repo": "http://oauth2:x@127.0.0.1/acme/api.git"}, "http_url_to_repo"),
        ({"path": ".."}, "path"),
        ({"namespace": {"full_path": "acme/../../etc"}}, "namespace"),
    ],
)
async def test_enable_refuses_a_project_gitlab_describes_wrongly(
    api: Api,
    gitlab: FakeGitLab,
    projects: list[Project],
    services: Services,
    described: dict[str, Any],
    named: str,
) -> None:
    await connect(api, gitlab)
    project = projects[1]
    project.described = described
    answer = await api("POST", f"/api/gitlab/projects/{project.id}/enable", 502)
    assert named in answer["error"]["message"]
    assert gitlab.hooks == {}
    assert await services.store.list_repositories() == []
    # The listing leaves it out rather than failing for every project.
    listed = await api("GET", "/api/gitlab/projects", 200)
    assert [p["id"] for p in listed["items"]] == [projects[0].id, projects[3].id]


async def test_a_next_page_that_is_not_a_number_ends_the_listing(
    api: Api, gitlab: FakeGitLab, projects: list[Project]
) -> None:
    await connect(api, gitlab)
    gitlab.next_page = "two"
    listed = await api("GET", "/api/gitlab/projects", 200)
    assert [p["id"] for p in listed["items"]] == [projects[0].id, projects[1].id]


async def test_disable_deletes_the_hook_and_deactivates_the_repository(
    api: Api, gitlab: FakeGitLab, projects: list[Project]
) -> None:
    await connect(api, gitlab)
    project = projects[0]
    await api("POST", f"/api/gitlab/projects/{project.id}/disable", 404)  # never enabled
    enabled = await api("POST", f"/api/gitlab/projects/{project.id}/enable", 200)
    disabled = await api("POST", f"/api/gitlab/projects/{project.id}/disable", 200)
    assert gitlab.project_hooks(project.id) == []
    assert disabled["repository"]["id"] == enabled["repository"]["id"]
    assert disabled["repository"]["active"] is False
    listed = await api("GET", "/api/gitlab/projects", 200)
    assert listed["items"][0]["enabled"] is False
    # A second disable has no hook left to delete; enabling again re-activates the repository.
    await api("POST", f"/api/gitlab/projects/{project.id}/disable", 200)
    again = await api("POST", f"/api/gitlab/projects/{project.id}/enable", 200)
    assert (again["repository"]["id"], again["repository"]["active"]) == (
        enabled["repository"]["id"],
        True,
    )


async def test_a_token_gitlab_refuses_is_refreshed_once(
    api: Api, gitlab: FakeGitLab, projects: list[Project]
) -> None:
    await connect(api, gitlab)
    gitlab.expire_access_tokens()
    await api("GET", "/api/gitlab/projects", 200)
    assert gitlab.grants == ["authorization_code", "refresh_token"]
    assert gitlab.refused_tokens == 1
    await api("GET", "/api/gitlab/projects", 200)
    assert gitlab.grants == ["authorization_code", "refresh_token"]  # the new one works


async def test_a_token_about_to_expire_is_refreshed_before_use(
    api: Api, gitlab: FakeGitLab, projects: list[Project]
) -> None:
    gitlab.access_ttl = 120  # under Oore's five-minute margin: every use refreshes first
    await connect(api, gitlab)
    await api("GET", "/api/gitlab/projects", 200)
    calls = len(gitlab.api_calls) - 1  # after GET /user at sign-in
    assert calls == 2  # two pages
    assert gitlab.grants == ["authorization_code"] + ["refresh_token"] * calls
    assert gitlab.refused_tokens == 0


async def test_a_refresh_gitlab_refuses_asks_to_connect_again(
    api: Api, gitlab: FakeGitLab, projects: list[Project]
) -> None:
    await connect(api, gitlab)
    gitlab.expire_access_tokens()
    gitlab.refresh_tokens.clear()  # revoked in GitLab
    answer = await api("GET", "/api/gitlab/projects", 502)
    assert "oore gitlab connect" in str(answer)


async def test_application_is_admin_only_and_never_answered(
    api: Api, gitlab: FakeGitLab, services: Services
) -> None:
    body = {"application_id": APPLICATION_ID, "secret": APPLICATION_SECRET}
    answer = await api("PUT", "/api/gitlab/application", 200, json=body)
    assert set(answer) == {
        "gitlab_url",
        "redirect_uri",
        "application_id",
        "connected",
        "username",
        "expires_at",
    }
    await api("PUT", "/api/gitlab/application", 422, json={"application_id": "a b", "secret": "s"})
    await api("PUT", "/api/gitlab/application", 422, json={"application_id": "a"})
    stored = await services.store.gitlab_application()
    assert stored is not None
    assert APPLICATION_SECRET.encode() not in stored.secret_sealed
    assert all(APPLICATION_SECRET not in a for a in api.answers)


async def test_answers_with_gitlab_match_the_openapi_document(
    app: QuartTrio, services: Services, gitlab: FakeGitLab, projects: list[Project]
) -> None:
    admin = services.settings.admin_token
    assert admin is not None
    check = Checker(app, openapi.document(services.settings.base_url), admin)
    body = {"application_id": APPLICATION_ID, "secret": APPLICATION_SECRET}
    await check("PUT", "/api/gitlab/application", 200, json=body)
    started = await check("GET", "/api/gitlab/authorize", 200)
    async with httpx.AsyncClient() as browser:
        back = authorize_query((await browser.get(started["url"])).headers["Location"])
    page = await check("GET", "/api/gitlab/callback", 200, auth={}, query_string=back)
    assert "maintainer" in page
    await check("GET", "/api/gitlab/callback", 400, auth={}, query_string=back)
    status = await check("GET", "/api/gitlab", 200)
    assert status["connected"] is True
    await check("GET", "/api/gitlab/projects", 200)
    one = "/api/gitlab/projects/{project_id}"
    await check("POST", one + "/enable", 200, project_id=str(projects[0].id))
    await check("POST", one + "/enable", 502, project_id=str(projects[2].id))  # not maintainer
    await check("POST", one + "/disable", 200, project_id=str(projects[0].id))
    gitlab.expire_access_tokens()
    gitlab.refresh_tokens.clear()
    await check("GET", "/api/gitlab/projects", 502)
