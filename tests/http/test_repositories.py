"""Repositories API in-process on a real store: CRUD, validation, secrets, webhook URLs."""

from __future__ import annotations

from typing import Any

import pytest
from quart import typing as quart_typing
from quart_trio import QuartTrio

from oore.config import Settings
from oore.crypto import aad, keyed_hash
from oore.http.services import Services
from oore.ids import new_id
from oore.store.sqlite import SqliteStore

GITHUB = {
    "provider": "github",
    "owner": "acme",
    "name": "app",
    "clone_url": "https://github.com/acme/app.git",
}
GITLAB = {
    "provider": "gitlab",
    "owner": "group/sub",
    "name": "svc",
    "clone_url": "git@gitlab.example.com:group/sub/svc.git",
}


class Api:
    def __init__(self, client: quart_typing.TestClientProtocol, admin: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {admin}"}

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        response = await self.client.open(path, method=method, headers=self.headers, **kwargs)
        return response.status_code, await response.get_json(silent=True)

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        status, created = await self.call("POST", "/api/repositories", body)
        assert status == 201, created
        assert isinstance(created, dict)
        return created


@pytest.fixture
def api(app: QuartTrio, settings: Settings) -> Api:
    assert settings.admin_token is not None
    return Api(app.test_client(), settings.admin_token)


async def test_create_returns_the_repository_and_its_secret_once(api: Api) -> None:
    created = await api.create(GITHUB | {"github_repo_id": 123})
    assert len(created["id"]) == 26
    assert created["provider"] == "github"
    assert created["full_name"] == "acme/app"
    assert created["default_branch"] == "main"
    assert created["active"] is True
    assert created["badge_public"] is False
    assert created["github_repo_id"] == 123
    assert created["gitlab_project_id"] is None
    assert created["has_webhook_secret"] is True
    assert created["webhook_secret"].startswith("whsec_")
    assert created["created_at"] == created["updated_at"]
    assert created["created_at"].endswith("Z")


async def test_given_secret_is_echoed_once_and_never_read_back(api: Api) -> None:
    created = await api.create(GITHUB | {"webhook_secret": "s3cret-value"})
    assert created["webhook_secret"] == "s3cret-value"
    status, one = await api.call("GET", f"/api/repositories/{created['id']}")
    assert status == 200
    assert "webhook_secret" not in one
    assert one["has_webhook_secret"] is True
    status, listed = await api.call("GET", "/api/repositories")
    assert status == 200
    assert all("webhook_secret" not in r for r in listed["items"])
    assert "s3cret-value" not in repr(listed)


async def test_list_is_ordered_and_complete(api: Api) -> None:
    lab = await api.create(GITLAB)
    hub = await api.create(GITHUB)
    hub2 = await api.create(GITHUB | {"owner": "aaa"})
    status, listed = await api.call("GET", "/api/repositories")
    assert status == 200
    assert [r["id"] for r in listed["items"]] == [hub2["id"], hub["id"], lab["id"]]
    assert listed["items"][2]["webhook_url"].endswith(f"/api/webhooks/gitlab/{lab['id']}")


async def test_get_and_unknown_id(api: Api) -> None:
    created = await api.create(GITLAB)
    status, one = await api.call("GET", f"/api/repositories/{created['id']}")
    assert status == 200
    assert {k: one[k] for k in ("owner", "name", "full_name")} == {
        "owner": "group/sub",
        "name": "svc",
        "full_name": "group/sub/svc",
    }
    for method in ("GET", "DELETE"):
        status, body = await api.call(method, f"/api/repositories/{new_id()}")
        assert status == 404, method
        assert body["error"]["code"] == "not_found"
    status, body = await api.call("PATCH", f"/api/repositories/{new_id()}", {"active": False})
    assert status == 404
    status, body = await api.call("GET", f"/api/repositories/{new_id()}/webhook-url")
    assert status == 404


async def test_patch_changes_fields_and_keeps_the_rest(api: Api) -> None:
    created = await api.create(GITHUB)
    change = {
        "active": False,
        "badge_public": True,
        "default_branch": "release/2.0",
        "clone_url": "ssh://git@github.com/acme/app.git",
        "github_installation_id": 99,
    }
    status, patched = await api.call("PATCH", f"/api/repositories/{created['id']}", change)
    assert status == 200
    assert {k: patched[k] for k in change} == change
    assert patched["owner"] == "acme"
    assert patched["github_repo_id"] is None
    assert "webhook_secret" not in patched
    assert patched["updated_at"] >= created["updated_at"]
    status, again = await api.call("GET", f"/api/repositories/{created['id']}")
    assert {k: again[k] for k in change} == change


async def test_patch_secret_is_returned_once_and_stored(
    api: Api, services: Services, store: SqliteStore
) -> None:
    hub = await api.create(GITHUB)
    status, patched = await api.call(
        "PATCH", f"/api/repositories/{hub['id']}", {"webhook_secret": "new-secret-1"}
    )
    assert status == 200
    assert patched["webhook_secret"] == "new-secret-1"
    sealed = (await store.repository_secrets(hub["id"])).webhook_secret_sealed
    assert sealed is not None
    opened = services.sealer.open(sealed, aad("repositories", hub["id"], "webhook_secret"))
    assert opened == b"new-secret-1"
    lab = await api.create(GITLAB)
    await api.call("PATCH", f"/api/repositories/{lab['id']}", {"webhook_secret": "gl-token-22"})
    secrets = await store.repository_secrets(lab["id"])
    assert secrets.webhook_secret_sealed is None
    assert secrets.webhook_token_hmac == keyed_hash(services.gitlab_token_key, "gl-token-22")
    status, one = await api.call("GET", f"/api/repositories/{hub['id']}")
    assert "webhook_secret" not in one


async def test_delete_removes(api: Api) -> None:
    created = await api.create(GITHUB)
    response = await api.client.delete(f"/api/repositories/{created['id']}", headers=api.headers)
    assert response.status_code == 204
    assert await response.get_data() == b""
    status, _ = await api.call("GET", f"/api/repositories/{created['id']}")
    assert status == 404
    status, listed = await api.call("GET", "/api/repositories")
    assert listed["items"] == []


async def test_duplicate_is_409(api: Api) -> None:
    await api.create(GITHUB)
    status, body = await api.call("POST", "/api/repositories", GITHUB)
    assert status == 409
    assert body["error"]["code"] == "conflict"
    assert "acme/app" in body["error"]["message"]
    # Same owner/name under the other provider is a different repository.
    await api.create(GITHUB | {"provider": "gitlab"})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"provider": None}, "provider"),
        ({"provider": "bitbucket"}, "provider"),
        ({"provider": 1}, "provider"),
        ({"owner": None}, "owner"),
        ({"owner": "a b"}, "owner"),
        ({"owner": "acme/sub"}, "owner"),  # GitHub owners have no groups
        ({"owner": "x" * 101}, "owner"),
        ({"name": "a/b"}, "name"),
        ({"name": ""}, "name"),
        ({"clone_url": None}, "clone_url"),
        ({"clone_url": "ext::sh -c evil"}, "clone_url"),
        ({"clone_url": "-oProxyCommand=x"}, "clone_url"),
        ({"clone_url": "-oProxyCommand=x@host:path"}, "clone_url"),
        ({"clone_url": "https://h/a b"}, "clone_url"),
        ({"clone_url": "https://" + "a" * 2000}, "clone_url"),
        ({"clone_url": ["https://h/x"]}, "clone_url"),
        ({"default_branch": "a..b"}, "default_branch"),
        ({"default_branch": "-x"}, "default_branch"),
        ({"default_branch": "x.lock"}, "default_branch"),
        ({"default_branch": "a b"}, "default_branch"),
        ({"default_branch": "a/"}, "default_branch"),
        ({"default_branch": "@{u}"}, "default_branch"),
        ({"active": "yes"}, "active"),
        ({"active": 1}, "active"),
        ({"badge_public": 0}, "badge_public"),
        ({"github_repo_id": -1}, "github_repo_id"),
        ({"github_repo_id": 0}, "github_repo_id"),
        ({"github_repo_id": True}, "github_repo_id"),
        ({"github_repo_id": 1.5}, "github_repo_id"),
        ({"github_installation_id": "7"}, "github_installation_id"),
        ({"gitlab_project_id": 2**63}, "gitlab_project_id"),
        ({"webhook_secret": "short"}, "webhook_secret"),
        ({"webhook_secret": "x" * 256}, "webhook_secret"),
        ({"webhook_secret": 12345678}, "webhook_secret"),
        ({"colour": "red"}, "colour"),
        ({"id": new_id()}, "id"),
    ],
)
async def test_create_validation_names_the_field(
    api: Api, change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in (GITHUB | change).items() if v is not None}
    status, answer = await api.call("POST", "/api/repositories", body)
    assert status == 422, answer
    assert answer["error"]["code"] == "validation_error"
    assert answer["error"]["field"] == field
    assert answer["error"]["message"].startswith(f"{field}: ")
    status, listed = await api.call("GET", "/api/repositories")
    assert listed["items"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"provider": "gitlab"}, "provider"),
        ({"owner": "other"}, "owner"),
        ({"name": "other"}, "name"),
        ({"clone_url": "ext::sh -c evil"}, "clone_url"),
        ({"default_branch": "a..b"}, "default_branch"),
        ({"active": "false"}, "active"),
        ({"gitlab_project_id": -5}, "gitlab_project_id"),
        ({"webhook_secret": "1234567"}, "webhook_secret"),
    ],
)
async def test_patch_validation_names_the_field_and_changes_nothing(
    api: Api, change: dict[str, Any], field: str
) -> None:
    created = await api.create(GITHUB)
    path = f"/api/repositories/{created['id']}"
    status, answer = await api.call("PATCH", path, change)
    assert status == 422, answer
    assert answer["error"]["field"] == field
    _, after = await api.call("GET", path)
    assert after["updated_at"] == created["updated_at"]


async def test_accepted_shapes(api: Api) -> None:
    for url in (
        "https://h/a.git",
        "http://h:8080/a",
        "ssh://git@h:2222/a.git",
        "git://h/a",
        "file:///srv/git/a.git",
        "git@h:a/b.git",
    ):
        status, body = await api.call(
            "POST", "/api/repositories", GITHUB | {"name": new_id().lower(), "clone_url": url}
        )
        assert status == 201, (url, body)
        assert body["clone_url"] == url
    deep = "a/b/c/d"
    created = await api.create(GITLAB | {"owner": deep, "default_branch": "feature/x-1.2"})
    assert (created["owner"], created["default_branch"]) == (deep, "feature/x-1.2")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "bad_request"),
        (b"{", 400, "bad_request"),
        (b"[]", 400, "bad_request"),
        (b"null", 400, "bad_request"),
        (b"\xff", 400, "bad_request"),
    ],
)
async def test_malformed_bodies_are_400(api: Api, body: bytes, status: int, code: str) -> None:
    response = await api.client.post("/api/repositories", data=body, headers=api.headers)
    assert response.status_code == status
    assert (await response.get_json())["error"]["code"] == code


async def test_webhook_url_for_github(api: Api, settings: Settings) -> None:
    created = await api.create(GITHUB)
    status, hook = await api.call("GET", f"/api/repositories/{created['id']}/webhook-url")
    assert status == 200
    assert hook == {
        "url": f"{settings.base_url}/api/webhooks/github",
        "content_type": "application/json",
        "secret": "the webhook_secret returned when it was set",
        "events": ["push", "pull_request"],
        "header": "X-Hub-Signature-256",
    }
    assert created["webhook_url"] == hook["url"]


async def test_webhook_url_for_gitlab(api: Api, settings: Settings) -> None:
    created = await api.create(GITLAB)
    status, hook = await api.call("GET", f"/api/repositories/{created['id']}/webhook-url")
    assert status == 200
    assert hook["url"] == f"{settings.base_url}/api/webhooks/gitlab/{created['id']}"
    assert hook["header"] == "X-Gitlab-Token"
    assert hook["events"] == ["Push events", "Tag push events", "Merge request events"]
    assert "content_type" not in hook
    assert created["webhook_secret"] not in repr(hook)


# --- credentials in clone URLs and fork secrets (issue 10) ------------------------------------

CREDENTIAL_URLS = [
    "https://x-access-token:ghs_abc123@github.com/acme/app.git",
    "https://ghp_tokenonly@github.com/acme/app.git",  # a token alone works as the user name
    "http://user:pw@h:8080/a.git",
    "HTTPS://user:pw@github.com/acme/app.git",
    "ssh://git:hunter2@github.com/acme/app.git",
    "git://u:p@h/a",
    "https://a:b@c@github.com/acme/app.git",
]


@pytest.mark.parametrize("url", CREDENTIAL_URLS)
async def test_credentials_in_the_clone_url_are_refused_on_create_and_edit(
    api: Api, url: str
) -> None:
    status, answer = await api.call("POST", "/api/repositories", GITHUB | {"clone_url": url})
    assert status == 422, answer
    assert answer["error"]["field"] == "clone_url"
    message = answer["error"]["message"]
    assert "credentials in the clone URL are not stored" in message
    assert "oore repo credentials set" in message
    _, listed = await api.call("GET", "/api/repositories")
    assert listed["items"] == []

    created = await api.create(GITHUB)
    path = f"/api/repositories/{created['id']}"
    status, answer = await api.call("PATCH", path, {"clone_url": url})
    assert status == 422, answer
    assert "credentials in the clone URL are not stored" in answer["error"]["message"]
    _, after = await api.call("GET", path)
    assert after["clone_url"] == GITHUB["clone_url"]


@pytest.mark.parametrize(
    "url",
    [
        "ssh://git@github.com/acme/app.git",  # a user name alone is not a secret over ssh
        "git@github.com:acme/app.git",
        "https://github.com/acme/app@v2.git",  # an @ in the path is not a user part
        "https://h:8443/a.git?x=1#frag",
    ],
)
async def test_clone_urls_without_credentials_are_kept(api: Api, url: str) -> None:
    created = await api.create(GITHUB | {"clone_url": url})
    assert created["clone_url"] == url


async def test_allow_fork_secrets_is_off_by_default_and_can_be_set(api: Api) -> None:
    created = await api.create(GITHUB)
    assert created["allow_fork_secrets"] is False
    path = f"/api/repositories/{created['id']}"
    status, changed = await api.call("PATCH", path, {"allow_fork_secrets": True})
    assert status == 200, changed
    assert changed["allow_fork_secrets"] is True
    _, shown = await api.call("GET", path)
    assert shown["allow_fork_secrets"] is True
    status, answer = await api.call("PATCH", path, {"allow_fork_secrets": "yes"})
    assert (status, answer["error"]["field"]) == (422, "allow_fork_secrets")
    opted = await api.create(GITLAB | {"allow_fork_secrets": True})
    assert opted["allow_fork_secrets"] is True


async def test_credentials_stored_by_an_older_version_are_never_shown(
    api: Api, store: SqliteStore
) -> None:
    from oore.model import Provider, Repository
    from oore.store.base import RepositorySecrets

    # Refused on write now, but a database from before keeps what it had: never show it.
    url = "https://x-access-token:ghs_secret123@github.com/acme/old.git"
    repo = Repository(new_id(), Provider.GITHUB, "acme", "old", url)
    await store.create_repository(repo, RepositorySecrets(None, None))
    for path in (f"/api/repositories/{repo.id}", "/api/repositories"):
        status, body = await api.call("GET", path)
        assert status == 200
        assert "ghs_secret123" not in str(body)
    status, shown = await api.call("GET", f"/api/repositories/{repo.id}")
    assert shown["clone_url"] == "https://github.com/acme/old.git"
    ssh = await api.create(GITLAB | {"name": "svc2"})
    assert ssh["clone_url"] == GITLAB["clone_url"]  # a plain user name (git@) is no secret
