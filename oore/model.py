"""Domain types: repositories, builds, steps, webhook events, triggers, and the status tables.

Values are frozen dataclasses; a status change goes through `check_build_transition` /
`check_step_transition`, which the store calls inside the same transaction that writes it, so an
illegal transition can never be persisted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from oore.errors import IllegalTransition
from oore.ids import new_id


def utcnow() -> str:
    """Now as an ISO-8601 UTC string with milliseconds; sorts as text in SQL."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Provider(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"


class BuildStatus(StrEnum):
    QUEUED = "queued"
    PREPARING = "preparing"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    ERRORED = "errored"

    @property
    def finished(self) -> bool:
        return self in FINISHED_BUILD


FINISHED_BUILD = frozenset(
    {
        BuildStatus.SUCCEEDED,
        BuildStatus.FAILED,
        BuildStatus.CANCELLED,
        BuildStatus.TIMED_OUT,
        BuildStatus.SKIPPED,
        BuildStatus.ERRORED,
    }
)

_B = BuildStatus
BUILD_TRANSITIONS: dict[BuildStatus, frozenset[BuildStatus]] = {
    _B.QUEUED: frozenset({_B.PREPARING, _B.SKIPPED, _B.ERRORED, _B.CANCELLED}),
    _B.PREPARING: frozenset({_B.RUNNING, _B.SKIPPED, _B.ERRORED, _B.CANCELLED, _B.QUEUED}),
    # errored also covers a running build interrupted by the infrastructure (daemon restart).
    # Back to queued: only a build a daemon restart interrupted (`Store.requeue_interrupted`).
    _B.RUNNING: frozenset(
        {_B.SUCCEEDED, _B.FAILED, _B.CANCELLED, _B.TIMED_OUT, _B.ERRORED, _B.QUEUED}
    ),
    **{s: frozenset() for s in FINISHED_BUILD},
}


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


_S = StepStatus
STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    _S.PENDING: frozenset({_S.RUNNING, _S.SKIPPED, _S.CANCELLED}),
    _S.RUNNING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.TIMED_OUT}),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset(),
    _S.SKIPPED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.TIMED_OUT: frozenset(),
}


def check_build_transition(old: BuildStatus, new: BuildStatus) -> None:
    if new not in BUILD_TRANSITIONS[old]:
        raise IllegalTransition(f"a build cannot go from {old} to {new}")


def check_step_transition(old: StepStatus, new: StepStatus) -> None:
    if new not in STEP_TRANSITIONS[old]:
        raise IllegalTransition(f"a step cannot go from {old} to {new}")


class EventState(StrEnum):
    """Processing state of a stored webhook event."""

    PENDING = "pending"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


class TriggerKind(StrEnum):
    PUSH = "push"
    PULL_REQUEST = "pull_request"
    TAG = "tag"
    MANUAL = "manual"


class TokenScope(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Trigger:
    """A provider-neutral reason to build: what changed, where, and who did it."""

    provider: Provider
    kind: TriggerKind
    repo_owner: str
    repo_name: str
    sha: str
    repo_provider_id: int | None = None
    branch: str | None = None
    tag: str | None = None
    pr_number: int | None = None
    pr_source_branch: str | None = None
    pr_target_branch: str | None = None
    author: str | None = None
    message: str | None = None
    before_sha: str | None = None
    # A pull request whose head lives in another repository (a fork): its code is untrusted,
    # so its builds get no secret groups unless the repository opts in (allow_fork_secrets).
    from_fork: bool = False

    def to_json(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name in self.__slots__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trigger:
        values = {k: v for k, v in data.items() if k in cls.__slots__}
        values["provider"] = Provider(values["provider"])
        values["kind"] = TriggerKind(values["kind"])
        # Stored before forks were told apart: a pull request is taken as a fork's (fail closed:
        # its retry must not get secrets because the old record could not say).
        values.setdefault("from_fork", values["kind"] is TriggerKind.PULL_REQUEST)
        return cls(**values)


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, StrEnum) else value


@dataclass(frozen=True, slots=True)
class Repository:
    id: str
    provider: Provider
    owner: str
    name: str
    clone_url: str
    default_branch: str = "main"
    active: bool = True
    github_repo_id: int | None = None
    github_installation_id: int | None = None
    gitlab_project_id: int | None = None
    badge_public: bool = False
    has_webhook_secret: bool = False
    allow_fork_secrets: bool = False
    created_at: str = ""
    updated_at: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True, slots=True)
class SecretGroup:
    """A named set of sealed variables; `repositories` (ids) may use it, none named = all."""

    name: str
    variables: tuple[str, ...]
    repositories: tuple[str, ...] = ()

    def allows(self, repository_id: str) -> bool:
        return not self.repositories or repository_id in self.repositories


@dataclass(frozen=True, slots=True)
class WorkflowMatch:
    """Whether one workflow of the pipeline file runs for an event, and if not, why."""

    workflow: str
    matched: bool
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "matched": self.matched, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str
    provider: Provider
    event_type: str
    delivery_id: str
    received_at: str
    state: EventState = EventState.PENDING
    repository_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    reason: str | None = None
    processed_at: str | None = None
    trigger: Trigger | None = None
    # Each workflow of the pipeline file and whether it ran (the skips are kept here, not as
    # one skipped build per workflow per push); () before the event is planned.
    workflows: tuple[WorkflowMatch, ...] = ()


@dataclass(frozen=True, slots=True)
class Build:
    id: str
    repository_id: str
    number: int
    workflow: str
    status: BuildStatus
    trigger: Trigger
    created_at: str
    attempt: int = 1
    retry_of: str | None = None
    event_id: str | None = None
    queue_reason: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    project_build_number: int = 0
    inputs: dict[str, Any] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    process_group: int | None = None
    workspace: str | None = None
    recovered: bool = False  # re-queued after a daemon restart interrupted it
    # The newer build that superseded it (`cancel_previous_builds`), and that build's number.
    cancelled_by: str | None = None
    cancelled_by_number: int | None = None
    # When retention (the janitor) removed the build's log, or its artifacts; the row stays.
    log_expired_at: str | None = None
    artifacts_expired_at: str | None = None
    # What the workflow's `publishing` asked to be told, copied at creation (oore.store.outbox):
    # {"slack": {"channel", "start", "success", "failure"}, "email": {"recipients", "success",
    # "failure"}}; {} for neither.
    notify: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def queued(
        cls, repository_id: str, workflow: str, trigger: Trigger, event_id: str | None = None
    ) -> Build:
        """A new build waiting in the queue (the store numbers it as it creates it)."""
        return cls(
            id=new_id(),
            repository_id=repository_id,
            number=0,
            workflow=workflow,
            status=BuildStatus.QUEUED,
            trigger=trigger,
            created_at=utcnow(),
            event_id=event_id,
        )

    @property
    def sha(self) -> str:
        return self.trigger.sha

    @property
    def from_fork(self) -> bool:
        """Built from a fork's pull request: untrusted code. (A pull request stored before forks
        were told apart counts as one: `Trigger.from_json` fails closed.)"""
        return self.trigger.from_fork


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    build_id: str
    index: int
    name: str
    status: StepStatus = StepStatus.PENDING
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    kind: str = "script"  # script | publishing
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Artifact:
    id: str
    build_id: str
    name: str
    path: str  # relative to the data dir's artifacts folder
    size: int
    sha256: str
    content_type: str
    created_at: str


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    name: str
    scope: TokenScope
    created_at: str
    last_used_at: str | None = None
    revoked_at: str | None = None


@dataclass(frozen=True, slots=True)
class WebSession:
    """A dashboard sign-in: stored by the hash of its random id, bound to the token it was made
    from (`token_id` None for the admin token), with the secret its pages send as CSRF token."""

    id_hash: str
    token_id: str | None
    token_hash: str
    token_name: str  # the API token's name, or "admin" (looked up, not stored)
    scope: TokenScope
    csrf_secret: str
    created_at: str
    expires_at: str
    last_seen_at: str


@dataclass(frozen=True, slots=True)
class GithubApp:
    """The GitHub App made through the manifest flow (its secrets are kept apart, sealed)."""

    id: str  # our row id: it names the sealed columns in their AAD
    app_id: int
    slug: str
    name: str
    owner: str
    html_url: str
    client_id: str
    created_at: str


@dataclass(frozen=True, slots=True)
class GithubInstallationRepo:
    id: int  # GitHub's repository id
    full_name: str
    private: bool


@dataclass(frozen=True, slots=True)
class GithubInstallation:
    """Where the app is installed (a user or an organization) and the repositories it may see."""

    id: int
    account: str
    account_type: str  # "User" or "Organization"
    repository_selection: str  # "all" or "selected"
    suspended: bool
    repositories: tuple[GithubInstallationRepo, ...]
    updated_at: str


class DeliveryState(StrEnum):
    """A notification delivery in the outbox: pending -> sending -> delivered, or dead."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One row of the outbox (what the API lists and the notifier claims)."""

    id: str
    build_id: str
    kind: str
    target: str
    event: str
    payload: dict[str, Any]
    idempotency_key: str
    state: DeliveryState
    attempts: int
    next_attempt_at: str
    created_at: str
    last_error: str | None = None
    ref: str | None = None
    delivered_at: str | None = None
    retry_since: str = ""  # where the maximum age counts from: creation or the latest resend
    # The latest `ref` an earlier delivery of the same chain (build, kind, target) answered.
    chain_ref: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A signed webhook: for one repository or (repository_id None) every one; the secret is
    stored apart, sealed. `events` empty: every event."""

    id: str
    repository_id: str | None
    url: str
    events: tuple[str, ...]
    created_at: str
