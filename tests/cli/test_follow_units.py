"""The parts of following a build that need no server: which lines of a log answer are new (for
a server that honours `?since=` and for one that sends the whole log), and the backoff that
rides out a restarting server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio

from oore.cli.client.errors import CliError, ExitCode
from oore.cli.client.follow import Reconnect, new_lines

LOG = "one\ntwo\nthree\nfour"  # "four" has no newline yet


def test_a_server_that_honours_since_sends_only_new_lines() -> None:
    assert new_lines("three\nfour", True, 3, final=False) == ["three"]
    assert new_lines("three\nfour", True, 3, final=True) == ["three", "four"]
    assert new_lines("", True, 5, final=True) == []


def test_a_whole_log_is_cut_at_the_position() -> None:
    assert new_lines(LOG, False, 1, final=False) == ["one", "two", "three"]
    assert new_lines(LOG, False, 3, final=False) == ["three"]
    assert new_lines(LOG, False, 4, final=False) == []
    assert new_lines(LOG, False, 4, final=True) == ["four"]
    assert new_lines(LOG + "\n", False, 5, final=True) == []
    assert new_lines(LOG, False, 9, final=True) == []  # a log that shrank prints nothing twice


def flaky(failures: int, error: CliError) -> Callable[[], Awaitable[str]]:
    """A call that fails `failures` times with `error`, then answers "ok"."""
    left = [failures]

    async def call() -> str:
        await trio.lowlevel.checkpoint()
        if left[0]:
            left[0] -= 1
            raise error
        return "ok"

    return call


DOWN = CliError("cannot reach x", ExitCode.UNREACHABLE, transient=True)


async def test_reconnect_backs_off_until_the_server_is_back(autojump_clock: trio.abc.Clock) -> None:
    notes: list[str] = []
    reconnect = Reconnect(notes.append, contacted=True)
    started = trio.current_time()
    assert await reconnect(flaky(5, DOWN)) == "ok"
    assert trio.current_time() - started == pytest.approx(0.2 + 0.4 + 0.8 + 1.6 + 3.2)
    assert notes == ["cannot reach x; retrying", "reconnected"]  # once per outage


async def test_reconnect_gives_up_after_its_patience(autojump_clock: trio.abc.Clock) -> None:
    reconnect = Reconnect(lambda _: None, contacted=True, patience=30)
    with pytest.raises(CliError) as raised:
        await reconnect(flaky(1000, DOWN))
    assert raised.value.code == ExitCode.UNREACHABLE
    assert 30 < trio.current_time() < 40


async def test_reconnect_does_not_wait_for_what_is_not_a_restart(
    autojump_clock: trio.abc.Clock,
) -> None:
    never_seen = Reconnect(lambda _: None)  # no answer yet: a wrong --server, most likely
    with pytest.raises(CliError):
        await never_seen(flaky(1, DOWN))
    refused = CliError("not found", ExitCode.NOT_FOUND)
    with pytest.raises(CliError):
        await Reconnect(lambda _: None, contacted=True)(flaky(1, refused))
    assert trio.current_time() == 0
