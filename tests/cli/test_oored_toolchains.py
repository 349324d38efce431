"""`oored init`, `install --dry-run` and `doctor` with the toolchains of a fake machine: fake SDK
folders and executables in tmp dirs, named by the PATH, HOME and variables the command gets."""

from __future__ import annotations

import shutil
from pathlib import Path

from oore.config import parse_env_file
from tests.fakes.toolchains import android_sdk, executable, flutter_sdk, jdk
from tests.service.oored import OORED, environment, oored, oored_calls, parse_dry_run

SYSTEM = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


def _machine(tmp_path: Path) -> dict[str, str]:
    """A Flutter SDK on PATH, a JDK named by JAVA_HOME, an Android SDK in ~/Android/Sdk, pod."""
    home = tmp_path / "home"
    sdk = flutter_sdk(tmp_path / "opt", "flutter", version="3.19.0")
    java = jdk(tmp_path / "jvm", "jdk-17", "17.0.9")
    android_sdk(home / "Android" / "Sdk")
    executable(tmp_path / "gems" / "bin" / "pod", "echo 1.15.2")
    path = f"{sdk / 'bin'}:{tmp_path / 'gems' / 'bin'}:/usr/bin:/bin"
    return environment(home, PATH=path, JAVA_HOME=str(java), OORE_DATA_DIR=str(tmp_path / "data"))


def test_init_writes_the_build_path_and_env_file_it_detects(tmp_path: Path) -> None:
    env = _machine(tmp_path)
    path = tmp_path / "etc" / "oore.env"
    result = oored("init", "--env-file", str(path), env=env)
    assert result.returncode == 0, result.stderr
    values = parse_env_file(path)
    sdk, java, gems = tmp_path / "opt/flutter", tmp_path / "jvm/jdk-17", tmp_path / "gems/bin"
    android = tmp_path / "home/Android/Sdk"
    assert values["OORE_BUILD_PATH"] == (
        f"{sdk}/bin:{android}/platform-tools:{java}/bin:{gems}:{SYSTEM}"
    )
    build_env = Path(values["OORE_BUILD_ENV_FILE"])
    assert build_env == tmp_path / "etc" / "build.env"
    assert parse_env_file(build_env) == {
        "FLUTTER_ROOT": str(sdk),
        "ANDROID_HOME": str(android),
        "ANDROID_SDK_ROOT": str(android),
        "JAVA_HOME": str(java),
    }
    assert f"found Flutter: 3.19.0 ({sdk})" in result.stdout
    assert f"found Java: 17.0.9 ({java})" in result.stdout
    assert f"found Android SDK: platforms android-34 ({android})" in result.stdout
    assert f"found CocoaPods: 1.15.2 ({gems}/pod)" in result.stdout

    # Run again: the operator's edits to build.env are kept.
    build_env.write_text("JAVA_HOME=/elsewhere\n")
    again = oored("init", "--env-file", str(path), env=env)
    assert again.returncode == 0, again.stderr
    assert build_env.read_text() == "JAVA_HOME=/elsewhere\n"


def test_init_on_a_bare_machine_keeps_the_daemons_path(tmp_path: Path) -> None:
    env = environment(tmp_path, PATH=str(tmp_path / "empty"), OORE_DATA_DIR=str(tmp_path / "d"))
    path = tmp_path / "oore.env"
    result = oored("init", "--env-file", str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert "OORE_BUILD_PATH" not in parse_env_file(path)
    assert "found none of Xcode, Flutter, Android SDK, Java, CocoaPods, Ruby" in result.stdout


def test_doctor_shows_the_toolchains_builds_get(tmp_path: Path) -> None:
    env = _machine(tmp_path)
    path = tmp_path / "oore.env"
    assert oored("init", "--env-file", str(path), env=env).returncode == 0
    # Doctor looks with the builds' environment (OORE_BUILD_PATH, the build env file), not its own.
    bare = {**env, "PATH": "/usr/bin:/bin", "JAVA_HOME": "", "OORE_ENV_FILE": str(path)}
    result = oored("doctor", env=bare)
    java, android = tmp_path / "jvm/jdk-17", tmp_path / "home/Android/Sdk"
    assert f"✓ Java: 17.0.9 ({java})" in result.stdout, result.stdout
    assert f"✓ Android SDK: platforms android-34 ({android})" in result.stdout
    assert f"✓ Flutter: 3.19.0 ({tmp_path / 'opt/flutter'})" in result.stdout
    assert (
        f"✓ build environment: OORE_BUILD_PATH and 4 variables from {tmp_path / 'build.env'}"
        in (result.stdout)
    )


def test_doctor_says_what_to_do_without_java_or_android(tmp_path: Path) -> None:
    env = environment(tmp_path, PATH=str(tmp_path / "empty"), OORE_DATA_DIR=str(tmp_path / "d"))
    result = oored("doctor", env=env)
    assert "! Java: not found; Android builds need a JDK" in result.stdout, result.stdout
    assert "set JAVA_HOME in OORE_BUILD_ENV_FILE" in result.stdout
    assert "! Android SDK: not found; Android builds need it" in result.stdout
    assert "set ANDROID_HOME in OORE_BUILD_ENV_FILE" in result.stdout


def test_doctor_fails_on_a_bad_build_env_file(tmp_path: Path) -> None:
    build_env = tmp_path / "build.env"
    build_env.write_text("JAVA_HOME /opt/jdk\n")
    env = environment(
        tmp_path, OORE_DATA_DIR=str(tmp_path / "d"), OORE_BUILD_ENV_FILE=str(build_env)
    )
    result = oored("doctor", env=env)
    assert result.returncode == 1
    assert f"✗ build environment: {build_env}:1: expected KEY=value" in result.stdout


def test_install_dry_run_warns_of_an_oored_under_tmp(tmp_path: Path) -> None:
    # tmp_path is under /tmp: an oored installed there is what PrivateTmp=yes hides.
    copy = tmp_path / "venv" / "bin" / "oored"
    copy.parent.mkdir(parents=True)
    shutil.copy(OORED, copy)
    env = environment(
        tmp_path, OORE_SERVICE_PLATFORM="systemd", OORE_ENV_FILE=str(tmp_path / "oore.env")
    )
    (result,) = oored_calls([([str(copy), "install", "--dry-run"], env)])
    assert result.returncode == 0, result.stderr
    assert f"warning: oored is under a temporary folder ({copy})" in result.stderr
    assert "PrivateTmp=yes" in result.stderr
    unit = parse_dry_run(result.stdout).files["/etc/systemd/system/oored.service"]
    assert f"ExecStart={copy} run" in unit
