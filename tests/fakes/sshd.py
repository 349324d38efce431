"""A git host over SSH on loopback: a test-owned OpenSSH `sshd` serving repositories by path.

It has its own host key, reads no system configuration, accepts only public-key logins of the
current user with the keys a test authorises (`authorize`), and runs the command git asks for
(``git-upload-pack '/path'``), so a repository at an absolute path is cloned as
``ssh://USER@127.0.0.1:PORT/path``. Tests skip where `/usr/sbin/sshd` is not installed
(`.ci/run` installs openssh-server). sshd runs in the foreground (`-D`) and logs to stderr
(`-e`), which the test keeps for its assertions.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT = 10.0
PRIVSEP_DIR = Path("/run/sshd")  # sshd started by root chroots its pre-auth child here

needs_sshd = pytest.mark.skipif(not SSHD.exists(), reason="openssh-server is not installed")


@dataclass(slots=True)
class Sshd:
    home: Path
    port: int
    user: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def authorized_keys(self) -> Path:
        return self.home / "authorized_keys"

    @property
    def host_public_key(self) -> str:
        return (self.home / "host_ed25519.pub").read_text().strip()

    def url(self, path: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"

    def authorize(self, public_key: str) -> None:
        """Let `public_key` (an OpenSSH public key line) log in, for no more than commands."""
        with self.authorized_keys.open("a") as keys:
            keys.write(f"restrict {public_key.strip()}\n")

    def log(self) -> str:
        path = self.home / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)


def _free_port() -> int:
    # sshd takes no port 0; the moment between closing this and sshd binding is the race.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _config(home: Path, port: int, user: str) -> str:
    return "\n".join(
        [
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {home / 'host_ed25519'}",
            f"PidFile {home / 'sshd.pid'}",
            f"AuthorizedKeysFile {home / 'authorized_keys'}",
            f"AllowUsers {user}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",  # tmp_path's modes are the test runner's, not a home's
            "LogLevel VERBOSE",
            "",
        ]
    )


async def start_sshd(home: Path) -> Sshd:
    """An sshd listening on 127.0.0.1, ready to accept connections; `stop()` it after."""
    sshd = await trio.to_thread.run_sync(spawn_sshd, home)
    try:
        await _wait_listening(sshd)
    except BaseException:
        sshd.stop()
        raise
    return sshd


def spawn_sshd(home: Path) -> Sshd:
    home.mkdir(parents=True, exist_ok=True)
    keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / "host_ed25519")]
    subprocess.run(keygen, capture_output=True, check=True)
    (home / "authorized_keys").touch()
    if os.geteuid() == 0:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)  # what sshd's service unit would create
    user = getpass.getuser()
    port = _free_port()
    (home / "sshd_config").write_text(_config(home, port, user))
    with (home / "sshd.log").open("ab") as log:
        process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(home / "sshd_config")],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
    return Sshd(home, port, user, process)


async def _wait_listening(sshd: Sshd) -> None:
    with trio.fail_after(START_TIMEOUT):
        while True:
            assert sshd.process is not None
            if sshd.process.poll() is not None:
                raise RuntimeError(f"sshd exited {sshd.process.returncode}:\n{sshd.log()}")
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", sshd.port)
            except OSError:
                await trio.sleep(0.05)
                continue
            await stream.aclose()
            return
