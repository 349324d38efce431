"""Choosing launchd or systemd, and the purge guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from oore.service.launchd import Launchd
from oore.service.layout import Layout
from oore.service.manager import detect, uninstall_plan
from oore.service.runner import ServiceError
from oore.service.steps import Remove
from oore.service.systemd import Systemd


def test_macos_is_launchd(tmp_path: Path) -> None:
    assert isinstance(detect({}, platform="darwin", systemd_runtime=tmp_path), Launchd)


def test_linux_with_systemd_running_is_systemd(tmp_path: Path) -> None:
    assert isinstance(detect({}, platform="linux", systemd_runtime=tmp_path), Systemd)


def test_linux_without_systemd_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="systemd is not running on this machine"):
        detect({}, platform="linux", systemd_runtime=tmp_path / "absent")


def test_other_systems_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="not freebsd14"):
        detect({}, platform="freebsd14", systemd_runtime=tmp_path)


@pytest.mark.parametrize(("forced", "kind"), [("launchd", Launchd), ("systemd", Systemd)])
def test_the_environment_can_force_either(tmp_path: Path, forced: str, kind: type) -> None:
    environ = {"OORE_SERVICE_PLATFORM": forced}
    assert isinstance(detect(environ, platform="linux", systemd_runtime=tmp_path / "x"), kind)


@pytest.mark.parametrize("data_dir", ["/", "/srv"])
def test_purge_refuses_top_level_directories(data_dir: str) -> None:
    layout = Layout(Path("/x/oored"), Path("/etc/oore/oore.env"), Path(data_dir), 30.0)
    with pytest.raises(ServiceError, match=f"refusing to purge {data_dir}"):
        uninstall_plan(Systemd(), layout, purge=True)


def test_purge_removes_data_logs_and_env_file() -> None:
    layout = Layout(Path("/x/oored"), Path("/etc/oore/oore.env"), Path("/srv/oore"), 30.0)
    removed = [step.path for step in uninstall_plan(Systemd(), layout, purge=True)[-3:]]
    assert removed == [Path("/srv/oore"), Path("/var/log/oore"), Path("/etc/oore/oore.env")]
    kept = uninstall_plan(Systemd(), layout, purge=False)
    assert not any(isinstance(step, Remove) and step.path == Path("/srv/oore") for step in kept)
