"""Planning the env file in-process: what a plan holds, and how it checks the values."""

from __future__ import annotations

from pathlib import Path

from oore.service.envfile import plan_env_file
from oore.service.steps import WriteFile

# Where the file goes by default is `oore.config.which_env_file`'s decision: tests/test_config.py.


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


def test_a_file_naming_another_env_file_is_checked_by_its_own_values(tmp_path: Path) -> None:
    # oored takes OORE_ENV_FILE from its environment only; inside a file it is just a line, so
    # checking the file's values must not go looking for the file it names.
    path = tmp_path / "oore.env"
    path.write_text(f"OORE_ENV_FILE={tmp_path / 'nowhere.env'}\nOORE_DATA_DIR={tmp_path}\n")
    plan = plan_env_file(path, force=False, is_root=True, environ={"HOME": str(tmp_path)})
    assert plan.generated == ["OORE_ADMIN_TOKEN", "OORE_ENCRYPTION_KEY"]
