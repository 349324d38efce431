"""Process-wide interpreter tuning for the `oored` process, applied by `oored run` only.

It changes the whole interpreter (every thread, every module's objects), so it belongs to the
process's entry point, not to `oore.daemon.run`, which tests call in-process (freezing pytest's
own heap would skew every test after). The figures behind both settings are in
bench/RESULTS.md ("Webhook intake" and "Live logs").
"""

from __future__ import annotations

import gc
import sys

# How long a worker thread (the log writer, the store's writer) may hold the GIL while the event
# loop waits for it after a socket call: Python's 5 ms default makes every send to a viewer wait
# behind a busy log writer.
SWITCH_INTERVAL = 0.0005
GC_THRESHOLDS = (10000, 20, 20)


def tune_interpreter() -> None:
    """Before start: short GIL hand-offs."""
    sys.setswitchinterval(SWITCH_INTERVAL)


def settle_garbage_collector() -> None:
    """Once serving: keep the cyclic garbage collector's full passes short.

    Everything alive once the daemon is up (modules, the app, the actors) lives as long as the
    process: frozen, a full pass no longer walks it (full passes over it were the acknowledgement
    tail under a webhook burst).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
