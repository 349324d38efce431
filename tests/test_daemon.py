"""The daemon's root nursery, in-process: escalation reaches the caller as itself."""

from __future__ import annotations

import dataclasses
import gc
import sys
from collections.abc import Callable
from functools import partial

import pytest
import trio

from oore import daemon
from oore.actors.runtime import ChildSpec, Supervisor, SupervisorEscalation
from oore.config import Settings
from oore.crypto import Sealer, aad
from oore.errors import ConfigError, Unavailable
from oore.execution.identity import current_user
from oore.store.sqlite import SqliteStore
from oore.wiring import wire


async def test_an_actor_that_keeps_crashing_escalates_out_of_the_daemon(
    settings: Settings, store: SqliteStore, sealer: Sealer
) -> None:
    starts = 0

    async def crasher(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal starts
        starts += 1
        task_status.started()
        raise RuntimeError("boom")

    wiring = wire(settings, store, sealer, current_user())
    crashing = dataclasses.replace(wiring, supervisor=Supervisor([ChildSpec("crasher", crasher)]))
    config = daemon._hypercorn_config(settings)
    sockets = daemon._bind(settings)
    try:
        with trio.fail_after(30), pytest.raises(SupervisorEscalation) as caught:
            await daemon.serve(crashing, config, sockets)
    finally:
        for sock in sockets.insecure_sockets:
            sock.close()
    assert caught.value.child == "crasher"
    assert starts == 6  # the first start and five restarts within the window


async def test_running_the_daemon_in_process_leaves_the_interpreter_as_it_was(
    settings: Settings, sealer: Sealer
) -> None:
    """Interpreter tuning belongs to `oored run` (oore.tuning), not to `daemon.run`."""
    interval, frozen = sys.getswitchinterval(), gc.get_freeze_count()
    ready = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(daemon.run, settings, on_ready=lambda url: ready.set()))
        with trio.fail_after(30):
            await ready.wait()
        assert (sys.getswitchinterval(), gc.get_freeze_count()) == (interval, frozen)
        nursery.cancel_scope.cancel()


async def test_a_taken_port_fails_before_the_store_is_opened(
    make_settings: Callable[..., Settings],
) -> None:
    with trio.socket.socket() as taken:
        await taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = make_settings(OORE_BIND=f"127.0.0.1:{port}")
        with pytest.raises(Unavailable, match=r"cannot listen on 127\.0\.0\.1"):
            await daemon.run(settings)
    assert not settings.database_path.exists()


async def test_the_key_is_checked_by_its_fingerprint_once_stored(
    store: SqliteStore, settings: Settings
) -> None:
    right, wrong = Sealer(b"\x01" * 32), Sealer(b"\x02" * 32)
    await daemon.verify_key(store, right, settings)  # a new database: the fingerprint is stored
    assert await store.get_meta(daemon.KEY_FINGERPRINT) == right.fingerprint()
    assert await store.get_meta(daemon.KEY_CHECK) is None  # no sealing needed any more
    await daemon.verify_key(store, right, settings)
    with pytest.raises(ConfigError, match="the key changed since that data was stored"):
        await daemon.verify_key(store, wrong, settings)


async def test_a_database_from_before_fingerprints_is_checked_by_its_sealed_canary(
    store: SqliteStore, settings: Settings
) -> None:
    right, wrong = Sealer(b"\x01" * 32), Sealer(b"\x02" * 32)
    canary = right.seal(b"oore key check", aad("meta", daemon.KEY_CHECK, "value"))
    await store.set_meta(daemon.KEY_CHECK, canary)  # what earlier versions stored
    with pytest.raises(ConfigError, match="the key changed since that data was stored"):
        await daemon.verify_key(store, wrong, settings)
    assert await store.get_meta(daemon.KEY_FINGERPRINT) is None  # nothing stored for a wrong key
    await daemon.verify_key(store, right, settings)
    assert await store.get_meta(daemon.KEY_FINGERPRINT) == right.fingerprint()
