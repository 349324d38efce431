"""The GitHub App through a real `oored run` and a fake GitHub on loopback (tests/fakes/github.py).

The fake does what GitHub does: makes the app from the posted manifest, converts the code,
verifies app JWTs with the app's public key, issues installation tokens, refuses expired ones,
serves a private repository over git's smart HTTP only with a live token, and sends signed app
webhooks. The test plays the person: posts the manifest form as the browser would and follows
GitHub's redirect back to the daemon.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.e2e.daemon import Daemon
from tests.e2e.gitrepo import GitRepo
from tests.e2e.test_builds import BASE_ENV, Ci
from tests.fakes.github import FakeGitHub, FakeRepo, basic, serve_github
from tests.fakes.processes import ArgvWatcher

PIPELINE = """\
workflows:
  build:
    triggering:
      events: [push]
    scripts:
      - name: show environment
        script: env | sort
      - echo "built $(cat README.md)"
"""
INSTALLATION = 7
ACCOUNT = "acme"


@asynccontextmanager
async def github_and_ci(
    factory: type[Daemon], home: Path, seen: list[str]
) -> AsyncIterator[tuple[FakeGitHub, Ci]]:
    """A fake GitHub, and a daemon pointed at it; every API answer's text is kept in `seen`."""
    async with trio.open_nursery() as nursery:
        github: FakeGitHub = await nursery.start(serve_github)
        env = {
            **BASE_ENV,
            "OORE_ALLOW_PRIVATE_PROVIDERS": "1",
            "OORE_GITHUB_URL": github.url,
            "OORE_GITHUB_API_URL": github.url,
        }
        daemon = factory(home, **env)

        async def keep(response: httpx.Response) -> None:
            seen.append((await response.aread()).decode(errors="replace"))

        try:
            await daemon.start()
            hooks = {"response": [keep]}
            async with httpx.AsyncClient(
                base_url=daemon.url, timeout=15, event_hooks=hooks
            ) as http:
                yield github, Ci(daemon, http)
            await daemon.stop()
        finally:
            daemon.kill()
        nursery.cancel_scope.cancel()


async def set_up_app(github: FakeGitHub, ci: Ci) -> None:
    """`oore github setup` as a person does it: post the manifest from the browser, come back."""
    started = await ci.operator.post("/api/github/manifest", {"name": "Oore e2e"})
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["url"] == f"{github.url}/settings/apps/new?state={body['state']}"
    assert body["manifest"]["hook_attributes"]["url"] == f"{ci.daemon.url}/api/webhooks/github"
    async with httpx.AsyncClient(timeout=15) as browser:
        form = {"manifest": json.dumps(body["manifest"])}
        created = await browser.post(body["url"], data=form)
        assert created.status_code == 302, created.text
        back = created.headers["Location"]
        assert back.startswith(f"{ci.daemon.url}/api/github/callback?code=")
        landed = await browser.get(back)
        assert landed.status_code == 200, landed.text
        assert f"{github.url}/apps/oore-e2e/installations/new" in landed.text
        # The state worked once: the same link again is refused, and GitHub is not asked again.
        conversions = len(github.requests)
        again = await browser.get(back)
        assert again.status_code == 403
        assert len(github.requests) == conversions


def private_repo(tmp_path: Path, github: FakeGitHub, repo_id: int, name: str) -> GitRepo:
    """A repository the fake GitHub serves privately at its clone URL; `git` is the working copy."""
    work = GitRepo(tmp_path / "work" / name)
    work.commit("initial", {"README.md": "version one\n", "codemagic.yaml": PIPELINE})
    bare = tmp_path / "github" / ACCOUNT / f"{name}.git"
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(work.path), str(bare)],
        check=True,
        capture_output=True,
    )
    work.git("remote", "add", "origin", str(bare))
    github.add_repository(
        FakeRepo(repo_id, ACCOUNT, name, github.clone_url(ACCOUNT, name), gitdir=bare)
    )
    return work


def publish(work: GitRepo, text: str) -> tuple[str, str]:
    """Commit and push to the fake GitHub's copy: (before, after)."""
    before = work.head()
    after = work.commit("change", {"README.md": f"{text}\n"})
    work.git("push", "--quiet", "origin", "main")
    return before, after


async def build_of(ci: Ci, repository_id: str, sha: str) -> dict[str, Any]:
    with trio.fail_after(20):
        while True:
            for build in await ci.builds(repository=repository_id):
                if build["sha"] == sha:
                    return await ci.finished(build["id"])
            await trio.sleep(0.05)


async def installations(ci: Ci) -> dict[int, dict[int, str | None]]:
    """Installation id -> GitHub repository id -> the Oore repository registered for it."""
    response = await ci.operator.get("/api/github/installations")
    assert response.status_code == 200, response.text
    return {
        i["id"]: {r["id"]: r["repository_id"] for r in i["repositories"]}
        for i in response.json()["items"]
    }


async def test_manifest_flow_installation_webhooks_and_a_private_push_build(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    answers: list[str] = []
    async with github_and_ci(daemon_factory, tmp_path, answers) as (github, ci):
        await set_up_app(github, ci)
        app = (await ci.operator.get("/api/github/app")).json()
        assert app["app_id"] == github.app.id
        work = private_repo(tmp_path, github, 42, "app")
        private_repo(tmp_path, github, 43, "lib")

        # Installation webhooks, signed with the app's secret, keep the installations current.
        await github.install(INSTALLATION, ACCOUNT, [42])
        assert [r.status_code for r in github.deliveries] == [202]
        assert await installations(ci) == {INSTALLATION: {42: None}}
        await github.add_repositories(INSTALLATION, ACCOUNT, [43])
        assert await installations(ci) == {INSTALLATION: {42: None, 43: None}}
        await github.remove_repositories(INSTALLATION, ACCOUNT, [43])
        assert await installations(ci) == {INSTALLATION: {42: None}}
        refused = await ci.operator.post(
            "/api/repositories",
            {"provider": "github", "installation_id": INSTALLATION, "github_repo_id": 43},
        )
        assert refused.status_code == 404, refused.text
        # GitHub refusing the installation token once: the API says so, with no JWT in it.
        github.refuse_token_requests = 1
        registering = {"provider": "github", "installation_id": INSTALLATION, "github_repo_id": 42}
        suspended = await ci.operator.post("/api/repositories", registering)
        assert suspended.status_code == 502, suspended.text
        assert "suspended" in suspended.text
        assert github.jwts
        assert not any(jwt in suspended.text for jwt in github.jwts)

        # GitHub answering a clone URL on another host: the token would go there, so no.
        github.add_repository(FakeRepo(44, ACCOUNT, "odd", "https://elsewhere.example/a/odd.git"))
        await github.add_repositories(INSTALLATION, ACCOUNT, [44])
        odd = await ci.operator.post(
            "/api/repositories",
            {"provider": "github", "installation_id": INSTALLATION, "github_repo_id": 44},
        )
        assert odd.status_code == 502, odd.text
        assert "OORE_GITHUB_URL" in odd.text
        await github.remove_repositories(INSTALLATION, ACCOUNT, [44])

        # Registered from the installation: no secret to copy, details read from GitHub.
        created = await ci.operator.post("/api/repositories", registering)
        assert created.status_code == 201, created.text
        repo = created.json()
        assert "webhook_secret" not in repo
        assert (repo["owner"], repo["name"]) == (ACCOUNT, "app")
        assert repo["clone_url"] == github.clone_url(ACCOUNT, "app")
        assert repo["github_installation_id"] == INSTALLATION
        assert await installations(ci) == {INSTALLATION: {42: repo["id"]}}

        # A push to the private repository builds, fetched with an installation token.
        before, after = publish(work, "version two")
        watcher = ArgvWatcher()
        async with trio.open_nursery() as watching:
            watching.start_soon(watcher.run)
            await github.push(INSTALLATION, github.repos[42], after, before)
            build = await build_of(ci, repo["id"], after)
            watching.cancel_scope.cancel()
        assert build["status"] == "succeeded", build
        assert watcher.matching("git-remote-http"), "the fetch's processes were not seen"
        log = await ci.log(build["id"])
        assert "built version two" in log
        tokens = [i.token for i in github.issued]
        assert tokens
        assert github.git_requests
        assert all(token in tokens for _, token in github.git_requests)
        await ci.daemon.stop()

        secrets = [
            github.app.pem,
            *github.app.pem.splitlines()[1:-1],
            github.app.webhook_secret,
            github.app.client_secret,
            *tokens,
            *[basic(token).removeprefix("Basic ") for token in tokens],
            *github.jwts,
        ]
        for secret in secrets:
            assert watcher.matching(secret) == [], "a process's argv holds a secret"
        places = {
            "daemon log": ci.daemon.log(),
            "build log (its environment)": log,
            "API answers": "\n".join(answers),
            "mirrors' git config": _git_configs(ci.daemon.data_dir),
            "database": _database(ci.daemon.data_dir),
        }
        for where, text in places.items():
            leaked = [s[:8] for s in secrets if s in text]
            assert leaked == [], f"{where} holds secrets starting {leaked}"


def _git_configs(data_dir: Path) -> str:
    found = list((data_dir / "mirrors").rglob("config"))
    assert found, "no mirror was made"
    return "\n".join(p.read_text() for p in found)


def _database(data_dir: Path) -> str:
    """The database files' bytes (sealed values only, if all is well), as text to search."""
    files = [p for p in data_dir.iterdir() if p.name.startswith("oore.db")]
    return "\n".join(p.read_bytes().decode("latin-1") for p in files)


async def test_an_expired_installation_token_is_replaced_before_the_next_fetch(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    async with github_and_ci(daemon_factory, tmp_path, []) as (github, ci):
        # Tokens live 5 minutes and 1 second: Oore keeps one for a second only.
        github.token_lifetime = 301
        await set_up_app(github, ci)
        work = private_repo(tmp_path, github, 42, "app")
        await github.install(INSTALLATION, ACCOUNT, [42])
        created = await ci.operator.post(
            "/api/repositories",
            {"provider": "github", "installation_id": INSTALLATION, "github_repo_id": 42},
        )
        repo = created.json()
        before, after = publish(work, "one")
        await github.push(INSTALLATION, github.repos[42], after, before)
        assert (await build_of(ci, repo["id"], after))["status"] == "succeeded"
        first = github.issued[-1].token

        github.expire_tokens()  # GitHub refuses the old token from now on
        issued = len(github.issued)
        await trio.sleep(1.2)
        before, after = publish(work, "two")
        await github.push(INSTALLATION, github.repos[42], after, before)
        build = await build_of(ci, repo["id"], after)
        assert build["status"] == "succeeded", (build, await ci.log(build["id"]))
        # The fetch used a token issued after the old one expired (the check-run reports of
        # the notifier may have been issued more since: each lives one second here).
        fresh = [issued_token.token for issued_token in github.issued[issued:]]
        last_fetch = [token for _, token in github.git_requests][-1]
        assert first not in fresh
        assert last_fetch in fresh, (last_fetch, fresh)
