"""Failures are one line on stderr saying what went wrong and what to do, with their own exit
code, and never a traceback."""

from __future__ import annotations

from oore.cli.client.errors import ExitCode
from tests.cli.harness import Oore, one_line_error, together
from tests.cli.test_profiles import dead_url


async def test_an_unreachable_server(oore: Oore) -> None:
    url = dead_url()
    result, unknown, not_http, follow = await together(
        oore.with_env(OORE_SERVER=url)("repo", "list"),
        oore("--server", "http://no-such-host.invalid:8080", "health"),
        oore("--server", "ftp://example.com", "health"),
        oore.with_env(OORE_SERVER=url)("build", "logs", "-f", "01NOSUCHBUILD0000000000000"),
    )
    assert result.code == ExitCode.UNREACHABLE
    assert one_line_error(result) == (
        f"oore: cannot reach {url}: connection refused. Is oored running? "
        "Check --server/OORE_SERVER"
    )
    assert unknown.code == ExitCode.UNREACHABLE
    assert one_line_error(unknown).startswith(
        "oore: cannot reach http://no-such-host.invalid:8080: unknown host."
    )
    assert not_http.code == ExitCode.INVALID
    assert "must be an http:// or https:// URL" in one_line_error(not_http)
    # Following waits for a server that went away, not for one that was never there.
    assert follow.code == ExitCode.UNREACHABLE
    assert one_line_error(follow).startswith(f"oore: cannot reach {url}: connection refused.")


async def test_a_bad_or_missing_token(oore: Oore) -> None:
    bad, missing = await together(
        oore("--token", "oore_wrong", "build", "list"), oore.without("OORE_TOKEN")("build", "list")
    )
    assert bad.code == ExitCode.AUTH
    assert one_line_error(bad) == (
        "oore: the server rejected the token; run `oore login` or set OORE_TOKEN"
    )
    assert missing.code == ExitCode.AUTH
    assert one_line_error(missing) == "oore: this needs a token; run `oore login` or set OORE_TOKEN"


async def test_not_found_and_invalid_input(oore: Oore) -> None:
    missing, invalid, short = await together(
        oore("build", "show", "01NOSUCHBUILD0000000000000"),
        oore(
            "repo", "add", "acme/app", "--clone-url", "--not-a-url", "--webhook-secret", "12345678"
        ),
        oore(
            "repo",
            "add",
            "acme/app",
            "--clone-url",
            "https://x.test/a.git",
            "--webhook-secret",
            "x",
        ),
    )
    assert missing.code == ExitCode.NOT_FOUND
    assert one_line_error(missing) == "oore: not found: build 01NOSUCHBUILD0000000000000 not found"

    assert invalid.code == ExitCode.INVALID
    assert one_line_error(invalid).startswith("oore: invalid input: clone_url: ")

    assert short.code == ExitCode.INVALID
    assert one_line_error(short) == (
        "oore: invalid input: webhook_secret: must be at least 8 characters"
    )
