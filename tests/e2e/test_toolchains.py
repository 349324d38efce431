"""Toolchains reach builds (a real `oored run`): OORE_BUILD_PATH and OORE_BUILD_ENV_FILE give every
build its PATH and variables; `environment.flutter`/`java` pick fake SDKs made here; a version the
machine lacks errors the build before any script runs, listing what is installed; a build env
file that cannot be used stops the start with its name and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.daemon import Daemon
from tests.e2e.test_builds import make_repo, running_ci, values_in
from tests.fakes.toolchains import executable, flutter_sdk, jdk

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = "admin-token-that-builds-never-see"

PIPELINE = """\
workflows:
  app:
    environment:
      flutter: FLUTTER_VERSION
      java: 17
      vars:
        FROM_WORKFLOW: yes
    scripts:
      - name: show the toolchain
        script: |
          echo "JAVA_HOME=$JAVA_HOME"
          echo "FLUTTER_ROOT=$FLUTTER_ROOT"
          echo "FLUTTER=$(flutter --version | head -n 1)"
          echo "ANDROID_HOME=$ANDROID_HOME"
          echo "GRADLE=$(gradle-of-this-machine)"
          echo "BUILD_PATH=$PATH"
          echo "ADMIN_IN_ENV=$(env | grep -c admin-token-that-builds-never-see)"
"""


def _machine(tmp_path: Path) -> dict[str, str]:
    """Fake SDK folders and a build env file; the daemon's settings naming them."""
    sdks, jvm, tools = tmp_path / "flutter-sdks", tmp_path / "jvm", tmp_path / "tools"
    flutter_sdk(sdks, "3.16.9")
    flutter_sdk(sdks, "3.19.0")
    jdk(jvm, "java-11-openjdk", "11.0.21")
    jdk(jvm, "java-17-openjdk", "17.0.9")
    executable(tools / "gradle-of-this-machine", "echo gradle 8.5")
    build_env = tmp_path / "build.env"
    build_env.write_text(f"# what every build gets\nANDROID_HOME={tmp_path / 'android'}\n")
    return {
        "OORE_FLUTTER_SDKS": str(sdks),
        "OORE_JAVA_HOMES": str(jvm),
        "OORE_BUILD_PATH": f"{tools}:/usr/local/bin:/usr/bin:/bin",
        "OORE_BUILD_ENV_FILE": str(build_env),
        "OORE_ADMIN_TOKEN": ADMIN_TOKEN,
    }


async def test_a_build_gets_the_sdks_its_workflow_names(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    settings = _machine(tmp_path)
    async with running_ci(daemon_factory, tmp_path, **settings) as ci:
        pipeline = PIPELINE.replace("FLUTTER_VERSION", "3.19.0")
        repo = await ci.register(make_repo(tmp_path, "app", pipeline), "app")
        build = await ci.succeeded((await ci.trigger(repo, branch="main", workflow="app"))["id"])
        log = await ci.log(build["id"])
    seen = values_in(log)
    sdk, java = tmp_path / "flutter-sdks" / "3.19.0", tmp_path / "jvm" / "java-17-openjdk"
    assert seen["JAVA_HOME"] == str(java), log
    assert seen["FLUTTER_ROOT"] == str(sdk), log
    assert seen["FLUTTER"] == "Flutter 3.19.0 • channel stable", log
    assert seen["ANDROID_HOME"] == str(tmp_path / "android"), log
    assert seen["GRADLE"] == "gradle 8.5", log
    path = seen["BUILD_PATH"].split(":")
    assert path[:3] == [f"{sdk}/bin", f"{java}/bin", str(tmp_path / "tools")], log
    assert seen["ADMIN_IN_ENV"] == "0", log
    assert f"[oore] flutter 3.19.0: 3.19.0 ({sdk})" in log


async def test_a_version_the_machine_lacks_errors_the_build_with_the_installed_ones(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    async with running_ci(daemon_factory, tmp_path, **_machine(tmp_path)) as ci:
        pipeline = PIPELINE.replace("FLUTTER_VERSION", "3.22.0")
        repo = await ci.register(make_repo(tmp_path, "app", pipeline), "app")
        build = await ci.finished((await ci.trigger(repo, branch="main", workflow="app"))["id"])
    sdks = tmp_path / "flutter-sdks"
    assert build["status"] == "errored", build
    assert "environment.flutter 3.22.0 is not installed on this machine" in build["reason"]
    assert f"installed: 3.16.9 ({sdks}/3.16.9), 3.19.0 ({sdks}/3.19.0)" in build["reason"]
    # Refused before the workspace: no script ran.
    assert all(step["status"] != "succeeded" for step in build["steps"]), build


async def test_a_build_env_file_with_a_bad_line_stops_the_start(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    build_env = tmp_path / "build.env"
    build_env.write_text("ANDROID_HOME=/opt/android\nJAVA_HOME /opt/jdk\n")
    daemon = daemon_factory(tmp_path, OORE_BUILD_ENV_FILE=str(build_env))
    daemon.spawn()
    assert await daemon.wait_exit(20) == 78  # EX_CONFIG: restarting will not fix it
    assert f"{build_env}:2: expected KEY=value" in daemon.log()


async def test_a_cocoapods_version_other_than_the_machines_errors_the_build(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    tools = tmp_path / "tools"
    # As CocoaPods does when run as root without being told it may.
    executable(
        tools / "pod", '[ "$(id -u)" = 0 ] && [ -z "$COCOAPODS_ALLOW_ROOT" ] && exit 1; echo 1.15.2'
    )
    pipeline = """\
workflows:
  ios:
    environment:
      cocoapods: VERSION
      xcode: 15.4
    scripts:
      - echo "PODS=$(pod --version)"
"""
    async with running_ci(daemon_factory, tmp_path, OORE_BUILD_PATH=f"{tools}:/usr/bin:/bin") as ci:
        good = await ci.register(
            make_repo(tmp_path, "good", pipeline.replace("VERSION", "1.15.2")), "good"
        )
        bad = await ci.register(
            make_repo(tmp_path, "bad", pipeline.replace("VERSION", "1.14.3")), "bad"
        )
        built = await ci.succeeded((await ci.trigger(good, branch="main", workflow="ios"))["id"])
        refused = await ci.finished((await ci.trigger(bad, branch="main", workflow="ios"))["id"])
        log = await ci.log(built["id"])
    assert "[oore] cocoapods 1.15.2: pod 1.15.2" in log
    assert "[oore] xcode 15.4: ignored, Xcode runs only on macOS" in log
    assert refused["status"] == "errored", refused
    assert (
        "environment.cocoapods 1.14.3 is not what this machine runs (installed: 1.15.2)"
        in (refused["reason"])
    )
