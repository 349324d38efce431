from __future__ import annotations

import stat
from pathlib import Path

import pytest

from oore import crypto
from oore.config import Settings, settings_from
from oore.errors import ConfigError
from oore.secretfiles import _create_secret_file, ensure_secrets

TOKEN = "tok_" + "A1b2C3d4E5f6G7h8"
KEY_HEX = "7f" * 32


def settings(data_dir: Path, **values: str) -> Settings:
    return settings_from({"OORE_DATA_DIR": str(data_dir), **values}, is_root=False)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ensure_secrets_generates_private_files_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    first = ensure_secrets(settings(data_dir))

    assert mode(data_dir) == 0o700
    token_file, key_file = data_dir / "admin-token", data_dir / "encryption-key"
    assert mode(token_file) == 0o600
    assert mode(key_file) == 0o600
    assert first.admin_token is not None
    assert first.admin_token.startswith("oore_")
    assert first.admin_token_file == token_file
    assert token_file.read_text().strip() == first.admin_token
    assert first.encryption_key == crypto.parse_key(key_file.read_text())
    assert sorted(p.name for p in data_dir.iterdir()) == ["admin-token", "encryption-key"]

    second = ensure_secrets(settings(data_dir))
    assert second.admin_token == first.admin_token
    assert second.encryption_key == first.encryption_key


def test_ensure_secrets_keeps_configured_values(tmp_path: Path) -> None:
    configured = settings(tmp_path / "d", OORE_ADMIN_TOKEN=TOKEN, OORE_ENCRYPTION_KEY=KEY_HEX)
    assert ensure_secrets(configured) == configured
    assert list((tmp_path / "d").iterdir()) == []


def test_ensure_secrets_reuses_and_tightens_existing_files(tmp_path: Path) -> None:
    token_file = write(tmp_path / "admin-token", TOKEN + "\n")
    key_file = write(tmp_path / "encryption-key", KEY_HEX)
    token_file.chmod(0o644)
    key_file.chmod(0o640)
    loaded = ensure_secrets(settings(tmp_path))
    assert loaded.admin_token == TOKEN
    assert loaded.encryption_key == bytes.fromhex(KEY_HEX)
    assert mode(token_file) == 0o600
    assert mode(key_file) == 0o600


@pytest.mark.parametrize("name", ["admin-token", "encryption-key"])
@pytest.mark.parametrize("content", [b"", b"hunter2", b"\xff\xfe"])
def test_ensure_secrets_refuses_a_bad_existing_file(
    tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        ensure_secrets(settings(tmp_path))
    assert str(path) in info.value.message
    assert "hunter2" not in info.value.message
    assert path.read_bytes() == content  # never overwritten


def test_ensure_secrets_reports_an_unusable_data_dir(tmp_path: Path) -> None:
    not_a_dir = write(tmp_path / "file", "")
    with pytest.raises(ConfigError, match="not a directory"):
        ensure_secrets(settings(not_a_dir))


def test_secret_files_are_created_private_and_never_overwritten(tmp_path: Path) -> None:
    # Tested directly because reading a secret file tightens it, which would hide a loose
    # creation mode from the ensure_secrets tests above.
    path = tmp_path / "admin-token"
    _create_secret_file(path, "first")
    assert mode(path) == 0o600
    _create_secret_file(path, "second")  # as when another process won the race
    assert path.read_text() == "first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["admin-token"]
