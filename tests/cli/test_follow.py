"""`oore build logs -f` follows a build to its end through dropped connections and a server that
goes away for a while, printing every line exactly once, then the final status."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import trio

from oore.cli.client.errors import ExitCode
from tests.cli.conftest import Registered
from tests.cli.harness import Oore, Running
from tests.cli.proxy import Proxy
from tests.e2e.daemon import Daemon

FINAL = re.compile(r"build #\d+ \(\w+\) (\w+) after [\d.]+s")


async def start(api: httpx.AsyncClient, repo: Registered, workflow: str) -> dict[str, str]:
    response = await api.post(
        f"/api/repositories/{repo.id}/builds", json={"workflow": workflow, "branch": "main"}
    )
    assert response.status_code == 201, response.text
    build: dict[str, str] = response.json()
    return build


async def test_follow_survives_two_server_outages(
    oore: Oore, server: Daemon, api: httpx.AsyncClient, app_repo: Registered
) -> None:
    proxy = Proxy(urlsplit(server.url).port or 0)
    async with trio.open_nursery() as nursery:
        await nursery.start(proxy.run)
        build = await start(api, app_repo, "slow")
        follower = Running(
            oore.with_env(OORE_SERVER=proxy.url),
            *("build", "logs", "-f", build["id"], "--interval", "0.1"),
        )
        await nursery.start(follower.run)

        for after_line in (5, 12):  # the stream is cut mid-build, twice
            await follower.seen(f"line {after_line}\n")
            proxy.stop()  # every connection dropped; new ones refused for a second
            await trio.sleep(1.0)
            await nursery.start(proxy.run)

        result = await follower.result()
        proxy.stop()

    assert result.code == ExitCode.OK, result.err
    log = (await api.get(f"/api/builds/{build['id']}/log")).text
    body, _, last = result.out.rstrip("\n").rpartition("\n")
    assert body + "\n" == log  # all of it, each line once, in order
    counted = [line for line in body.splitlines() if re.fullmatch(r"line \d+", line)]
    assert counted == [f"line {i}" for i in range(1, 41)]
    found = FINAL.fullmatch(last)
    assert found, last
    assert found.group(1) == "succeeded"
    assert proxy.starts == 3
    assert result.err.count("retrying") == 2, result.err
    assert result.err.count("reconnected") == 2, result.err


async def test_follow_of_a_finished_build_prints_it_and_exits_with_its_code(
    oore: Oore, api: httpx.AsyncClient, app_repo: Registered
) -> None:
    failed = await oore("--json", "build", "trigger", app_repo.full_name, "-w", "fail", "--wait")
    build_id = failed.json()["id"]
    log = (await api.get(f"/api/builds/{build_id}/log")).text

    followed = await oore("build", "logs", "-f", build_id)
    assert followed.code == ExitCode.BUILD_FAILED
    body, _, last = followed.out.rstrip("\n").rpartition("\n")
    assert body + "\n" == log
    found = FINAL.fullmatch(last)
    assert found, last
    assert found.group(1) == "failed"

    since = await oore("build", "logs", build_id, "--since", "3")
    assert since.out == "".join(log.splitlines(keepends=True)[2:])
