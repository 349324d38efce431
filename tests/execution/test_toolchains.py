"""Choosing the SDK a workflow's environment.flutter/java/xcode/cocoapods asks for, among fake
SDK folders made in tmp dirs; and refusing, with the installed versions, when there is none."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oore.errors import ToolchainMissing
from oore.execution import installs
from oore.execution.installs import Install
from oore.execution.toolchains import (
    ToolchainDirs,
    ToolEnv,
    check_cocoapods,
    choose,
    matches,
    resolve,
)
from tests.fakes.toolchains import executable, flutter_sdk, jdk, xcode


def _install(version: str, alias: str = "") -> Install:
    return Install(version, Path("/sdk") / (alias or version), alias or version)


@pytest.mark.parametrize(
    ("requested", "version", "expected"),
    [
        ("3.19.0", "3.19.0", True),
        ("3.19", "3.19.6", True),
        ("17", "17.0.9", True),
        ("1.8", "1.8.0_392", True),
        ("16.x", "16.2", True),
        ("16.0", "16", True),
        ("3.19.1", "3.19.0", False),
        ("17", "1.7.0", False),
        ("16.x", "15.4", False),
    ],
)
def test_matches(requested: str, version: str, expected: bool) -> None:
    assert matches(requested, version) is expected


def test_choose_prefers_the_exact_one_then_the_newest_match() -> None:
    found = [_install("3.19.0"), _install("3.19.6"), _install("3.16.9"), _install("3.22.0", "beta")]
    assert choose("3.19.0", found) == found[0]
    assert choose("3.19", found) == found[1]
    assert choose("3", found) == found[3]
    assert choose("beta", found) == found[3]
    assert choose("2.10", found) is None


def test_flutter_sdk_goes_first_on_path_with_flutter_root(tmp_path: Path) -> None:
    sdks = tmp_path / "fvm" / "versions"
    flutter_sdk(sdks, "3.16.9")
    chosen = flutter_sdk(sdks, "3.19.0")
    flutter_sdk(sdks, "stable", version="3.22.1")  # fvm names channels by name
    found = resolve({"flutter": "3.19.0"}, ToolchainDirs(flutter_sdks=(sdks,)))
    env = found.apply({"PATH": "/usr/bin:/bin", "HOME": "/h"})
    assert env["PATH"] == f"{chosen}/bin:/usr/bin:/bin"
    assert env["FLUTTER_ROOT"] == str(chosen)
    assert found.notes == (f"flutter 3.19.0: 3.19.0 ({chosen})",)
    versions = [sdk.version for sdk in installs.flutter_sdks([sdks])]
    assert versions == ["3.16.9", "3.19.0", "3.22.1"]


def test_the_machine_default_changes_nothing(tmp_path: Path) -> None:
    dirs = ToolchainDirs(flutter_sdks=(tmp_path / "none",), java_homes=(tmp_path / "none",))
    for word in ("default", "latest", "stable", "Latest", ""):
        found = resolve({"flutter": word, "java": word, "xcode": word}, dirs)
        assert found == ToolEnv()


def test_a_missing_flutter_lists_the_installed_ones(tmp_path: Path) -> None:
    sdks = tmp_path / "sdks"
    flutter_sdk(sdks, "3.16.9")
    flutter_sdk(sdks, "3.19.0")
    with pytest.raises(ToolchainMissing) as caught:
        resolve({"flutter": "3.22.0"}, ToolchainDirs(flutter_sdks=(sdks,)))
    message = caught.value.message
    assert "environment.flutter 3.22.0 is not installed on this machine" in message
    assert f"looked in {sdks}" in message
    assert f"installed: 3.16.9 ({sdks}/3.16.9), 3.19.0 ({sdks}/3.19.0)" in message
    assert "fvm install 3.22.0" in message


def test_java_on_linux_and_macos_layouts(tmp_path: Path) -> None:
    linux, mac = tmp_path / "jvm", tmp_path / "JavaVirtualMachines"
    jdk(linux, "java-11-openjdk-amd64", "11.0.21")
    seventeen = jdk(linux, "java-17-openjdk-amd64", "17.0.9")
    (linux / "default-java").symlink_to(seventeen)  # as Debian has it: the same JDK again
    twenty_one = jdk(mac, "temurin-21.jdk", "21.0.2", macos=True)
    dirs = ToolchainDirs(java_homes=(linux, mac))
    assert [j.version for j in installs.java_homes(dirs.java_homes)] == [
        "11.0.21",
        "17.0.9",
        "21.0.2",
    ]
    env = resolve({"java": "17"}, dirs).apply({"PATH": "/bin"})
    assert (env["JAVA_HOME"], env["PATH"]) == (str(seventeen), f"{seventeen}/bin:/bin")
    assert resolve({"java": "21"}, dirs).variables == {"JAVA_HOME": str(twenty_one)}
    with pytest.raises(ToolchainMissing, match=r"installed: 11\.0\.21 .*17\.0\.9 .*21\.0\.2"):
        resolve({"java": "8"}, dirs)


def test_xcode_by_its_plist_or_its_name_via_developer_dir(tmp_path: Path) -> None:
    apps = tmp_path / "Applications"
    default = xcode(apps, "Xcode", "16.2")
    named = xcode(apps, "Xcode-15.4", None)
    xcode(apps, "Xcode-broken", None)  # no version anywhere: not offered
    dirs = ToolchainDirs(xcode_apps=apps, platform="darwin")
    found = resolve({"xcode": "15.4"}, dirs)
    assert found.variables == {"DEVELOPER_DIR": f"{named}/Contents/Developer"}
    assert found.path == ()
    assert resolve({"xcode": "16"}, dirs).variables["DEVELOPER_DIR"].startswith(str(default))
    with pytest.raises(ToolchainMissing, match=r"installed: 15\.4 .*16\.2 .*Xcode-14\.3\.app"):
        resolve({"xcode": "14.3"}, dirs)


def test_xcode_is_ignored_off_macos(tmp_path: Path) -> None:
    found = resolve({"xcode": "15.4"}, ToolchainDirs(xcode_apps=tmp_path, platform="linux"))
    assert (found.variables, found.notes) == (
        {},
        ("xcode 15.4: ignored, Xcode runs only on macOS",),
    )


async def test_cocoapods_is_checked_on_the_build_path(tmp_path: Path) -> None:
    executable(tmp_path / "bin" / "pod", "echo 1.15.2")
    env = {"PATH": f"{tmp_path / 'bin'}:{os.defpath}"}
    assert await check_cocoapods("1.15.2", env) == "cocoapods 1.15.2: pod 1.15.2"
    assert await check_cocoapods("1.15", env) == "cocoapods 1.15: pod 1.15.2"
    with pytest.raises(
        ToolchainMissing, match=r"installed: 1\.15\.2.*gem install cocoapods -v 1\.14"
    ):
        await check_cocoapods("1.14", env)
    with pytest.raises(ToolchainMissing, match="no `pod` on the build's PATH"):
        await check_cocoapods("1.15.2", {"PATH": str(tmp_path / "empty")})
