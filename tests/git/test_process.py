"""The environment and safety settings every git process runs with, and URL redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from oore.git import Mirror, fetch, git_env, redact
from oore.git.process import run_git

from .conftest import Upstream

ALLOWED = {"PATH", "HOME", "LANG", "GIT_TERMINAL_PROMPT", "GIT_ASKPASS", "GIT_SSH_COMMAND"}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OORE_ADMIN_TOKEN", "admin-secret")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/tmp/agent.sock")
    monkeypatch.setenv("GIT_DIR", "/somewhere/else")


@pytest.mark.usefixtures("secrets")
def test_git_env_is_built_from_scratch() -> None:
    env = git_env()
    assert set(env) <= ALLOWED
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_ASKPASS"] == "true"
    assert "admin-secret" not in env.values()


@pytest.mark.usefixtures("secrets")
async def test_git_processes_see_only_that_environment() -> None:
    # A "!" alias runs a shell command with exactly the environment git was given.
    result = await run_git(["-c", "alias.show-env=!env", "show-env"])
    seen = dict(line.split("=", 1) for line in result.stdout.decode().splitlines() if "=" in line)
    assert seen["GIT_TERMINAL_PROMPT"] == "0"
    assert not set(seen) & {"OORE_ADMIN_TOKEN", "SSH_AUTH_SOCK"}
    # git sets a GIT_DIR of its own for an alias run inside a repository (this checkout, a
    # worktree of it): only ours must not arrive.
    assert seen.get("GIT_DIR") != "/somewhere/else"
    assert not {"admin-secret", "/tmp/agent.sock", "/somewhere/else"} & set(seen.values())


async def test_fetch_runs_no_hooks(mirror: Mirror, upstream: Upstream) -> None:
    # Since git 2.28 a fetch runs the receiving repository's reference-transaction hook.
    marker = mirror.path.parent / "hook-ran"
    hook = mirror.path / "hooks" / "reference-transaction"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    await fetch(mirror, ["refs/heads/main"])
    assert not marker.exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x-access-token:ghs_abc@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://oauth2:glpat-xyz@gitlab.example.com/g/r", "https://gitlab.example.com/g/r"),
        ("https://ghp_token@github.com/o/r", "https://github.com/o/r"),
        ("https://u:p@ss@host/r", "https://host/r"),  # git takes userinfo to the last "@"
        ("ssh://git:pw@host:22/r.git", "ssh://host:22/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),  # scp-like: no password there
        ("https://github.com/o/r@v1", "https://github.com/o/r@v1"),
        ("file:///srv/repos/r.git", "file:///srv/repos/r.git"),
        (
            "fatal: unable to access 'https://u:tok@h/r/': 403; also see http://a:b@c/",
            "fatal: unable to access 'https://h/r/': 403; also see http://c/",
        ),
    ],
)
def test_redact(url: str, expected: str) -> None:
    assert redact(url) == expected


def test_mirror_repr_hides_credentials(tmp_path: Path) -> None:
    shown = repr(Mirror(tmp_path / "m.git", "https://u:secret@host/r"))
    assert "secret" not in shown
    assert "https://host/r" in shown
