"""One real `oored` for the whole `oore` test session (starting one per test would cost more than
the tests), a real git repository served to it as file://, registered through `oore repo add`,
and a runner for the real `oore` executable. Tests that stop or break a daemon start their own.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio

from tests.cli.harness import Oore
from tests.e2e.daemon import Daemon
from tests.e2e.gitrepo import GitRepo

ARTIFACT = bytes(range(256)) * 1200
WEBHOOK_SECRET = "cli-tests-webhook-secret"
GITHUB_REPO_ID = 7070
PIPELINE = """\
workflows:
  ok:
    scripts:
      - name: greet
        script: echo "hello from the cli test"
  fail:
    scripts:
      - name: break
        script: |
          echo "about to fail"
          exit 3
  slow:
    scripts:
      - name: count
        script: for i in $(seq 1 40); do echo "line $i"; sleep 0.1; done
  hang:
    scripts:
      - name: wait
        script: sleep 600
  chatty:
    scripts:
      - name: talk
        script: for i in $(seq 1 1200); do echo "tick $i"; sleep 0.05; done
  loud:
    scripts:
      - name: more than a pipe holds
        script: seq 1 30000
  package:
    scripts:
      - name: package
        script: |
          mkdir -p out
          python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 1200)' > out/app.bin
          echo "notes" > out/notes.txt
    artifacts:
      - out/*
"""


@dataclass(frozen=True, slots=True)
class Registered:
    id: str
    full_name: str
    git: GitRepo


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = Daemon(
        # Tokens for the loopback git servers the tests start (plain http).
        tmp_path_factory.mktemp("oored"),
        OORE_SHUTDOWN_GRACE="1",
        OORE_ALLOW_PRIVATE_PROVIDERS="1",
    )
    trio.run(daemon.start)
    yield daemon
    assert daemon.process is not None
    daemon.process.send_signal(signal.SIGTERM)
    try:
        daemon.process.wait(timeout=10)
    finally:
        daemon.kill()


@pytest.fixture
def oore(server: Daemon, tmp_path: Path) -> Oore:
    """`oore` pointed at the shared daemon with its admin token, through the environment."""
    home = tmp_path / "home"
    home.mkdir()
    return Oore(home, {"OORE_SERVER": server.url, "OORE_TOKEN": server.admin_token.strip()})


@pytest.fixture
async def api(server: Daemon) -> AsyncIterator[httpx.AsyncClient]:
    """The API itself, with the admin token: what `--json` output is compared with."""
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers(), timeout=15) as http:
        yield http


@pytest.fixture(scope="session")
def app_repo(server: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Registered:
    """A git repository with every workflow the tests run, registered with `oore repo add`."""
    base = tmp_path_factory.mktemp("cli-git")
    git = GitRepo(base / "app")
    git.commit("initial", {"codemagic.yaml": PIPELINE, "README.md": "app\n"})
    runner = Oore(base, {"OORE_SERVER": server.url, "OORE_TOKEN": server.admin_token.strip()})
    added = runner.run_sync(
        *("--json", "repo", "add", "cli/app", "--clone-url", git.url),
        *("--webhook-secret", WEBHOOK_SECRET, "--github-repo-id", str(GITHUB_REPO_ID)),
    )
    assert added.code == 0, added.err
    return Registered(added.json()["id"], "cli/app", git)
