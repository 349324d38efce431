"""Running git: a clean, prompt-free environment and process-group cancellation.

Git never inherits the daemon's environment (admin token, encryption key, ``SSH_AUTH_SOCK``,
a stray ``GIT_DIR``): `git_env` builds it from scratch. Git must never wait for a human, so
terminal prompts are off, askpass answers nothing and ssh runs in batch mode. Each git runs in its
own session, with no controlling terminal, and a cancelled git is stopped with its whole process
group, because a fetch runs helpers (``git-remote-https``, ``ssh``, ``upload-pack``) that would
otherwise keep the output pipes open after git itself is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence

import trio

from oore.git.errors import GitError, stderr_tail

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
KILL_GRACE = 2.0

NO_PROMPT = {
    "GIT_TERMINAL_PROMPT": "0",
    # Resolved through PATH: /bin/true does not exist on macOS, /usr/bin/true does.
    "GIT_ASKPASS": "true",
    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
}

SAFE_CONFIG = (
    # Hooks are code from whoever wrote the repository's config; a mirror or workspace runs none.
    "core.hooksPath=/dev/null",
    # Credentials come from the provider integration, never from a helper that may pop up a
    # keychain dialog on a headless machine (Apple's git enables osxkeychain system-wide).
    "credential.helper=",
    # An auto-gc after a fetch must stay inside our process group and our time bound.
    "gc.autoDetach=false",
    "maintenance.autoDetach=false",
)


def git_env() -> dict[str, str]:
    """The whole environment git runs with: PATH, HOME, LANG and our GIT_* settings only."""
    env = {"PATH": os.environ.get("PATH") or DEFAULT_PATH, "LANG": "C", **NO_PROMPT}
    home = os.environ.get("HOME")
    if home:
        env["HOME"] = home
    return env


def git_command(args: Sequence[str]) -> list[str]:
    command = ["git"]
    for setting in SAFE_CONFIG:
        command += ["-c", setting]
    return [*command, *args]


async def run_git(
    args: Sequence[str], *, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run git with `args` (and `env` over `git_env`: how a credential reaches git, see
    `oore.git.credentials`); the caller checks the exit code and bounds the time."""
    return await trio.run_process(
        git_command(args),
        stdin=b"",
        capture_stdout=True,
        capture_stderr=True,
        check=False,
        env={**git_env(), **(env or {})},
        start_new_session=True,
        deliver_cancel=_kill_group,
    )


async def git_output(args: Sequence[str], what: str, hint: str = "") -> bytes:
    """git's stdout; a non-zero exit raises GitError naming `what` failed, then `hint`."""
    result = await run_git(args)
    if result.returncode != 0:
        raise GitError(failure(what, result, hint))
    return result.stdout


def failure(what: str, result: subprocess.CompletedProcess[bytes], hint: str = "") -> str:
    advice = f" {hint}" if hint else ""
    said = stderr_tail(result.stderr)
    return f"{what} failed (git exit {result.returncode}).{advice} git said: {said}"


async def _kill_group(process: trio.Process) -> None:
    _signal_group(process.pid, signal.SIGTERM)
    await trio.sleep(KILL_GRACE)
    _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # already gone
