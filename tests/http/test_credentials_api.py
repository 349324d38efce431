"""A repository's git credential over HTTP: a token or a deploy key goes in, its secret never
comes out; what is stored is sealed for its row, and is what git is then given."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_ssh_private_key, load_ssh_public_key
from quart.typing import TestClientProtocol as Client
from quart_trio import QuartTrio

from oore.http.services import Services
from oore.providers.credentials import RepositoryCredentials, secret_aad

TOKEN = "glpat-api0test0token0zz9"


@pytest.fixture
def admin(services: Services) -> dict[str, str]:
    assert services.settings.admin_token is not None
    return {"Authorization": f"Bearer {services.settings.admin_token}"}


class Api:
    """Every response body seen, so a test can say a secret never appeared in any of them."""

    def __init__(self, client: Client, admin: dict[str, str]) -> None:
        self.client, self.admin, self.seen = client, admin, b""

    async def __call__(self, method: str, url: str, status: int, **kwargs: Any) -> Any:
        response = await self.client.open(url, method=method, headers=self.admin, **kwargs)
        data = await response.get_data()
        assert response.status_code == status, data
        self.seen += data + b"\n"
        return await response.get_json() if data else None

    async def repository(self, name: str, clone_url: str) -> str:
        body = {"provider": "gitlab", "owner": "grp", "name": name, "clone_url": clone_url}
        created = await self("POST", "/api/repositories", 201, json=body)
        return str(created["id"])


@pytest.fixture
def api(app: QuartTrio, admin: dict[str, str]) -> Api:
    return Api(app.test_client(), admin)


async def test_a_token_goes_in_sealed_and_reaches_git_as_basic_auth(
    api: Api, services: Services
) -> None:
    repo_id = await api.repository("app", "https://gitlab.example/grp/app.git")
    url = f"/api/repositories/{repo_id}/credentials"
    await api("GET", url, 404)
    put = await api("PUT", url, 200, json={"kind": "https_token", "token": TOKEN})
    assert put["kind"] == "https_token"
    assert put["username"] == "x-access-token"
    assert put["public_key"] is None
    assert put["origin"] == "https://gitlab.example"
    assert await api("GET", url, 200) == put

    credential, sealed = await _sealed(services, repo_id)
    assert TOKEN.encode() not in sealed
    assert services.sealer.open(sealed, secret_aad(credential.id)) == TOKEN.encode()
    repo = await services.store.get_repository(repo_id)
    given = await RepositoryCredentials(services.store, services.sealer).credential_for(repo)
    assert given is not None
    assert given.http_authorization is not None
    basic = given.http_authorization.removeprefix("Basic ")
    assert base64.b64decode(basic).decode() == f"x-access-token:{TOKEN}"

    await api("PUT", url, 200, json={"kind": "https_token", "token": TOKEN, "username": "me"})
    assert (await api("GET", url, 200))["username"] == "me"
    await api("DELETE", url, 204)
    await api("GET", url, 404)
    await api("DELETE", url, 404)
    assert await services.store.repository_credential(repo_id) is None
    assert TOKEN.encode() not in api.seen


async def _sealed(services: Services, repo_id: str) -> Any:
    found = await services.store.sealed_repository_credential(repo_id)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "https_token", "token": TOKEN + "\r\nX-Evil: 1"}, "token"),
        ({"kind": "https_token", "token": TOKEN + " more"}, "token"),
        ({"kind": "https_token"}, "token"),
        ({"kind": "https_token", "token": TOKEN, "username": "a:b"}, "username"),
        ({"kind": "https_token", "token": TOKEN, "extra": 1}, "extra"),
        ({"kind": "ssh_deploy_key"}, "kind"),  # the clone URL is https
        ({"kind": "password", "token": TOKEN}, "kind"),
    ],
)
async def test_refused_bodies_name_the_field_and_never_echo_the_token(
    api: Api, body: dict[str, Any], field: str
) -> None:
    repo_id = await api.repository("app", "https://gitlab.example/grp/app.git")
    answer = await api("PUT", f"/api/repositories/{repo_id}/credentials", 422, json=body)
    assert answer["error"]["field"] == field
    assert TOKEN not in api.seen.decode()


async def test_a_token_is_refused_for_an_ssh_url_and_a_missing_repository_is_404(
    api: Api,
) -> None:
    repo_id = await api.repository("app", "git@gitlab.example:grp/app.git")
    body = {"kind": "https_token", "token": TOKEN}
    answer = await api("PUT", f"/api/repositories/{repo_id}/credentials", 422, json=body)
    assert "clone URL" in answer["error"]["message"]
    await api("PUT", "/api/repositories/01HNOSUCHREPOAAAAAAAAAAAAA/credentials", 404, json=body)


async def test_a_deploy_key_is_generated_and_only_its_public_half_shown(
    api: Api, services: Services
) -> None:
    repo_id = await api.repository("app", "ssh://git@gitlab.example:2222/grp/app.git")
    url = f"/api/repositories/{repo_id}/credentials"
    put = await api("PUT", url, 200, json={"kind": "ssh_deploy_key"})
    assert put["kind"] == "ssh_deploy_key"
    assert put["origin"] == "ssh://gitlab.example:2222"
    assert put["public_key"].endswith(" oore:grp/app")
    public = load_ssh_public_key(put["public_key"].encode())
    assert isinstance(public, Ed25519PublicKey)

    credential, sealed = await _sealed(services, repo_id)
    private_bytes = services.sealer.open(sealed, secret_aad(credential.id))
    private = load_ssh_private_key(private_bytes, password=None)
    assert private.public_key() == public
    assert b"PRIVATE KEY" not in api.seen

    again = await api("PUT", url, 200, json={"kind": "ssh_deploy_key"})  # a new pair each time
    assert again["public_key"] != put["public_key"]


async def test_a_token_is_not_sent_over_plain_http_unless_allowed(api: Api) -> None:
    repo_id = await api.repository("plain", "http://git.example/grp/plain.git")
    url = f"/api/repositories/{repo_id}/credentials"
    refused = await api("PUT", url, 422, json={"kind": "https_token", "token": TOKEN})
    assert refused["error"]["field"] == "kind"
    assert "OORE_ALLOW_PRIVATE_PROVIDERS" in refused["error"]["message"]
    assert TOKEN not in refused["error"]["message"]
    await api("GET", url, 404)  # nothing stored
