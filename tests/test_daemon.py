"""The daemon's root nursery, in-process: escalation reaches the caller as itself."""

from __future__ import annotations

import pytest
import trio

from oore import daemon
from oore.actors.runtime import ChildSpec, SupervisorEscalation
from oore.config import Settings
from oore.crypto import Sealer
from oore.http.services import Services
from oore.store.sqlite import SqliteStore


class _NoBuilds:
    async def drain(self) -> None:
        return None


async def test_an_actor_that_keeps_crashing_escalates_out_of_the_daemon(
    settings: Settings, store: SqliteStore, sealer: Sealer
) -> None:
    starts = 0

    async def crasher(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal starts
        starts += 1
        task_status.started()
        raise RuntimeError("boom")

    svc = Services(settings=settings, store=store, sealer=sealer)
    actors = daemon.Actors([ChildSpec("crasher", crasher)], _NoBuilds())  # type: ignore[arg-type]
    with trio.fail_after(30), pytest.raises(SupervisorEscalation) as caught:
        await daemon._serve(svc, actors, None)
    assert caught.value.child == "crasher"
    assert starts == 6  # the first start and five restarts within the window
