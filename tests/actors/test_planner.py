"""The BuildPlanner alone: a real store, a real origin repository (file://) and the mirror it
fetches into; what it plans for a trigger, and what the supervisor then records of it."""

from __future__ import annotations

import functools
from pathlib import Path

import trio

from oore.actors.executor import Dirs
from oore.actors.messages import RepositoryMessage, TriggerReceived
from oore.actors.planner import BuildPlanner, Plan
from oore.actors.repository import RepositorySupervisor
from oore.actors.runtime import mailbox
from oore.crypto import Sealer
from oore.git.auth import GitCredential
from oore.ids import new_id
from oore.model import (
    Build,
    BuildStatus,
    EventState,
    Provider,
    Repository,
    Trigger,
    WorkflowMatch,
    utcnow,
)
from oore.store.base import RepositorySecrets
from oore.store.sqlite import SqliteStore
from tests.actors.fakes import LogRecorder, eventually, pull_request, push, stored_event
from tests.e2e.gitrepo import GitRepo
from tests.fakes.git_http import GitHttpServer, serve_git_http

PIPELINE = """\
workflows:
  on-push:
    triggering:
      events: [push]
      branch_patterns:
        - pattern: main
      cancel_previous_builds: true
    scripts:
      - echo push
  on-pr:
    triggering:
      events: [pull_request]
    scripts:
      - echo pr
  on-tag:
    triggering:
      events: [tag]
    scripts:
      - echo tag
"""
INVALID = """\
workflows:
  a:
    scripts:
      - echo hi
    max_build_duration: soon
"""


async def plan_for(
    planner: BuildPlanner, store: SqliteStore, repo: Repository, trigger: Trigger
) -> Plan:
    event_id = await stored_event(store, repo)
    message = TriggerReceived(event_id, repo.id, trigger)
    return await planner.for_trigger(message, await store.get_event(event_id))


def by_workflow(plan: Plan) -> dict[str, tuple[BuildStatus, str | None]]:
    return {b.workflow: (b.status, b.error) for b in plan.builds}


def planner_for(store: SqliteStore, sealer: Sealer, tmp_path: Path) -> BuildPlanner:
    return BuildPlanner(store, sealer, tmp_path / "mirrors", git_timeout=30)


async def test_a_push_plans_the_matching_workflows_and_says_why_not_the_others(
    store: SqliteStore, sealer: Sealer, tmp_path: Path, origin: GitRepo, repository: Repository
) -> None:
    sha = origin.commit("pipeline", {"codemagic.yaml": PIPELINE})
    plan = await plan_for(
        planner_for(store, sealer, tmp_path), store, repository, push(repository, sha)
    )

    # Only what runs is a build: the others are kept on the event, each with its reason.
    assert by_workflow(plan) == {"on-push": (BuildStatus.QUEUED, None)}
    assert plan.workflows == (
        WorkflowMatch("on-push", True),
        WorkflowMatch("on-pr", False, "event push not in triggering.events [pull_request]"),
        WorkflowMatch("on-tag", False, "event push not in triggering.events [tag]"),
    )
    assert plan.summary == "1 build(s) queued (on-push); 2 workflow(s) did not match"
    assert plan.cancels_previous("on-push")
    assert not plan.cancels_previous("on-pr")
    (queued,) = [b for b in plan.builds if b.status is BuildStatus.QUEUED]
    assert queued.sha == sha
    assert queued.repository_id == repository.id


NOTIFYING = """\
workflows:
  told:
    triggering:
      events: [push]
    scripts:
      - echo told
    publishing:
      slack:
        channel: "#builds"
        notify_on_build_start: true
        notify:
          success: false
      email:
        recipients: [dev@example.com]
        notify:
          failure: false
  quiet:
    triggering:
      events: [push]
    scripts:
      - echo quiet
"""


async def test_a_build_keeps_what_its_workflow_asked_to_be_told(
    store: SqliteStore, sealer: Sealer, tmp_path: Path, origin: GitRepo, repository: Repository
) -> None:
    sha = origin.commit("pipeline", {"codemagic.yaml": NOTIFYING})
    plan = await plan_for(
        planner_for(store, sealer, tmp_path), store, repository, push(repository, sha)
    )
    notify = {b.workflow: b.notify for b in plan.builds}
    assert notify == {
        "told": {
            "slack": {"channel": "#builds", "start": True, "success": False, "failure": True},
            "email": {"recipients": ["dev@example.com"], "success": True, "failure": False},
        },
        "quiet": {},
    }


async def test_a_pull_request_plans_its_own_workflow(
    store: SqliteStore, sealer: Sealer, tmp_path: Path, origin: GitRepo, repository: Repository
) -> None:
    origin.commit("pipeline", {"codemagic.yaml": PIPELINE})
    origin.branch("topic")
    head = origin.commit("topic work", {"topic.txt": "x\n"})
    origin.pull_request(7, head)
    planner = planner_for(store, sealer, tmp_path)

    plan = await plan_for(planner, store, repository, pull_request(repository, head, 7))

    assert [b.workflow for b in plan.builds if b.status is BuildStatus.QUEUED] == ["on-pr"]


async def test_no_matching_workflow_queues_nothing_and_gives_each_reason(
    store: SqliteStore, sealer: Sealer, tmp_path: Path, origin: GitRepo, repository: Repository
) -> None:
    origin.commit("pipeline", {"codemagic.yaml": PIPELINE})
    origin.branch("elsewhere")
    sha = origin.commit("on another branch", {"other.txt": "x\n"})
    planner = planner_for(store, sealer, tmp_path)

    plan = await plan_for(planner, store, repository, push(repository, sha, "elsewhere"))

    assert plan.builds == []
    assert plan.workflows == (
        WorkflowMatch("on-push", False, "branch 'elsewhere' not matched by branch_patterns"),
        WorkflowMatch("on-pr", False, "event push not in triggering.events [pull_request]"),
        WorkflowMatch("on-tag", False, "event push not in triggering.events [tag]"),
    )
    assert plan.summary == (
        "no workflow matched (on-push: branch 'elsewhere' not matched by branch_patterns;"
        " on-pr: event push not in triggering.events [pull_request];"
        " on-tag: event push not in triggering.events [tag])"
    )


async def test_no_pipeline_file_makes_no_build_and_names_the_files_looked_for(
    store: SqliteStore, sealer: Sealer, tmp_path: Path, origin: GitRepo, repository: Repository
) -> None:
    origin.git("rm", "--quiet", "codemagic.yaml")
    sha = origin.commit("no pipeline")
    planner = planner_for(store, sealer, tmp_path)

    plan = await plan_for(planner, store, repository, push(repository, sha))

    assert (plan.builds, plan.workflows) == ([], ())
    assert plan.summary.startswith(f"no pipeline file at {sha[:12]} (oore.yaml, ")
    assert "codemagic.yaml" in plan.summary


async def test_an_invalid_pipeline_file_is_an_errored_build_naming_file_and_line(
    store: SqliteStore, sealer: Sealer, tmp_path: Path, origin: GitRepo, repository: Repository
) -> None:
    sha = origin.commit("broken", {"codemagic.yaml": INVALID})
    planner = planner_for(store, sealer, tmp_path)

    plan = await plan_for(planner, store, repository, push(repository, sha))

    (errored,) = plan.builds
    assert (errored.workflow, errored.status) == ("(pipeline)", BuildStatus.ERRORED)
    assert errored.error is not None
    assert errored.error.startswith("codemagic.yaml:5 ")
    assert "max_build_duration" in errored.error
    assert plan.summary == errored.error


async def test_a_commit_the_origin_does_not_have_is_an_errored_fetch(
    store: SqliteStore, sealer: Sealer, tmp_path: Path, repository: Repository
) -> None:
    planner = planner_for(store, sealer, tmp_path)

    plan = await plan_for(planner, store, repository, push(repository, "ab" * 20))

    (errored,) = plan.builds
    assert (errored.workflow, errored.status) == ("(fetch)", BuildStatus.ERRORED)
    assert errored.error is not None
    assert errored.error.startswith(f"fetching {'ab' * 6} failed: ")


async def test_the_supervisor_records_an_invalid_pipeline_on_the_event(
    store: SqliteStore,
    sealer: Sealer,
    tmp_path: Path,
    origin: GitRepo,
    repository: Repository,
    dirs: Dirs,
) -> None:
    """The event is closed as processed (not failed): its reason, and its one errored build's,
    name the file and line."""
    sha = origin.commit("broken", {"codemagic.yaml": INVALID})
    event_id = await stored_event(store, repository)
    logs = LogRecorder()
    inbox_send: trio.MemorySendChannel[RepositoryMessage]
    inbox: trio.MemoryReceiveChannel[RepositoryMessage]
    inbox_send, inbox = mailbox(4)
    supervisor = RepositorySupervisor(
        store, planner_for(store, sealer, tmp_path), inbox, logs.send, dirs, max_concurrent=1
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(logs.run)
        await nursery.start(supervisor.run)
        await inbox_send.send(TriggerReceived(event_id, repository.id, push(repository, sha)))
        event = await eventually(
            lambda: store.get_event(event_id), lambda e: e.state is not EventState.PENDING
        )
        nursery.cancel_scope.cancel()

    assert event.state is EventState.PROCESSED
    assert event.reason is not None
    assert event.reason.startswith("codemagic.yaml:5 ")
    builds: list[Build] = await store.builds_for_event(event_id)
    assert [(b.workflow, b.status, b.error) for b in builds] == [
        ("(pipeline)", BuildStatus.ERRORED, event.reason)
    ]


OPT_IN = """\
workflows:
  ci:
    environment:
      git_credentials: true
    scripts:
      - echo hi
"""


class Gives:
    """A credential source at the planner's boundary: always this credential (or none)."""

    def __init__(self, credential: GitCredential | None) -> None:
        self.credential = credential

    async def credential_for(self, repo: Repository) -> GitCredential | None:
        return self.credential

    async def refused(self, repo: Repository, credential: GitCredential) -> None:
        return None


async def test_a_build_gets_only_the_repositorys_own_token_never_a_providers(
    store: SqliteStore, sealer: Sealer, tmp_path: Path, origin: GitRepo, repository: Repository
) -> None:
    origin.commit("opt in", {"codemagic.yaml": OPT_IN})
    account = GitCredential(http_authorization="Bearer the-installation-or-oauth-token")
    own = GitCredential(http_authorization="Bearer the-repositorys-own-token")
    build = await store.create_build(
        Build.queued(repository.id, "ci", push(repository, origin.head()))
    )
    # Fetched with a provider's account token, which the build may not have: refused, named.
    provider_only = BuildPlanner(
        store, sealer, tmp_path / "m1", credentials=Gives(account), build_credentials=Gives(None)
    )
    refused = await provider_only.job_for(build)
    assert isinstance(refused, str)
    assert "oore repo credentials set" in refused
    assert "the-installation-or-oauth-token" not in refused
    # The repository's own token is what the build gets (and masks).
    with_own = BuildPlanner(
        store, sealer, tmp_path / "m2", credentials=Gives(own), build_credentials=Gives(own)
    )
    job = await with_own.job_for(build)
    assert not isinstance(job, str), job
    assert "Authorization: Bearer the-repositorys-own-token" in job.secrets.values()
    assert "Bearer the-repositorys-own-token" in job.mask


class Rotating:
    """A provider's token at the planner's boundary: the old one until the host refuses it."""

    def __init__(self) -> None:
        self.current = GitCredential(http_authorization="Basic b2xkOnRva2Vu")  # old:token
        self.refusals = 0

    async def credential_for(self, repo: Repository) -> GitCredential | None:
        return self.current

    async def refused(self, repo: Repository, credential: GitCredential) -> None:
        self.refusals += 1
        self.current = GitCredential(http_authorization="Basic bmV3OnRva2Vu")  # new:token


async def test_a_refused_provider_token_is_renewed_and_the_fetch_tried_once_more(
    store: SqliteStore, sealer: Sealer, tmp_path: Path, origin: GitRepo, nursery: trio.Nursery
) -> None:
    origin.commit("pipeline", {"codemagic.yaml": PIPELINE})
    serve = functools.partial(
        serve_git_http, {"app.git": origin.path / ".git"}, "Basic bmV3OnRva2Vu"
    )
    server: GitHttpServer = await nursery.start(serve)
    now = utcnow()
    repo = Repository(
        id=new_id(),
        provider=Provider.GITHUB,
        owner="acme",
        name="private",
        clone_url=server.url("app.git"),
        created_at=now,
        updated_at=now,
    )
    await store.create_repository(repo, RepositorySecrets(None, None))
    source = Rotating()
    planner = BuildPlanner(store, sealer, tmp_path / "mirrors", git_timeout=30, credentials=source)
    plan = await plan_for(planner, store, repo, push(repo, origin.head()))
    assert by_workflow(plan)["on-push"] == (BuildStatus.QUEUED, None)
    assert source.refusals == 1
