"""A real `oored run` in a subprocess, on 127.0.0.1 port 0, with its own data dir."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import trio

START_TIMEOUT = 20.0


class Daemon:
    def __init__(self, home: Path, **env: str) -> None:
        self.home = home
        self.data_dir = home / "data"
        self.ready_file = home / "ready.json"
        self.log_path = home / "oored.log"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "OORE_DATA_DIR": str(self.data_dir),
            "OORE_BIND": "127.0.0.1:0",
            "OORE_SHUTDOWN_GRACE": "5",
            # A test machine short of disk must not make every build wait (test_disk_guard.py
            # sets it on purpose).
            "OORE_MIN_FREE_DISK": "0",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def admin_token(self) -> str:
        return self.env.get("OORE_ADMIN_TOKEN") or (self.data_dir / "admin-token").read_text()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token.strip()}"}

    @staticmethod
    def command_prefix() -> list[str]:
        """How to run `oored` (this interpreter, this checkout), before its subcommand."""
        return [sys.executable, "-m", "oore.cli.daemon"]

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        self.ready_file.unlink(missing_ok=True)
        command = [*self.command_prefix(), "run", "--ready-file"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, str(self.ready_file), *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self.process

    async def start(self, *args: str) -> Daemon:
        process = self.spawn(*args)
        with trio.fail_after(START_TIMEOUT):
            while not self.ready_file.exists() or not self.ready_file.read_text():
                if process.poll() is not None:
                    raise RuntimeError(f"oored exited {process.returncode}:\n{self.log()}")
                await trio.sleep(0.05)
        self.url = json.loads(self.ready_file.read_text())["url"]
        return self

    # A test harness bounding its own waits: the deadline is the call's whole point here.
    async def wait_exit(self, timeout: float) -> int:  # noqa: ASYNC109
        assert self.process is not None
        with trio.fail_after(timeout):
            # A Popen cannot be awaited; polling its exit status is the only way.
            while self.process.poll() is None:  # noqa: ASYNC110
                await trio.sleep(0.02)
        return self.process.returncode

    async def stop(self, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return await self.wait_exit(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
