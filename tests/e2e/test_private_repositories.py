"""Private repositories through a real `oored run`: a token over smart HTTP, a deploy key over SSH.

The git hosts are real and on loopback (git's `http-backend` behind a server that refuses any
request without the expected Authorization; a test-owned `sshd` that knows only the deploy key
Oore generated). Without a credential a push's build is errored with a fetch failure that says
what to do; with one, the push builds. Then the secret is looked for everywhere it must not be:
the daemon's log, every API answer, every command line on the machine during the fetch, the
build's environment and log, and every file of the data dir (the database holds it sealed).
"""

from __future__ import annotations

import base64
import functools
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import trio

from tests.e2e.daemon import Daemon
from tests.e2e.gitrepo import GitRepo
from tests.e2e.test_builds import OWNER, SECRET, Ci, Repo, make_repo, running_ci
from tests.e2e.test_secret_scopes import pull_request
from tests.fakes.git_http import GitHttpServer, serve_git_http
from tests.fakes.processes import ArgvWatcher
from tests.fakes.sshd import needs_sshd, start_sshd

TOKEN = "ghp_e2e0private0repo0token0k3y9"
BASIC = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
PIPELINE = """\
workflows:
  build:
    triggering:
      events: [push]
    scripts:
      - name: show what the build can see
        script: |
          env | sort
          git -C "$CM_BUILD_DIR" config --list --show-origin
          cat "$CM_BUILD_DIR/README.md"
"""
GITHUB_IDS = itertools.count(9100)
# The loopback git server speaks plain http: tokens go there only when this allows it.
LOCAL = {"OORE_ALLOW_PRIVATE_PROVIDERS": "1"}


class Seen:
    """Every API answer a test read, to grep them all at the end."""

    def __init__(self, ci: Ci) -> None:
        self.ci = ci
        self.text = ""

    async def get(self, path: str) -> Any:
        response = await self.ci.operator.get(path)
        self.text += response.text + "\n"
        return response.json()

    async def put(self, path: str, body: dict[str, Any]) -> Any:
        response = await self.ci.http.put(path, json=body, headers=self.ci.daemon.headers())
        self.text += response.text + "\n"
        assert response.status_code == 200, response.text
        return response.json()

    async def everything(self, repo: Repo, build_ids: list[str]) -> None:
        """Read every answer that could mention the repository, its builds and deliveries."""
        await self.get(f"/api/repositories/{repo.id}")
        await self.get("/api/repositories")
        await self.get(f"/api/repositories/{repo.id}/credentials")
        events = await self.get("/api/webhooks/events")
        for event in events["items"]:
            await self.get(f"/api/webhooks/events/{event['id']}")
        for build_id in build_ids:
            await self.get(f"/api/builds/{build_id}")
            self.text += await self.ci.log(build_id)


async def register(ci: Ci, git_repo: Any, clone_url: str) -> Repo:
    github_id = next(GITHUB_IDS)
    created = await ci.operator.register(
        "github", OWNER, "app", clone_url=clone_url, github_repo_id=github_id, webhook_secret=SECRET
    )
    return Repo(git_repo, created["id"], "app", github_id)


def files_under(root: Path) -> Iterator[Path]:
    return (path for path in root.rglob("*") if path.is_file() and not path.is_symlink())


def holding(root: Path, secret: bytes) -> list[str]:
    return [str(path) for path in files_under(root) if secret in path.read_bytes()]


async def test_a_private_repository_builds_with_a_token_that_is_shown_nowhere(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", PIPELINE)
    async with trio.open_nursery() as nursery:
        serve = functools.partial(
            serve_git_http, {"app.git": git.path / ".git"}, f"Basic {BASIC}", hold=0.05
        )
        server: GitHttpServer = await nursery.start(serve)
        async with running_ci(daemon_factory, tmp_path, OORE_LOG_LEVEL="debug", **LOCAL) as ci:
            seen = Seen(ci)
            repo = await register(ci, git, server.url("app.git"))

            refused = (await ci.push(repo, "main", git.head()))["(fetch)"]
            assert refused["status"] == "errored", refused
            assert "fetch" in refused["reason"]
            assert "oore repo credentials set" in refused["reason"]
            assert not any(s.authorised for s in server.seen)

            put = await seen.put(
                f"/api/repositories/{repo.id}/credentials", {"kind": "https_token", "token": TOKEN}
            )
            assert put["kind"] == "https_token"

            watcher = ArgvWatcher()
            async with trio.open_nursery() as watching:
                watching.start_soon(watcher.run)
                sha = git.commit("second", {"README.md": "private content\n"})
                built = (await ci.push(repo, "main", sha))["build"]
                build = await ci.succeeded(built["id"])
                watching.cancel_scope.cancel()
            assert any(s.authorised for s in server.seen)
            assert "private content" in await ci.log(build["id"])

            await seen.everything(repo, [refused["id"], build["id"]])
            log = await ci.log(build["id"])
        daemon_log = ci.daemon.log()
        nursery.cancel_scope.cancel()  # the git server

    assert watcher.matching("git-remote-http"), "the fetch's processes were not seen"
    for secret in (TOKEN, BASIC):
        assert secret not in seen.text
        assert secret not in daemon_log
        assert watcher.matching(secret) == []
        assert secret not in log
        assert holding(ci.daemon.data_dir, secret.encode()) == []
    # The build's environment holds no credential, nor a way for git to find one.
    for name in ("GIT_CONFIG_COUNT", "GIT_CONFIG_VALUE_0", "GIT_SSH_COMMAND", "http.extraheader"):
        assert name not in log
    assert "OORE_ADMIN_TOKEN" not in log


@needs_sshd
async def test_a_deploy_key_fetches_over_ssh_and_its_private_half_is_shown_nowhere(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", PIPELINE)
    sshd = await start_sshd(tmp_path / "sshd")
    try:
        async with running_ci(daemon_factory, tmp_path, **LOCAL) as ci:
            seen = Seen(ci)
            repo = await register(ci, git, sshd.url(git.path / ".git"))

            refused = (await ci.push(repo, "main", git.head()))["(fetch)"]
            assert refused["status"] == "errored", refused
            assert "oore repo deploy-key" in refused["reason"]

            key = await seen.put(
                f"/api/repositories/{repo.id}/credentials", {"kind": "ssh_deploy_key"}
            )
            assert key["public_key"].startswith("ssh-ed25519 ")
            sshd.authorize(key["public_key"])  # what the user does at the provider

            sha = git.commit("second", {"README.md": "over ssh\n"})
            built = (await ci.push(repo, "main", sha))["build"]
            build = await ci.succeeded(built["id"])
            assert "over ssh" in await ci.log(build["id"])
            await seen.everything(repo, [refused["id"], build["id"]])
            log = await ci.log(build["id"])
        daemon_log = ci.daemon.log()
    finally:
        sshd.stop()

    assert "Accepted publickey" in sshd.log()
    marker = "PRIVATE KEY"
    assert marker not in seen.text
    assert marker not in daemon_log
    assert marker not in log
    assert "GIT_SSH_COMMAND" not in log
    # Only the pinned host key is left beside the mirrors: the key file was removed.
    assert holding(ci.daemon.data_dir, marker.encode()) == []
    known_hosts = ci.daemon.data_dir / "mirrors" / "ssh" / "known_hosts"
    assert sshd.host_public_key.split()[1] in known_hosts.read_text()


OPT_IN = """\
workflows:
  plain:
    triggering:
      events: [push, pull_request]
    environment:
      vars:
        LIB_URL: {lib}
    scripts:
      - name: clone the private library without opting in
        script: |
          export GIT_TERMINAL_PROMPT=0
          if git clone --quiet "$LIB_URL" lib; then echo "CLONED=yes"; else echo "CLONED=no"; fi
          echo "count=${{GIT_CONFIG_COUNT:-none}}"
  submodules:
    triggering:
      events: [push, pull_request]
    environment:
      git_credentials: true
      vars:
        LIB_URL: {lib}
    scripts:
      - name: clone the private library with the repository's token
        script: |
          export GIT_TERMINAL_PROMPT=0
          git clone --quiet "$LIB_URL" lib && cat lib/LIB.txt
          echo "header=$GIT_CONFIG_VALUE_0"
          echo "decoded=$(echo "$GIT_CONFIG_VALUE_0" | cut -d' ' -f3 | base64 -d)"
"""


async def test_a_workflow_opts_in_to_the_token_and_fork_pull_requests_never_get_it(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    lib = make_repo(tmp_path, "lib", None, **{"LIB.txt": "library v1\n"})
    app = GitRepo(tmp_path / "git" / "app")
    async with trio.open_nursery() as nursery:
        repos = {"app.git": app.path / ".git", "lib.git": lib.path / ".git"}
        serve = functools.partial(serve_git_http, repos, f"Basic {BASIC}")
        server: GitHttpServer = await nursery.start(serve)
        app.commit("initial", {"codemagic.yaml": OPT_IN.format(lib=server.url("lib.git"))})
        app.branch("feature")
        feature = app.commit("feature", {"feature.txt": "x\n"})
        app.pull_request(7, feature)
        app.checkout("main")
        async with running_ci(daemon_factory, tmp_path, **LOCAL) as ci:
            repo = await register(ci, app, server.url("app.git"))
            response = await ci.http.put(
                f"/api/repositories/{repo.id}/credentials",
                json={"kind": "https_token", "token": TOKEN},
                headers=ci.daemon.headers(),
            )
            assert response.status_code == 200, response.text

            made = await ci.push(repo, "main", app.head())
            plain = await ci.succeeded(made["plain"]["id"])
            opted = await ci.succeeded(made["submodules"]["id"])
            plain_log = await ci.log(plain["id"])
            opted_log = await ci.log(opted["id"])

            fork = pull_request(repo, 7, feature, head_repo_id=repo.github_id + 1000)
            from_fork = await ci.deliver("pull_request", fork)
            refused = await ci.finished(from_fork["submodules"]["id"])
            fork_plain = await ci.finished(from_fork["plain"]["id"])
            fork_log = await ci.log(fork_plain["id"])
        daemon_log = ci.daemon.log()
        nursery.cancel_scope.cancel()

    assert "CLONED=no" in plain_log
    assert "count=none" in plain_log
    assert "library v1" in opted_log  # the build's own git fetched with the token
    assert "header=********" in opted_log
    assert "decoded=********" in opted_log
    assert refused["status"] == "errored"
    assert "forks never get" in refused["reason"]
    assert "CLONED=no" in fork_log
    for secret in (TOKEN, BASIC):
        for text in (plain_log, opted_log, fork_log, daemon_log, refused["reason"]):
            assert secret not in text
