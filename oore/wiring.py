"""The daemon's object graph, built once, in dependency order, and frozen.

The store (which announces its changes), the mailboxes, the log hub and the webhook intake come
first; then the actors that read the mailboxes; last the HTTP side's narrow view of them
(`Services`). Nothing is replaced afterwards, so every holder of an object holds the same one:
settings are final before this runs (the listening port is already bound, see `oore.daemon`).
Mailboxes belong to the wiring, not to the actors, so they outlive an actor's restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from prometheus_client import CollectorRegistry

from oore.actors.executor import Dirs
from oore.actors.ingester import IngestQueue, WebhookIngester
from oore.actors.janitor import Janitor
from oore.actors.logs import LogStreamer
from oore.actors.messages import IngestRequest, LogMessage, RepositoryMessage
from oore.actors.metrics import BuildDurations, DaemonGauges
from oore.actors.notifier import Notifier, RetryPolicy
from oore.actors.planner import BuildPlanner
from oore.actors.repository import RepositorySupervisor
from oore.actors.retention import JanitorDirs, RetentionPolicy
from oore.actors.runtime import ChildSpec, Supervisor, mailbox
from oore.config import Settings
from oore.crypto import Sealer, gitlab_token_key
from oore.execution.hostenv import host_env, toolchain_dirs
from oore.execution.identity import BuildUser
from oore.git import remove_stale_keys, ssh_dir
from oore.http.services import Services
from oore.logs.hub import LogHub
from oore.notify.base import Channel
from oore.notify.channels import build_channels
from oore.notify.webhook import WebhookChannel
from oore.paths import DataPaths
from oore.primitives import Doorbell, Lull
from oore.providers.credentials import RepositoryCredentials
from oore.providers.gitauth import CredentialChain
from oore.providers.github_app import GithubApps
from oore.providers.github_credentials import GithubAppCredentials
from oore.providers.gitlab_connection import GitLabConnection
from oore.providers.gitlab_credentials import GitLabOAuthCredentials
from oore.store.base import Store
from oore.webhooks.intake import Intake

WEBHOOK_INBOX = 256
REPOSITORY_INBOX = 64
LOG_INBOX = 64  # output chunks (up to 64 KiB each) waiting for the log streamer


@dataclass(frozen=True, slots=True)
class Wiring:
    services: Services  # what HTTP handlers see
    supervisor: Supervisor  # runs the actors, in start order
    repositories: RepositorySupervisor  # drained at shutdown: running builds may finish


@dataclass(frozen=True, slots=True)
class _Mailboxes:
    """Every actor inbox, both ends: built before any actor, they outlive its restarts."""

    webhooks: tuple[trio.MemorySendChannel[IngestRequest], trio.MemoryReceiveChannel[IngestRequest]]
    repositories: tuple[
        trio.MemorySendChannel[RepositoryMessage], trio.MemoryReceiveChannel[RepositoryMessage]
    ]
    logs: tuple[trio.MemorySendChannel[LogMessage], trio.MemoryReceiveChannel[LogMessage]]

    @classmethod
    def open(cls) -> _Mailboxes:
        return cls(mailbox(WEBHOOK_INBOX), mailbox(REPOSITORY_INBOX), mailbox(LOG_INBOX))


def wire(settings: Settings, store: Store, sealer: Sealer, user: BuildUser) -> Wiring:
    """Build every shared object of a daemon serving `settings` from `store`."""
    if settings.encryption_key is None:
        raise ValueError("the daemon always runs with an encryption key")
    paths = DataPaths(settings.data_dir)
    boxes = _Mailboxes.open()
    ingest = IngestQueue(
        boxes.webhooks[0], Doorbell(), Lull(settings.ingest_quiet, settings.ingest_patience)
    )
    token_key = gitlab_token_key(settings.encryption_key)
    intake = Intake(
        store,
        sealer,
        shared_github_secret=settings.github_webhook_secret,
        gitlab_token_key=token_key,
        kick=ingest.kick,
    )
    log_hub = LogHub(paths.logs)
    gitlab = GitLabConnection(store, sealer, settings)
    github = GithubApps(
        store,
        sealer,
        api_url=settings.github_api_url,
        allow_private=settings.allow_private_providers,
    )
    # Which credential a fetch uses: the repository's own first, then the providers'.
    own = RepositoryCredentials(store, sealer)
    credentials = CredentialChain(
        [
            own,
            GithubAppCredentials(github, settings.github_url),
            GitLabOAuthCredentials(store, gitlab),
        ]
    )
    remove_stale_keys(ssh_dir(paths.mirrors))  # left by a daemon killed mid-fetch
    repositories = RepositorySupervisor(
        store,
        BuildPlanner(store, sealer, paths.mirrors, credentials=credentials, build_credentials=own),
        boxes.repositories[1],
        boxes.logs[0],
        Dirs(
            paths.workspaces,
            paths.artifacts,
            paths.cache,
            paths.scratch,
            user,
            host=host_env(settings),
            toolchains=toolchain_dirs(settings, (user.home, Path.home())),
            nice=settings.build_nice,
        ),
        max_concurrent=settings.max_concurrent_builds,
        keep_failed_hours=settings.keep_failed_workspaces_hours,
        logs_dir=paths.logs,
        min_free_disk=settings.min_free_disk,
    )
    streamer = LogStreamer(log_hub, boxes.logs[1], cap=settings.max_log_bytes)
    ingester = WebhookIngester(
        store, boxes.webhooks[1], boxes.repositories[0], ingest.overflow, lull=ingest.deliveries
    )
    registry = CollectorRegistry(auto_describe=True)
    durations = BuildDurations(store.changes, registry)
    # Each notification kind's channel (oore.notify); a kind missing here stays in the outbox.
    channels: dict[str, Channel] = {
        **build_channels(settings, store, sealer, github, gitlab),
        WebhookChannel.kind: WebhookChannel(
            store, sealer, allow_private=settings.allow_private_providers
        ),
    }
    notifier = Notifier(
        store,
        channels,
        RetryPolicy(settings.notify_retry_base, settings.notify_retry_max, settings.notify_max_age),
        per_target=settings.notify_concurrency,
    )
    janitor = Janitor(
        store,
        JanitorDirs(paths.logs, paths.artifacts, paths.cache, paths.mirrors),
        RetentionPolicy.from_settings(settings),
        registry=registry,
    )
    supervisor = Supervisor(
        [
            ChildSpec("log-streamer", streamer.run),
            ChildSpec("repository-supervisor", repositories.run),
            ChildSpec("webhook-ingester", ingester.run),
            ChildSpec("build-durations", durations.run),
            ChildSpec("notifier", notifier.run),
            ChildSpec("janitor", janitor.run),
        ]
    )
    mailboxes: dict[str, trio.MemorySendChannel[Any]] = {
        "webhooks": boxes.webhooks[0],
        "repositories": boxes.repositories[0],
        "logs": boxes.logs[0],
    }
    gauges = DaemonGauges(registry, supervisor, repositories, streamer, mailboxes)
    services = Services(
        settings=settings,
        paths=paths,
        store=store,
        sealer=sealer,
        intake=intake,
        log_hub=log_hub,
        repository_inbox=boxes.repositories[0],
        reprocess=ingest.kick,
        gitlab_token_key=token_key,
        started_monotonic=time.monotonic(),
        gauges=gauges,
        gitlab=gitlab,
        github=github,
    )
    return Wiring(services, supervisor, repositories)
