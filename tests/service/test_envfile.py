"""Planning the env file in-process: where it goes by default, and what a plan holds."""

from __future__ import annotations

from pathlib import Path

from oore.config import SYSTEM_ENV_FILE
from oore.service.envfile import default_env_file, plan_env_file
from oore.service.steps import WriteFile


def test_default_location_for_root_is_the_system_env_file() -> None:
    assert default_env_file(is_root=True, environ={"HOME": "/home/me"}) == SYSTEM_ENV_FILE


def test_default_location_for_a_user_is_the_per_user_data_dir() -> None:
    environ = {"HOME": "/home/me", "XDG_DATA_HOME": "/home/me/.data"}
    assert default_env_file(is_root=False, environ=environ) == Path("/home/me/.data/oore/oore.env")


def test_oore_env_file_wins() -> None:
    environ = {"HOME": "/home/me", "OORE_ENV_FILE": "/srv/oore.env"}
    assert default_env_file(is_root=True, environ=environ) == Path("/srv/oore.env")


def test_a_new_file_takes_bind_and_data_dir_from_the_environment(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path), "OORE_BIND": "0.0.0.0:9000", "OORE_DATA_DIR": "/srv/oore"}
    plan = plan_env_file(tmp_path / "oore.env", force=False, is_root=True, environ=environ)
    assert plan.values["OORE_BIND"] == "0.0.0.0:9000"
    assert plan.values["OORE_DATA_DIR"] == "/srv/oore"
    assert plan.generated == ["OORE_ADMIN_TOKEN", "OORE_ENCRYPTION_KEY"]
    (step,) = plan.steps
    assert isinstance(step, WriteFile)
    assert step.secret
    assert step.mode == 0o600
    assert "OORE_BIND=0.0.0.0:9000\n" in step.content
    assert f"OORE_ADMIN_TOKEN={plan.values['OORE_ADMIN_TOKEN']}\n" in step.content
    assert not (tmp_path / "oore.env").exists()


def test_repr_of_a_plan_shows_no_secret(tmp_path: Path) -> None:
    plan = plan_env_file(
        tmp_path / "oore.env", force=False, is_root=True, environ={"OORE_DATA_DIR": "/srv/o"}
    )
    for name in ("OORE_ADMIN_TOKEN", "OORE_ENCRYPTION_KEY"):
        assert plan.values[name] not in repr(plan)


def test_completing_a_file_adopts_only_what_it_lacks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "admin-token").write_text("from-the-data-dir-token\n")
    (data / "encryption-key").write_text("ab" * 32 + "\n")
    path = tmp_path / "oore.env"
    path.write_text(f"OORE_DATA_DIR={data}\nOORE_ADMIN_TOKEN=already-in-the-env-file\n")
    plan = plan_env_file(path, force=False, is_root=False, environ={"HOME": str(tmp_path)})
    assert plan.values["OORE_ADMIN_TOKEN"] == "already-in-the-env-file"
    assert plan.values["OORE_ENCRYPTION_KEY"] == "ab" * 32
    assert plan.adopted == {"OORE_ENCRYPTION_KEY": data / "encryption-key"}
    assert plan.generated == []
