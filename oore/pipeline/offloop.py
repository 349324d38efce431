"""`load` and `validate` for the daemon: in a worker thread, never on the trio event loop.

Reading a file is pure Python (PyYAML's composer): a hostile file of anchors takes seconds
(bench/RESULTS.md, "Figures behind design notes"), and on the event loop that stalled every
request and actor. In a thread the loop keeps running;
the reading itself stops at its time budget (checked as it goes, since a thread can't be killed),
so a cancelled caller leaves a thread that ends within `seconds` on its own. Two readers at a time:
they share the GIL, so more would only slow each other down.
"""

from __future__ import annotations

from functools import partial

import trio

from oore.pipeline.report import Report, load, validate
from oore.pipeline.spec import Pipeline
from oore.pipeline.ynodes import PARSE_SECONDS

_READERS: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar("pipeline_readers")


def _limiter() -> trio.CapacityLimiter:
    # One per trio run: a limiter belongs to the run whose tasks borrow it.
    try:
        return _READERS.get()
    except LookupError:
        limiter = trio.CapacityLimiter(2)
        _READERS.set(limiter)
        return limiter


async def load_off_loop(
    text: str, file: str = "codemagic.yaml", seconds: float = PARSE_SECONDS
) -> Pipeline:
    """`load` in a worker thread: the pipeline, or `InvalidPipeline` (also for over budget)."""
    return await trio.to_thread.run_sync(
        partial(load, text, file, seconds), limiter=_limiter(), abandon_on_cancel=True
    )


async def validate_off_loop(
    text: str, file: str = "codemagic.yaml", seconds: float = PARSE_SECONDS
) -> Report:
    """`validate` in a worker thread."""
    return await trio.to_thread.run_sync(
        partial(validate, text, file, seconds), limiter=_limiter(), abandon_on_cancel=True
    )
