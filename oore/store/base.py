"""The store interface: every method the domain needs, and no SQL outside `oore.store`.

`Store` is a Protocol so that a PostgreSQL implementation can stand beside the SQLite one
(DESIGN.md §7). Methods raise `NotFound`, `Conflict`, `IllegalTransition` or `Unavailable`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from oore.model import (
    ApiToken,
    Artifact,
    Build,
    BuildStatus,
    DeliveryRecord,
    DeliveryState,
    EventState,
    GithubApp,
    GithubInstallation,
    GithubInstallationRepo,
    Provider,
    Repository,
    SecretGroup,
    Step,
    StepStatus,
    Trigger,
    WebhookEvent,
    WebhookTarget,
    WebSession,
    WorkflowMatch,
)
from oore.primitives import Broadcast
from oore.store.changes import Change

T = TypeVar("T")

# What `update_repository` may change (the webhook secret goes through `RepositorySecrets`).
UPDATABLE_REPOSITORY_FIELDS = frozenset(
    {
        "clone_url",
        "default_branch",
        "active",
        "github_repo_id",
        "github_installation_id",
        "gitlab_project_id",
        "badge_public",
        "allow_fork_secrets",
    }
)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing, newest first; `next_cursor` fetches the following page."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class EventFilter:
    repository_id: str | None = None
    provider: Provider | None = None
    state: EventState | None = None


@dataclass(frozen=True, slots=True)
class BuildFilter:
    repository_id: str | None = None
    status: BuildStatus | None = None
    branch: str | None = None
    workflow: str | None = None
    number: int | None = None  # the repository's build number (`acme/app#19`)


@dataclass(frozen=True, slots=True)
class RepositorySecrets:
    webhook_secret_sealed: bytes | None
    webhook_token_hmac: str | None


class MetaStore(Protocol):
    """Health, metadata, counters."""

    async def ping(self) -> None: ...
    async def get_meta(self, key: str) -> bytes | None: ...
    async def set_meta(self, key: str, value: bytes) -> None: ...
    async def sealed_samples(self, limit: int = 3) -> list[tuple[bytes, bytes]]: ...
    async def increment_counter(self, name: str, by: int = 1) -> None: ...
    async def counters(self) -> dict[str, int]: ...
    def write_stats(self) -> dict[str, int]: ...


class RepositoryStore(Protocol):
    async def create_repository(self, repo: Repository, secrets: RepositorySecrets) -> None: ...
    async def get_repository(self, repository_id: str) -> Repository: ...
    async def list_repositories(self) -> list[Repository]: ...
    async def update_repository(
        self, repository_id: str, changes: dict[str, Any], secrets: RepositorySecrets | None = None
    ) -> Repository: ...
    async def delete_repository(self, repository_id: str) -> None: ...
    async def find_repository(
        self, provider: Provider, owner: str, name: str, provider_id: int | None
    ) -> Repository | None: ...
    async def repository_secrets(self, repository_id: str) -> RepositorySecrets: ...
    async def get_pipeline(self, repository_id: str) -> str | None: ...
    async def set_pipeline(self, repository_id: str, text: str | None) -> None: ...


class EventStore(Protocol):
    """Webhook deliveries."""

    async def insert_event(self, event: WebhookEvent) -> tuple[str, bool]: ...
    async def get_event(self, event_id: str) -> WebhookEvent: ...
    async def list_events(
        self, where: EventFilter, cursor: str | None, limit: int
    ) -> Page[WebhookEvent]: ...
    async def event_counts(self) -> dict[tuple[str, str], int]: ...
    async def pending_event_ids(self, limit: int = 500, after: str = "") -> list[str]: ...
    async def finish_event(
        self,
        event_id: str,
        state: EventState,
        reason: str | None,
        repository_id: str | None,
        trigger: Trigger | None,
    ) -> bool: ...
    async def reset_event(self, event_id: str) -> WebhookEvent: ...


class TokenStore(Protocol):
    """API tokens."""

    async def create_token(self, token: ApiToken, token_hash: str) -> None: ...
    async def find_token(self, token_hash: str) -> ApiToken | None: ...
    async def list_tokens(self) -> list[ApiToken]: ...
    async def revoke_token(self, token_id: str) -> ApiToken: ...
    async def touch_token(self, token_id: str) -> None: ...


class SessionStore(Protocol):
    """Dashboard sessions, by the hash of their id."""

    async def create_session(self, session: WebSession) -> None: ...
    async def find_session(self, id_hash: str) -> WebSession | None: ...
    async def touch_session(self, id_hash: str) -> None: ...
    async def delete_session(self, id_hash: str) -> None: ...


class BuildReads(Protocol):
    """Builds, steps and artifacts as they are."""

    async def get_build(self, build_id: str) -> Build: ...
    async def builds_for_event(self, event_id: str) -> list[Build]: ...
    async def get_steps(self, build_id: str) -> list[Step]: ...
    async def list_builds(
        self, where: BuildFilter, cursor: str | None, limit: int
    ) -> Page[Build]: ...
    async def builds_in(self, statuses: Collection[BuildStatus]) -> list[Build]: ...
    async def queue_position(self, build_id: str) -> int | None: ...
    async def last_successful_build(self, repository_id: str, workflow: str) -> Build | None: ...
    async def list_artifacts(self, build_id: str) -> list[Artifact]: ...
    async def latest_finished_build(
        self, repository_id: str, branch: str | None, workflow: str | None
    ) -> Build | None: ...
    async def get_artifact(self, artifact_id: str) -> Artifact: ...


class BuildWrites(Protocol):
    """Changes to builds and steps: the RepositorySupervisor's and its executors' alone."""

    async def create_build(self, build: Build) -> Build: ...
    async def create_builds_for_event(
        self,
        event_id: str,
        builds: list[Build],
        reason: str,
        trigger: Trigger,
        workflows: tuple[WorkflowMatch, ...] = (),
    ) -> list[Build] | None: ...
    async def requeue_interrupted(self, build_id: str) -> Build: ...
    async def transition_build(
        self, build_id: str, status: BuildStatus, **fields: Any
    ) -> Build: ...
    async def set_build_fields(self, build_id: str, **fields: Any) -> None: ...
    async def set_queue_reasons(self, reasons: dict[str, str]) -> None: ...
    async def delete_build(self, build_id: str) -> Build: ...
    async def create_steps(self, steps: list[Step]) -> None: ...
    async def transition_step(self, step_id: str, status: StepStatus, **fields: Any) -> Step: ...
    async def add_artifacts(self, artifacts: list[Artifact]) -> None: ...


class SecretStore(Protocol):
    """Secret groups (values sealed)."""

    async def replace_secret_group(
        self,
        group: str,
        sealed: dict[str, tuple[str, bytes]],
        repositories: tuple[str, ...] | None = None,
    ) -> SecretGroup: ...
    async def secret_groups(self) -> list[SecretGroup]: ...
    async def secret_group(self, group: str) -> SecretGroup: ...
    async def sealed_secret_group(self, group: str) -> list[tuple[str, str, bytes]]: ...
    async def delete_secret_group(self, group: str) -> None: ...


# The id of the one row of gitlab_application and gitlab_connection, and so of their sealed
# values' associated data ("gitlab_connection:default:access_token").
GITLAB_ROW = "default"


@dataclass(frozen=True, slots=True)
class SealedGitLabApplication:
    """The GitLab OAuth application Oore signs in with; the secret sealed."""

    application_id: str
    secret_sealed: bytes


@dataclass(frozen=True, slots=True)
class SealedGitLabConnection:
    """The signed-in GitLab user's OAuth tokens (sealed) and when the access token expires."""

    access_token_sealed: bytes
    refresh_token_sealed: bytes
    expires_at: str
    username: str | None = None


@dataclass(frozen=True, slots=True)
class GitLabProjectLink:
    """A repository registered by enabling a GitLab project; `hook_id` None once disabled."""

    repository_id: str
    project_id: int
    hook_id: int | None


class GitLabStore(Protocol):
    """GitLab OAuth: the application, sign-in states, the connection, enabled projects."""

    async def set_gitlab_application(self, app: SealedGitLabApplication) -> None: ...
    async def gitlab_application(self) -> SealedGitLabApplication | None: ...
    async def add_gitlab_state(self, state_hash: str, expires_at: str) -> None: ...
    async def take_gitlab_state(self, state_hash: str, now: str) -> bool: ...
    async def set_gitlab_connection(self, connection: SealedGitLabConnection) -> None: ...
    async def gitlab_connection(self) -> SealedGitLabConnection | None: ...
    async def set_gitlab_project(self, link: GitLabProjectLink) -> None: ...
    async def gitlab_project_link(self, repository_id: str) -> GitLabProjectLink | None: ...
    async def gitlab_project_links(self) -> list[GitLabProjectLink]: ...


@dataclass(frozen=True, slots=True)
class GithubAppSecrets:
    """The GitHub App's secrets, each sealed with AAD github_app:<app row id>:<column>."""

    private_key_sealed: bytes
    webhook_secret_sealed: bytes
    client_secret_sealed: bytes


class GithubAppStore(Protocol):
    """The GitHub App, its manifest states and its installations."""

    async def save_github_app(self, app: GithubApp, secrets: GithubAppSecrets) -> None: ...
    async def github_app(self) -> GithubApp | None: ...
    async def github_app_secrets(self, app_row_id: str) -> GithubAppSecrets: ...
    async def github_app_with_secrets(self) -> tuple[GithubApp, GithubAppSecrets] | None: ...
    async def github_installation_covers(self, installation_id: int, repo_id: int) -> bool: ...
    async def add_manifest_state(self, state_hash: str, expires_at: str) -> None: ...
    async def take_manifest_state(self, state_hash: str) -> bool: ...
    async def put_github_installation(self, installation: GithubInstallation) -> None: ...
    async def change_github_installation_repositories(
        self,
        installation_id: int,
        added: tuple[GithubInstallationRepo, ...],
        removed: tuple[int, ...],
    ) -> None: ...
    async def delete_github_installation(self, installation_id: int) -> None: ...
    async def github_installations(self) -> list[GithubInstallation]: ...
    async def github_installation(self, installation_id: int) -> GithubInstallation: ...


class CredentialKind(StrEnum):
    HTTPS_TOKEN = "https_token"
    SSH_DEPLOY_KEY = "ssh_deploy_key"


@dataclass(frozen=True, slots=True)
class RepositoryCredential:
    """A repository's own git credential as the API shows it; the secret is kept apart, sealed
    with AAD repository_credentials:<id>:secret."""

    id: str  # new each time a credential is set
    repository_id: str
    kind: CredentialKind
    username: str | None  # HTTPS: the user name sent with the token
    public_key: str | None  # SSH: the OpenSSH public key line to give the provider
    origin: str  # scheme://host[:port] of the clone URL when set: sent nowhere else
    created_at: str


class CredentialStore(Protocol):
    """Per-repository git credentials (a token or a deploy key)."""

    async def set_repository_credential(
        self, credential: RepositoryCredential, secret_sealed: bytes
    ) -> None: ...
    async def repository_credential(self, repository_id: str) -> RepositoryCredential | None: ...
    async def sealed_repository_credential(
        self, repository_id: str
    ) -> tuple[RepositoryCredential, bytes] | None: ...
    async def delete_repository_credential(self, repository_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    state: DeliveryState | None = None
    build_id: str | None = None
    kind: str | None = None


class NotificationStore(Protocol):
    """The outbox as the API sees it, and the signed webhook targets (secrets sealed)."""

    async def list_deliveries(
        self, where: DeliveryFilter, cursor: str | None, limit: int
    ) -> Page[DeliveryRecord]: ...
    async def get_delivery(self, delivery_id: str) -> DeliveryRecord: ...
    async def resend_delivery(self, delivery_id: str) -> DeliveryRecord: ...
    async def delivery_counts(self) -> dict[tuple[str, str], int]: ...
    async def add_webhook_target(self, target: WebhookTarget, secret_sealed: bytes) -> None: ...
    async def webhook_targets(self) -> list[WebhookTarget]: ...
    async def sealed_webhook_target(self, target_id: str) -> tuple[WebhookTarget, bytes]: ...
    async def delete_webhook_target(self, target_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class NotificationSetting:
    """Slack's or SMTP's settings (`kind` 'slack' or 'smtp'): the non-secret config, and whether
    a secret is set; the secret itself is kept apart, sealed with AAD
    notification_settings:<kind>:secret."""

    kind: str
    config: Mapping[str, Any]
    secret_set: bool
    updated_at: str


class NotificationSettingsStore(Protocol):
    """One row per channel kind that needs settings (Slack, SMTP)."""

    async def notification_setting(self, kind: str) -> NotificationSetting | None: ...
    async def sealed_notification_setting(
        self, kind: str
    ) -> tuple[NotificationSetting, bytes | None] | None: ...
    async def put_notification_setting(
        self,
        kind: str,
        config: Mapping[str, Any],
        secret_sealed: bytes | None,
        *,
        clear_secret: bool = False,
        unless_changed_from: Mapping[str, Any] | None = None,
    ) -> NotificationSetting: ...
    async def delete_notification_setting(self, kind: str) -> bool: ...


class OutboxStore(Protocol):
    """The notifier's side of the outbox: claim what is due, record what happened."""

    async def reset_sending(self) -> int: ...
    async def claim_deliveries(
        self, now: str, in_flight: Mapping[str, int], per_target: int
    ) -> list[DeliveryRecord]: ...
    async def next_delivery_due(self) -> str | None: ...
    async def delivery_sent(self, delivery_id: str, ref: str | None) -> None: ...
    async def delivery_failed(
        self, delivery_id: str, error: str, next_attempt_at: str | None
    ) -> None: ...


class FileKind(StrEnum):
    """What of a build's files retention removes separately (each has its own age)."""

    LOGS = "logs"
    ARTIFACTS = "artifacts"


@dataclass(frozen=True, slots=True)
class ExpiringBuild:
    """A build marked expired whose files may still be on disk, and which of them."""

    build_id: str
    kinds: frozenset[FileKind]


class RetentionStore(Protocol):
    """The janitor's side: mark builds' files expired, delete old webhook deliveries and old
    notification deliveries."""

    async def expire_build_files(
        self, kind: FileKind, before: str, keep: int, limit: int
    ) -> list[str]: ...
    async def pending_expiries(self, limit: int) -> list[ExpiringBuild]: ...
    async def files_removed(self, build_ids: Sequence[str]) -> None: ...
    async def delete_old_events(self, before: str, limit: int) -> tuple[int, int]: ...
    async def delete_old_deliveries(self, before: str, limit: int) -> tuple[int, int]: ...
    async def repository_ids(self) -> set[str]: ...


class HttpStore(
    MetaStore,
    RepositoryStore,
    EventStore,
    TokenStore,
    SessionStore,
    BuildReads,
    SecretStore,
    GithubAppStore,
    CredentialStore,
    GitLabStore,
    NotificationStore,
    NotificationSettingsStore,
    Protocol,
):
    """What request handlers may use: everything but changing builds and steps, which goes
    through the RepositorySupervisor (it owns the queue and the running builds)."""

    # Committed changes to builds, steps, the queue and repositories, published after the write
    # (see oore.store.changes).
    changes: Broadcast[Change]


class Store(HttpStore, BuildWrites, OutboxStore, RetentionStore, Protocol):
    """Every method the domain needs, by entity (one module each in the SQLite store)."""
