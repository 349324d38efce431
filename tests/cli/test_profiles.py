"""`oore login` and profiles: the token is checked before anything is saved, the file is 0600,
profiles are selected by flag, environment or default, and flag > env > profile > default."""

from __future__ import annotations

import socket
import stat
import tomllib
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from oore.cli.client import config
from oore.cli.client.errors import ExitCode
from tests.cli.harness import Oore, one_line_error, together
from tests.e2e.daemon import Daemon


def dead_url() -> str:
    """A URL on which nothing listens (a port just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_login_checks_the_token_then_saves_a_0600_profile(oore: Oore, server: Daemon) -> None:
    plain = oore.without("OORE_TOKEN")  # the server still comes from OORE_SERVER
    result = await plain("login", stdin=server.admin_token.strip() + "\n")
    assert result.code == 0, result.err
    assert "logged in to" in result.out
    assert "admin token" in result.out
    assert mode(oore.config_file) == 0o600
    saved = tomllib.loads(oore.config_file.read_text())
    assert saved == {
        "default_profile": "default",
        "profiles": {"default": {"server": server.url, "token": server.admin_token.strip()}},
    }
    # Without OORE_SERVER or OORE_TOKEN, the profile now says where and how to connect.
    bare = plain.without("OORE_SERVER")
    listed = await bare("--json", "repo", "list")
    assert listed.code == 0, listed.err
    assert "items" in listed.json()


async def test_a_rejected_token_is_not_saved(oore: Oore) -> None:
    plain = oore.without("OORE_TOKEN")
    result = await plain("--token", "oore_not-a-real-token-at-all", "login")
    assert result.code == ExitCode.AUTH
    assert one_line_error(result) == (
        "oore: the server rejected the token; run `oore login` or set OORE_TOKEN"
    )
    assert not oore.config_file.exists()

    # With a profile already there, a failed login leaves the file exactly as it was.
    good = await oore("login")
    assert good.code == 0, good.err
    before = oore.config_file.read_bytes()
    again = await plain("--token", "oore_still-wrong-token", "login")
    assert again.code == ExitCode.AUTH
    assert oore.config_file.read_bytes() == before

    unreachable = await plain.with_env(OORE_SERVER=dead_url())(
        "--profile", "x", "--token", "t", "login"
    )
    assert unreachable.code == ExitCode.UNREACHABLE
    assert "x" not in config.load(oore.config_file).profiles


async def test_profiles_are_selected_by_flag_env_or_default(oore: Oore, server: Daemon) -> None:
    plain = oore.without("OORE_TOKEN", "OORE_SERVER")
    token = server.admin_token.strip()
    assert (await plain("--server", server.url, "--token", token, "login")).code == 0
    # `other` is made by hand: a profile pointing at a server that is gone.
    found = config.load(oore.config_file)
    found.profiles["other"] = config.Profile(dead_url(), "whatever-token")
    config.save(oore.config_file, found)

    by_default, by_flag, by_env, missing = await together(
        plain("repo", "list"),  # default_profile = the first login
        plain("--profile", "other", "repo", "list"),
        plain.with_env(OORE_PROFILE="other")("repo", "list"),
        plain("--profile", "nope", "repo", "list"),
    )
    assert by_default.code == 0
    assert by_flag.code == ExitCode.UNREACHABLE
    assert by_env.code == ExitCode.UNREACHABLE
    assert missing.code == ExitCode.INVALID
    assert "no profile 'nope'" in one_line_error(missing)

    assert (await plain("profile", "use", "other")).code == 0
    by_default, by_flag, listed = await together(
        plain("repo", "list"),
        plain("--profile", "default", "repo", "list"),
        plain("profile", "list"),
    )
    assert by_default.code == ExitCode.UNREACHABLE
    assert by_flag.code == 0
    assert listed.code == 0
    rows = {line.split()[-3]: line for line in listed.lines()[1:]}
    assert rows["other"].startswith("*")
    assert token not in listed.out

    assert (await plain("profile", "remove", "other")).code == 0
    assert "other" not in config.load(oore.config_file).profiles


async def test_flag_beats_env_beats_profile_beats_default(oore: Oore, server: Daemon) -> None:
    token = server.admin_token.strip()
    plain = oore.without("OORE_TOKEN", "OORE_SERVER")
    # The profile names a dead server and a wrong token.
    config.save(
        oore.config_file,
        config.Config("default", {"default": config.Profile(dead_url(), "wrong-token")}),
    )
    env_server = plain.with_env(OORE_SERVER=server.url)
    both = env_server.with_env(OORE_TOKEN=token)
    results = await together(
        plain("repo", "list"),
        env_server("repo", "list"),
        both("repo", "list"),
        both("--token", "wrong", "repo", "list"),
        both("--server", dead_url(), "repo", "list"),
    )
    assert [r.code for r in results] == [
        ExitCode.UNREACHABLE,  # profile > default: the profile's dead server was tried
        ExitCode.AUTH,  # env > profile for the server; the profile's token was sent
        ExitCode.OK,  # env > profile for the token
        ExitCode.AUTH,  # flag > env for the token
        ExitCode.UNREACHABLE,  # flag > env for the server
    ]

    config.save(oore.config_file, config.Config())
    # No profile, no environment: the built-in default server (nothing listens there in tests,
    # or something else does; either way it is the default that was tried).
    default = await plain("health")
    assert "127.0.0.1:8080" in default.err or default.code == 0


async def test_a_config_file_readable_by_others_is_warned_about(oore: Oore) -> None:
    assert (await oore("login")).code == 0
    oore.config_file.chmod(0o644)
    result = await oore.without("OORE_TOKEN")("repo", "list")
    assert result.code == 0
    assert "has mode 0644" in result.err
    assert "chmod 600" in result.err
    assert (await oore("login")).code == 0  # saving again narrows it
    assert mode(oore.config_file) == 0o600
    quiet = await oore.without("OORE_TOKEN")("repo", "list")
    assert "mode" not in quiet.err


names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20)
values = st.none() | st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@given(st.none() | names, st.dictionaries(names, st.tuples(values, values), max_size=4))
def test_written_config_reads_back_the_same(
    default: str | None, profiles: dict[str, tuple[str | None, str | None]]
) -> None:
    written = config.Config(default, {n: config.Profile(*p) for n, p in profiles.items()})
    text = config.dumps(written)
    parsed = tomllib.loads(text)
    assert parsed.get("default_profile") == default
    for name, (server, token) in profiles.items():
        table = parsed["profiles"][name]
        assert (table.get("server"), table.get("token")) == (server, token)
