from __future__ import annotations

from pathlib import Path

from oore.execution.env import BuildPaths, base_environment, build_environment, read_cm_env
from oore.model import Build, BuildStatus, Provider, Repository, Trigger, TriggerKind


def test_cm_env_lines_and_heredoc(tmp_path: Path) -> None:
    path = tmp_path / "cm_env"
    path.write_text("A=1\nB=two words=ok\nNOT A LINE\nCERT<<EOF\nline1\nline2\nEOF\nC=\n")
    assert read_cm_env(path) == {"A": "1", "B": "two words=ok", "CERT": "line1\nline2", "C": ""}
    assert read_cm_env(tmp_path / "absent") == {}


def test_daemon_secrets_never_inherited() -> None:
    parent = {
        "PATH": "/bin",
        "HOME": "/home/x",
        "OORE_ADMIN_TOKEN": "secret-admin",
        "OORE_ENCRYPTION_KEY": "k" * 64,
        "AWS_SECRET_ACCESS_KEY": "nope",
    }
    assert base_environment(parent) == {"PATH": "/bin", "HOME": "/home/x"}


def test_build_environment_names(tmp_path: Path) -> None:
    build = Build(
        id="01BUILD",
        repository_id="r",
        number=7,
        workflow="ios",
        status=BuildStatus.RUNNING,
        trigger=Trigger(Provider.GITHUB, TriggerKind.PUSH, "acme", "app", "a" * 40, branch="main"),
        created_at="",
        project_build_number=3,
        extra_env={"EXTRA": "x"},
    )
    repo = Repository("r", Provider.GITHUB, "acme", "app", "file:///x")
    paths = BuildPaths(tmp_path / "ws", tmp_path / "export", tmp_path / "env")
    env = build_environment(
        build,
        repo,
        paths,
        workflow_vars={"FLAVOR": "prod", "CI": "overridden?"},
        secrets={"API_KEY": "s3cret"},
        tool_versions={"flutter": "3.24.0"},
        parent={"PATH": "/bin", "OORE_ADMIN_TOKEN": "t"},
    )
    assert env["CI"] == "true"
    assert env["CM_BUILD_DIR"] == env["FCI_BUILD_DIR"] == str(tmp_path / "ws")
    assert (env["BUILD_NUMBER"], env["PROJECT_BUILD_NUMBER"]) == ("7", "3")
    assert env["CM_BRANCH"] == env["OORE_BRANCH"] == "main"
    assert env["CM_REPO_SLUG"] == "acme/app"
    assert env["OORE_FLUTTER_VERSION"] == "3.24.0"
    assert (env["FLAVOR"], env["API_KEY"], env["EXTRA"]) == ("prod", "s3cret", "x")
    assert env["OORE_PULL_REQUEST"] == "false"
    assert "OORE_ADMIN_TOKEN" not in env
