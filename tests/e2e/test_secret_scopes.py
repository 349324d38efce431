"""Secret groups withheld from untrusted code, through a real `oored run` (issue 10).

A pull request from a fork could edit `codemagic.yaml` to ask for any group and print it: its
builds get no group unless the repository opts in (`allow_fork_secrets`), and a group limited to
some repositories is refused to the others. A refused build is errored with a reason naming the
group, and runs no step, so nothing of the value reaches its log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from tests.e2e.daemon import Daemon
from tests.e2e.test_builds import Ci, Repo, make_repo, pull_request_payload, running_ci

SIGNING_KEY = "sk-fork-test-8c1d0b7e"
PROD_KEY = "prod-only-4f2a9d"

PIPELINE = """\
workflows:
  pr:
    triggering:
      events: [pull_request]
    environment:
      groups:
        - signing
    scripts:
      - name: use the key
        script: |
          echo "key=$SIGNING_KEY"
          echo "length=${#SIGNING_KEY}"
  prod:
    environment:
      groups:
        - prod
    scripts:
      - name: use the prod key
        script: echo "prod length=${#PROD_KEY}"
"""


def pull_request(repo: Repo, number: int, sha: str, *, head_repo_id: int | None) -> dict[str, Any]:
    payload = pull_request_payload(repo, number, sha, f"feature-{number}", "main")
    base = repo.identity()
    head = None if head_repo_id is None else base | {"id": head_repo_id, "full_name": "mallory/x"}
    payload["pull_request"]["head"]["repo"] = head
    payload["pull_request"]["base"]["repo"] = base
    return payload


async def put_group(ci: Ci, name: str, variables: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await ci.http.put(
        f"/api/secret-groups/{name}",
        json={"variables": variables, **body},
        headers=ci.daemon.headers(),
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def pr_build(ci: Ci, payload: dict[str, Any]) -> dict[str, Any]:
    made = await ci.deliver("pull_request", payload)
    assert "id" in made["pr"], made["pr"]  # a build, not a workflow the event did not match
    return await ci.finished(made["pr"]["id"])


async def test_a_fork_pull_request_gets_no_secret_group_unless_the_repository_allows_it(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", PIPELINE)
    git.branch("feature")
    feature = git.commit("feature", {"feature.txt": "x\n"})
    for number in (1, 2, 3):
        git.pull_request(number, feature)
    async with running_ci(daemon_factory, tmp_path) as ci:
        repo = await ci.register(git, "app")
        await put_group(ci, "signing", {"SIGNING_KEY": SIGNING_KEY})

        forked = await pr_build(ci, pull_request(repo, 1, feature, head_repo_id=999_999))
        assert forked["status"] == "errored", forked
        reason = forked["reason"]
        assert "secret group signing" in reason
        assert "pull requests from forks" in reason
        assert "allow_fork_secrets" in reason
        assert forked["steps"] == []
        assert SIGNING_KEY not in await ci.log(forked["id"])

        # A deleted fork (head.repo null) is a fork too.
        deleted = await pr_build(ci, pull_request(repo, 2, feature, head_repo_id=None))
        assert deleted["status"] == "errored", deleted
        assert "secret group signing" in deleted["reason"]

        same = await pr_build(ci, pull_request(repo, 3, feature, head_repo_id=repo.github_id))
        assert same["status"] == "succeeded", (same, await ci.log(same["id"]))
        log = await ci.log(same["id"])
        assert f"length={len(SIGNING_KEY)}" in log
        assert "key=********" in log
        assert SIGNING_KEY not in log

        allowed = await ci.http.patch(
            f"/api/repositories/{repo.id}",
            json={"allow_fork_secrets": True},
            headers=ci.daemon.headers(),
        )
        assert allowed.status_code == 200, allowed.text
        opted = await pr_build(ci, pull_request(repo, 1, feature, head_repo_id=999_999))
        assert opted["status"] == "succeeded", (opted, await ci.log(opted["id"]))
        assert f"length={len(SIGNING_KEY)}" in await ci.log(opted["id"])


async def test_a_scoped_group_is_refused_to_other_repositories(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    app_git = make_repo(tmp_path, "app", PIPELINE)
    other_git = make_repo(tmp_path, "other", PIPELINE)
    async with running_ci(daemon_factory, tmp_path) as ci:
        app = await ci.register(app_git, "app")
        other = await ci.register(other_git, "other")
        group = await put_group(ci, "prod", {"PROD_KEY": PROD_KEY}, repositories=[app.id])
        assert group["repositories"] == [app.id]

        refused = await ci.finished((await ci.trigger(other, workflow="prod", branch="main"))["id"])
        assert refused["status"] == "errored", refused
        assert "secret group prod may not be used by octo/other" in refused["reason"]
        assert refused["steps"] == []
        assert PROD_KEY not in await ci.log(refused["id"])

        used = await ci.succeeded((await ci.trigger(app, workflow="prod", branch="main"))["id"])
        assert f"prod length={len(PROD_KEY)}" in await ci.log(used["id"])

        # Opening the group to every repository lets the other one use it too.
        await put_group(ci, "prod", {"PROD_KEY": PROD_KEY}, repositories=[])
        now = await ci.succeeded((await ci.trigger(other, workflow="prod", branch="main"))["id"])
        assert f"prod length={len(PROD_KEY)}" in await ci.log(now["id"])


async def test_a_group_that_does_not_exist_is_named_in_the_reason(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", PIPELINE)
    async with running_ci(daemon_factory, tmp_path) as ci:
        repo = await ci.register(git, "app")
        build = await ci.finished((await ci.trigger(repo, workflow="prod", branch="main"))["id"])
        assert build["status"] == "errored", build
        assert "secret group prod does not exist" in build["reason"]


CACHE_PIPELINE = """\
workflows:
  pr:
    triggering:
      events: [pull_request]
    cache:
      cache_paths:
        - $HOME/.tool-cache
    scripts:
      - name: leave something for later builds
        script: |
          echo "home=$HOME"
          mkdir -p "$HOME/.tool-cache" && echo planted > "$HOME/.tool-cache/hook"
          echo planted > "$HOME/.gitconfig-hook"
"""


async def test_a_fork_pull_request_leaves_nothing_later_builds_would_run(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", CACHE_PIPELINE)
    git.branch("feature")
    feature = git.commit("feature", {"feature.txt": "x\n"})
    for number in (1, 2):
        git.pull_request(number, feature)
    async with running_ci(daemon_factory, tmp_path) as ci:
        repo = await ci.register(git, "app")
        fork = await pr_build(ci, pull_request(repo, 1, feature, head_repo_id=666))
        assert fork["status"] == "succeeded", fork
        log = await ci.log(fork["id"])
        # Its own HOME, gone with the build; and no cache saved from its code.
        assert f"home={ci.daemon.data_dir / 'builds' / fork['id'] / 'home'}" in log
        assert "cache $HOME/.tool-cache: saved" not in log
        # Removed by the executor just after the build's status is stored: wait for it.
        with trio.fail_after(10):
            while (ci.daemon.data_dir / "builds" / fork["id"]).exists():  # noqa: ASYNC110
                await trio.sleep(0.05)
        assert not list((ci.daemon.data_dir / "cache").rglob("*.tar"))

        same = await pr_build(ci, pull_request(repo, 2, feature, head_repo_id=repo.github_id))
        assert same["status"] == "succeeded", same
        assert "cache $HOME/.tool-cache: saved" in await ci.log(same["id"])


ALONE_PIPELINE = """\
workflows:
  pr:
    triggering:
      events: [pull_request]
    scripts:
      - name: wait for the gate
        script: while [ ! -f "$GATE" ]; do sleep 0.05; done
    environment:
      vars:
        GATE: {gate}/fork
  slow:
    scripts:
      - name: wait for the gate
        script: while [ ! -f "$GATE" ]; do sleep 0.05; done
    environment:
      vars:
        GATE: {gate}/trusted
"""


async def test_a_fork_pull_request_runs_alone_and_is_not_starved(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    git = make_repo(tmp_path, "app", ALONE_PIPELINE.format(gate=gate))
    git.branch("feature")
    feature = git.commit("feature", {"feature.txt": "x\n"})
    git.pull_request(1, feature)
    async with running_ci(daemon_factory, tmp_path, OORE_MAX_CONCURRENT_BUILDS="2") as ci:
        repo = await ci.register(git, "app")
        first = await ci.trigger(repo, workflow="slow", branch="main")
        await ci.wait(first["id"], lambda b: b["status"] == "running")
        # Builds share the build user: the fork's waits for the running one, though a slot is free.
        fork = (await ci.deliver("pull_request", pull_request(repo, 1, feature, head_repo_id=9)))[
            "pr"
        ]
        fork = await ci.wait(fork["id"], lambda b: b["queue_reason"] is not None)
        assert fork["status"] == "queued"
        assert "a pull request from a fork runs alone" in fork["queue_reason"]
        # What comes after the fork waits behind it, so the fork is not starved.
        later = await ci.trigger(repo, workflow="slow", branch="main")
        later = await ci.wait(later["id"], lambda b: b["queue_reason"] is not None)
        assert "waiting behind a pull request from a fork" in later["queue_reason"]

        (gate / "trusted").touch()  # the first ends; the fork runs, alone
        assert (await ci.finished(first["id"]))["status"] == "succeeded"
        await ci.wait(fork["id"], lambda b: b["status"] == "running")
        later = await ci.wait(
            later["id"], lambda b: "to finish (it runs alone)" in (b["queue_reason"] or "")
        )
        assert later["status"] == "queued"

        (gate / "fork").touch()
        assert (await ci.finished(fork["id"]))["status"] == "succeeded"
        assert (await ci.finished(later["id"]))["status"] == "succeeded"
