"""The notification channels through a real `oored run`: real builds in real git repositories,
reported to a fake GitHub (the App installed: check runs), a fake GitLab (commit statuses), a
Slack-like server and a real SMTP server (aiosmtpd, STARTTLS with a certificate made here).

What a user relies on: a pull request's checks go queued -> in_progress -> completed with the
right conclusion and the steps in the summary; GitLab shows pending -> running -> success or
failed; Slack and email arrive with the right content and only for the outcomes the workflow
asked for; no credential (installation token, personal token, Slack webhook URL, SMTP password)
is in the daemon's log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.e2e.daemon import Daemon
from tests.e2e.gitrepo import GitRepo
from tests.e2e.test_builds import BASE_ENV, Ci, make_repo
from tests.e2e.test_github_app import (
    ACCOUNT,
    INSTALLATION,
    private_repo,
    publish,
    set_up_app,
)
from tests.fakes.github import FakeGitHub, serve_github
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.slack import FakeSlack, serve_slack
from tests.fakes.smtp import LOGIN_WARNING, FakeSmtp, self_signed, smtp_server

# `build` succeeds and `broken` fails; both ask Slack for failures only and email for
# successes only.
PUBLISHING = """\
    publishing:
      slack:
        channel: "#builds"
        notify:
          success: false
          failure: true
      email:
        recipients: [dev@example.com]
        notify:
          success: true
          failure: false
"""
PIPELINE = f"""\
workflows:
  build:
    triggering:
      events: [push]
    scripts:
      - name: compile
        script: echo compiled
      - name: test
        script: echo tested
{PUBLISHING}
  broken:
    triggering:
      events: [push]
    scripts:
      - name: compile
        script: echo compiled
      - name: test
        script: exit 3
{PUBLISHING}
"""
SMTP_PASSWORD = "e2e smtp password 0123456789"
GITLAB_TOKEN = "glpat-e2eStatusToken0123456789"
ENV = {
    "OORE_ALLOW_PRIVATE_PROVIDERS": "1",
    "OORE_NOTIFY_RETRY_BASE": "0.5",
    "OORE_NOTIFY_RETRY_MAX": "2",
    "OORE_LOG_LEVEL": "debug",
}


@asynccontextmanager
async def world(factory: type[Daemon], home: Path) -> AsyncIterator[tuple[Any, ...]]:
    """The fakes, and a daemon pointed at them (its SMTP server's certificate trusted)."""
    certificate = self_signed(home)
    async with trio.open_nursery() as nursery:
        github: FakeGitHub = await nursery.start(serve_github)
        gitlab: FakeGitLab = await nursery.start(FakeGitLab(home).serve)
        slack: FakeSlack = await nursery.start(serve_slack)
        users = {"oore": SMTP_PASSWORD}
        async with smtp_server(security="starttls", certificate=certificate, users=users) as smtp:
            env = {
                **BASE_ENV,
                **ENV,
                "OORE_GITHUB_URL": github.url,
                "OORE_GITHUB_API_URL": github.url,
                "OORE_GITLAB_URL": gitlab.url,
                "OORE_SLACK_API_URL": slack.api_url,
                "SSL_CERT_FILE": str(certificate.cafile),  # OpenSSL's default trust, for SMTP
            }
            daemon = factory(home, **env)
            try:
                await daemon.start()
                async with httpx.AsyncClient(base_url=daemon.url, timeout=15) as http:
                    ci = Ci(daemon, http)
                    await configure(ci, slack, smtp)
                    yield ci, github, gitlab, slack, smtp
                await daemon.stop()
            finally:
                daemon.kill()
        nursery.cancel_scope.cancel()


async def configure(ci: Ci, slack: FakeSlack, smtp: FakeSmtp) -> None:
    headers = ci.daemon.headers()
    put = await ci.http.put(
        "/api/settings/slack",
        json={"mode": "webhook", "webhook_url": slack.webhook_url},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    server = {
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "starttls",
        "username": "oore",
        "password": SMTP_PASSWORD,
        "from": "Oore CI <ci@example.com>",
    }
    put = await ci.http.put("/api/settings/smtp", json=server, headers=headers)
    assert put.status_code == 200, put.text


async def settled(ci: Ci, build_ids: list[str]) -> list[dict[str, Any]]:
    """Every delivery of the builds, once none is pending or sending any more."""
    with trio.fail_after(30):
        while True:
            found: list[dict[str, Any]] = []
            for build_id in build_ids:
                response = await ci.operator.get("/api/notifications", build=build_id, limit=100)
                assert response.status_code == 200, response.text
                found += response.json()["items"]
            if found and all(d["state"] in {"delivered", "dead"} for d in found):
                return found
            await trio.sleep(0.1)


def by_kind(deliveries: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    kinds: dict[str, list[tuple[str, str]]] = {}
    for d in sorted(deliveries, key=lambda d: d["id"]):
        kinds.setdefault(d["kind"], []).append((d["event"], d["state"]))
    return kinds


async def app_repository(
    ci: Ci, github: FakeGitHub, tmp_path: Path
) -> tuple[GitRepo, dict[str, Any]]:
    """acme/app with PIPELINE, registered through the installed GitHub App."""
    await set_up_app(github, ci)
    work = private_repo(tmp_path, github, 42, "app")
    work.commit("pipeline", {"codemagic.yaml": PIPELINE})
    work.git("push", "--quiet", "origin", "main")
    await github.install(INSTALLATION, ACCOUNT, [42])
    registering = {"provider": "github", "installation_id": INSTALLATION, "github_repo_id": 42}
    created = await ci.operator.post("/api/repositories", registering)
    assert created.status_code == 201, created.text
    return work, created.json()


@LOGIN_WARNING
async def test_github_checks_slack_and_email_follow_a_push(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    async with world(daemon_factory, tmp_path) as (ci, github, _gitlab, slack, smtp):
        work, repo = await app_repository(ci, github, tmp_path)

        before, after = publish(work, "version two")
        await github.push(INSTALLATION, github.repos[42], after, before)
        builds = await builds_of(ci, repo["id"], after, 2)
        statuses = {b["workflow"]: (await ci.finished(b["id"]))["status"] for b in builds}
        assert statuses == {"build": "succeeded", "broken": "failed"}
        deliveries = await settled(ci, [b["id"] for b in builds])
        assert {d["state"] for d in deliveries} == {"delivered"}, deliveries

        # One check run per workflow: created queued, then in progress, then completed.
        runs = {run["name"]: run for run in github.check_runs.values()}
        assert set(runs) == {"build", "broken"}
        assert (runs["build"]["status"], runs["build"]["conclusion"]) == ("completed", "success")
        assert (runs["broken"]["status"], runs["broken"]["conclusion"]) == (
            "completed",
            "failure",
        )
        for run in runs.values():
            assert run["head_sha"] == after
            calls = [c for c in github.check_calls if c.body.get("name") == run["name"]
                     or c.path.endswith(f"/check-runs/{run['id']}")]  # fmt: skip
            shown = [c.body.get("status") for c in calls]
            assert shown == ["queued", "in_progress", "completed"], shown
            assert all(c.status in {200, 201} for c in calls)
            assert len({c.key for c in calls}) == 3
            build_id = run["external_id"]
            assert run["details_url"] == f"{ci.daemon.url}/builds/{build_id}"
            summary = run["output"]["summary"]
            assert "| 1 | compile | succeeded |" in summary
        assert "| 2 | test | failed |" in runs["broken"]["output"]["summary"]
        assert "| 2 | test | succeeded |" in runs["build"]["output"]["summary"]

        # Slack: failures only (the failed build), email: successes only (the good one).
        with trio.fail_after(10):
            await slack.wait_for(1)
            await smtp.wait_for(1)
        (message,) = slack.messages
        assert message.body["text"].startswith(f"acme/app #{builds_number(builds, 'broken')} ")
        assert "broken" in str(message.body["blocks"])
        assert f"`{after[:8]}`" in str(message.body["blocks"])
        (mail,) = smtp.mails
        assert mail.login == "oore"
        assert mail.rcpt_tos == ["dev@example.com"]
        number = builds_number(builds, "build")
        assert mail.message["Subject"] == f"[oore] acme/app #{number} main: succeeded"
        kinds = by_kind(deliveries)
        assert sorted(kinds) == ["email", "github_check", "slack"]
        assert [e for e, _ in kinds["slack"]] == ["failed"]
        assert [e for e, _ in kinds["email"]] == ["succeeded"]
        await resend_after_the_run_moved_on(ci, github, runs["build"], deliveries)
        await ci.daemon.stop()

        tokens = [i.token for i in github.issued]
        assert tokens
        secrets = [*tokens, slack.webhook_secret, slack.webhook_url, SMTP_PASSWORD, *github.jwts]
        log = ci.daemon.log()
        leaked = [s[:8] for s in secrets if s in log]
        assert leaked == [], f"the daemon log holds secrets starting {leaked}"


@LOGIN_WARNING
async def test_a_daemon_killed_before_githubs_answer_makes_no_second_check_run(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    """GitHub made the run but its answer (the run's id) never reached the store: the daemon
    was killed first. After the restart the delivery is sent again; it finds that run by the
    build id and completes it instead of creating a second one that would stay queued."""
    async with world(daemon_factory, tmp_path) as (ci, github, *_):
        work, repo = await app_repository(ci, github, tmp_path)
        github.hold_creates = trio.Event()
        before, after = publish(work, "version two")
        await github.push(INSTALLATION, github.repos[42], after, before)
        with trio.fail_after(20):
            await github.holding.wait()
        ci.daemon.kill()  # SIGKILL while GitHub holds the answer to a run it made
        made = len(github.check_runs)
        assert made >= 1
        github.hold_creates.set()

        await ci.daemon.start()
        async with httpx.AsyncClient(base_url=ci.daemon.url, timeout=15) as http:
            again = Ci(ci.daemon, http)
            builds = await builds_of(again, repo["id"], after, 2)
            for build in builds:
                await again.finished(build["id"])
            deliveries = await settled(again, [b["id"] for b in builds])
        assert {d["state"] for d in deliveries} == {"delivered"}, deliveries

        runs = sorted(github.check_runs.values(), key=lambda run: run["name"])
        assert [run["name"] for run in runs] == ["broken", "build"], runs
        by_build = {b["id"]: b["workflow"] for b in builds}
        assert {run["external_id"]: run["name"] for run in runs} == by_build
        assert [(run["status"], run["conclusion"]) for run in runs] == [
            ("completed", "failure"),
            ("completed", "success"),
        ]
        lookups = [c for c in github.check_calls if c.method == "GET"]
        assert len(lookups) >= made
        assert {c.path for c in lookups} == {f"/repos/acme/app/commits/{after}/check-runs"}


async def resend_after_the_run_moved_on(
    ci: Ci, github: FakeGitHub, run: dict[str, Any], deliveries: list[dict[str, Any]]
) -> None:
    """The delivery that created the run, resent after the run completed, would make a second
    run that stays queued for ever: refused, naming the latest update, which may be resent."""
    build_id = run["external_id"]
    chain = sorted(
        (d for d in deliveries if d["kind"] == "github_check" and d["build_id"] == build_id),
        key=lambda d: d["id"],
    )
    created, latest = chain[0], chain[-1]
    calls = len(github.check_calls)

    refused = await ci.operator.post(f"/api/notifications/{created['id']}/resend")

    assert refused.status_code == 409, refused.text
    assert f"resend {latest['id']} instead" in refused.json()["error"]["message"]
    resent = await ci.operator.post(f"/api/notifications/{latest['id']}/resend")
    assert resent.status_code == 200, resent.text
    await settled(ci, [build_id])
    assert len(github.check_runs) == 2
    (again,) = github.check_calls[calls:]
    assert (again.method, again.path, again.status) == (
        "PATCH",
        f"/repos/acme/app/check-runs/{run['id']}",
        200,
    )
    assert github.check_runs[run["id"]]["status"] == "completed"


async def builds_of(ci: Ci, repository_id: str, sha: str, count: int) -> list[dict[str, Any]]:
    """The `count` builds of `sha`, once the push made them."""
    with trio.fail_after(20):
        while True:
            found = [b for b in await ci.builds(repository=repository_id) if b["sha"] == sha]
            if len(found) == count:
                return found
            await trio.sleep(0.05)


def builds_number(builds: list[dict[str, Any]], workflow: str) -> int:
    return int(next(b["number"] for b in builds if b["workflow"] == workflow))


@LOGIN_WARNING
async def test_gitlab_statuses_follow_manual_builds(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    async with world(daemon_factory, tmp_path) as (ci, _github, gitlab, slack, smtp):
        source = make_repo(tmp_path, "glapp", PIPELINE)
        project = gitlab.add_project("acme", "glapp", source.path)
        gitlab.personal_tokens.add(GITLAB_TOKEN)
        created = await ci.operator.register(
            "gitlab", "acme", "glapp",
            clone_url=f"{gitlab.url}/acme/glapp.git", gitlab_project_id=project.id,
        )  # fmt: skip
        credential = await ci.http.put(
            f"/api/repositories/{created['id']}/credentials",
            json={"kind": "https_token", "token": GITLAB_TOKEN},
            headers=ci.daemon.headers(),
        )
        assert credential.status_code == 200, credential.text
        ids = []
        for workflow in ("build", "broken"):
            response = await ci.operator.post(
                f"/api/repositories/{created['id']}/builds",
                {"workflow": workflow, "branch": "main"},
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        outcomes = [(await ci.finished(i))["status"] for i in ids]
        assert outcomes == ["succeeded", "failed"]
        deliveries = await settled(ci, ids)
        assert {d["state"] for d in deliveries} == {"delivered"}, deliveries

        states: dict[str, list[str]] = {}
        for call in gitlab.status_calls:
            assert (call.project, call.token, call.status) == (str(project.id), GITLAB_TOKEN, 201)
            states.setdefault(call.body["name"], []).append(call.body["state"])
        assert states == {
            "oore/build": ["pending", "running", "success"],
            "oore/broken": ["pending", "running", "failed"],
        }
        with trio.fail_after(10):
            await slack.wait_for(1)
            await smtp.wait_for(1)
        assert len(slack.messages) == 1
        assert len(smtp.mails) == 1
        await ci.daemon.stop()
        log = ci.daemon.log()
        for secret in (GITLAB_TOKEN, SMTP_PASSWORD, slack.webhook_secret):
            assert secret not in log
