"""The `oored` process: the root nursery that owns the store, the actors and the HTTP server.

Start order: the listening socket (so that a taken port fails before anything else starts, and
a port 0 is known before links are made) → store (migrated) → encryption key check → the wiring
(`oore.wiring`) → supervisor with the actors → HTTP. On SIGTERM/SIGINT the HTTP server stops
accepting, in-flight requests get `OORE_SHUTDOWN_GRACE` seconds, then everything is cancelled
and `run` returns normally (exit 0). A supervisor escalation propagates as
`SupervisorEscalation` so that the service manager restarts us.

Process-wide tuning (the GIL switch interval, the garbage collector) belongs to the process, not
to this function: `oored run` applies it (`oore.tuning`), so tests that call `run` keep theirs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
from collections.abc import Callable

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.config import Sockets
from hypercorn.trio.run import worker_serve
from hypercorn.utils import repr_socket_addr, wrap_app

from oore import __version__
from oore.config import Settings
from oore.crypto import Sealer, aad, constant_time_equals
from oore.errors import ConfigError, CryptoError, Unavailable
from oore.execution.identity import BuildUser, build_user
from oore.execution.isolation import secure_data_dir
from oore.groups import unwrap_single
from oore.http.app import create_app
from oore.http.wslimits import limit_websockets
from oore.paths import DataPaths
from oore.store.base import Store
from oore.store.sqlite import open_sqlite_store
from oore.wiring import Wiring, wire

log = logging.getLogger("oore.daemon")

KEY_CHECK = "key_check"
KEY_FINGERPRINT = "key_fingerprint"
SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def run(settings: Settings, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Run the daemon until a shutdown signal; `on_ready` gets the URL once it is serving."""
    if settings.encryption_key is None:
        raise ConfigError("OORE_ENCRYPTION_KEY: required (ensure_secrets generates one)")
    sealer = Sealer(settings.encryption_key)
    paths = DataPaths(settings.data_dir)
    user = build_user(settings.build_user, paths.build_home)
    config = _hypercorn_config(settings)
    sockets = _bind(settings)
    try:
        url = _listening_url(sockets)
        settings = _with_bound_url(settings, url)
        async with open_sqlite_store(settings.database_path) as store:
            await trio.to_thread.run_sync(secure_data_dir, paths, user, settings.database_path)
            _warn_unless_separate(user)
            await verify_key(store, sealer, settings)
            wiring = wire(settings, store, sealer, user)
            await serve(wiring, config, sockets, lambda: _ready(url, settings, on_ready))
    finally:
        for sock in sockets.insecure_sockets:
            sock.close()


def _bind(settings: Settings) -> Sockets:
    """The socket HTTP will listen on, bound before anything else starts (it listens only once
    the daemon can answer, so that early clients are refused rather than left waiting)."""
    host = settings.bind_host
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, settings.bind_port))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        shown = f"[{host}]" if ":" in host else host
        raise Unavailable(
            f"cannot listen on {shown}:{settings.bind_port}: {exc.strerror or exc}; "
            "stop what uses that address or choose another with --bind or OORE_BIND"
        ) from exc
    return Sockets(secure_sockets=[], insecure_sockets=[sock], quic_sockets=[])


def _listening_url(sockets: Sockets) -> str:
    sock = sockets.insecure_sockets[0]
    return f"http://{repr_socket_addr(sock.family, sock.getsockname())}"


def _with_bound_url(settings: Settings, url: str) -> Settings:
    """Port 0 picks a free port; links and webhook URLs must name the one we got."""
    if settings.bind_port != 0 or not settings.base_url.endswith(":0"):
        return settings
    return dataclasses.replace(settings, base_url=url)


def _warn_unless_separate(user: BuildUser) -> None:
    if user.separate:
        log.info("builds run as %s (uid %d)", user.name, user.uid)
    else:
        (log.warning if os.geteuid() == 0 else log.info)(
            "builds run as the daemon's own user (%s) and can read its admin token, encryption "
            "key and database; set OORE_BUILD_USER (`sudo oored install` creates oore-build)",
            user.name,
        )


def _ready(url: str, settings: Settings, on_ready: Callable[[str], None] | None) -> None:
    log.info("oored %s listening on %s (data dir %s)", __version__, url, settings.data_dir)
    if on_ready is not None:
        on_ready(url)


async def serve(
    wiring: Wiring,
    config: HypercornConfig,
    sockets: Sockets,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run the actors and the HTTP server on bound `sockets` until a shutdown signal."""
    with unwrap_single():
        async with trio.open_nursery() as nursery:
            await _start_and_wait(wiring, config, sockets, nursery, on_ready)
            nursery.cancel_scope.cancel()
    log.info("stopped")


async def _start_and_wait(
    wiring: Wiring,
    config: HypercornConfig,
    sockets: Sockets,
    nursery: trio.Nursery,
    on_ready: Callable[[], None] | None,
) -> None:
    settings = wiring.services.settings
    shutdown, http_done = trio.Event(), trio.Event()
    nursery.start_soon(_watch_signals, shutdown)
    await nursery.start(wiring.supervisor.run)
    await nursery.start(_serve_http, wiring, config, sockets, shutdown, http_done)
    if on_ready is not None:
        on_ready()
    await shutdown.wait()
    log.info("shutting down: no new requests; %.0fs grace", settings.shutdown_grace)
    # One grace for everything: hypercorn finishes in-flight requests, running builds may finish;
    # whatever is still running then is cancelled by our caller (its process groups killed).
    with trio.move_on_after(settings.shutdown_grace):
        await wiring.repositories.drain()
        await http_done.wait()


async def _serve_http(
    wiring: Wiring,
    config: HypercornConfig,
    sockets: Sockets,
    shutdown: trio.Event,
    done: trio.Event,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    app = wrap_app(create_app(wiring.services), config.wsgi_max_body_size, "asgi")
    for sock in sockets.insecure_sockets:
        sock.listen(config.backlog)
    try:
        with unwrap_single():
            await worker_serve(
                app,
                config,
                sockets=sockets,
                shutdown_trigger=shutdown.wait,
                task_status=task_status,
            )
    finally:
        done.set()


def _hypercorn_config(settings: Settings) -> HypercornConfig:
    config = HypercornConfig()
    config.graceful_timeout = settings.shutdown_grace
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
    """Refuse to start when the key is not the one the data was sealed with.

    Compared by the key's fingerprint, stored at the first start. A database from before
    fingerprints has its sealed values (and the sealed canary older versions stored under
    KEY_CHECK) opened instead, once: the fingerprint is stored then.
    """
    fingerprint = await store.get_meta(KEY_FINGERPRINT)
    if fingerprint is not None:
        if not constant_time_equals(fingerprint, sealer.fingerprint()):
            raise _key_changed(settings)
        return
    canary_aad = aad("meta", KEY_CHECK, "value")
    canary = await store.get_meta(KEY_CHECK)
    samples = await store.sealed_samples()
    if canary is not None:
        samples.append((canary, canary_aad))
    for blob, associated in samples:
        try:
            sealer.open(blob, associated)
        except CryptoError as exc:
            raise _key_changed(settings) from exc
    await store.set_meta(KEY_FINGERPRINT, sealer.fingerprint())


def _key_changed(settings: Settings) -> ConfigError:
    return ConfigError(
        "OORE_ENCRYPTION_KEY: this key cannot open the data sealed in "
        f"{settings.database_path}; the key changed since that data was stored. "
        "Restore the previous key (env file or the data dir's encryption-key file)."
    )
