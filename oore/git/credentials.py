"""Handing a `GitCredential` to the git processes of one fetch, through their environment only.

An HTTP credential becomes an ``Authorization`` header set with ``GIT_CONFIG_COUNT`` (git reads it
as ``http.extraHeader``; it never reaches an argv, and the daemon's environment is not
inherited, see `oore.git.process`). An SSH key is written to a file readable only by the daemon,
in a fresh private directory that is removed when the fetch ends, and named by
``GIT_SSH_COMMAND``. ssh then reads no user configuration and no agent, offers only that key,
never asks anything, and pins the host key on first use in a known_hosts file of Oore's own.
"""

from __future__ import annotations

import base64
import functools
import os
import shlex
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from oore.git.auth import GitCredential
from oore.git.names import origin_of

CLEANUP_SECONDS = 5.0
KNOWN_HOSTS = "known_hosts"


def http_env(authorization: str, origin: str) -> dict[str, str]:
    """git's environment sending ``Authorization: <authorization>`` on HTTP requests to URLs
    under `origin` (``scheme://host[:port]``; git matches ``http.<url>.*`` by prefix). Redirects
    are not followed: git picks the header for the URL it started with and would send it on to
    wherever a redirect points (a moved repository's new URL is for its owner to register)."""
    return {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": f"http.{origin}/.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: {authorization}",
        "GIT_CONFIG_KEY_1": f"http.{origin}/.followRedirects",
        "GIT_CONFIG_VALUE_1": "false",
    }


def ssh_env(key: Path, known_hosts: Path) -> dict[str, str]:
    """git's environment running ssh with only `key`, pinning host keys in `known_hosts`."""
    options = {
        "IdentitiesOnly": "yes",
        "IdentityAgent": "none",
        "BatchMode": "yes",
        # The first fetch records the host's key; a later change of key is refused.
        "StrictHostKeyChecking": "accept-new",
        # ssh splits an option's value at spaces unless it is quoted (macOS data dirs have one).
        "UserKnownHostsFile": f'"{known_hosts}"',
    }
    command = ["ssh", "-F", "/dev/null", "-i", str(key)]
    for name, value in options.items():
        command += ["-o", f"{name}={value}"]
    return {"GIT_SSH_COMMAND": shlex.join(command), "GIT_SSH_VARIANT": "ssh"}


@asynccontextmanager
async def credential_env(
    credential: GitCredential | None, url: str, ssh_dir: Path
) -> AsyncIterator[dict[str, str]]:
    """The environment git needs to fetch `url` with `credential` (nothing for None) while the
    block runs. `ssh_dir` holds Oore's known_hosts and, during the block, the key file."""
    if credential is None:
        yield {}
    elif credential.http_authorization is not None:
        yield http_env(credential.http_authorization, origin_of(url))
    else:
        assert credential.ssh_private_key is not None  # GitCredential holds exactly one
        key_dir = await trio.to_thread.run_sync(_write_key, ssh_dir, credential.ssh_private_key)
        try:
            yield ssh_env(key_dir / "id", ssh_dir / KNOWN_HOSTS)
        finally:
            # Shielded: a cancelled fetch must not leave the key on disk.
            with trio.CancelScope(shield=True, deadline=trio.current_time() + CLEANUP_SECONDS):
                remove = functools.partial(shutil.rmtree, key_dir, ignore_errors=True)
                await trio.to_thread.run_sync(remove)


def _write_key(ssh_dir: Path, key: bytes) -> Path:
    if '"' in str(ssh_dir):
        raise ValueError(f"ssh cannot be given a path with a double quote: {ssh_dir}")
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(ssh_dir, 0o700)
    key_dir = Path(tempfile.mkdtemp(prefix="key-", dir=ssh_dir))  # mode 0700
    fd = os.open(key_dir / "id", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(key)
    return key_dir


def remove_stale_keys(ssh_dir: Path) -> None:
    """Remove key files a killed daemon left behind (call before any fetch starts)."""
    if not ssh_dir.is_dir():
        return
    for entry in ssh_dir.glob("key-*"):
        shutil.rmtree(entry, ignore_errors=True)


def secret_forms(authorization: str) -> tuple[str, ...]:
    """Every form of the secret in an Authorization value a build log could show: the value,
    its credentials part, and for Basic the decoded ``user:password`` and the password."""
    scheme, _, value = authorization.partition(" ")
    forms = [authorization, value]
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            decoded = ""
        forms += [decoded, decoded.partition(":")[2]]
    return tuple(form for form in forms if form)
