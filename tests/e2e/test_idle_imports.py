"""An idle `oored run` holds no library it needs only once work arrives (issue 15: idle RSS).

httpx (outbound calls), cryptography (sealing: the key is checked by its fingerprint) and PyYAML
(pipelines) cost about 12 MiB together; they are imported at the first fetch, secret or pipeline.
The real daemon runs under a small harness that writes its `sys.modules` once it is ready; the
first start (a new database) and a restart on the same data are both checked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from tests.e2e.daemon import Daemon

LOADED_ON_FIRST_USE = ("httpx", "cryptography", "yaml", "oore.http.openapi.spec")
# The harness is run as a script, so without this `oore` would come from wherever the venv's
# editable install points rather than from this checkout (which `python -m` from here gives).
CHECKOUT = Path(__file__).resolve().parents[2]

HARNESS = """\
import os, runpy, sys, threading, time

def dump():
    ready, out = sys.argv[sys.argv.index("--ready-file") + 1], os.environ["MODULES_DUMP"]
    while not (os.path.exists(ready) and os.path.getsize(ready)):
        time.sleep(0.05)
    time.sleep(1.0)  # past start-up: what the daemon imports while idle counts too
    with open(out + ".part", "w") as f:
        # A None entry is a module blocked, not loaded (oore/__init__.py blocks httpx._main).
        f.write("\\n".join(sorted(n for n, m in list(sys.modules.items()) if m is not None)))
    os.replace(out + ".part", out)

threading.Thread(target=dump, daemon=True).start()
sys.argv[0] = "oored"
runpy.run_module("oore.cli.daemon", run_name="__main__", alter_sys=True)
"""


async def _idle_modules(daemon_factory: type[Daemon], home: Path, harness: Path) -> set[str]:
    dump = home / "modules.txt"
    dump.unlink(missing_ok=True)

    class Harnessed(daemon_factory):  # type: ignore[valid-type,misc]
        @staticmethod
        def command_prefix() -> list[str]:
            return [sys.executable, str(harness)]

    daemon = await Harnessed(home, MODULES_DUMP=str(dump), PYTHONPATH=str(CHECKOUT)).start()
    try:
        with trio.fail_after(10):
            while not dump.exists():  # noqa: ASYNC110 - a file another process writes
                await trio.sleep(0.05)
    finally:
        assert await daemon.stop() == 0, daemon.log()
    return set(dump.read_text().split())


async def test_an_idle_daemon_has_not_loaded_what_it_needs_only_for_work(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    harness = tmp_path / "harness.py"
    harness.write_text(HARNESS)
    for start in ("first start", "restart"):
        modules = await _idle_modules(daemon_factory, tmp_path, harness)
        assert "oore.daemon" in modules, "the harness did not run the daemon"
        loaded = sorted(
            name
            for name in modules
            if any(name == top or name.startswith(top + ".") for top in LOADED_ON_FIRST_USE)
        )
        assert loaded == [], f"{start}: {loaded[:10]}"
