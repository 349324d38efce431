"""The rendered launchd plist, systemd unit and newsyslog file: they parse, carry the keys the
service needs, and (where systemd-analyze exists) the unit passes `systemd-analyze verify`."""

from __future__ import annotations

import configparser
import dataclasses
import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest

from oore.service import templates
from oore.service.launchd import LABEL, Launchd
from oore.service.layout import Layout
from oore.service.runner import ServiceError
from oore.service.systemd import Systemd
from tests.service.oored import OORED

LAYOUT = Layout(
    oored=OORED,
    env_file=Path("/etc/oore/oore.env"),
    data_dir=Path("/var/lib/oore"),
    shutdown_grace=45.0,
)


def test_plist_has_what_launchd_needs() -> None:
    plist = plistlib.loads(Launchd().render_plist(LAYOUT).encode())
    assert plist["Label"] == LABEL == "build.oore.oored"
    assert plist["ProgramArguments"] == [str(OORED), "run", "--log-file", "/var/log/oore/oored.log"]
    assert plist["EnvironmentVariables"]["OORE_ENV_FILE"] == "/etc/oore/oore.env"
    assert plist["EnvironmentVariables"]["HOME"] == "/var/lib/oore/home"
    assert plist["EnvironmentVariables"]["PATH"].split(":")[0] == str(OORED.parent)
    assert "/opt/homebrew/bin" in plist["EnvironmentVariables"]["PATH"].split(":")
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["ThrottleInterval"] == 10
    assert plist["ExitTimeOut"] == 75  # 45 s of grace + 30 s to cancel builds and close
    assert plist["SoftResourceLimits"] == {"NumberOfFiles": 65536}
    assert plist["HardResourceLimits"] == {"NumberOfFiles": 65536}
    assert plist["StandardOutPath"] == plist["StandardErrorPath"] == "/var/log/oore/oored.log"


def test_plist_escapes_paths() -> None:
    odd = Layout(
        oored=Path("/Users/me/R&D <ci>/bin/oored"),
        env_file=Path("/etc/oore/oore.env"),
        data_dir=Path("/var/lib/oore"),
        shutdown_grace=30.0,
    )
    plist = plistlib.loads(Launchd().render_plist(odd).encode())
    assert plist["ProgramArguments"][0] == "/Users/me/R&D <ci>/bin/oored"


def _unit_sections(text: str) -> configparser.ConfigParser:
    # strict=False: a unit may repeat a key (Environment=); the last one is kept, which is
    # enough for keys that appear once.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def test_unit_has_what_systemd_needs() -> None:
    text = Systemd().render_unit(LAYOUT)
    unit = _unit_sections(text)
    service = unit["Service"]
    assert service["ExecStart"] == f"{OORED} run"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/oore/oore.env"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"].split() == ["/var/lib/oore", "/var/log/oore"]
    assert service["PrivateTmp"] == "yes"
    assert service["LimitNOFILE"] == "65536"
    assert service["KillMode"] == "mixed"
    assert int(service["TimeoutStopSec"]) >= LAYOUT.shutdown_grace
    assert unit["Unit"]["After"] == "network-online.target"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert service["User"] == "root"  # builds run as OORE_BUILD_USER, which oored switches to
    assert service["WorkingDirectory"] == "/var/lib/oore"
    environment = [line for line in text.splitlines() if line.startswith("Environment=")]
    assert environment == [
        "Environment=OORE_ENV_FILE=/etc/oore/oore.env",
        "Environment=HOME=/var/lib/oore/home",
        f"Environment=PATH={OORED.parent}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    ]


def test_unit_and_plist_path_follow_oore_build_path() -> None:
    layout = dataclasses.replace(LAYOUT, build_path="/opt/flutter/bin:/usr/bin:/bin")
    expected = f"{OORED.parent}:/opt/flutter/bin:/usr/bin:/bin"
    assert f"Environment=PATH={expected}\n" in Systemd().render_unit(layout)
    plist = plistlib.loads(Launchd().render_plist(layout).encode())
    assert plist["EnvironmentVariables"]["PATH"] == expected
    assert (plist["UserName"], plist["WorkingDirectory"]) == ("root", "/var/lib/oore")


def test_an_oored_under_tmp_is_a_private_tmp_trap() -> None:
    # A fixed place, not this checkout's (which may itself be under /tmp, as CI's clone is).
    installed = dataclasses.replace(LAYOUT, oored=Path("/opt/oore/bin/oored"))
    assert Systemd().warnings(installed) == []
    for place in ("/tmp/venv/bin/oored", "/var/tmp/oore/bin/oored"):
        under_tmp = dataclasses.replace(LAYOUT, oored=Path(place))
        (warning,) = Systemd().warnings(under_tmp)
        assert f"oored is under a temporary folder ({place})" in warning
        assert "PrivateTmp=yes" in warning
        assert "install oore outside /tmp" in warning
        assert Launchd().warnings(under_tmp) == []  # launchd has no private /tmp


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (.ci/run installs it where apt can)")
    unit = tmp_path / "oored.service"
    unit.write_text(Systemd().render_unit(LAYOUT))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    # verify exits 0 on many warnings (an unknown key, a bad value): any output is a finding.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_unit_refuses_paths_systemd_would_misread() -> None:
    odd = Layout(
        oored=Path("/opt/my oore/bin/oored"),
        env_file=Path("/etc/oore/oore.env"),
        data_dir=Path("/var/lib/oore"),
        shutdown_grace=30.0,
    )
    with pytest.raises(ServiceError, match="a systemd unit would misread"):
        Systemd().render_unit(odd)


def test_newsyslog_rotates_the_log_file() -> None:
    line = Launchd().render_newsyslog(LAYOUT).splitlines()[-1]
    path, owner, mode, count, size, when, flags = line.split()
    assert (path, owner, mode, when) == ("/var/log/oore/oored.log", "root:wheel", "640", "*")
    assert int(count) > 0
    assert int(size) > 0
    assert "N" in flags, "no signal: oored reopens the file itself"


@pytest.mark.parametrize(
    "name",
    [templates.PLIST, templates.UNIT, templates.ENV, templates.NEWSYSLOG, templates.LOGROTATE],
)
def test_templates_ship_inside_the_package(name: str) -> None:
    shipped = Path(templates.__file__).parent.parent / "deploy" / name
    assert shipped.is_file()
    assert templates.template_text(name) == shipped.read_text()


def test_a_missing_value_is_an_error_not_a_blank() -> None:
    with pytest.raises(KeyError):
        templates.render(templates.NEWSYSLOG, {})
