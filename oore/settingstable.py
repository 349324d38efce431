"""The table the daemon's settings are read by: one `Setting` row per variable, naming the
`oore.config.Settings` field it fills, its parser, its default, the expected form a bad value is
told, and any rule tying it to another setting; with the parsers the rows use. Where the values
come from (defaults, env file, environment) and how the rows are run is `oore.config`'s job.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oore import crypto

SQLITE_PREFIX = "sqlite:///"
MIN_ADMIN_TOKEN_LENGTH = 16
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
MIB = 1024 * 1024

_HOSTNAME = re.compile(r"[A-Za-z0-9.-]+")


# --- a row ------------------------------------------------------------------------------------

Earlier = Mapping[str, Any]  # the values of the rows above, by Settings field name
DEFAULT_DATA_DIR = "default data dir"  # in `Earlier` from the start: root's or the user's


@dataclass(frozen=True, slots=True)
class Derived:
    """A default `(earlier) -> value`, or a parser `(raw, earlier) -> value`, that needs the
    values of rows above it."""

    compute: Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Rule:
    """A condition on the final value (parsed or default) and the values of rows above it."""

    holds: Callable[[Any, Earlier], bool]
    problem: str


@dataclass(frozen=True, slots=True)
class Setting:
    """One variable: the Settings field it fills (two for a tuple value), its parser (raising
    ValueError for a bad value), its default, the expected form, and a rule, if any."""

    env: str
    field: str | tuple[str, ...]
    parse: Callable[[str], Any] | Derived
    default: Any
    form: str
    rule: Rule | None = None

    def read(self, raw: str | None, earlier: Earlier) -> tuple[Any, str | None]:
        """The value, and the problem with it if any (a bad value is replaced by the default)."""
        if raw is None:
            value = self.default_given(earlier)
        else:
            try:
                value = self._parse(raw, earlier)
            except ValueError:
                # The exception's own text is dropped: it may quote the (possibly secret) value.
                return self.default_given(earlier), f"{self.env}: {self.form}"
        if self.rule is not None and not self.rule.holds(value, earlier):
            return value, f"{self.env}: {self.rule.problem}"
        return value, None

    def default_given(self, earlier: Earlier) -> Any:
        return self.default.compute(earlier) if isinstance(self.default, Derived) else self.default

    def fields(self, value: Any) -> dict[str, Any]:
        if isinstance(self.field, tuple):
            return dict(zip(self.field, value, strict=True))
        return {self.field: value}

    def _parse(self, raw: str, earlier: Earlier) -> Any:
        if isinstance(self.parse, Derived):
            return self.parse.compute(raw, earlier)
        return self.parse(raw)


# --- parsers ----------------------------------------------------------------------------------


def _parse_bind(raw: str) -> tuple[str, int]:
    host, sep, port_text = raw.rpartition(":")
    if not sep or not port_text.isascii() or not port_text.isdigit():
        raise ValueError("bad bind")
    port = int(port_text)
    if port > 65535:
        raise ValueError("bad port")
    return _parse_host(host), port


def _parse_host(host: str) -> str:
    if host.startswith("[") and host.endswith("]"):
        return str(ipaddress.IPv6Address(host[1:-1]))
    if not _HOSTNAME.fullmatch(host):
        # Also refuses an unbracketed IPv6 address, whose last group would read as the port.
        raise ValueError("bad host")
    return host


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _default_base_url(earlier: Earlier) -> str:
    host, port = earlier["bind_host"], earlier["bind_port"]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _parse_abs_path(raw: str) -> Path:
    path = Path(raw)
    if not path.is_absolute():
        raise ValueError("not absolute")
    return path


def _parse_database_url(raw: str, earlier: Earlier) -> str:
    if not raw.startswith(SQLITE_PREFIX) or raw == SQLITE_PREFIX:
        raise ValueError("unsupported database url")
    # As in SQLAlchemy, sqlite:///name is relative and sqlite:////abs/name absolute.
    return _sqlite_url(earlier["data_dir"] / raw.removeprefix(SQLITE_PREFIX))


def _default_database_url(earlier: Earlier) -> str:
    return _sqlite_url(earlier["data_dir"] / "oore.db")


def _sqlite_url(path: Path) -> str:
    return SQLITE_PREFIX + str(path)


def _parse_base_url(raw: str) -> str:
    scheme, sep, rest = raw.partition("://")
    if scheme.lower() not in ("http", "https") or not sep or not rest.strip("/"):
        raise ValueError("bad url")
    # Other modules append paths ("/api/webhooks/github"); a trailing slash would double up.
    return raw.rstrip("/")


def parse_admin_token(raw: str) -> str:
    # Tokens travel in an Authorization header, so whitespace and non-ASCII would break them.
    if len(raw) < MIN_ADMIN_TOKEN_LENGTH or not all("!" <= char <= "~" for char in raw):
        raise ValueError("bad token")
    return raw


def _parse_user_name(raw: str) -> str | None:
    if not raw:
        return None
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\$?", raw):
        raise ValueError("bad user name")
    return raw


def _parse_search_path(raw: str) -> str:
    return ":".join(map(str, _parse_abs_paths(raw)))


def _parse_abs_paths(raw: str) -> tuple[Path, ...]:
    paths = tuple(_parse_abs_path(part) for part in raw.split(":") if part)
    if not paths:
        raise ValueError("no path")
    return paths


def _parse_networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Addresses or networks, host bits refused (`10.1.2.3/8` is a typo, not `10.0.0.0/8`),
    no network of everyone (`0.0.0.0/0`), IPv4-mapped IPv6 ones as the IPv4 they are."""
    parts = [part.strip() for part in raw.replace(" ", ",").split(",") if part.strip()]
    networks = tuple(_as_ipv4_if_mapped(ipaddress.ip_network(part)) for part in parts)
    if any(network.prefixlen == 0 for network in networks):
        raise ValueError("trusts every address")
    return networks


def _as_ipv4_if_mapped(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    mapped = network.network_address
    if isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped and network.prefixlen >= 96:
        return ipaddress.IPv4Network((mapped.ipv4_mapped, network.prefixlen - 96))
    return network


def _int_in(low: int, high: int | None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        number = int(raw)
        if number < low or (high is not None and number > high):
            raise ValueError("out of range")
        return number

    return parse


def _non_negative_float(raw: str) -> float:
    number = float(raw)
    if not math.isfinite(number) or number < 0:
        raise ValueError("out of range")
    return number


def _positive_float(raw: str) -> float:
    number = _non_negative_float(raw)
    if number == 0:
        raise ValueError("out of range")
    return number


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError("not an option")
        return value

    return parse


def _token_or_loopback(token: str | None, earlier: Earlier) -> bool:
    # Checked only for a token that is absent: a malformed one has its own message already.
    return token is not None or is_loopback_host(earlier["bind_host"])


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("not a boolean")


def _parse_provider_url(raw: str) -> str:
    scheme, sep, rest = raw.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    if scheme.lower() not in ("http", "https") or not sep or not host or "@" in rest.split("/")[0]:
        raise ValueError("bad url")
    return raw.rstrip("/")


def is_private_host(host: str) -> bool:
    """A host name or address that is this machine or a private network's (loopback, private
    ranges, link-local, unique-local, unspecified). Names are judged by what they resolve to at
    connect time (`oore.providers.outbound`); here only `localhost` and literal addresses."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global


def _public_https(url: str, earlier: Earlier) -> bool:
    # A provider instance is contacted with our credentials: https and a public host only,
    # unless OORE_ALLOW_PRIVATE_PROVIDERS says a private one (a self-managed GitLab) is meant.
    if earlier["allow_private_providers"]:
        return True
    host = url.partition("://")[2].split("/", 1)[0]
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return url.lower().startswith("https://") and not is_private_host(host)


PROVIDER_URL_FORM = "expected a URL such as https://github.example.com (no user or password)"
PROVIDER_URL_RULE = Rule(
    _public_https,
    "expected an https:// URL of a public host (set OORE_ALLOW_PRIVATE_PROVIDERS=1 for a "
    "provider on a private network)",
)


def _patience_covers_quiet(patience: float, earlier: Earlier) -> bool:
    # Less patience than the pause waited for would never see a pause during a burst at all.
    return bool(patience >= earlier["ingest_quiet"])


# --- the table --------------------------------------------------------------------------------

BYTES = "expected a number of bytes > 0"
RETENTION_DAYS = "expected a number of days >= 0 (0: keep forever)"
# What expires on its own clock (OORE_RETENTION_<KIND>_DAYS, by default OORE_RETENTION_DAYS).
RETENTION_KINDS = ("logs", "artifacts", "caches", "events")

# In reading order: a Derived default or parser and a Rule see the rows above them. Adding a
# setting is a row here and a field on `oore.config.Settings` (and a line in the README's table).
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "OORE_BIND",
        ("bind_host", "bind_port"),
        _parse_bind,
        ("127.0.0.1", 8080),
        "expected HOST:PORT such as 127.0.0.1:8080 ([::1]:8080 for IPv6), port 0-65535",
    ),
    Setting(
        "OORE_DATA_DIR",
        "data_dir",
        _parse_abs_path,
        Derived(lambda earlier: earlier[DEFAULT_DATA_DIR]),
        "expected an absolute path",
    ),
    Setting(
        "OORE_ADMIN_TOKEN",
        "admin_token",
        parse_admin_token,
        None,
        f"expected at least {MIN_ADMIN_TOKEN_LENGTH} printable ASCII characters without spaces",
        Rule(_token_or_loopback, "required when OORE_BIND is not a loopback address"),
    ),
    Setting(
        "OORE_DATABASE_URL",
        "database_url",
        Derived(_parse_database_url),
        Derived(_default_database_url),
        "only sqlite:///PATH is supported for now",
    ),
    Setting(
        "OORE_BASE_URL",
        "base_url",
        _parse_base_url,
        Derived(_default_base_url),
        "expected a URL starting with http:// or https://, such as https://ci.example.com",
    ),
    Setting(
        "OORE_ENCRYPTION_KEY",
        "encryption_key",
        crypto.parse_key,
        None,
        "expected 64 hex characters or base64 of 32 bytes",
    ),
    Setting("OORE_GITHUB_WEBHOOK_SECRET", "github_webhook_secret", str, None, "any text"),
    Setting(
        "OORE_MAX_CONCURRENT_BUILDS",
        "max_concurrent_builds",
        _int_in(1, 64),
        2,
        "expected a whole number from 1 to 64",
    ),
    Setting(
        "OORE_SHUTDOWN_GRACE",
        "shutdown_grace",
        _non_negative_float,
        30.0,
        "expected a number of seconds >= 0",
    ),
    Setting(
        "OORE_LOG_LEVEL",
        "log_level",
        _choice(LOG_LEVELS),
        "info",
        "expected one of " + ", ".join(LOG_LEVELS),
    ),
    Setting(
        "OORE_LOG_FORMAT",
        "log_format",
        _choice(LOG_FORMATS),
        "text",
        "expected one of " + ", ".join(LOG_FORMATS),
    ),
    Setting("OORE_MAX_BODY_BYTES", "max_body_bytes", _int_in(1, None), 25 * MIB, BYTES),
    Setting(
        "OORE_KEEP_FAILED_WORKSPACES",
        "keep_failed_workspaces_hours",
        _non_negative_float,
        24.0,
        "expected a number of hours >= 0",
    ),
    Setting("OORE_MAX_LOG_BYTES", "max_log_bytes", _int_in(1, None), 200 * MIB, BYTES),
    Setting(
        "OORE_MIN_FREE_DISK",
        "min_free_disk",
        _int_in(0, None),
        2048 * MIB,
        "expected a number of bytes >= 0 (0: no check)",
    ),
    Setting(
        "OORE_RETENTION_DAYS",
        "retention_days",
        _non_negative_float,
        30.0,
        RETENTION_DAYS,
    ),
    *(
        Setting(
            f"OORE_RETENTION_{kind.upper()}_DAYS",
            f"retention_{kind}_days",
            _non_negative_float,
            Derived(lambda earlier: earlier["retention_days"]),
            RETENTION_DAYS,
        )
        for kind in RETENTION_KINDS
    ),
    Setting(
        "OORE_RETENTION_KEEP_BUILDS",
        "retention_keep_builds",
        _int_in(0, None),
        10,
        "expected a whole number >= 0 (builds kept per workflow whatever their age)",
    ),
    Setting(
        "OORE_RETENTION_INTERVAL",
        "retention_interval",
        _positive_float,
        3600.0,
        "expected a number of seconds > 0",
    ),
    Setting(
        "OORE_BUILD_USER",
        "build_user",
        _parse_user_name,
        None,
        "expected a user name or uid (the user builds run as), such as oore-build",
    ),
    Setting(
        "OORE_BUILD_NICE",
        "build_nice",
        _int_in(0, 19),
        10,
        "expected a whole number from 0 (the daemon's priority) to 19 (the lowest)",
    ),
    Setting(
        "OORE_BUILD_PATH",
        "build_path",
        _parse_search_path,
        None,
        "expected absolute folders separated by ':', such as /opt/flutter/bin:/usr/bin:/bin",
    ),
    Setting(
        "OORE_BUILD_ENV_FILE",
        "build_env_file",
        _parse_abs_path,
        None,
        "expected the absolute path of a file of KEY=value lines, such as /etc/oore/build.env",
    ),
    Setting(
        "OORE_FLUTTER_SDKS",
        "flutter_sdks",
        _parse_abs_paths,
        None,
        "expected absolute folders of Flutter SDKs separated by ':', such as /opt/flutter-sdks",
    ),
    Setting(
        "OORE_JAVA_HOMES",
        "java_homes",
        _parse_abs_paths,
        None,
        "expected absolute folders of JDKs separated by ':', such as /usr/lib/jvm",
    ),
    Setting(
        "OORE_XCODE_APPS",
        "xcode_apps",
        _parse_abs_path,
        Path("/Applications"),
        "expected the absolute folder holding Xcode-<version>.app, such as /Applications",
    ),
    Setting(
        "OORE_INGEST_QUIET",
        "ingest_quiet",
        _positive_float,
        0.02,
        "expected a number of seconds > 0",
    ),
    Setting(
        "OORE_TRUSTED_PROXIES",
        "trusted_proxies",
        _parse_networks,
        (),
        "expected the addresses or networks of your reverse proxies (no host bits set, not "
        "0.0.0.0/0), separated by commas, such as 127.0.0.1 or 10.0.0.0/8,::1",
    ),
    Setting(
        "OORE_ALLOW_PRIVATE_PROVIDERS",
        "allow_private_providers",
        _parse_bool,
        False,
        "expected 1 or 0 (true or false)",
    ),
    Setting(
        "OORE_GITHUB_URL",
        "github_url",
        _parse_provider_url,
        "https://github.com",
        PROVIDER_URL_FORM,
        PROVIDER_URL_RULE,
    ),
    Setting(
        "OORE_GITHUB_API_URL",
        "github_api_url",
        _parse_provider_url,
        "https://api.github.com",
        PROVIDER_URL_FORM,
        PROVIDER_URL_RULE,
    ),
    Setting(
        "OORE_GITLAB_URL",
        "gitlab_url",
        _parse_provider_url,
        "https://gitlab.com",
        PROVIDER_URL_FORM,
        PROVIDER_URL_RULE,
    ),
    Setting(
        "OORE_SLACK_API_URL",
        "slack_api_url",
        _parse_provider_url,
        "https://slack.com/api",
        PROVIDER_URL_FORM,
        PROVIDER_URL_RULE,
    ),
    Setting(
        "OORE_NOTIFY_MAX_AGE",
        "notify_max_age",
        _positive_float,
        86400.0,
        "expected a number of seconds > 0",
    ),
    Setting(
        "OORE_NOTIFY_RETRY_BASE",
        "notify_retry_base",
        _positive_float,
        5.0,
        "expected a number of seconds > 0",
    ),
    Setting(
        "OORE_NOTIFY_RETRY_MAX",
        "notify_retry_max",
        _positive_float,
        600.0,
        "expected a number of seconds > 0",
    ),
    Setting(
        "OORE_NOTIFY_CONCURRENCY",
        "notify_concurrency",
        _int_in(1, 64),
        4,
        "expected a whole number from 1 to 64",
    ),
    Setting(
        "OORE_INGEST_PATIENCE",
        "ingest_patience",
        _positive_float,
        5.0,
        "expected a number of seconds > 0",
        Rule(
            _patience_covers_quiet,
            "expected a number of seconds >= OORE_INGEST_QUIET (raise it, or lower that)",
        ),
    ),
)
