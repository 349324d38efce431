"""`oored init` through the real executable: a new env file is 0600 with a valid token and key,
an existing one keeps every value, --force regenerates, --dry-run writes nothing and shows no
secret, and no secret is ever printed."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from oore.config import load_settings, parse_env_file
from oore.crypto import KEY_BYTES, parse_key
from oore.settingstable import MIN_ADMIN_TOKEN_LENGTH
from tests.service.oored import Result, environment, oored, parse_dry_run

SECRET_LOOKING = re.compile(r"oore_[A-Za-z0-9_-]{20,}|[0-9a-f]{64}")
GIVEN_TOKEN = "given-admin-token-0123456789"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    # The data dir is named, so no real /var/lib/oore secrets are ever adopted.
    return environment(tmp_path, OORE_DATA_DIR=str(tmp_path / "data"))


def test_new_file_is_private_with_valid_secrets(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "etc" / "oore.env"
    result = oored("init", "--env-file", str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = parse_env_file(path)
    assert len(parse_key(values["OORE_ENCRYPTION_KEY"])) == KEY_BYTES
    assert len(values["OORE_ADMIN_TOKEN"]) >= MIN_ADMIN_TOKEN_LENGTH
    assert values["OORE_DATA_DIR"] == str(tmp_path / "data")
    settings = load_settings({"OORE_ENV_FILE": str(path)}, is_root=True)
    assert settings.admin_token == values["OORE_ADMIN_TOKEN"]
    assert f"generated OORE_ADMIN_TOKEN and OORE_ENCRYPTION_KEY in {path}" in result.stdout
    assert f"grep OORE_ADMIN_TOKEN {path}" in result.stdout
    _assert_no_secret(result, values)


def test_existing_values_are_kept_and_missing_ones_added(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = tmp_path / "oore.env"
    original = f"# ours\nOORE_BIND=0.0.0.0:9000\nOORE_ADMIN_TOKEN={GIVEN_TOKEN}\n"
    path.write_text(original)
    path.chmod(0o644)
    result = oored("init", "--env-file", str(path), env=env)
    assert result.returncode == 0, result.stderr
    text = path.read_text()
    assert text.startswith(original)
    values = parse_env_file(path)
    assert values["OORE_ADMIN_TOKEN"] == GIVEN_TOKEN
    assert values["OORE_BIND"] == "0.0.0.0:9000"
    parse_key(values["OORE_ENCRYPTION_KEY"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    _assert_no_secret(result, values)

    again = oored("init", "--env-file", str(path), env=env)
    assert again.returncode == 0, again.stderr
    assert path.read_text() == text
    assert "already has an admin token and an encryption key" in again.stdout


def test_complete_file_with_broad_mode_is_tightened(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "oore.env"
    text = f"OORE_ADMIN_TOKEN={GIVEN_TOKEN}\nOORE_ENCRYPTION_KEY={'cd' * 32}\n"
    path.write_text(text)
    path.chmod(0o644)
    (tmp_path / "build.env").write_text("")  # there already: init adds only its name
    result = oored("init", "--env-file", str(path), env={**env, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    added = path.read_text().removeprefix(text)
    assert parse_env_file(path) == {**parse_env_file(path), "OORE_ADMIN_TOKEN": GIVEN_TOKEN}
    assert {line.partition("=")[0] for line in added.splitlines() if "=" in line} <= {
        "OORE_BUILD_ENV_FILE",
        "OORE_BUILD_PATH",
    }
    assert (tmp_path / "build.env").read_text() == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_secrets_generated_by_oored_run_are_adopted(tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "encryption-key").write_text("ef" * 32 + "\n")
    path = tmp_path / "oore.env"
    result = oored("init", "--env-file", str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert parse_env_file(path)["OORE_ENCRYPTION_KEY"] == "ef" * 32
    assert f"kept OORE_ENCRYPTION_KEY from {data / 'encryption-key'}" in result.stdout


def test_force_regenerates(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "oore.env"
    path.write_text(f"OORE_ADMIN_TOKEN={GIVEN_TOKEN}\nOORE_ENCRYPTION_KEY={'cd' * 32}\n")
    result = oored("init", "--force", "--env-file", str(path), env=env)
    assert result.returncode == 0, result.stderr
    values = parse_env_file(path)
    assert values["OORE_ADMIN_TOKEN"] != GIVEN_TOKEN
    assert values["OORE_ENCRYPTION_KEY"] != "cd" * 32
    parse_key(values["OORE_ENCRYPTION_KEY"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "--force replaced the encryption key" in result.stderr


def test_dry_run_writes_nothing_and_redacts(tmp_path: Path, env: dict[str, str]) -> None:
    new = tmp_path / "new.env"
    result = oored("init", "--dry-run", "--env-file", str(new), env=env)
    assert result.returncode == 0, result.stderr
    assert not new.exists()
    shown = parse_dry_run(result.stdout).files[str(new)]
    assert "OORE_ADMIN_TOKEN=<redacted>\n" in shown
    assert "OORE_ENCRYPTION_KEY=<redacted>\n" in shown
    assert not SECRET_LOOKING.search(result.stdout + result.stderr)

    existing = tmp_path / "existing.env"
    existing.write_text(f"OORE_ADMIN_TOKEN={GIVEN_TOKEN}\n")
    before = existing.read_text()
    result = oored("init", "--dry-run", "--env-file", str(existing), env=env)
    assert result.returncode == 0, result.stderr
    assert existing.read_text() == before
    assert GIVEN_TOKEN not in result.stdout + result.stderr
    assert (
        parse_dry_run(result.stdout)
        .files[str(existing)]
        .startswith("OORE_ADMIN_TOKEN=<redacted>\n")
    )


def test_malformed_values_are_reported_without_them(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "oore.env"
    path.write_text("OORE_ENCRYPTION_KEY=not-a-key-but-secret\n")
    result = oored("init", "--env-file", str(path), env=env)
    assert result.returncode == 78
    assert "OORE_ENCRYPTION_KEY: expected 64 hex characters or base64 of 32 bytes" in result.stderr
    assert "not-a-key-but-secret" not in result.stderr
    assert path.read_text() == "OORE_ENCRYPTION_KEY=not-a-key-but-secret\n"


def test_oore_env_file_names_the_target(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "named.env"
    result = oored("init", env={**env, "OORE_ENV_FILE": str(path)})
    assert result.returncode == 0, result.stderr
    assert "OORE_ADMIN_TOKEN" in parse_env_file(path)


def _assert_no_secret(result: Result, values: dict[str, str]) -> None:
    for name in ("OORE_ADMIN_TOKEN", "OORE_ENCRYPTION_KEY"):
        assert values[name] not in result.stdout + result.stderr
