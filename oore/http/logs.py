"""Build logs over HTTP and WebSocket.

`GET /api/builds/{id}/log` serves lines from `since` (1-based) as text, or as NDJSON with line
numbers when asked (`Accept: application/x-ndjson`), with `X-Next-Line` for the next request;
`?download=1` gives the whole file. `WS /api/builds/{id}/logs/stream?since=N` sends the lines
from N (catch-up from disk), then live lines as they are written, step changes and heartbeats,
and at the end a message with the build's final status before closing normally.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import trio
from quart import Blueprint, Response, request, send_file, websocket
from quart.wrappers.response import ResponseBody

from oore.errors import Expired, NotFound, ValidationError
from oore.http import present
from oore.http.services import Services, services
from oore.http.wsauth import close_with, websocket_principal
from oore.logs.hub import DISK_SLICE_LINES, LogHub
from oore.logs.logfile import Batch, paths
from oore.logs.wire import encode_lines
from oore.model import Build
from oore.primitives import Subscription
from oore.store.changes import Change, ChangeKind

blueprint = Blueprint("logs", __name__)

HEARTBEAT_SECONDS = 15.0
WAIT_POLL_SECONDS = 0.5
NDJSON = "application/x-ndjson"


@blueprint.get("/api/builds/<build_id>/log")
async def get_log(build_id: str) -> Response:
    svc = services()
    build = await svc.store.get_build(build_id)
    if build.log_expired_at is not None:
        raise Expired(log_expired(build))
    if request.args.get("download"):
        return await _download(svc, build_id)
    since = _int_arg("since", 1, low=1)
    step = _int_arg("step", None, low=-1)
    # Up to what is on disk now, so X-Next-Line is exact; streamed a slice at a time.
    next_line = max(await svc.log_hub.lines_on_disk(build_id) + 1, since)
    as_ndjson = NDJSON in request.headers.get("Accept", "")

    body = _LogBody(svc.log_hub, build_id, since, next_line, step, as_ndjson)
    first = await body.slice()
    # A log that fits in one slice goes out whole (with a Content-Length); a longer one is
    # streamed a slice at a time, so a 200 MiB log never sits in memory.
    whole = body.position >= next_line
    response = Response(first if whole else body.starting_with(first))
    response.mimetype = NDJSON if as_ndjson else "text/plain"
    response.headers["X-Next-Line"] = str(next_line)
    return response


async def _download(svc: Services, build_id: str) -> Response:
    text_path = paths(svc.log_hub.logs_dir, build_id)[0]
    if not await trio.Path(text_path).exists():
        raise NotFound(f"build {build_id} has no log")
    return await send_file(
        text_path, mimetype="text/plain", as_attachment=True, attachment_filename=f"{build_id}.log"
    )


class _LogBody(ResponseBody):
    """Lines since..until-1 read from disk a slice per iteration (not an async generator:
    Quart iterates response bodies outside the handler's task)."""

    def __init__(
        self, hub: LogHub, build_id: str, since: int, until: int, step: int | None, ndjson: bool
    ) -> None:
        self.hub = hub
        self.build_id = build_id
        self.position = since
        self.until = until
        self.step = step
        self.ndjson = ndjson
        self._first: bytes | None = None

    def starting_with(self, first: bytes) -> _LogBody:
        self._first = first
        return self

    async def slice(self) -> bytes:
        """The next slice's bytes (b"" at the end)."""
        while self.position < self.until:
            last = min(self.until, self.position + DISK_SLICE_LINES)
            batches = await self.hub.on_disk(self.build_id, self.position, last)
            if not batches:
                self.position = self.until
                break
            self.position = batches[-1].first + batches[-1].count
            chosen = [b for b in batches if self.step is None or b.step == self.step]
            data = b"".join(_ndjson(b) if self.ndjson else b.text for b in chosen)
            if data:
                return data
        return b""

    async def __aenter__(self) -> _LogBody:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __aiter__(self) -> _LogBody:
        return self

    async def __anext__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            if first:
                return first
        data = await self.slice()
        if not data:
            raise StopAsyncIteration
        return data


def log_expired(build: Build) -> str:
    return (
        f"the log of build {build.id} expired on {build.log_expired_at}: logs are kept for "
        "OORE_RETENTION_LOGS_DAYS days, except those of the newest OORE_RETENTION_KEEP_BUILDS "
        "builds of each workflow; the build's status and steps are kept"
    )


def _ndjson(batch: Batch) -> bytes:
    lines = batch.text.decode("utf-8", "replace").split("\n")[:-1]
    return b"".join(
        json.dumps(
            {"n": batch.first + i, "step": batch.step, "stream": batch.stream, "text": line}
        ).encode()
        + b"\n"
        for i, line in enumerate(lines)
    )


def _int_arg(name: str, default: int | None, *, low: int) -> Any:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(name, "must be a whole number") from None
    if value < low:
        raise ValidationError(name, f"must be at least {low}")
    return value


@blueprint.websocket("/api/builds/<build_id>/logs/stream")
async def stream_log(build_id: str) -> None:
    svc = services()
    if await websocket_principal() is None:
        return
    try:
        build = await svc.store.get_build(build_id)
    except NotFound:
        await close_with(4404, f"build {build_id} not found")
        return
    if build.log_expired_at is not None:
        await close_with(4410, log_expired(build))
        return
    try:
        since = max(int(websocket.args.get("since", "1")), 1)
    except ValueError:
        await close_with(4400, "since must be a whole number")
        return
    await websocket.accept()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_heartbeats, svc, build_id)
        nursery.start_soon(_step_changes, svc, build_id)
        final = await _send_lines(svc, build_id, since)
        await _send(
            {"type": "end", "status": str(final.status), "next": await _next(svc, build_id)}
        )
        nursery.cancel_scope.cancel()
    await websocket.close(1000, str(final.status))


async def _send_lines(svc: Services, build_id: str, since: int) -> Build:
    """Send every line from `since` until the build is over and its log complete."""
    position = since
    with svc.changes.subscribe() as changes:
        while True:
            build = await svc.store.get_build(build_id)
            if svc.log_hub.is_live(build_id) or build.status.finished:
                async with aclosing(svc.log_hub.follow(build_id, position)) as lines:
                    async for batch in lines:
                        position = batch.first + batch.count
                        await websocket.send(_lines_message(batch))
                build = await svc.store.get_build(build_id)
                if build.status.finished and not svc.log_hub.is_live(build_id):
                    return build
            # Queued, or between its log closing and its final status: wait for its next change.
            await _next_change(changes, build_id)


async def _next_change(changes: Subscription[Change], build_id: str) -> None:
    with trio.move_on_after(WAIT_POLL_SECONDS):  # also a safety net, should a change be missed
        async for change in changes:
            about = change.build.id if change.build else change.step and change.step.build_id
            if about == build_id:
                return


class _RecentFrames:
    """The last few batches' messages, by identity: every viewer keeping up with a live build
    is sent the same batch objects, so each is encoded once. (Not by value: hashing a 512 KiB
    batch for every viewer cost more than the encoding saved.)"""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._frames: OrderedDict[int, tuple[Batch, bytes]] = OrderedDict()

    def __call__(self, batch: Batch) -> bytes:
        found = self._frames.get(id(batch))
        if found is not None and found[0] is batch:
            return found[1]
        frame = encode_lines(batch)
        self._frames[id(batch)] = (batch, frame)  # holding the batch keeps its id unique
        if len(self._frames) > self.size:
            self._frames.popitem(last=False)
        return frame


_lines_message = _RecentFrames()


async def _heartbeats(svc: Services, build_id: str) -> None:
    while True:
        await trio.sleep(HEARTBEAT_SECONDS)
        await _send({"type": "heartbeat", "next": await _next(svc, build_id)})


async def _step_changes(svc: Services, build_id: str) -> None:
    with svc.changes.subscribe() as changes:
        async for change in changes:
            if change.step is not None and change.step.build_id == build_id:
                await _send({"type": "step", "step": present.step(change.step)})


async def _next(svc: Services, build_id: str) -> int:
    return await svc.log_hub.lines_on_disk(build_id) + 1


async def _send(message: dict[str, Any]) -> None:
    await websocket.send(json.dumps(message))


@blueprint.websocket("/api/events")
async def events() -> None:
    """Build created / changed, step changed and queue changed, as they are committed."""
    svc = services()
    if await websocket_principal() is None:
        return
    await websocket.accept()
    with svc.changes.subscribe(buffer=256, accept=_about_builds) as changes:
        async for change in _with_heartbeats(changes):
            if change is None:
                await _send({"type": "heartbeat"})
                continue
            if changes.take_lagged():
                # Fell behind: what was dropped is in the store; tell the client to re-read it.
                await _send({"type": "resync"})
            await _send(_change_message(change))


async def _with_heartbeats(changes: Any) -> AsyncIterator[Change | None]:
    while True:
        with trio.move_on_after(HEARTBEAT_SECONDS) as idle:
            change = await changes.receive.receive()
        yield None if idle.cancelled_caught else change


def _about_builds(change: Change) -> bool:
    # Repository changes are for in-process caches (the webhook intake), resends for the
    # notifier: not for this stream.
    return change.kind not in {ChangeKind.REPOSITORY_CHANGED, ChangeKind.NOTIFICATIONS_CHANGED}


def _change_message(change: Change) -> dict[str, Any]:
    message: dict[str, Any] = {"type": change.kind}
    if change.build is not None:
        message["build"] = present.build_summary(change.build)
    if change.step is not None:
        message["build_id"] = change.step.build_id
        message["step"] = present.step(change.step)
    if change.queue is not None:
        message["queue"] = change.queue
    return message
