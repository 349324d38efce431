"""A usable build list through the real `oore` against the session's real daemon (issue 15):
pushes that match no workflow make no builds (the event says why, `oore events show`), tables fit
an 80-column terminal with long names, steps are numbered from 1 as the log numbers them, and a
build superseded by `cancel_previous_builds` says which build cancelled it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.cli.harness import Oore, together
from tests.e2e.gitrepo import GitRepo
from tests.e2e.webhook_client import Operator, Provider, accepted_id

OWNER, NAME = "acme-industries-mobile", "flutter-customer-loyalty-app"
WORKFLOW = "android-release-signed-and-uploaded-to-play"
BRANCH = "feature/JIRA-12345-checkout-flow-with-apple-pay-and-google-pay"
SECRET = "narrow-tables-webhook-secret"
GITHUB_ID = 8080
PIPELINE = f"""\
workflows:
  {WORKFLOW}:
    triggering:
      events: [push]
      branch_patterns:
        - pattern: 'feature/*'
      cancel_previous_builds: true
    scripts:
      - name: build the signed release bundle for the play store internal track
        script: |
          if [ -f fast ]; then echo built; exit 0; fi
          sleep 600
  ios-nightly:
    triggering:
      events: [tag]
    scripts:
      - echo nightly
"""
WIDTH = 80


def push_payload(sha: str, branch: str, before: str = "0" * 40) -> bytes:
    return json.dumps(
        {
            "ref": f"refs/heads/{branch}",
            "before": before,
            "after": sha,
            "repository": {
                "id": GITHUB_ID,
                "name": NAME,
                "full_name": f"{OWNER}/{NAME}",
                "owner": {"login": OWNER},
                "clone_url": f"https://github.com/{OWNER}/{NAME}.git",
            },
            "pusher": {"name": "tester"},
            "head_commit": {"id": sha, "message": "work", "author": {"name": "T"}},
        }
    ).encode()


async def until(api: httpx.AsyncClient, path: str, done: Any) -> dict[str, Any]:
    with trio.fail_after(60):
        while True:
            response = await api.get(path)
            assert response.status_code == 200, response.text
            found: dict[str, Any] = response.json()
            if done(found):
                return found
            await trio.sleep(0.1)


def fits(lines: list[str]) -> None:
    too_wide = [line for line in lines if len(line) > WIDTH]
    assert too_wide == [], too_wide


async def test_an_operators_day_at_80_columns(
    oore: Oore, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    git = GitRepo(tmp_path / "app")
    git.commit("initial", {"codemagic.yaml": PIPELINE, "README.md": "app\n"})
    git.branch(BRANCH)
    slow = git.commit("slow", {"slow.txt": "1\n"})
    fast = git.commit("fast", {"fast": "1\n"})
    added = await oore(
        *("--json", "repo", "add", f"{OWNER}/{NAME}", "--clone-url", git.url),
        *("--webhook-secret", SECRET, "--github-repo-id", str(GITHUB_ID)),
    )
    assert added.code == 0, added.err
    repo_id = added.json()["id"]
    provider = Provider(api)
    operator = Operator(api, dict(api.headers))

    first = accepted_id(await provider.github("push", push_payload(slow, BRANCH), SECRET))
    (older,) = (await operator.settled(first))["builds"]
    await until(api, f"/api/builds/{older['id']}", lambda b: b["status"] == "running")
    second = await provider.github("push", push_payload(fast, BRANCH, before=slow), SECRET)
    (newer,) = (await operator.settled(accepted_id(second)))["builds"]
    await until(api, f"/api/builds/{newer['id']}", lambda b: b["status"] == "succeeded")
    cancelled = await until(api, f"/api/builds/{older['id']}", lambda b: b["status"] == "cancelled")
    assert cancelled["cancelled_by"] == {"id": newer["id"], "number": newer["number"]}
    # A push no workflow wants: no build at all, the event says why.
    nothing = accepted_id(await provider.github("push", push_payload(fast, "main"), SECRET))
    ignored = await operator.settled(nothing)
    assert (ignored["state"], ignored["builds"]) == ("ignored", [])

    narrow = oore.with_env(COLUMNS=str(WIDTH))
    builds, every, show, steps, events, event, repos = await together(
        narrow("build", "list", "--repo", repo_id),
        narrow("build", "list"),
        narrow("build", "show", f"{OWNER}/{NAME}#{older['number']}"),
        narrow("build", "steps", f"{OWNER}/{NAME}#{newer['number']}"),
        narrow("events", "list", "--repo", repo_id),
        narrow("events", "show", nothing),
        narrow("repo", "list"),
    )
    for result in (builds, every, show, steps, events, event, repos):
        assert result.code == 0, result.err

    # Builds: one line each, the number and status whole, long names cut with an ellipsis.
    fits(builds.lines())
    assert builds.lines()[0].split()[0] == "#"
    rows = {line.split()[0]: line for line in builds.lines()[1:]}
    assert set(rows) == {str(older["number"]), str(newer["number"])}
    assert "cancelled" in rows[str(older["number"])]
    assert "succeeded" in rows[str(newer["number"])]
    assert "…" in rows[str(newer["number"])]
    assert BRANCH not in builds.out
    assert "REPOSITORY" not in builds.lines()[0]  # --repo named it
    fits(every.lines())
    assert every.lines()[0].split()[:3] == ["#", "REPOSITORY", "WORKFLOW"]

    assert f"cancelled by #{newer['number']} (a newer push to {BRANCH})" in show.out
    assert f"cancelled by:  #{newer['number']} ({newer['id']})" in show.out

    # Steps: numbered from 1, as the log's "==> [1] name" header numbers them.
    fits(steps.lines())
    assert steps.lines()[1].split()[:1] == ["1"]
    log = await api.get(f"/api/builds/{newer['id']}/log")
    assert "[oore] ==> [1] build the signed release bundle" in log.text

    # Events: the id and the state whole; `events show` gives each workflow and why not.
    fits(events.lines())
    row = next(line for line in events.lines() if line.startswith(nothing))
    assert "ignored" in row
    assert re.search(rf"{WORKFLOW}: not matched \(branch 'main' not matched", event.out)
    assert "ios-nightly: not matched (event push not in triggering.events [tag])" in event.out

    # Repositories: the name whole (it names the repository when the id is left out).
    fits(repos.lines())
    assert any("active" in line and f"{OWNER}/{NAME}" in line for line in repos.lines())
