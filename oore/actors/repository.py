"""RepositorySupervisor: receives triggers and turns them into builds.

For now it records each trigger on its webhook event (state `processed`) and logs it; mirrors,
pipeline matching and builds arrive with the build-execution work. The record is a guarded write
(only a still-pending event is closed), which is what makes a redelivered trigger count once.
"""

from __future__ import annotations

import logging

import trio

from oore.actors.messages import TriggerReceived
from oore.model import EventState
from oore.store.base import Store

log = logging.getLogger("oore.actors.repository")

RECORDED = "trigger recorded; build execution is not available in this version yet"


class RepositorySupervisor:
    def __init__(self, store: Store, inbox: trio.MemoryReceiveChannel[TriggerReceived]) -> None:
        self.store = store
        self.inbox = inbox

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for message in self.inbox:
            await self.handle(message)

    async def handle(self, message: TriggerReceived) -> None:
        trigger = message.trigger
        recorded = await self.store.finish_event(
            message.event_id,
            EventState.PROCESSED,
            RECORDED,
            message.repository_id,
            trigger.to_json(),
        )
        if recorded:
            log.info(
                "trigger %s %s/%s %s %s (event %s)",
                trigger.kind,
                trigger.repo_owner,
                trigger.repo_name,
                trigger.branch or trigger.tag or "",
                trigger.sha[:12],
                message.event_id,
            )
