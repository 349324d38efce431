"""`build trigger --wait` (and `retry --wait`) gate scripts: exit 0 when the build succeeded,
1 when it failed, 2 when it was cancelled (or errored, timed out, skipped)."""

from __future__ import annotations

import re

import httpx
import trio

from oore.cli.client.errors import ExitCode
from tests.cli.conftest import Registered
from tests.cli.harness import Oore, Result, started_id

WAIT = ("--wait", "--interval", "0.1")


async def test_wait_exits_0_on_success_and_1_on_failure(oore: Oore, app_repo: Registered) -> None:
    async with trio.open_nursery() as nursery:
        results: dict[str, Result] = {}

        async def trigger(workflow: str) -> None:
            results[workflow] = await oore(
                "build", "trigger", app_repo.full_name, "-w", workflow, *WAIT
            )

        nursery.start_soon(trigger, "ok")
        nursery.start_soon(trigger, "fail")
    ok, failed = results["ok"], results["fail"]
    assert ok.code == ExitCode.OK, ok.err
    assert failed.code == ExitCode.BUILD_FAILED, failed.err
    assert re.fullmatch(r"build #\d+ \(\w+\) succeeded after [\d.]+s", ok.lines()[-1])
    assert re.fullmatch(r"build #\d+ \(\w+\) failed after [\d.]+s", failed.lines()[-1])
    assert "build #" in failed.err  # the statuses it went through, for the person watching

    retried = await oore("build", "retry", started_id(failed), *WAIT)
    assert retried.code == ExitCode.BUILD_FAILED
    assert "attempt 2" in retried.out


async def test_wait_exits_2_when_the_build_is_cancelled(
    oore: Oore, api: httpx.AsyncClient, app_repo: Registered
) -> None:
    result: list[Result] = []

    async def wait_for_hang() -> None:
        result.append(await oore("build", "trigger", app_repo.full_name, "-w", "hang", *WAIT))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait_for_hang)
        with trio.fail_after(30):
            while True:  # the build appears, then runs
                listed = await api.get("/api/builds", params={"workflow": "hang", "limit": 1})
                items = listed.json()["items"]
                if items and items[0]["status"] == "running":
                    break
                await trio.sleep(0.05)
        cancelled = await oore("build", "cancel", items[0]["id"])
        assert cancelled.code == 0, cancelled.err
        assert f"cancelling build #{items[0]['number']}" in cancelled.out
    assert result[0].code == ExitCode.BUILD_NOT_SUCCEEDED, result[0].err
    assert " cancelled after " in result[0].lines()[-1]

    finished = await oore("build", "cancel", items[0]["id"])  # too late: it is over
    assert finished.code == ExitCode.INVALID
    assert finished.err.startswith("oore: the server refused the request: ")


async def test_json_wait_prints_the_final_build_object(
    oore: Oore, api: httpx.AsyncClient, app_repo: Registered
) -> None:
    done = await oore("--json", "build", "trigger", app_repo.full_name, "-w", "fail", *WAIT)
    assert done.code == ExitCode.BUILD_FAILED
    build = done.json()  # stdout is the object alone
    assert build["status"] == "failed"
    assert build == (await api.get(f"/api/builds/{build['id']}")).json()
