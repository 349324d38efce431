"""The daemon's settings: defaults, then an env file, then the environment, validated into one
frozen `Settings` by running the rows of `oore.settingstable.SETTINGS` in order. Every problem is
collected and reported at once in a single `ConfigError` whose lines name the key and the expected
form, never a secret's value. `which_env_file` is the one place that decides which env file
applies; `default_data_dir` the one that places the data directory.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oore import envfile
from oore.errors import ConfigError
from oore.settingstable import DEFAULT_DATA_DIR, SETTINGS, SQLITE_PREFIX, is_loopback_host

SYSTEM_ENV_FILE = Path("/etc/oore/oore.env")
ENV_FILE_NAME = "oore.env"
SYSTEM_DATA_DIR = Path("/var/lib/oore")

_UNREADABLE_HINT = "; run as its owner or set OORE_ENV_FILE"


@dataclass(frozen=True, slots=True)
class Settings:
    bind_host: str
    bind_port: int
    data_dir: Path
    database_url: str
    base_url: str
    admin_token: str | None = field(repr=False)
    encryption_key: bytes | None = field(repr=False)
    github_webhook_secret: str | None = field(repr=False)
    max_concurrent_builds: int
    shutdown_grace: float
    log_level: str
    log_format: str
    max_body_bytes: int
    keep_failed_workspaces_hours: float
    max_log_bytes: int
    min_free_disk: int  # OORE_MIN_FREE_DISK: below this, new builds wait (0: no check)
    ingest_quiet: float  # OORE_INGEST_QUIET: the pause between deliveries the ingester waits for
    ingest_patience: float  # OORE_INGEST_PATIENCE: how long it waits for that pause at most
    # Provider instances (how tests point Oore at local servers, and a self-managed GitLab).
    allow_private_providers: bool
    github_url: str
    github_api_url: str
    gitlab_url: str
    env_file: Path | None
    admin_token_file: Path | None = None
    build_user: str | None = None  # OORE_BUILD_USER; None: builds run as the daemon's user
    # What every build gets (oore.execution.hostenv): OORE_BUILD_PATH (None: the daemon's PATH),
    # OORE_BUILD_ENV_FILE's variables, and where side-by-side SDKs are found for a workflow's
    # environment.flutter/java/xcode (None: fvm's folder, the system's JDK folders).
    build_nice: int = 10
    build_path: str | None = None
    build_env_file: Path | None = None
    flutter_sdks: tuple[Path, ...] | None = None
    java_homes: tuple[Path, ...] | None = None
    xcode_apps: Path = Path("/Applications")
    # OORE_TRUSTED_PROXIES: reverse proxies whose X-Forwarded-For names the client
    # (oore.http.client_address); empty: the connection's address is the client's.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # Notifications (oore.actors.notifier): a delivery is retried with backoff from
    # OORE_NOTIFY_RETRY_BASE up to OORE_NOTIFY_RETRY_MAX seconds, dead after OORE_NOTIFY_MAX_AGE;
    # at most OORE_NOTIFY_CONCURRENCY sends at once per target.
    notify_max_age: float = 86400.0
    notify_retry_base: float = 5.0
    notify_retry_max: float = 600.0
    notify_concurrency: int = 4
    slack_api_url: str = "https://slack.com/api"  # OORE_SLACK_API_URL: chat.postMessage's base
    # Retention (oore.actors.janitor): days before a finished build's log or artifacts, an
    # unused cache or a webhook delivery is removed (0: kept forever); the newest
    # `retention_keep_builds` builds of each workflow keep their files whatever their age.
    retention_days: float = 30.0
    retention_logs_days: float = 30.0
    retention_artifacts_days: float = 30.0
    retention_caches_days: float = 30.0
    retention_events_days: float = 30.0
    retention_keep_builds: int = 10
    retention_interval: float = 3600.0  # seconds between sweeps

    @property
    def database_path(self) -> Path:
        return Path(self.database_url.removeprefix(SQLITE_PREFIX))

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.bind_host)


# --- which env file ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnvFileChoice:
    path: Path
    # "--env-file" or "OORE_ENV_FILE" when named there, so it must exist to be read; None for
    # the default place, which oored reads only if it exists.
    named_by: str | None


def which_env_file(
    environ: Mapping[str, str],
    *,
    is_root: bool,
    given: Path | None = None,
    writing: bool = False,
    system_env_file: Path = SYSTEM_ENV_FILE,
) -> EnvFileChoice:
    """The env file that applies: `given` (an --env-file option), else OORE_ENV_FILE, else the
    system env file. Except that a user who is not root writing one (`oored init`) gets oore.env
    in their per-user data dir, /etc not being theirs; oored reads that one only when
    OORE_ENV_FILE names it."""
    if given is not None:
        return EnvFileChoice(given.absolute(), "--env-file")
    named = environ.get("OORE_ENV_FILE", "")
    if named:
        return EnvFileChoice(Path(named).absolute(), "OORE_ENV_FILE")
    if writing and not is_root:
        return EnvFileChoice(default_data_dir(is_root=False, environ=environ) / ENV_FILE_NAME, None)
    return EnvFileChoice(system_env_file, None)


def parse_env_file(path: Path) -> dict[str, str]:
    """An env file's values as oored reads them (the syntax is `oore.envfile`'s)."""
    return envfile.parse_env_file(path, unreadable_hint=_UNREADABLE_HINT)


def _env_file_to_read(choice: EnvFileChoice) -> Path | None:
    if _exists(choice.path):
        return choice.path
    if choice.named_by is not None:
        raise ConfigError(f"{choice.named_by}: {choice.path} does not exist")
    return None


def _exists(path: Path) -> bool:
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True  # There but out of reach: reading it will say why.
    return True


# --- loading ----------------------------------------------------------------------------------


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    is_root: bool | None = None,
    system_env_file: Path = SYSTEM_ENV_FILE,
) -> Settings:
    """Read and validate the settings; raise one ConfigError listing every problem found."""
    env = os.environ if environ is None else environ
    root = os.geteuid() == 0 if is_root is None else is_root
    env_file = _env_file_to_read(which_env_file(env, is_root=root, system_env_file=system_env_file))
    file_values, errors = _read_env_file(env_file) if env_file else ({}, [])
    # "Empty = unset" per layer: an empty variable does not blank out the env file's value.
    values = _non_empty(file_values) | _non_empty(env)
    return _build(values, default_data_dir(is_root=root, environ=env), env_file, errors)


def settings_from(values: Mapping[str, str], *, is_root: bool) -> Settings:
    """The settings an env file holding just `values` gives oored (HOME and XDG_DATA_HOME among
    them place the default data dir); reads no env file, so it checks one before it is written."""
    return _build(_non_empty(values), default_data_dir(is_root=is_root, environ=values), None, [])


def _read_env_file(path: Path) -> tuple[dict[str, str], list[str]]:
    text = envfile.read_env_file(path, unreadable_hint=_UNREADABLE_HINT)
    return envfile.parse_env_text(path, text)


def _non_empty(values: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in values.items() if value}


def _build(
    values: Mapping[str, str], default_dir: Path, env_file: Path | None, errors: list[str]
) -> Settings:
    earlier: dict[str, Any] = {DEFAULT_DATA_DIR: default_dir}
    for setting in SETTINGS:
        value, problem = setting.read(values.get(setting.env), earlier)
        if problem is not None:
            errors.append(problem)
        earlier.update(setting.fields(value))
    if errors:
        raise ConfigError("\n".join(errors))
    del earlier[DEFAULT_DATA_DIR]
    return Settings(**earlier, env_file=env_file)


def default_data_dir(
    *, is_root: bool, environ: Mapping[str, str], platform: str = sys.platform
) -> Path:
    """/var/lib/oore for root, else the per-user data directory of the platform."""
    if is_root:
        return SYSTEM_DATA_DIR
    home = Path(environ["HOME"]) if environ.get("HOME") else Path.home()
    if platform == "darwin":
        return home / "Library" / "Application Support" / "oore"
    # The XDG spec says a relative $XDG_DATA_HOME is invalid and must be ignored.
    xdg = environ.get("XDG_DATA_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "oore"
    return home / ".local" / "share" / "oore"
