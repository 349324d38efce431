"""What to build for a trigger, and everything an executor needs to build it.

The RepositorySupervisor's knowledge of git and of the pipeline file, kept out of the actor so
the actor is only about the queue: fetch what the trigger needs into the repository's mirror
(only ever from the registered clone URL), read the pipeline at the commit, select workflows,
and later assemble a `BuildJob` (workflow with inputs applied, secrets opened, event payload,
changed files) when a build is started.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from oore.actors.executor import BuildJob
from oore.actors.messages import ManualBuild, TriggerReceived
from oore.crypto import Sealer, aad
from oore.errors import Forbidden, InvalidPipeline, NotFound, OoreError, ValidationError
from oore.git import (
    CredentialsRefused,
    FetchError,
    GitCredential,
    GitError,
    Mirror,
    changed_files,
    ensure_mirror,
    fetch,
    first_existing,
    has_commit,
    redact,
    resolve,
)
from oore.git.credentials import http_env, secret_forms
from oore.git.names import origin_of
from oore.ids import new_id
from oore.model import (
    Build,
    BuildStatus,
    Provider,
    Repository,
    SecretGroup,
    Trigger,
    TriggerKind,
    WebhookEvent,
    WorkflowMatch,
    utcnow,
)
from oore.pipeline import (
    PIPELINE_FILES,
    Pipeline,
    Workflow,
    interpolate_inputs,
    resolve_inputs,
    select,
    workflow_for_manual,
)
from oore.pipeline.offloop import load_off_loop
from oore.providers.gitauth import CredentialSource
from oore.store.base import Store
from oore.webhooks.delivery import json_document

FILE_CACHE = 256


@dataclass(frozen=True, slots=True)
class Plan:
    builds: list[Build]
    summary: str
    cancel_previous: frozenset[str] = frozenset()
    # Every workflow and whether it matched: what did not is kept on the event, not as builds.
    workflows: tuple[WorkflowMatch, ...] = ()

    def cancels_previous(self, workflow: str) -> bool:
        return workflow in self.cancel_previous


class Planner(Protocol):
    """What the RepositorySupervisor asks of a planner (a seam: unit tests pass a fake)."""

    mirrors_dir: Path

    async def for_trigger(self, message: TriggerReceived, event: WebhookEvent) -> Plan: ...
    async def for_manual(self, message: ManualBuild) -> Build: ...
    async def job_for(self, build: Build) -> BuildJob | str: ...


class BuildPlanner:
    def __init__(
        self,
        store: Store,
        sealer: Sealer,
        mirrors_dir: Path,
        *,
        git_timeout: float = 600,
        credentials: CredentialSource | None = None,
        build_credentials: CredentialSource | None = None,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.mirrors_dir = mirrors_dir
        self.git_timeout = git_timeout
        self.credentials = credentials  # None: every repository is fetched without one
        # What a build that asks for `git_credentials` may get: the repository's own token only.
        # The GitHub App's installation token reads every repository of the installation, and
        # GitLab's OAuth token is a maintainer's whole account: never handed to build scripts.
        self.build_credentials = build_credentials
        self._files: dict[tuple[str, str], tuple[str, bytes] | None] = {}
        self._commits: set[tuple[str, str]] = set()
        self._mirrors: dict[str, Mirror] = {}

    # --- webhook triggers -----------------------------------------------------------------

    async def for_trigger(self, message: TriggerReceived, event: WebhookEvent) -> Plan:
        repo = await self.store.get_repository(message.repository_id)
        trigger = message.trigger
        base = Build.queued(repo.id, "", trigger, event_id=message.event_id)
        try:
            mirror = await self._mirror(repo)
            await self._fetch_commit(repo, mirror, trigger)
            pipeline = await self._pipeline(repo, mirror, trigger.sha)
        except GitError as exc:
            reason = f"fetching {trigger.sha[:12]} failed: {exc.message}"
            return Plan([_finished(base, "(fetch)", BuildStatus.ERRORED, reason)], reason)
        except InvalidPipeline as exc:
            return Plan(
                [_finished(base, "(pipeline)", BuildStatus.ERRORED, exc.message)], exc.message
            )
        if pipeline is None:  # nothing to build: the event (ignored) says why
            looked = ", ".join(PIPELINE_FILES)
            return Plan([], f"no pipeline file at {trigger.sha[:12]} ({looked}) and none stored")
        return await self._select(repo, mirror, pipeline, base, trigger, _payload_of(event))

    async def _select(
        self,
        repo: Repository,
        mirror: Mirror,
        pipeline: Pipeline,
        base: Build,
        trigger: Trigger,
        event: Mapping[str, object] | None,
    ) -> Plan:
        builds: list[Build] = []
        matches: list[WorkflowMatch] = []
        cancel_previous: set[str] = set()
        for workflow_id, workflow in pipeline.workflows.items():
            only = dataclasses.replace(pipeline, workflows={workflow_id: workflow})
            changed = await self._changed(repo, mirror, workflow, trigger.sha)
            selection = select(
                only, trigger, env=workflow.environment.vars, event=event, changed_files=changed
            )
            if selection.run:
                builds.append(
                    dataclasses.replace(
                        base, id=new_id(), workflow=workflow_id, notify=notify_of(workflow)
                    )
                )
                if workflow.triggering and workflow.triggering.cancel_previous_builds:
                    cancel_previous.add(workflow_id)
                matches.append(WorkflowMatch(workflow_id, True))
            matches += [WorkflowMatch(w, False, reason) for w, reason in selection.skipped]
        return Plan(builds, _summary(builds, matches), frozenset(cancel_previous), tuple(matches))

    async def _changed(
        self, repo: Repository, mirror: Mirror, workflow: Workflow, sha: str
    ) -> list[str] | None:
        uses_changeset = (workflow.when is not None and workflow.when.has_changeset) or any(
            s.when is not None and s.when.has_changeset for s in workflow.scripts
        )
        if not uses_changeset:
            return None
        last = await self.store.last_successful_build(repo.id, workflow.id)
        return None if last is None else await changed_files(mirror, last.sha, sha)

    # --- manual builds --------------------------------------------------------------------

    async def for_manual(self, message: ManualBuild) -> Build:
        repo = await self.store.get_repository(message.repository_id)
        mirror = await self._mirror(repo)
        sha = await self._manual_sha(repo, mirror, message)
        pipeline = await self._pipeline(repo, mirror, sha)
        if pipeline is None:
            raise NotFound(f"no pipeline file at {sha[:12]} and no stored pipeline")
        workflow = workflow_for_manual(pipeline, message.workflow)
        inputs = resolve_inputs(workflow, message.inputs)  # ValidationError names the input
        trigger = Trigger(
            provider=repo.provider,
            kind=TriggerKind.MANUAL,
            repo_owner=repo.owner,
            repo_name=repo.name,
            sha=sha,
            branch=message.branch,
            tag=message.tag,
        )
        build = Build.queued(repo.id, workflow.id, trigger)
        return dataclasses.replace(
            build, inputs=inputs, extra_env=dict(message.env), notify=notify_of(workflow)
        )

    async def _manual_sha(self, repo: Repository, mirror: Mirror, message: ManualBuild) -> str:
        if message.sha:
            if not await has_commit(mirror, message.sha):
                await self._fetch(repo, mirror, [message.sha])
            return message.sha
        ref = f"refs/heads/{message.branch}" if message.branch else f"refs/tags/{message.tag}"
        try:
            await self._fetch(repo, mirror, [ref])
        except FetchError as exc:
            if "couldn't find remote ref" not in exc.message:
                raise
            field = "branch" if message.branch else "tag"
            raise ValidationError(field, f"{ref} does not exist in {redact(mirror.url)}") from exc
        return await resolve(mirror, ref)

    # --- starting a build -----------------------------------------------------------------

    async def job_for(self, build: Build) -> BuildJob | str:
        """Everything the executor needs, or the reason the build cannot run."""
        repo = await self.store.get_repository(build.repository_id)
        trigger = build.trigger
        try:
            mirror = await self._mirror(repo)
            await self._fetch_commit(repo, mirror, trigger)
            pipeline = await self._pipeline(repo, mirror, build.sha)
        except (GitError, InvalidPipeline) as exc:
            return exc.message
        workflow = pipeline.workflows.get(build.workflow) if pipeline else None
        if workflow is None:
            return f"workflow {build.workflow} is not in the pipeline file at {build.sha[:12]}"
        try:
            inputs = resolve_inputs(workflow, build.inputs)
            workflow = _with_inputs(workflow, inputs)
            secrets = await self._secrets(workflow, repo, trigger)
            git_env, git_masks = await self._git_env(workflow, repo, trigger)
        except (NotFound, Forbidden, ValidationError, GitError) as exc:
            return exc.message
        except ValueError as exc:
            return str(exc)
        return BuildJob(
            build=build,
            repository=repo,
            workflow=workflow,
            mirror=mirror,
            secrets={**secrets, **git_env},
            mask=git_masks,
            event=await self._payload(build.event_id),
            changed_files=await self._changed(repo, mirror, workflow, build.sha),
            inputs=inputs,
            pipeline_file=pipeline.file if pipeline else None,
        )

    async def _secrets(
        self, workflow: Workflow, repo: Repository, trigger: Trigger
    ) -> dict[str, str]:
        values: dict[str, str] = {}
        for name in workflow.environment.groups:
            group = await self._group(name)
            _check_may_use(group, repo, trigger)
            for row_id, variable, blob in await self.store.sealed_secret_group(name):
                values[variable] = self.sealer.open(blob, aad("secrets", row_id, "value")).decode()
        return values

    async def _git_env(
        self, workflow: Workflow, repo: Repository, trigger: Trigger
    ) -> tuple[dict[str, str], tuple[str, ...]]:
        """The environment that lets the build's own git fetch with the repository's HTTP
        credential (`git_credentials: true`), and the forms of it to mask in the log."""
        if not workflow.environment.git_credentials:
            return {}, ()
        if trigger.from_fork:
            raise Forbidden(
                f"workflow {workflow.id} asks for git_credentials, which builds of pull requests "
                "from forks never get (their code is untrusted), whatever allow_fork_secrets says"
            )
        credential = await self._credential(repo, self.build_credentials)
        if credential is None and await self._credential(repo, self.credentials) is not None:
            raise Forbidden(
                f"workflow {workflow.id} asks for git_credentials, but {repo.full_name} is "
                "fetched with the GitHub App's or GitLab's account token, which builds never get "
                "(it reaches far more than this repository); give the repository a token of its "
                "own with `oore repo credentials set`"
            )
        # A deploy key opens only this repository, which the build already has: nothing to give.
        if credential is None or credential.http_authorization is None:
            return {}, ()
        authorization = credential.http_authorization
        # For URLs on the clone URL's host only: a script fetching elsewhere does not send it.
        env = http_env(authorization, origin_of(repo.clone_url))
        return env, secret_forms(authorization)

    async def _group(self, name: str) -> SecretGroup:
        try:
            return await self.store.secret_group(name)
        except NotFound:
            raise NotFound(
                f"secret group {name} does not exist; create it with PUT /api/secret-groups/{name}"
            ) from None

    # --- shared ---------------------------------------------------------------------------

    async def _mirror(self, repo: Repository) -> Mirror:
        known = self._mirrors.get(repo.id)
        if known is None or known.url != repo.clone_url:  # first use, or the URL was changed
            known = await ensure_mirror(self.mirrors_dir, repo.id, repo.clone_url)
            self._mirrors[repo.id] = known
        return known

    async def _fetch_commit(self, repo: Repository, mirror: Mirror, trigger: Trigger) -> None:
        # Builds run the trigger's sha, never a ref's tip; a commit already here (redelivery,
        # a second workflow, a retry) needs no network round trip.
        if await self._has_commit(mirror, trigger.sha):
            return
        refs = _refs_for(trigger)
        if refs:
            try:
                await self._fetch(repo, mirror, refs)
            except GitError as exc:
                if await has_commit(mirror, trigger.sha):
                    return
                # The branch is gone upstream (deleted after a merge while the event waited, say
                # for a daemon restart): its commit may well not be, so it is asked for by sha.
                if "couldn't find remote ref" not in exc.message:
                    raise
        if not await has_commit(mirror, trigger.sha):
            await self._fetch(repo, mirror, [trigger.sha])

    async def _fetch(self, repo: Repository, mirror: Mirror, refs: list[str]) -> None:
        # Asked for on each fetch, not kept: a token may have been replaced or refreshed since.
        credential = await self._credential(repo, self.credentials)
        try:
            await fetch(mirror, refs, timeout=self.git_timeout, credential=credential)
        except CredentialsRefused:
            if credential is None or self.credentials is None:
                raise
            # A provider's token revoked or expired early: once more, with a new one if any.
            await self.credentials.refused(repo, credential)
            fresh = await self._credential(repo, self.credentials)
            if fresh is None or fresh == credential:
                raise
            await fetch(mirror, refs, timeout=self.git_timeout, credential=fresh)

    async def _credential(
        self, repo: Repository, source: CredentialSource | None
    ) -> GitCredential | None:
        if source is None:
            return None
        try:
            return await source.credential_for(repo)
        except OoreError as exc:  # a provider that did not answer, a credential that won't open
            raise FetchError(
                f"getting the credential to fetch {repo.full_name} failed: {exc.message}"
            ) from exc

    async def _has_commit(self, mirror: Mirror, sha: str) -> bool:
        # Objects are never removed from a mirror while referenced, so a yes can be remembered.
        key = (str(mirror.path), sha)
        if key in self._commits:
            return True
        if not await has_commit(mirror, sha):
            return False
        if len(self._commits) >= FILE_CACHE * 16:
            self._commits.clear()
        self._commits.add(key)
        return True

    async def _pipeline(self, repo: Repository, mirror: Mirror, sha: str) -> Pipeline | None:
        key = (str(mirror.path), sha)
        if key not in self._files:  # a commit's files never change: look each up once
            if len(self._files) >= FILE_CACHE:
                self._files.clear()
            self._files[key] = await first_existing(mirror, sha, PIPELINE_FILES)
        found = self._files[key]
        if found is not None:
            name, content = found
            return await load_off_loop(content.decode("utf-8", "replace"), name)
        stored = await self.store.get_pipeline(repo.id)
        return None if stored is None else await load_off_loop(stored, "stored pipeline")

    async def _payload(self, event_id: str | None) -> Mapping[str, object] | None:
        if event_id is None:
            return None
        try:
            return _payload_of(await self.store.get_event(event_id))
        except NotFound:
            return None


def _check_may_use(group: SecretGroup, repo: Repository, trigger: Trigger) -> None:
    """Refuse a group the build may not have: a fork's code, or a repository out of scope."""
    if trigger.from_fork and not repo.allow_fork_secrets:
        raise Forbidden(
            f"secret group {group.name} is not given to builds of pull requests from forks "
            f"(their code is untrusted); to allow it, set allow_fork_secrets on {repo.full_name}"
        )
    if not group.allows(repo.id):
        raise Forbidden(
            f"secret group {group.name} may not be used by {repo.full_name}: it is limited to "
            f"other repositories (add {repo.id} to its repositories to allow it)"
        )


def _payload_of(event: WebhookEvent) -> Mapping[str, object] | None:
    """The delivery's JSON document (what `when.condition` calls `event`)."""
    try:
        value = json.loads(json_document(event.headers.get("Content-Type"), event.body))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _refs_for(trigger: Trigger) -> list[str]:
    if trigger.kind is TriggerKind.TAG and trigger.tag:
        return [f"refs/tags/{trigger.tag}"]
    if trigger.kind is TriggerKind.PULL_REQUEST and trigger.pr_number is not None:
        if trigger.provider is Provider.GITHUB:
            return [f"refs/pull/{trigger.pr_number}/head"]
        return [f"refs/merge-requests/{trigger.pr_number}/head"]
    if trigger.branch:
        return [f"refs/heads/{trigger.branch}"]
    return []


def _with_inputs(workflow: Workflow, values: Mapping[str, Any]) -> Workflow:
    scripts = tuple(
        dataclasses.replace(s, script=interpolate_inputs(s.script, values))
        for s in workflow.scripts
    )
    return dataclasses.replace(workflow, scripts=scripts)


def notify_of(workflow: Workflow) -> dict[str, Any]:
    """What the workflow's `publishing` asks to be told, as the build keeps it (the outbox
    decides from it in the build's own transactions, oore.store.outbox)."""
    publishing = workflow.publishing
    notify: dict[str, Any] = {}
    if publishing.slack_channel:
        notify["slack"] = {"channel": publishing.slack_channel, **publishing.slack_notify}
    if publishing.email_recipients:
        notify["email"] = {
            "recipients": list(publishing.email_recipients),
            **publishing.email_notify,
        }
    return notify


def _summary(builds: list[Build], matches: list[WorkflowMatch]) -> str:
    """The event's reason: what it queued, or (nothing matched) why each workflow did not."""
    unmatched = [m for m in matches if not m.matched]
    if not builds:
        if not matches:
            return "the pipeline file has no workflows"
        why = "; ".join(f"{m.workflow}: {m.reason}" for m in unmatched)
        return f"no workflow matched ({why})"
    queued = ", ".join(b.workflow for b in builds)
    return f"{len(builds)} build(s) queued ({queued}); {len(unmatched)} workflow(s) did not match"


def _finished(base: Build, workflow: str, status: BuildStatus, reason: str) -> Build:
    now = utcnow()
    return dataclasses.replace(
        base, id=new_id(), workflow=workflow, status=status, error=reason, finished_at=now
    )
