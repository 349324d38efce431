"""The secret files in the data directory: `ensure_secrets` fills in an admin token or
encryption key that is not configured from its file there (admin-token, encryption-key),
generating the file once, privately, so that a crash or a concurrent start never leaves a partial
secret behind and an existing one is never overwritten.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from oore import crypto
from oore.config import Settings
from oore.errors import ConfigError
from oore.settingstable import parse_admin_token

ADMIN_TOKEN_FILE = "admin-token"
ENCRYPTION_KEY_FILE = "encryption-key"

_SECRET_PROBLEM = (
    "{path} is empty or malformed; restore it from a backup, or delete it to have a new one "
    "generated (values sealed with an old encryption key cannot be opened with a new one)"
)


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
        return parse_admin_token(token)
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
