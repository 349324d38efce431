"""`oore repo credentials` and `oore repo deploy-key` through the real `oore`, against a real
daemon: a token goes in on stdin and is never printed; a deploy key is made once and shown."""

from __future__ import annotations

import httpx

from oore.cli.client.errors import ExitCode
from tests.cli.harness import Oore, one_line_error

TOKEN = "glpat-cli0credential0token0x1"


async def added(oore: Oore, name: str, clone_url: str) -> str:
    result = await oore("--json", "repo", "add", name, "--clone-url", clone_url)
    assert result.code == 0, result.err
    return str(result.json()["id"])


async def test_a_token_is_read_from_stdin_and_never_printed(
    oore: Oore, api: httpx.AsyncClient
) -> None:
    repo_id = await added(oore, "creds/https", "https://git.example/creds/https.git")
    empty = await oore("repo", "credentials", "set", "creds/https", stdin="\n")
    assert empty.code == ExitCode.INVALID
    assert "no token" in one_line_error(empty)

    done = await oore("repo", "credentials", "set", "creds/https", stdin=TOKEN + "\n")
    assert done.code == 0, done.err
    assert "stored a token" in done.out
    stored = (await api.get(f"/api/repositories/{repo_id}/credentials")).json()
    assert stored["kind"] == "https_token"
    assert stored["username"] == "x-access-token"

    named = await oore(
        "repo", "credentials", "set", repo_id, "--username", "me", stdin=TOKEN + "\n"
    )
    assert named.code == 0, named.err
    shown = await oore("repo", "credentials", "show", "creds/https")
    assert "https_token" in shown.out
    assert "me" in shown.out
    assert "https://git.example" in shown.out
    as_json = await oore("--json", "repo", "credentials", "show", "creds/https")
    assert as_json.json() == (await api.get(f"/api/repositories/{repo_id}/credentials")).json()

    # The repository has a token and an https URL: no deploy key unless asked to replace it.
    refused = await oore("repo", "deploy-key", "creds/https")
    assert refused.code == ExitCode.INVALID
    assert "--regenerate" in one_line_error(refused)

    deleted = await oore("repo", "credentials", "delete", "creds/https")
    assert deleted.code == 0, deleted.err
    again = await oore("repo", "credentials", "delete", "creds/https")
    assert again.code == ExitCode.NOT_FOUND
    for result in (done, named, shown, as_json, refused, deleted, again):
        assert TOKEN not in result.out + result.err


async def test_deploy_key_is_generated_once_and_regenerated_on_request(
    oore: Oore, api: httpx.AsyncClient
) -> None:
    repo_id = await added(oore, "creds/ssh", "git@git.example:creds/ssh.git")
    first = await oore("repo", "deploy-key", "creds/ssh")
    assert first.code == 0, first.err
    key = first.out.strip()
    assert key.startswith("ssh-ed25519 ")
    assert key.endswith(" oore:creds/ssh")
    assert (await oore("repo", "deploy-key", repo_id)).out.strip() == key
    stored = (await api.get(f"/api/repositories/{repo_id}/credentials")).json()
    assert stored["public_key"] == key

    fresh = await oore("repo", "deploy-key", "creds/ssh", "--regenerate")
    assert fresh.code == 0, fresh.err
    assert fresh.out.strip() != key
    assert "PRIVATE" not in first.out + fresh.out
