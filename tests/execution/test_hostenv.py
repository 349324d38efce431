"""OORE_BUILD_PATH and OORE_BUILD_ENV_FILE: what every build gets, read once at start; a file
that cannot be used stops the start with its name and line; daemon secrets still stay out."""

from __future__ import annotations

from pathlib import Path

import pytest

from oore.config import settings_from
from oore.errors import ConfigError
from oore.execution.env import HostEnv, base_environment
from oore.execution.hostenv import host_env, read_build_env_file, toolchain_dirs
from oore.execution.toolchains import ToolEnv

PARENT = {
    "PATH": "/daemon/bin",
    "HOME": "/home/x",
    "OORE_ADMIN_TOKEN": "admin-token-never-in-builds",
    "AWS_SECRET_ACCESS_KEY": "nope",
}


def test_build_path_and_env_file_variables_reach_the_base(tmp_path: Path) -> None:
    host = HostEnv("/opt/flutter/bin:/usr/bin:/bin", {"ANDROID_HOME": "/opt/android"})
    env = base_environment(PARENT, host)
    assert env == {
        "PATH": "/opt/flutter/bin:/usr/bin:/bin",
        "HOME": "/home/x",
        "ANDROID_HOME": "/opt/android",
    }
    assert base_environment(PARENT, HostEnv()) == {"PATH": "/daemon/bin", "HOME": "/home/x"}


def test_a_toolchain_goes_before_the_build_path() -> None:
    host = HostEnv("/usr/bin:/bin", {"JAVA_HOME": "/usr/lib/jvm/default"})
    tools = ToolEnv(("/jdk17/bin",), {"JAVA_HOME": "/jdk17"})
    env = tools.apply(base_environment(PARENT, host))
    assert (env["PATH"], env["JAVA_HOME"]) == ("/jdk17/bin:/usr/bin:/bin", "/jdk17")


def test_host_env_reads_the_file(tmp_path: Path) -> None:
    file = tmp_path / "build.env"
    file.write_text("# toolchains\nANDROID_HOME=/opt/android\nexport JAVA_HOME='/opt/jdk'\n")
    settings = settings_from(
        {"HOME": str(tmp_path), "OORE_BUILD_ENV_FILE": str(file), "OORE_BUILD_PATH": "/a:/b"},
        is_root=False,
    )
    assert host_env(settings) == HostEnv(
        "/a:/b", {"ANDROID_HOME": "/opt/android", "JAVA_HOME": "/opt/jdk"}
    )


def test_a_missing_or_bad_file_is_named_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"OORE_BUILD_ENV_FILE: {tmp_path}/nope does not exist"):
        read_build_env_file(tmp_path / "nope")
    bad = tmp_path / "build.env"
    bad.write_text("ANDROID_HOME=/opt/android\nJAVA_HOME /opt/jdk\n")
    with pytest.raises(ConfigError, match=f"{bad}:2: expected KEY=value"):
        read_build_env_file(bad)


def test_unreadable_file_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "build.env"
    folder.mkdir()  # reading a folder fails for root too, unlike a chmod 000 file
    with pytest.raises(ConfigError, match=f"{folder}: cannot read the env file"):
        read_build_env_file(folder)


def test_daemon_settings_in_the_build_env_file_are_refused(tmp_path: Path) -> None:
    # The daemon's env file named by mistake would give every build the admin token.
    file = tmp_path / "oore.env"
    file.write_text("ANDROID_HOME=/opt/android\nOORE_ADMIN_TOKEN=admin-token-never-in-builds\n")
    with pytest.raises(ConfigError) as caught:
        read_build_env_file(file)
    assert f"{file}:2: OORE_ADMIN_TOKEN is a daemon setting" in caught.value.message
    assert "admin-token-never-in-builds" not in caught.value.message


def test_toolchain_folders_default_to_fvm_and_the_system_jdks(tmp_path: Path) -> None:
    settings = settings_from({"HOME": str(tmp_path)}, is_root=False)
    dirs = toolchain_dirs(settings, (tmp_path / "build", tmp_path / "daemon", tmp_path / "build"))
    assert dirs.flutter_sdks == (tmp_path / "build/fvm/versions", tmp_path / "daemon/fvm/versions")
    assert dirs.xcode_apps == Path("/Applications")
    named = settings_from(
        {
            "HOME": str(tmp_path),
            "OORE_FLUTTER_SDKS": "/opt/flutter-sdks:/srv/sdks",
            "OORE_JAVA_HOMES": "/opt/jdks",
            "OORE_XCODE_APPS": "/Volumes/Xcodes",
        },
        is_root=False,
    )
    dirs = toolchain_dirs(named, (tmp_path,))
    assert dirs.flutter_sdks == (Path("/opt/flutter-sdks"), Path("/srv/sdks"))
    assert dirs.java_homes == (Path("/opt/jdks"),)
    assert dirs.xcode_apps == Path("/Volumes/Xcodes")
