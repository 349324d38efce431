"""The daemon's settings: defaults, then an env file, then the environment, validated into one
frozen `Settings`. Every problem is collected and reported at once in a single `ConfigError` whose
lines name the key and the expected form, never a secret's value. `ensure_secrets` fills in a
missing admin token and encryption key from files in the data directory, generating them once.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from oore import crypto
from oore.errors import ConfigError

T = TypeVar("T")

SYSTEM_ENV_FILE = Path("/etc/oore/oore.env")
SYSTEM_DATA_DIR = Path("/var/lib/oore")
ADMIN_TOKEN_FILE = "admin-token"
ENCRYPTION_KEY_FILE = "encryption-key"
SQLITE_PREFIX = "sqlite:///"
MIN_ADMIN_TOKEN_LENGTH = 16
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
MIB = 1024 * 1024

_ENV_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")
_HOSTNAME = re.compile(r"[A-Za-z0-9.-]+")
_SECRET_PROBLEM = (
    "{path} is empty or malformed; restore it from a backup, or delete it to have a new one "
    "generated (values sealed with an old encryption key cannot be opened with a new one)"
)


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
    env_file: Path | None
    admin_token_file: Path | None = None
    build_user: str | None = None  # OORE_BUILD_USER; None: builds run as the daemon's user

    @property
    def database_path(self) -> Path:
        return Path(self.database_url.removeprefix(SQLITE_PREFIX))

    @property
    def is_loopback(self) -> bool:
        return _is_loopback_host(self.bind_host)


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    is_root: bool | None = None,
    system_env_file: Path = SYSTEM_ENV_FILE,
) -> Settings:
    """Read and validate the settings; raise one ConfigError listing every problem found."""
    env = os.environ if environ is None else environ
    root = os.geteuid() == 0 if is_root is None else is_root
    env_file = _choose_env_file(env, system_env_file)
    file_values, errors = (
        _parse_env_text(env_file, _read_env_file(env_file)) if env_file else ({}, [])
    )
    # "Empty = unset" per layer: an empty variable does not blank out the env file's value.
    values = _non_empty(file_values) | _non_empty(env)
    reader = _Reader(values, errors)
    settings = _build(reader, default_data_dir(is_root=root, environ=env), env_file)
    if reader.errors:
        raise ConfigError("\n".join(reader.errors))
    return settings


def _choose_env_file(environ: Mapping[str, str], system_env_file: Path) -> Path | None:
    named = environ.get("OORE_ENV_FILE", "")
    if named:
        path = Path(named).absolute()
        if not _exists(path):
            raise ConfigError(f"OORE_ENV_FILE: {path} does not exist")
        return path
    return system_env_file if _exists(system_env_file) else None


def _exists(path: Path) -> bool:
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True  # There but out of reach: reading it will say why.
    return True


def _non_empty(values: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in values.items() if value}


def parse_env_file(path: Path) -> dict[str, str]:
    """Parse `KEY=value` lines (`export` prefix, quotes, `#` comments); no interpolation."""
    values, errors = _parse_env_text(path, _read_env_file(path))
    if errors:
        raise ConfigError("\n".join(errors))
    return values


def _parse_env_text(path: Path, text: str) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = _parse_env_line(line)
        if entry is None:
            # The line number only: a malformed line may well hold a secret.
            errors.append(f"{path}:{number}: expected KEY=value, KEY='value' or KEY=\"value\"")
        elif entry:
            values[entry[0]] = entry[1]
    return values, errors


def _read_env_file(path: Path) -> str:
    try:
        # utf-8-sig: editors on macOS and Windows sometimes save a byte-order mark.
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the env file is not valid UTF-8") from None
    except OSError as exc:
        hint = "; run as its owner or set OORE_ENV_FILE" if isinstance(exc, PermissionError) else ""
        raise ConfigError(f"{path}: cannot read the env file ({exc.strerror}){hint}") from None


def _parse_env_line(line: str) -> tuple[str, str] | tuple[()] | None:
    """(key, value) for a setting, () for a blank or comment line, None for a malformed one."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return ()
    match = _ENV_LINE.fullmatch(stripped)
    if match is None:
        return None
    value = _unquote(match.group(2))
    return None if value is None else (match.group(1), value)


def _unquote(value: str) -> str | None:
    if value[:1] in ("'", '"'):
        if len(value) < 2 or value[-1] != value[0]:
            return None
        return value[1:-1]
    return value


class _Reader:
    """Looks up one key at a time, recording a problem instead of raising so all are reported."""

    def __init__(self, values: Mapping[str, str], errors: list[str]) -> None:
        self._values = values
        self.errors = errors

    def raw(self, key: str) -> str | None:
        return self._values.get(key)

    def get(self, key: str, parse: Callable[[str], T], default: T, problem: str) -> T:
        raw = self._values.get(key)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError:
            # The exception's own text is dropped: it may quote the (possibly secret) value.
            self.errors.append(f"{key}: {problem}")
            return default

    def fail(self, message: str) -> None:
        self.errors.append(message)


def _build(reader: _Reader, default_dir: Path, env_file: Path | None) -> Settings:
    host, port = reader.get(
        "OORE_BIND",
        _parse_bind,
        ("127.0.0.1", 8080),
        "expected HOST:PORT such as 127.0.0.1:8080 ([::1]:8080 for IPv6), port 0-65535",
    )
    data_dir = reader.get(
        "OORE_DATA_DIR", _parse_abs_path, default_dir, "expected an absolute path"
    )
    admin_token = reader.get(
        "OORE_ADMIN_TOKEN",
        _parse_admin_token,
        None,
        f"expected at least {MIN_ADMIN_TOKEN_LENGTH} printable ASCII characters without spaces",
    )
    # A token that is present but malformed has its own message; "required" would mislead.
    if reader.raw("OORE_ADMIN_TOKEN") is None and not _is_loopback_host(host):
        reader.fail("OORE_ADMIN_TOKEN: required when OORE_BIND is not a loopback address")
    return Settings(
        bind_host=host,
        bind_port=port,
        data_dir=data_dir,
        database_url=reader.get(
            "OORE_DATABASE_URL",
            lambda raw: _parse_database_url(raw, data_dir),
            _sqlite_url(data_dir / "oore.db"),
            "only sqlite:///PATH is supported for now",
        ),
        base_url=reader.get(
            "OORE_BASE_URL",
            _parse_base_url,
            _default_base_url(host, port),
            "expected a URL starting with http:// or https://, such as https://ci.example.com",
        ),
        admin_token=admin_token,
        encryption_key=reader.get(
            "OORE_ENCRYPTION_KEY",
            crypto.parse_key,
            None,
            "expected 64 hex characters or base64 of 32 bytes",
        ),
        github_webhook_secret=reader.raw("OORE_GITHUB_WEBHOOK_SECRET"),
        max_concurrent_builds=reader.get(
            "OORE_MAX_CONCURRENT_BUILDS", _int_in(1, 64), 2, "expected a whole number from 1 to 64"
        ),
        shutdown_grace=reader.get(
            "OORE_SHUTDOWN_GRACE", _non_negative_float, 30.0, "expected a number of seconds >= 0"
        ),
        log_level=reader.get(
            "OORE_LOG_LEVEL",
            _choice(LOG_LEVELS),
            "info",
            "expected one of " + ", ".join(LOG_LEVELS),
        ),
        log_format=reader.get(
            "OORE_LOG_FORMAT",
            _choice(LOG_FORMATS),
            "text",
            "expected one of " + ", ".join(LOG_FORMATS),
        ),
        max_body_bytes=reader.get(
            "OORE_MAX_BODY_BYTES", _int_in(1, None), 25 * MIB, "expected a number of bytes > 0"
        ),
        keep_failed_workspaces_hours=reader.get(
            "OORE_KEEP_FAILED_WORKSPACES",
            _non_negative_float,
            24.0,
            "expected a number of hours >= 0",
        ),
        max_log_bytes=reader.get(
            "OORE_MAX_LOG_BYTES", _int_in(1, None), 200 * MIB, "expected a number of bytes > 0"
        ),
        env_file=env_file,
        build_user=reader.get(
            "OORE_BUILD_USER",
            _parse_user_name,
            None,
            "expected a user name or uid (the user builds run as), such as oore-build",
        ),
    )


def _parse_user_name(raw: str) -> str | None:
    if not raw:
        return None
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\$?", raw):
        raise ValueError("bad user name")
    return raw


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


def _is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _default_base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _parse_abs_path(raw: str) -> Path:
    path = Path(raw)
    if not path.is_absolute():
        raise ValueError("not absolute")
    return path


def _parse_database_url(raw: str, data_dir: Path) -> str:
    if not raw.startswith(SQLITE_PREFIX) or raw == SQLITE_PREFIX:
        raise ValueError("unsupported database url")
    # As in SQLAlchemy, sqlite:///name is relative and sqlite:////abs/name absolute.
    return _sqlite_url(data_dir / raw.removeprefix(SQLITE_PREFIX))


def _sqlite_url(path: Path) -> str:
    return SQLITE_PREFIX + str(path)


def _parse_base_url(raw: str) -> str:
    scheme, sep, rest = raw.partition("://")
    if scheme.lower() not in ("http", "https") or not sep or not rest.strip("/"):
        raise ValueError("bad url")
    # Other modules append paths ("/api/webhooks/github"); a trailing slash would double up.
    return raw.rstrip("/")


def _parse_admin_token(raw: str) -> str:
    # Tokens travel in an Authorization header, so whitespace and non-ASCII would break them.
    if len(raw) < MIN_ADMIN_TOKEN_LENGTH or not all("!" <= char <= "~" for char in raw):
        raise ValueError("bad token")
    return raw


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


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError("not an option")
        return value

    return parse


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


def ensure_secrets(settings: Settings) -> Settings:
    """Create the data dir, then load or generate (once) any admin token or key not configured."""
    _make_private_dir(settings.data_dir)
    if settings.admin_token is None:
        path = settings.data_dir / ADMIN_TOKEN_FILE
        token = _load_admin_token(path)
        settings = dataclasses.replace(settings, admin_token=token, admin_token_file=path)
    if settings.encryption_key is None:
        key = _load_encryption_key(settings.data_dir / ENCRYPTION_KEY_FILE)
        settings = dataclasses.replace(settings, encryption_key=key)
    return settings


def _make_private_dir(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        if not path.is_dir():
            raise ConfigError(f"data directory {path} exists but is not a directory") from None
    except OSError as exc:
        raise ConfigError(f"cannot create data directory {path}: {exc.strerror}") from None


def _load_admin_token(path: Path) -> str:
    token = _read_or_create_secret(path, crypto.generate_token)
    try:
        return _parse_admin_token(token)
    except ValueError:
        raise ConfigError(_SECRET_PROBLEM.format(path=path)) from None


def _load_encryption_key(path: Path) -> bytes:
    try:
        return crypto.parse_key(_read_or_create_secret(path, crypto.generate_key))
    except ValueError:
        raise ConfigError(_SECRET_PROBLEM.format(path=path)) from None


def _read_or_create_secret(path: Path, generate: Callable[[], str]) -> str:
    try:
        if not path.exists():
            _create_secret_file(path, generate())
        return _read_secret_file(path)
    except OSError as exc:
        raise ConfigError(f"cannot read or create {path}: {exc.strerror}") from None


def _create_secret_file(path: Path, value: str) -> None:
    """Write to a private temporary file, then hard-link it into place.

    The link either publishes a complete file or fails because another process got there first,
    so a crash or a concurrent start never leaves an empty or half-written secret behind, and an
    existing secret is never overwritten.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(value + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # Another process created it first; its value wins and is read back.
    finally:
        temporary.unlink(missing_ok=True)


def _read_secret_file(path: Path) -> str:
    with path.open("rb") as file:
        # Tighten through the open descriptor so a swapped-in file cannot be chmod-ed instead.
        if os.fstat(file.fileno()).st_mode & 0o077:
            os.fchmod(file.fileno(), 0o600)
        data = file.read()
    # Undecodable bytes become U+FFFD, which the token and key checks then refuse.
    return data.decode("utf-8", errors="replace").strip()
