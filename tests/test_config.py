from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from oore.config import (
    SYSTEM_ENV_FILE,
    Settings,
    default_data_dir,
    load_settings,
    parse_env_file,
    settings_from,
    which_env_file,
)
from oore.errors import ConfigError
from oore.settingstable import SETTINGS

TOKEN = "tok_" + "A1b2C3d4E5f6G7h8"
KEY_HEX = "7f" * 32
WEBHOOK_SECRET = "gh-webhook-s3cret-value"

Load = Callable[..., Settings]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def system_env(tmp_path: Path) -> Path:
    """Where load_settings looks for the system env file; absent unless a test writes it."""
    return tmp_path / "etc" / "oore.env"


@pytest.fixture
def load(home: Path, system_env: Path) -> Load:
    def load(environ: Mapping[str, str] | None = None, *, is_root: bool = False) -> Settings:
        full = {"HOME": str(home), **(environ or {})}
        return load_settings(full, is_root=is_root, system_env_file=system_env)

    return load


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def config_error(load: Load, environ: Mapping[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        load(environ)
    return info.value.message


# --- defaults ---------------------------------------------------------------------------------


def test_defaults_for_a_user(load: Load, home: Path) -> None:
    settings = load()
    data_dir = home / ".local" / "share" / "oore"
    assert settings == Settings(
        bind_host="127.0.0.1",
        bind_port=8080,
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir}/oore.db",
        base_url="http://127.0.0.1:8080",
        admin_token=None,
        encryption_key=None,
        github_webhook_secret=None,
        max_concurrent_builds=2,
        shutdown_grace=30.0,
        log_level="info",
        log_format="text",
        max_body_bytes=26214400,
        keep_failed_workspaces_hours=24.0,
        max_log_bytes=200 * 1024 * 1024,
        min_free_disk=2 * 1024 * 1024 * 1024,
        ingest_quiet=0.02,
        ingest_patience=5.0,
        allow_private_providers=False,
        github_url="https://github.com",
        github_api_url="https://api.github.com",
        gitlab_url="https://gitlab.com",
        env_file=None,
        admin_token_file=None,
    )
    assert settings.database_path == data_dir / "oore.db"
    assert settings.is_loopback


def test_defaults_for_root(load: Load) -> None:
    settings = load(is_root=True)
    assert settings.data_dir == Path("/var/lib/oore")
    assert settings.database_path == Path("/var/lib/oore/oore.db")


def test_default_data_dir_per_platform(tmp_path: Path) -> None:
    env = {"HOME": "/home/ann", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert default_data_dir(is_root=False, environ=env, platform="linux") == tmp_path / "xdg/oore"
    assert default_data_dir(is_root=False, environ=env, platform="darwin") == Path(
        "/home/ann/Library/Application Support/oore"
    )
    assert default_data_dir(is_root=True, environ=env, platform="darwin") == Path("/var/lib/oore")
    # The XDG spec says a relative $XDG_DATA_HOME must be ignored.
    relative = {"HOME": "/home/ann", "XDG_DATA_HOME": "rel"}
    assert default_data_dir(is_root=False, environ=relative, platform="linux") == Path(
        "/home/ann/.local/share/oore"
    )


# --- env files and precedence -----------------------------------------------------------------


USER_ENV = {"HOME": "/home/me", "XDG_DATA_HOME": "/home/me/.data"}
USER_FILE = Path("/home/me/.data/oore/oore.env")
GIVEN = Path("/srv/given.env")
NAMED = {**USER_ENV, "OORE_ENV_FILE": "/srv/named.env"}


@pytest.mark.parametrize(
    ("environ", "given", "is_root", "writing", "path", "named_by"),
    [
        # oored reads: OORE_ENV_FILE, else the system file, root or not.
        (USER_ENV, None, False, False, SYSTEM_ENV_FILE, None),
        (USER_ENV, None, True, False, SYSTEM_ENV_FILE, None),
        (NAMED, None, False, False, Path("/srv/named.env"), "OORE_ENV_FILE"),
        (NAMED, None, True, False, Path("/srv/named.env"), "OORE_ENV_FILE"),
        # `oored init` writes: the same, except a user's own file when not root.
        (USER_ENV, None, True, True, SYSTEM_ENV_FILE, None),
        (USER_ENV, None, False, True, USER_FILE, None),
        (NAMED, None, False, True, Path("/srv/named.env"), "OORE_ENV_FILE"),
        (NAMED, None, True, True, Path("/srv/named.env"), "OORE_ENV_FILE"),
        # --env-file beats everything.
        (NAMED, GIVEN, False, True, GIVEN, "--env-file"),
        (NAMED, GIVEN, True, True, GIVEN, "--env-file"),
        (USER_ENV, GIVEN, True, False, GIVEN, "--env-file"),
        # An empty OORE_ENV_FILE is unset.
        ({**USER_ENV, "OORE_ENV_FILE": ""}, None, False, True, USER_FILE, None),
    ],
)
def test_which_env_file(
    environ: dict[str, str],
    given: Path | None,
    is_root: bool,
    writing: bool,
    path: Path,
    named_by: str | None,
) -> None:
    choice = which_env_file(environ, is_root=is_root, given=given, writing=writing)
    assert (choice.path, choice.named_by) == (path, named_by)


def test_which_env_file_makes_relative_names_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert which_env_file({"OORE_ENV_FILE": "x.env"}, is_root=False).path == tmp_path / "x.env"
    given = which_env_file({}, is_root=True, given=Path("y.env"), writing=True)
    assert given.path == tmp_path / "y.env"


def test_absent_system_env_file_is_no_env_file(load: Load) -> None:
    assert load().env_file is None


def test_system_env_file_is_read_when_present(load: Load, system_env: Path) -> None:
    write(system_env, "OORE_LOG_LEVEL=debug\n")
    settings = load()
    assert settings.log_level == "debug"
    assert settings.env_file == system_env


def test_precedence_defaults_then_env_file_then_environment(load: Load, system_env: Path) -> None:
    write(system_env, "OORE_LOG_LEVEL=debug\nOORE_MAX_CONCURRENT_BUILDS=4\n")
    settings = load({"OORE_LOG_LEVEL": "warning"})
    assert settings.log_level == "warning"  # environment beats the file
    assert settings.max_concurrent_builds == 4  # the file beats the default
    assert settings.shutdown_grace == 30.0  # the default stands


def test_oore_env_file_replaces_the_system_file(
    load: Load, system_env: Path, tmp_path: Path
) -> None:
    write(system_env, "this line would be an error\n")
    named = write(tmp_path / "mine.env", "OORE_LOG_FORMAT=json\n")
    settings = load({"OORE_ENV_FILE": str(named)})
    assert settings.log_format == "json"
    assert settings.env_file == named


def test_missing_oore_env_file_is_an_error(load: Load, tmp_path: Path) -> None:
    missing = tmp_path / "nope.env"
    message = config_error(load, {"OORE_ENV_FILE": str(missing)})
    assert message.startswith("OORE_ENV_FILE:")
    assert str(missing) in message


def test_empty_means_unset(load: Load, system_env: Path) -> None:
    write(system_env, "OORE_LOG_LEVEL=error\nOORE_BIND=\n")
    settings = load({"OORE_LOG_LEVEL": "", "OORE_MAX_CONCURRENT_BUILDS": ""})
    assert settings.log_level == "error"
    assert settings.bind_port == 8080
    assert settings.max_concurrent_builds == 2


def test_environ_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    named = write(tmp_path / "mine.env", "OORE_LOG_FORMAT=json\n")
    monkeypatch.setenv("OORE_ENV_FILE", str(named))
    monkeypatch.setenv("OORE_LOG_LEVEL", "warning")
    settings = load_settings(is_root=False, system_env_file=tmp_path / "absent")
    assert (settings.log_level, settings.log_format) == ("warning", "json")


def test_env_file_syntax(tmp_path: Path) -> None:
    path = write(
        tmp_path / "oore.env",
        "\ufeff# a comment\n"
        "\n"
        "   # an indented comment\n"
        "PLAIN=value\n"
        "export EXPORTED=1\n"
        "SINGLE='two words'\n"
        'DOUBLE="$HOME is not expanded"\n'
        "SPACED = padded  \n"
        "HASH=abc#def\n"
        "EQUALS=a=b=c\n"
        "EMPTY=\n"
        "QUOTED_EMPTY=''\n"
        "PLAIN=last wins\r\n",
    )
    assert parse_env_file(path) == {
        "PLAIN": "last wins",
        "EXPORTED": "1",
        "SINGLE": "two words",
        "DOUBLE": "$HOME is not expanded",
        "SPACED": "padded",
        "HASH": "abc#def",
        "EQUALS": "a=b=c",
        "EMPTY": "",
        "QUOTED_EMPTY": "",
    }


def test_env_file_bad_lines_are_reported_by_number_not_content(tmp_path: Path) -> None:
    path = write(
        tmp_path / "oore.env",
        "OORE_LOG_LEVEL=info\n"
        "OORE_ADMIN_TOKEN hunter2-secret-token\n"
        "# fine\n"
        'OORE_GITHUB_WEBHOOK_SECRET="unterminated-s3cret\n'
        "9BAD=x\n",
    )
    with pytest.raises(ConfigError) as info:
        parse_env_file(path)
    message = info.value.message
    assert message.splitlines() == [
        f"{path}:{n}: expected KEY=value, KEY='value' or KEY=\"value\"" for n in (2, 4, 5)
    ]
    assert "hunter2" not in message
    assert "s3cret" not in message


def test_env_file_errors_join_the_other_errors(load: Load, system_env: Path) -> None:
    write(system_env, "garbage\nOORE_LOG_LEVEL=loud\n")
    message = config_error(load, {"OORE_MAX_CONCURRENT_BUILDS": "0"})
    assert f"{system_env}:1:" in message
    assert "OORE_LOG_LEVEL:" in message
    assert "OORE_MAX_CONCURRENT_BUILDS:" in message


def test_unreadable_env_file_is_an_error(load: Load, tmp_path: Path) -> None:
    directory = tmp_path / "a-directory.env"
    directory.mkdir()
    message = config_error(load, {"OORE_ENV_FILE": str(directory)})
    assert "cannot read the env file" in message
    assert str(directory) in message


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("OORE_BIND", "8080", "expected HOST:PORT such as 127.0.0.1:8080"),
        ("OORE_BIND", "127.0.0.1:", "expected HOST:PORT"),
        ("OORE_BIND", ":8080", "expected HOST:PORT"),
        ("OORE_BIND", "127.0.0.1:65536", "port 0-65535"),
        ("OORE_BIND", "127.0.0.1:-1", "expected HOST:PORT"),
        ("OORE_BIND", "127.0.0.1:http", "expected HOST:PORT"),
        ("OORE_BIND", "::1:8080", "[::1]:8080 for IPv6"),
        ("OORE_BIND", "[::zz]:8080", "expected HOST:PORT"),
        ("OORE_BIND", "bad host:80", "expected HOST:PORT"),
        ("OORE_DATA_DIR", "relative/dir", "expected an absolute path"),
        ("OORE_DATABASE_URL", "postgresql://db/oore", "only sqlite:///PATH is supported for now"),
        ("OORE_DATABASE_URL", "sqlite://relative.db", "only sqlite:///PATH"),
        ("OORE_DATABASE_URL", "sqlite:///", "only sqlite:///PATH"),
        ("OORE_BASE_URL", "ci.example.com", "expected a URL starting with http:// or https://"),
        ("OORE_BASE_URL", "ftp://ci.example.com", "http:// or https://"),
        ("OORE_BASE_URL", "https://", "http:// or https://"),
        ("OORE_ADMIN_TOKEN", "too-short", "expected at least 16"),
        ("OORE_ADMIN_TOKEN", "long enough but has spaces", "without spaces"),
        ("OORE_ENCRYPTION_KEY", "abcd", "expected 64 hex characters or base64 of 32 bytes"),
        ("OORE_MAX_CONCURRENT_BUILDS", "0", "from 1 to 64"),
        ("OORE_MAX_CONCURRENT_BUILDS", "65", "from 1 to 64"),
        ("OORE_MAX_CONCURRENT_BUILDS", "two", "from 1 to 64"),
        ("OORE_SHUTDOWN_GRACE", "-1", "seconds >= 0"),
        ("OORE_SHUTDOWN_GRACE", "nan", "seconds >= 0"),
        ("OORE_SHUTDOWN_GRACE", "soon", "seconds >= 0"),
        ("OORE_LOG_LEVEL", "verbose", "expected one of debug, info, warning, error"),
        ("OORE_LOG_FORMAT", "xml", "expected one of text, json"),
        ("OORE_MAX_BODY_BYTES", "0", "bytes > 0"),
        ("OORE_MAX_BODY_BYTES", "25MB", "bytes > 0"),
        ("OORE_KEEP_FAILED_WORKSPACES", "-2", "hours >= 0"),
        ("OORE_KEEP_FAILED_WORKSPACES", "inf", "hours >= 0"),
        ("OORE_MAX_LOG_BYTES", "-5", "bytes > 0"),
    ],
)
def test_invalid_value_names_the_key_and_the_expected_form(
    load: Load, key: str, value: str, expected: str
) -> None:
    message = config_error(load, {key: value})
    assert message.startswith(f"{key}: ")
    assert expected in message
    assert "\n" not in message


def test_all_errors_are_reported_together(load: Load) -> None:
    message = config_error(
        load,
        {
            "OORE_BIND": "nonsense",
            "OORE_LOG_LEVEL": "loud",
            "OORE_MAX_LOG_BYTES": "lots",
            "OORE_ENCRYPTION_KEY": "short",
        },
    )
    keys = [line.split(":", 1)[0] for line in message.splitlines()]
    assert sorted(keys) == [
        "OORE_BIND",
        "OORE_ENCRYPTION_KEY",
        "OORE_LOG_LEVEL",
        "OORE_MAX_LOG_BYTES",
    ]


def test_valid_values_are_parsed(load: Load) -> None:
    settings = load(
        {
            "OORE_BIND": "localhost:0",
            "OORE_MAX_CONCURRENT_BUILDS": "64",
            "OORE_SHUTDOWN_GRACE": "2.5",
            "OORE_LOG_LEVEL": "WARNING",
            "OORE_LOG_FORMAT": "JSON",
            "OORE_MAX_BODY_BYTES": "1024",
            "OORE_KEEP_FAILED_WORKSPACES": "0",
            "OORE_MAX_LOG_BYTES": "4096",
            "OORE_BASE_URL": "https://ci.example.com/",
            "OORE_ENCRYPTION_KEY": KEY_HEX,
            "OORE_GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "OORE_ADMIN_TOKEN": TOKEN,
            "OORE_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8 ::1,::ffff:192.168.0.0/112",
        }
    )
    assert (settings.bind_host, settings.bind_port) == ("localhost", 0)
    assert settings.trusted_proxies == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("192.168.0.0/16"),  # as peers are compared: IPv4
    )
    assert settings.max_concurrent_builds == 64
    assert settings.shutdown_grace == 2.5
    assert (settings.log_level, settings.log_format) == ("warning", "json")
    assert (settings.max_body_bytes, settings.max_log_bytes) == (1024, 4096)
    assert settings.keep_failed_workspaces_hours == 0.0
    assert settings.base_url == "https://ci.example.com"
    assert settings.encryption_key == bytes.fromhex(KEY_HEX)
    assert settings.github_webhook_secret == WEBHOOK_SECRET
    assert settings.admin_token == TOKEN


# --- the settings table ------------------------------------------------------------------------

# What each variable gives when unset, for a user whose HOME is the `home` fixture; a new row in
# SETTINGS needs a line here (and in BAD_VALUES), or test_every_setting_is_tested fails.
DEFAULTS: dict[str, dict[str, Any]] = {
    "OORE_BIND": {"bind_host": "127.0.0.1", "bind_port": 8080},
    "OORE_DATA_DIR": {"data_dir": Path(".local/share/oore")},  # under home
    "OORE_ADMIN_TOKEN": {"admin_token": None},
    "OORE_DATABASE_URL": {"database_url": "sqlite:///{home}/.local/share/oore/oore.db"},
    "OORE_BASE_URL": {"base_url": "http://127.0.0.1:8080"},
    "OORE_ENCRYPTION_KEY": {"encryption_key": None},
    "OORE_GITHUB_WEBHOOK_SECRET": {"github_webhook_secret": None},
    "OORE_MAX_CONCURRENT_BUILDS": {"max_concurrent_builds": 2},
    "OORE_SHUTDOWN_GRACE": {"shutdown_grace": 30.0},
    "OORE_LOG_LEVEL": {"log_level": "info"},
    "OORE_LOG_FORMAT": {"log_format": "text"},
    "OORE_MAX_BODY_BYTES": {"max_body_bytes": 25 * 1024 * 1024},
    "OORE_KEEP_FAILED_WORKSPACES": {"keep_failed_workspaces_hours": 24.0},
    "OORE_MAX_LOG_BYTES": {"max_log_bytes": 200 * 1024 * 1024},
    "OORE_MIN_FREE_DISK": {"min_free_disk": 2 * 1024 * 1024 * 1024},
    "OORE_RETENTION_DAYS": {"retention_days": 30.0},
    "OORE_RETENTION_LOGS_DAYS": {"retention_logs_days": 30.0},
    "OORE_RETENTION_ARTIFACTS_DAYS": {"retention_artifacts_days": 30.0},
    "OORE_RETENTION_CACHES_DAYS": {"retention_caches_days": 30.0},
    "OORE_RETENTION_EVENTS_DAYS": {"retention_events_days": 30.0},
    "OORE_RETENTION_KEEP_BUILDS": {"retention_keep_builds": 10},
    "OORE_RETENTION_INTERVAL": {"retention_interval": 3600.0},
    "OORE_BUILD_USER": {"build_user": None},
    "OORE_BUILD_NICE": {"build_nice": 10},
    "OORE_BUILD_PATH": {"build_path": None},
    "OORE_BUILD_ENV_FILE": {"build_env_file": None},
    "OORE_FLUTTER_SDKS": {"flutter_sdks": None},
    "OORE_JAVA_HOMES": {"java_homes": None},
    "OORE_XCODE_APPS": {"xcode_apps": Path("/Applications")},
    "OORE_INGEST_QUIET": {"ingest_quiet": 0.02},
    "OORE_INGEST_PATIENCE": {"ingest_patience": 5.0},
    "OORE_TRUSTED_PROXIES": {"trusted_proxies": ()},
    "OORE_ALLOW_PRIVATE_PROVIDERS": {"allow_private_providers": False},
    "OORE_GITHUB_URL": {"github_url": "https://github.com"},
    "OORE_GITHUB_API_URL": {"github_api_url": "https://api.github.com"},
    "OORE_GITLAB_URL": {"gitlab_url": "https://gitlab.com"},
    "OORE_NOTIFY_MAX_AGE": {"notify_max_age": 86400.0},
    "OORE_NOTIFY_RETRY_BASE": {"notify_retry_base": 5.0},
    "OORE_NOTIFY_RETRY_MAX": {"notify_retry_max": 600.0},
    "OORE_NOTIFY_CONCURRENCY": {"notify_concurrency": 4},
    "OORE_SLACK_API_URL": {"slack_api_url": "https://slack.com/api"},
}

# A bad value of each kind per variable, and the expected form its message must give.
BAD_VALUES: dict[str, list[tuple[str, str]]] = {
    "OORE_BIND": [
        ("8080", "expected HOST:PORT such as 127.0.0.1:8080"),
        ("127.0.0.1:65536", "port 0-65535"),
        ("::1:8080", "[::1]:8080 for IPv6"),
    ],
    "OORE_DATA_DIR": [("relative/dir", "expected an absolute path")],
    "OORE_ADMIN_TOKEN": [
        ("too-short", "expected at least 16 printable ASCII characters without spaces"),
        ("long enough but has spaces", "without spaces"),
    ],
    "OORE_DATABASE_URL": [("postgresql://db/oore", "only sqlite:///PATH is supported for now")],
    "OORE_BASE_URL": [("ci.example.com", "expected a URL starting with http:// or https://")],
    "OORE_ENCRYPTION_KEY": [("abcd", "expected 64 hex characters or base64 of 32 bytes")],
    "OORE_MAX_CONCURRENT_BUILDS": [
        ("0", "expected a whole number from 1 to 64"),
        ("65", "from 1 to 64"),
        ("2.5", "from 1 to 64"),
    ],
    "OORE_SHUTDOWN_GRACE": [
        ("-1", "expected a number of seconds >= 0"),
        ("nan", "seconds >= 0"),
        ("soon", "seconds >= 0"),
    ],
    "OORE_LOG_LEVEL": [("verbose", "expected one of debug, info, warning, error")],
    "OORE_LOG_FORMAT": [("xml", "expected one of text, json")],
    "OORE_MAX_BODY_BYTES": [("0", "expected a number of bytes > 0"), ("1MB", "bytes > 0")],
    "OORE_KEEP_FAILED_WORKSPACES": [("-2", "expected a number of hours >= 0"), ("inf", ">= 0")],
    "OORE_MAX_LOG_BYTES": [("-5", "expected a number of bytes > 0")],
    "OORE_MIN_FREE_DISK": [("-1", "expected a number of bytes >= 0"), ("2GB", "(0: no check)")],
    "OORE_RETENTION_DAYS": [("-1", "expected a number of days >= 0"), ("1w", "(0: keep forever)")],
    "OORE_RETENTION_LOGS_DAYS": [("inf", "expected a number of days >= 0")],
    "OORE_RETENTION_ARTIFACTS_DAYS": [("-0.5", "expected a number of days >= 0")],
    "OORE_RETENTION_CACHES_DAYS": [("nan", "expected a number of days >= 0")],
    "OORE_RETENTION_EVENTS_DAYS": [("month", "expected a number of days >= 0")],
    "OORE_RETENTION_KEEP_BUILDS": [("-1", "expected a whole number >= 0"), ("2.5", ">= 0")],
    "OORE_RETENTION_INTERVAL": [("0", "expected a number of seconds > 0"), ("1h", "> 0")],
    "OORE_BUILD_USER": [("not a user", "expected a user name or uid")],
    "OORE_BUILD_NICE": [
        ("-1", "from 0 (the daemon's priority) to 19"),
        ("20", "to 19 (the lowest)"),
    ],
    "OORE_BUILD_PATH": [
        ("opt/flutter/bin:/usr/bin", "expected absolute folders separated by ':'"),
        (":", "absolute folders"),
    ],
    "OORE_BUILD_ENV_FILE": [("build.env", "expected the absolute path of a file")],
    "OORE_FLUTTER_SDKS": [("fvm/versions", "expected absolute folders of Flutter SDKs")],
    "OORE_JAVA_HOMES": [("/usr/lib/jvm:jdks", "expected absolute folders of JDKs")],
    "OORE_XCODE_APPS": [("Applications", "expected the absolute folder holding Xcode")],
    "OORE_INGEST_QUIET": [
        ("0", "expected a number of seconds > 0"),
        ("-0.5", "seconds > 0"),
        ("inf", "seconds > 0"),
        ("nan", "seconds > 0"),
        ("brief", "seconds > 0"),
    ],
    "OORE_INGEST_PATIENCE": [
        ("0", "expected a number of seconds > 0"),
        ("inf", "seconds > 0"),
        ("long", "seconds > 0"),
        ("0.01", "expected a number of seconds >= OORE_INGEST_QUIET"),  # below the default quiet
    ],
    "OORE_TRUSTED_PROXIES": [
        ("proxy.local", "expected the addresses or networks of your reverse proxies"),
        ("10.0.0.0/33", "reverse proxies"),
        ("127.0.0.1,,nginx", "reverse proxies"),
        ("10.1.2.3/8", "no host bits set"),  # a typo for 10.1.2.3, or for 10.0.0.0/8?
        ("0.0.0.0/0", "not 0.0.0.0/0"),  # everyone could then name any client
        ("::/0", "not 0.0.0.0/0"),
    ],
    "OORE_ALLOW_PRIVATE_PROVIDERS": [("maybe", "expected 1 or 0 (true or false)")],
    "OORE_GITHUB_URL": [
        ("github.example.com", "expected a URL such as https://github.example.com"),
        ("https://user:pw@github.example.com", "no user or password"),
        ("http://github.example.com", "expected an https:// URL of a public host"),
        ("https://127.0.0.1:8443", "OORE_ALLOW_PRIVATE_PROVIDERS=1"),
    ],
    "OORE_GITHUB_API_URL": [
        ("https://10.1.2.3/api/v3", "expected an https:// URL of a public host"),
        ("https://[::1]:8443", "OORE_ALLOW_PRIVATE_PROVIDERS=1"),
    ],
    "OORE_GITLAB_URL": [
        ("https://localhost", "expected an https:// URL of a public host"),
        ("https://169.254.169.254", "public host"),
        ("ftp://gitlab.example.com", "expected a URL such as"),
    ],
    "OORE_SLACK_API_URL": [
        ("https://127.0.0.1/api", "expected an https:// URL of a public host"),
        ("slack.com/api", "expected a URL such as"),
    ],
    "OORE_NOTIFY_MAX_AGE": [("0", "expected a number of seconds > 0"), ("1d", "seconds > 0")],
    "OORE_NOTIFY_RETRY_BASE": [("-1", "expected a number of seconds > 0")],
    "OORE_NOTIFY_RETRY_MAX": [("nan", "expected a number of seconds > 0")],
    "OORE_NOTIFY_CONCURRENCY": [("0", "expected a whole number from 1 to 64"), ("65", "1 to 64")],
}
ANY_VALUE = {"OORE_GITHUB_WEBHOOK_SECRET"}  # any text is a valid secret


def test_private_provider_urls_are_allowed_when_said(load: Load) -> None:
    local = {"OORE_GITLAB_URL": "http://127.0.0.1:8929", "OORE_GITHUB_API_URL": "http://[::1]:9"}
    with pytest.raises(ConfigError, match="OORE_ALLOW_PRIVATE_PROVIDERS"):
        load(local)
    settings = load({**local, "OORE_ALLOW_PRIVATE_PROVIDERS": "1"})
    assert (settings.gitlab_url, settings.github_api_url) == (
        "http://127.0.0.1:8929",
        "http://[::1]:9",
    )


def test_every_setting_is_tested() -> None:
    names = [setting.env for setting in SETTINGS]
    assert len(names) == len(set(names))
    assert set(DEFAULTS) == set(names)
    assert set(BAD_VALUES) == set(names) - ANY_VALUE
    # Every Settings field but those not read from a variable comes from exactly one row.
    filled = [name for fields in DEFAULTS.values() for name in fields]
    settings_fields = [f.name for f in dataclasses.fields(Settings)]
    assert sorted(filled) == sorted(set(settings_fields) - {"env_file", "admin_token_file"})


@pytest.mark.parametrize("env", list(DEFAULTS))
def test_default_of_each_setting(load: Load, home: Path, env: str) -> None:
    settings = load()
    for name, expected in DEFAULTS[env].items():
        if isinstance(expected, Path):
            expected = home / expected
        elif isinstance(expected, str):
            expected = expected.format(home=home)
        actual = getattr(settings, name)
        assert (actual, type(actual)) == (expected, type(expected)), name


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [(env, value, expected) for env, cases in BAD_VALUES.items() for value, expected in cases],
)
def test_bad_value_of_each_setting_names_the_variable(
    load: Load, system_env: Path, env: str, value: str, expected: str
) -> None:
    for source in ("environment", "env file"):
        if source == "env file":
            write(system_env, f"{env}={value}\n")
            message = config_error(load, {})
        else:
            message = config_error(load, {env: value})
        assert message.startswith(f"{env}: "), source
        assert expected in message, source
        assert "\n" not in message, source


def test_every_setting_is_in_the_readmes_configuration_table() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
    assert {setting.env for setting in SETTINGS} <= documented


def test_retention_kinds_default_to_retention_days_unless_set(load: Load) -> None:
    settings = load({"OORE_RETENTION_DAYS": "7", "OORE_RETENTION_EVENTS_DAYS": "0.5"})
    assert settings.retention_days == 7.0
    assert (settings.retention_logs_days, settings.retention_artifacts_days) == (7.0, 7.0)
    assert (settings.retention_caches_days, settings.retention_events_days) == (7.0, 0.5)


def test_ingest_timings_are_read(load: Load) -> None:
    settings = load({"OORE_INGEST_QUIET": "0.5", "OORE_INGEST_PATIENCE": "0.5"})
    assert (settings.ingest_quiet, settings.ingest_patience) == (0.5, 0.5)


def test_ingest_quiet_above_the_default_patience_needs_more_patience(load: Load) -> None:
    message = config_error(load, {"OORE_INGEST_QUIET": "10"})
    assert message == (
        "OORE_INGEST_PATIENCE: expected a number of seconds >= OORE_INGEST_QUIET "
        "(raise it, or lower that)"
    )
    assert load({"OORE_INGEST_QUIET": "10", "OORE_INGEST_PATIENCE": "10"}).ingest_patience == 10


def test_settings_from_values_reads_no_env_file(tmp_path: Path) -> None:
    values = {"HOME": str(tmp_path), "OORE_ENV_FILE": str(tmp_path / "nowhere.env")}
    settings = settings_from({**values, "OORE_LOG_LEVEL": "debug"}, is_root=False)
    assert settings.env_file is None
    assert settings.log_level == "debug"
    assert settings.data_dir == tmp_path / ".local" / "share" / "oore"
    with pytest.raises(ConfigError, match=r"^OORE_LOG_LEVEL: "):
        settings_from({"OORE_LOG_LEVEL": "loud"}, is_root=True)


# --- secrets stay secret ----------------------------------------------------------------------


def test_repr_hides_secrets(load: Load) -> None:
    settings = load(
        {
            "OORE_ADMIN_TOKEN": TOKEN,
            "OORE_ENCRYPTION_KEY": KEY_HEX,
            "OORE_GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
    )
    key = settings.encryption_key
    assert key is not None
    for text in (repr(settings), str(settings)):
        assert "bind_port=8080" in text  # the repr is there, just without the secrets
        for secret in (TOKEN, KEY_HEX, WEBHOOK_SECRET, repr(key), key.hex()):
            assert secret not in text


def test_errors_never_contain_secret_values(load: Load, system_env: Path) -> None:
    token = "hunter2 hunter2 hunter2"  # long enough, but holds spaces
    key = "hunter2-not-a-key"
    write(system_env, "OORE_GITHUB_WEBHOOK_SECRET=hunter2'\nbroken hunter2 line\n")
    message = config_error(load, {"OORE_ADMIN_TOKEN": token, "OORE_ENCRYPTION_KEY": key})
    assert "OORE_ADMIN_TOKEN:" in message
    assert "OORE_ENCRYPTION_KEY:" in message
    assert "hunter2" not in message


# --- binding ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bind", ["0.0.0.0:8080", "192.168.1.5:80", "[::]:8080", "ci.lan:8080"])
def test_non_loopback_bind_needs_an_admin_token(load: Load, bind: str) -> None:
    message = config_error(load, {"OORE_BIND": bind})
    assert message == "OORE_ADMIN_TOKEN: required when OORE_BIND is not a loopback address"
    settings = load({"OORE_BIND": bind, "OORE_ADMIN_TOKEN": TOKEN})
    assert not settings.is_loopback
    assert settings.admin_token == TOKEN


def test_malformed_token_on_public_bind_reports_only_the_malformed_token(load: Load) -> None:
    message = config_error(load, {"OORE_BIND": "0.0.0.0:80", "OORE_ADMIN_TOKEN": "short"})
    assert message.startswith("OORE_ADMIN_TOKEN: expected at least 16")
    assert "required" not in message


@pytest.mark.parametrize(
    ("bind", "loopback"),
    [
        ("127.0.0.1:1", True),
        ("127.8.9.10:1", True),
        ("localhost:1", True),
        ("LocalHost:1", True),
        ("[::1]:1", True),
        ("[::ffff:127.0.0.1]:1", True),
        ("10.0.0.1:1", False),
        ("[::ffff:10.0.0.1]:1", False),
        ("example.com:1", False),
    ],
)
def test_is_loopback(load: Load, bind: str, loopback: bool) -> None:
    assert load({"OORE_BIND": bind, "OORE_ADMIN_TOKEN": TOKEN}).is_loopback is loopback


def test_ipv6_bind(load: Load) -> None:
    settings = load({"OORE_BIND": "[::1]:9000"})
    assert (settings.bind_host, settings.bind_port) == ("::1", 9000)
    assert settings.base_url == "http://[::1]:9000"
    assert settings.is_loopback


def test_base_url_follows_bind(load: Load) -> None:
    assert load({"OORE_BIND": "127.0.0.1:0"}).base_url == "http://127.0.0.1:0"
    explicit = {"OORE_BIND": "127.0.0.1:0", "OORE_BASE_URL": "http://ci.local:9"}
    assert load(explicit).base_url == "http://ci.local:9"


# --- database url -----------------------------------------------------------------------------


def test_database_url_default_follows_data_dir(load: Load, tmp_path: Path) -> None:
    settings = load({"OORE_DATA_DIR": str(tmp_path / "data")})
    assert settings.database_url == f"sqlite:///{tmp_path}/data/oore.db"
    assert settings.database_path == tmp_path / "data" / "oore.db"


def test_relative_database_path_is_under_data_dir(load: Load, tmp_path: Path) -> None:
    settings = load({"OORE_DATA_DIR": str(tmp_path), "OORE_DATABASE_URL": "sqlite:///db/ci.db"})
    assert settings.database_path == tmp_path / "db" / "ci.db"
    assert settings.database_url == f"sqlite:///{tmp_path}/db/ci.db"


def test_absolute_database_path_is_kept(load: Load, tmp_path: Path) -> None:
    settings = load({"OORE_DATABASE_URL": f"sqlite:///{tmp_path}/elsewhere.db"})
    assert settings.database_path == tmp_path / "elsewhere.db"
