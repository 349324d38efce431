"""The `oored` process: the root nursery that owns the store, the actors and the HTTP server.

Start order: store (migrated) → encryption key check → supervisor with the actors → HTTP. On
SIGTERM/SIGINT the HTTP server stops accepting, in-flight requests get `OORE_SHUTDOWN_GRACE`
seconds, then everything is cancelled and `run` returns normally (exit 0). A supervisor
escalation propagates as `SupervisorEscalation` so that the service manager restarts us.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from oore import __version__
from oore.actors.executor import Dirs
from oore.actors.ingester import WebhookIngester
from oore.actors.logs import LogStreamer
from oore.actors.messages import IngestRequest, LogMessage, RepositoryMessage
from oore.actors.planner import BuildPlanner
from oore.actors.repository import RepositorySupervisor
from oore.actors.runtime import ChildSpec, Supervisor, mailbox
from oore.config import Settings
from oore.crypto import Sealer, aad
from oore.errors import ConfigError, CryptoError, Unavailable
from oore.execution.identity import BuildUser, build_user
from oore.execution.isolation import secure_data_dir
from oore.groups import unwrap_single
from oore.http.app import create_app
from oore.http.fastpath import WebhookFastPath
from oore.http.services import Services
from oore.http.wslimits import limit_websockets
from oore.paths import DataPaths
from oore.store.announcing import AnnouncingStore
from oore.store.base import Store
from oore.store.sqlite import open_sqlite_store

log = logging.getLogger("oore.daemon")

KEY_CHECK = "key_check"
WEBHOOK_INBOX = 256
REPOSITORY_INBOX = 64
LOG_INBOX = 64  # output chunks (up to 64 KiB each) waiting for the log streamer
SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How long a worker thread (the log writer, the store's writer) may hold the GIL while the event
# loop waits for it after a socket call: Python's 5 ms default makes every send to a viewer wait
# behind a busy log writer.
SWITCH_INTERVAL = 0.0005
GC_THRESHOLDS = (10000, 20, 20)


async def run(settings: Settings, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Run the daemon until a shutdown signal; `on_ready` gets the URL once it is serving."""
    if settings.encryption_key is None:
        raise ConfigError("OORE_ENCRYPTION_KEY: required (ensure_secrets generates one)")
    sealer = Sealer(settings.encryption_key)
    paths = DataPaths(settings.data_dir)
    user = build_user(settings.build_user, paths.build_home)
    sys.setswitchinterval(SWITCH_INTERVAL)
    async with open_sqlite_store(settings.database_path) as store:
        await trio.to_thread.run_sync(secure_data_dir, paths, user, settings.database_path)
        _warn_unless_separate(user)
        await verify_key(store, sealer, settings)
        webhook_send: trio.MemorySendChannel[IngestRequest]
        webhook_inbox: trio.MemoryReceiveChannel[IngestRequest]
        webhook_send, webhook_inbox = mailbox(WEBHOOK_INBOX)
        svc = Services(settings=settings, store=store, sealer=sealer, webhook_inbox=webhook_send)
        svc.store = AnnouncingStore(store, svc.changes)
        await _serve(svc, build_children(svc, webhook_inbox, user), on_ready)


def _warn_unless_separate(user: BuildUser) -> None:
    if user.separate:
        log.info("builds run as %s (uid %d)", user.name, user.uid)
    else:
        (log.warning if os.geteuid() == 0 else log.info)(
            "builds run as the daemon's own user (%s) and can read its admin token, encryption "
            "key and database; set OORE_BUILD_USER (`sudo oored install` creates oore-build)",
            user.name,
        )


async def _serve(svc: Services, actors: Actors, on_ready: Callable[[str], None] | None) -> None:
    with unwrap_single():
        async with trio.open_nursery() as nursery:
            await _start_and_wait(svc, actors, nursery, on_ready)
            nursery.cancel_scope.cancel()
    log.info("stopped")


async def _start_and_wait(
    svc: Services,
    actors: Actors,
    nursery: trio.Nursery,
    on_ready: Callable[[str], None] | None,
) -> None:
    shutdown, http_done = trio.Event(), trio.Event()
    nursery.start_soon(_watch_signals, shutdown)
    await nursery.start(Supervisor(actors.children).run)
    binds = await nursery.start(_serve_http, svc, shutdown, http_done)
    url = binds[0] if binds else svc.settings.base_url
    if svc.settings.bind_port == 0 and svc.settings.base_url.endswith(":0"):
        # Port 0 picks a free port; links and webhook URLs must name the one we got.
        svc.settings = dataclasses.replace(svc.settings, base_url=url)
    log.info("oored %s listening on %s (data dir %s)", __version__, url, svc.settings.data_dir)
    _settle_garbage_collector()
    if on_ready is not None:
        on_ready(url)
    await shutdown.wait()
    log.info("shutting down: no new requests; %.0fs grace", svc.settings.shutdown_grace)
    # One grace for everything: hypercorn finishes in-flight requests, running builds may finish;
    # whatever is still running then is cancelled by our caller (its process groups killed).
    with trio.move_on_after(svc.settings.shutdown_grace):
        await actors.repositories.drain()
        await http_done.wait()


def _settle_garbage_collector() -> None:
    """Keep the cyclic garbage collector's full passes short while serving.

    Everything alive once the daemon is up (modules, the app, the actors) lives as long as the
    process: frozen, a full pass no longer walks it. Measured under a webhook burst, full passes
    over it took 24-55 ms each, about once a second: they were the acknowledgement tail.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def build_children(
    svc: Services,
    webhook_inbox: trio.MemoryReceiveChannel[IngestRequest],
    user: BuildUser | None = None,
) -> Actors:
    """The supervised actors, in start order; mailboxes outlive restarts of their readers."""
    paths = svc.paths
    log_send: trio.MemorySendChannel[LogMessage]
    log_inbox: trio.MemoryReceiveChannel[LogMessage]
    log_send, log_inbox = mailbox(LOG_INBOX)
    repo_send: trio.MemorySendChannel[RepositoryMessage]
    repo_inbox: trio.MemoryReceiveChannel[RepositoryMessage]
    repo_send, repo_inbox = mailbox(REPOSITORY_INBOX)
    svc.repository_inbox = repo_send
    dirs = Dirs(paths.workspaces, paths.artifacts, paths.cache, paths.scratch, user)
    planner = BuildPlanner(svc.store, svc.sealer, paths.mirrors)
    repositories = RepositorySupervisor(
        svc.store,
        planner,
        repo_inbox,
        log_send,
        dirs,
        max_concurrent=svc.settings.max_concurrent_builds,
        keep_failed_hours=svc.settings.keep_failed_workspaces_hours,
        logs_dir=paths.logs,
    )
    streamer = LogStreamer(svc.log_hub, log_inbox, cap=svc.settings.max_log_bytes)
    ingester = WebhookIngester(
        svc.store, webhook_inbox, repo_send, svc.ingest_overflow, lull=svc.deliveries
    )
    children = [
        ChildSpec("log-streamer", streamer.run),
        ChildSpec("repository-supervisor", repositories.run),
        ChildSpec("webhook-ingester", ingester.run),
    ]
    return Actors(children, repositories)


@dataclasses.dataclass(frozen=True, slots=True)
class Actors:
    children: list[ChildSpec]
    repositories: RepositorySupervisor


async def _serve_http(
    svc: Services,
    shutdown: trio.Event,
    done: trio.Event,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    config = _hypercorn_config(svc)
    try:
        with unwrap_single():
            await serve(
                WebhookFastPath(create_app(svc), svc),
                config,
                shutdown_trigger=shutdown.wait,
                task_status=task_status,
            )
    except OSError as exc:  # binding is the only socket call that reaches us
        raise Unavailable(
            f"cannot listen on {', '.join(config.bind)}: {exc.strerror or exc}; stop what "
            "uses that address or choose another with --bind or OORE_BIND"
        ) from exc
    finally:
        done.set()


def _hypercorn_config(svc: Services) -> HypercornConfig:
    config = HypercornConfig()
    host = svc.settings.bind_host
    host = f"[{host}]" if ":" in host else host
    config.bind = [f"{host}:{svc.settings.bind_port}"]
    config.graceful_timeout = svc.settings.shutdown_grace
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.include_server_header = False
    limit_websockets(config)
    return config


async def _watch_signals(shutdown: trio.Event) -> None:
    with trio.open_signal_receiver(*SHUTDOWN_SIGNALS) as signals:
        async for signum in signals:
            log.info("received %s", signal.Signals(signum).name)
            shutdown.set()


async def verify_key(store: Store, sealer: Sealer, settings: Settings) -> None:
    """Refuse to start when the key cannot open what was sealed with the previous one."""
    canary_aad = aad("meta", KEY_CHECK, "value")
    canary = await store.get_meta(KEY_CHECK)
    samples = await store.sealed_samples()
    if canary is not None:
        samples.append((canary, canary_aad))
    for blob, associated in samples:
        try:
            sealer.open(blob, associated)
        except CryptoError as exc:
            raise ConfigError(
                "OORE_ENCRYPTION_KEY: this key cannot open the data sealed in "
                f"{settings.database_path}; the key changed since that data was stored. "
                "Restore the previous key (env file or the data dir's encryption-key file)."
            ) from exc
    if canary is None:
        await store.set_meta(KEY_CHECK, sealer.seal(b"oore key check", canary_aad))
