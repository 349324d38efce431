"""GitLab through OAuth, end to end: a real `oored run`, the real `oore` client, and a fake GitLab
on loopback (tests/fakes/gitlab.py) that checks what Oore asks of it and serves the private
repository over git's smart HTTP only to its OAuth tokens.

`oore gitlab connect` signs in (the test plays the browser), `oore gitlab enable` creates the
project's hook and registers the repository, a push GitLab delivers through that hook builds
(fetched with a token refreshed after the old one expired), `oore gitlab disable` deletes the
hook. Then the application secret, every OAuth token and the hook's token are looked for where
they must not be: the daemon's log, the API's answers, the CLI's output, every command line on
the machine during the build, and the build's environment and log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import trio

from tests.cli.harness import Oore, Result, Running
from tests.e2e.daemon import Daemon
from tests.e2e.gitrepo import GitRepo
from tests.e2e.test_builds import BASE_ENV, Ci
from tests.e2e.webhook_client import Operator
from tests.fakes.gitlab import APPLICATION_ID, APPLICATION_SECRET, FakeGitLab, Project
from tests.fakes.processes import ArgvWatcher

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


class Recorded:
    """The `oore` client, keeping everything it printed."""

    def __init__(self, oore: Oore) -> None:
        self.oore = oore
        self.text = ""

    async def __call__(self, *args: str, stdin: str = "") -> Result:
        result = await self.oore(*args, stdin=stdin)
        self.text += result.out + result.err
        assert result.code == 0, result.err
        return result


async def sign_in(oore: Oore, browser: httpx.AsyncClient) -> tuple[Result, str]:
    """`oore gitlab connect` waiting while the test, as the user's browser, opens its URL and
    consents; its result and the callback URL the browser was sent to."""
    async with trio.open_nursery() as nursery:
        running = Running(oore, "gitlab", "connect", "--timeout", "30")
        await nursery.start(running.run)
        await running.seen("/oauth/authorize?")
        url = next(w for w in running.out.decode().split() if "/oauth/authorize?" in w)
        consent = await browser.get(url)
        assert consent.status_code == 302, consent.text
        callback = consent.headers["Location"]
        page = await browser.get(callback)
        assert page.status_code == 200, page.text
        assert "GitLab connected" in page.text
        result = await running.result()
    return result, callback


async def everything(operator: Operator, repository_id: str, build_id: str) -> str:
    """Every API answer that could mention the connection, the repository or its build."""
    seen = ""
    for path in [
        "/api/gitlab",
        "/api/gitlab/projects",
        "/api/repositories",
        f"/api/repositories/{repository_id}",
        f"/api/repositories/{repository_id}/webhook-url",
        f"/api/builds/{build_id}",
        f"/api/builds/{build_id}/log",
        "/api/webhooks/events",
        "/api/openapi.json",
    ]:
        seen += (await operator.get(path)).text
    for event in (await operator.get("/api/webhooks/events")).json()["items"]:
        seen += (await operator.get(f"/api/webhooks/events/{event['id']}")).text
    return seen


async def test_connect_enable_push_builds_then_disable(
    daemon_factory: type[Daemon], tmp_path: Path, nursery: trio.Nursery
) -> None:
    gitlab: FakeGitLab = await nursery.start(FakeGitLab(tmp_path).serve)
    source = GitRepo(tmp_path / "src" / "app")
    first = source.commit("initial", {"codemagic.yaml": PIPELINE, "README.md": "private app\n"})
    project: Project = gitlab.add_project("acme/mobile", "app", source.path)
    env = BASE_ENV | {"OORE_GITLAB_URL": gitlab.url, "OORE_ALLOW_PRIVATE_PROVIDERS": "1"}
    (tmp_path / "daemon").mkdir()
    daemon = await daemon_factory(tmp_path / "daemon", **env).start()
    gitlab.redirect_uri = f"{daemon.url}/api/gitlab/callback"
    home = tmp_path / "home"
    home.mkdir()
    oore = Recorded(
        Oore(home, {"OORE_SERVER": daemon.url, "OORE_TOKEN": daemon.admin_token.strip()})
    )
    async with (
        httpx.AsyncClient(base_url=daemon.url, timeout=15) as http,
        httpx.AsyncClient(timeout=15) as browser,
    ):
        ci = Ci(daemon, http)

        # The application: its ID in an option, its secret on stdin (never an argument).
        stored = await oore(
            "gitlab", "connect", "--application-id", APPLICATION_ID, "--no-wait",
            stdin=APPLICATION_SECRET + "\n",
        )  # fmt: skip
        assert "/oauth/authorize?" in stored.out
        gitlab.access_ttl = 200  # Oore refreshes a token with less than five minutes left
        connected, callback = await sign_in(oore.oore, browser)
        oore.text += connected.out + connected.err
        assert connected.code == 0, connected.err
        assert f"connected to {gitlab.url} as maintainer" in connected.out
        assert gitlab.grants == ["authorization_code"]
        replayed = await browser.get(callback)
        assert replayed.status_code == 400, replayed.text
        assert gitlab.grants == ["authorization_code"]  # the replay reached no GitLab

        listed = await oore("gitlab", "projects")
        assert "acme/mobile/app" in listed.out
        enabled = await oore("--json", "gitlab", "enable", "acme/mobile/app")
        repository = enabled.json()["repository"]
        [hook] = gitlab.project_hooks(project.id)
        assert hook.url == f"{daemon.url}/api/webhooks/gitlab/{repository['id']}"
        assert all(hook.body[e] is True for e in ("push_events", "tag_push_events"))
        assert hook.body["merge_requests_events"] is True
        assert (repository["owner"], repository["name"]) == ("acme/mobile", "app")
        assert repository["clone_url"] == f"{gitlab.url}/acme/mobile/app.git"

        # GitLab now refuses every token it issued; Oore sees its own expiring and refreshes it.
        gitlab.expire_access_tokens()
        grants = len(gitlab.grants)
        head = source.commit("change", {"README.md": "private app, changed\n"})
        gitlab.publish(project)
        watcher = ArgvWatcher()
        nursery.start_soon(watcher.run)
        [delivered] = await gitlab.deliver_push(project, first, head)
        assert delivered.status_code == 202, delivered.text
        event = await ci.operator.settled(delivered.json()["event_id"])
        assert event["state"] == "processed", event
        [build] = event["builds"]
        done = await ci.succeeded(build["id"])
        assert done["sha"] == head
        log = await ci.log(build["id"])
        assert "private app, changed" in log
        assert "CM_BUILD_DIR=" in log  # `env | sort` printed the build's environment
        # The fetch refreshed first; the commit-status reports that follow refresh again (a
        # 200 s token is always inside the five-minute margin). Refresh tokens work once at the
        # fake as at GitLab, so every one succeeding shows the refreshes never raced.
        refreshes = gitlab.grants[grants:]
        assert refreshes
        assert set(refreshes) == {"refresh_token"}, refreshes
        assert any(s.authorised and "git-upload-pack" in s.path for s in gitlab.git_seen)
        assert watcher.matching("git-remote-http"), "the fetch's processes were not seen"

        disabled = await oore("gitlab", "disable", "acme/mobile/app")
        assert "webhook was deleted" in disabled.out
        assert gitlab.project_hooks(project.id) == []
        after = (await ci.operator.get(f"/api/repositories/{repository['id']}")).json()
        assert after["active"] is False

        answers = await everything(ci.operator, repository["id"], build["id"])
    await daemon.stop()
    secrets = [APPLICATION_SECRET, hook.token, *gitlab.issued]
    places: dict[str, Any] = {
        "daemon log": daemon.log(),
        "API answers": answers,
        "CLI output": oore.text,
        "command lines": "\n".join(watcher.seen),
        "build log and environment": log,
    }
    for secret in secrets:
        for place, text in places.items():
            assert secret not in text, f"a secret is in the {place}"
    databases = sorted(daemon.data_dir.glob("oore.db*"))  # the WAL and its index too
    assert daemon.data_dir / "oore.db" in databases
    for path in databases:
        stored = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in stored, f"a secret is in {path.name}"
