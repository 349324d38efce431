"""Secret group scopes, fork secrets and clone URL credentials through the real `oore`, against a
real daemon (issue 10): what is refused says why, and what is set is what the API then shows."""

from __future__ import annotations

from pathlib import Path

import httpx

from oore.cli.client.errors import ExitCode
from tests.cli.harness import Oore, one_line_error, together
from tests.e2e.gitrepo import GitRepo

TOKEN_URL = "https://x-access-token:ghs_secret123@github.com/scope/app.git"


async def test_repo_add_and_edit_refuse_credentials_in_the_clone_url(
    oore: Oore, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    refused = await oore("repo", "add", "scope/creds", "--clone-url", TOKEN_URL)
    assert refused.code != 0
    message = one_line_error(refused)
    assert "credentials in the clone URL are not stored" in message
    assert "oore repo credentials set" in message
    assert "ghs_secret123" not in refused.out + refused.err
    listed = (await api.get("/api/repositories")).json()["items"]
    assert all(r["full_name"] != "scope/creds" for r in listed)

    git = GitRepo(tmp_path / "plain")
    git.commit("initial", {"README.md": "x\n"})
    added = await oore("--json", "repo", "add", "scope/plain", "--clone-url", git.url)
    assert added.code == 0, added.err
    edited = await oore("repo", "edit", "scope/plain", "--clone-url", TOKEN_URL)
    assert "credentials in the clone URL are not stored" in one_line_error(edited)
    shown = (await api.get(f"/api/repositories/{added.json()['id']}")).json()
    assert shown["clone_url"] == git.url


async def test_repo_fork_secrets_flag_is_set_and_shown(
    oore: Oore, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    git = GitRepo(tmp_path / "fork")
    git.commit("initial", {"README.md": "x\n"})
    added = await oore(
        *("--json", "repo", "add", "scope/forky", "--clone-url", git.url),
        "--allow-fork-secrets",
    )
    assert added.code == 0, added.err
    assert added.json()["allow_fork_secrets"] is True
    edited = await oore("--json", "repo", "edit", "scope/forky", "--no-allow-fork-secrets")
    assert edited.json()["allow_fork_secrets"] is False
    shown = await oore("repo", "show", "scope/forky")
    assert "fork secrets:" in shown.out
    assert "withheld" in shown.out


async def test_secrets_set_with_repositories_scopes_the_group(
    oore: Oore, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    git = GitRepo(tmp_path / "scoped")
    git.commit("initial", {"README.md": "x\n"})
    added = await oore("--json", "repo", "add", "scope/scoped", "--clone-url", git.url)
    repo_id = added.json()["id"]

    stored = await oore(
        *("--json", "secrets", "set", "scoped-group", "KEY=v4lue-zork"),
        *("--repository", "scope/scoped"),
    )
    assert stored.code == 0, stored.err
    assert stored.json()["repositories"] == [repo_id]
    # Re-entering values without --repository keeps the scope: it never silently widens.
    again = await oore("--json", "secrets", "set", "scoped-group", "KEY=other-zork")
    assert again.json()["repositories"] == [repo_id]
    table, shown = await together(oore("secrets", "list"), oore("secrets", "show", "scoped-group"))
    assert "scope/scoped" in table.out
    assert "scope/scoped" in shown.out
    for output in (stored, again, table, shown):
        assert "zork" not in output.out + output.err

    cleared = await oore("--json", "secrets", "set", "scoped-group", "K=v", "--all-repositories")
    assert cleared.json()["repositories"] == []
    both = await oore(
        *("secrets", "set", "scoped-group", "K=v"),
        *("--repository", "scope/scoped", "--all-repositories"),
    )
    assert both.code == ExitCode.INVALID
    unknown = await oore("secrets", "set", "scoped-group", "K=v", "--repository", "no/such")
    assert unknown.code == ExitCode.NOT_FOUND

    env_file = tmp_path / "nul.env"
    env_file.write_text("K=a\x00b\n")  # argv cannot carry a NUL; a file can
    nul = await oore("secrets", "set", "nul-group", "--from-env-file", str(env_file))
    assert nul.code == ExitCode.INVALID
    assert "K: a value may not contain a NUL character" in one_line_error(nul)
    assert (await api.get("/api/secret-groups/nul-group")).status_code == 404
    await api.delete("/api/secret-groups/scoped-group")


async def test_secrets_set_reads_env_files_as_oored_does(
    oore: Oore, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    """One parser for both: every bad line named at once, the daemon's messages, no content."""
    broken = tmp_path / "broken.env"
    broken.write_text("A=1\nhunter2 xyzzy\nB=2\nC='xyzzy\n")
    refused = await oore("secrets", "set", "parsed-group", "--from-env-file", str(broken))
    assert refused.code == ExitCode.INVALID
    form = "expected KEY=value, KEY='value' or KEY=\"value\""
    assert one_line_error(refused) == f"oore: {broken}:2: {form}; {broken}:4: {form}"
    assert "xyzzy" not in refused.out + refused.err

    latin1 = tmp_path / "latin1.env"
    latin1.write_bytes(b"A=caf\xe9\n")
    undecodable = await oore("secrets", "set", "parsed-group", "--from-env-file", str(latin1))
    assert undecodable.code == ExitCode.INVALID
    assert one_line_error(undecodable) == f"oore: {latin1}: the env file is not valid UTF-8"
    assert (await api.get("/api/secret-groups/parsed-group")).status_code == 404

    fine = tmp_path / "fine.env"
    fine.write_text("\ufeff# signing\nexport A='one two'\nB = 2 \n")
    stored = await oore("--json", "secrets", "set", "parsed-group", "--from-env-file", str(fine))
    assert stored.code == 0, stored.err
    assert stored.json()["variables"] == ["A", "B"]
    await api.delete("/api/secret-groups/parsed-group")
