"""`oore build logs` into a reader that stops early (`| head`): a closed stdout ends the command
at once with exit 0, as `git log | head` does, instead of being taken for a lost connection
and retried for minutes."""

from __future__ import annotations

import shlex

import httpx
import trio

from tests.cli.conftest import Registered
from tests.cli.harness import COMMAND, Oore
from tests.e2e.daemon import Daemon

PIPE_TIMEOUT = 20.0


async def start(api: httpx.AsyncClient, repo: Registered, workflow: str) -> str:
    response = await api.post(
        f"/api/repositories/{repo.id}/builds", json={"workflow": workflow, "branch": "main"}
    )
    assert response.status_code == 201, response.text
    build_id: str = response.json()["id"]
    return build_id


async def piped_into_head(oore: Oore, *args: str) -> tuple[int, str, str]:
    """Run `oore ARGS | head -n 1` in bash: oore's exit code, head's output, oore's stderr."""
    command = shlex.join([*COMMAND, *args])
    script = f'{command} 2>oore.err | head -n 1; echo "oore exit ${{PIPESTATUS[0]}}" >&2'
    with trio.fail_after(PIPE_TIMEOUT):
        done = await trio.run_process(
            ["bash", "-c", script],
            cwd=oore.home,
            env=oore.environ(),
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    said = done.stderr.decode().strip().splitlines()
    assert said, done.stderr
    assert said[-1].startswith("oore exit "), done.stderr
    return int(said[-1].split()[-1]), done.stdout.decode(), (oore.home / "oore.err").read_text()


async def test_following_into_head_exits_0_at_once(
    oore: Oore, server: Daemon, api: httpx.AsyncClient, app_repo: Registered
) -> None:
    build_id = await start(api, app_repo, "chatty")
    try:
        code, out, err = await piped_into_head(oore, "build", "logs", "-f", build_id)
        assert code == 0, err
        assert err == ""
        assert len(out.splitlines()) == 1
        # It ended on its own well before the build did (the build prints for a minute).
        status = (await api.get(f"/api/builds/{build_id}")).json()["status"]
        assert status in ("preparing", "running"), status
    finally:
        await api.post(f"/api/builds/{build_id}/cancel")
    # The daemon saw a client go away, nothing more.
    assert "BusyResourceError" not in server.log()


async def test_a_whole_log_into_head_exits_0(oore: Oore, app_repo: Registered) -> None:
    # A log larger than a pipe holds: oore is still writing when head has gone.
    done = await oore("--json", "build", "trigger", app_repo.full_name, "-w", "loud", "--wait")
    assert done.code == 0, done.err
    code, out, err = await piped_into_head(oore, "build", "logs", done.json()["id"])
    assert code == 0, err
    assert err == ""
    assert len(out.splitlines()) == 1
