"""Detecting a machine's toolchains for `oored init` and `doctor`: each probe against fake SDK
folders and fake executables (shell scripts printing what the real tools print) in tmp dirs."""

from __future__ import annotations

from pathlib import Path

from oore.service.toolchains import (
    Found,
    Machine,
    android_sdk,
    build_env_text,
    build_path,
    detect,
    flutter,
    java,
    ruby,
    xcode,
)
from tests.fakes import toolchains as fake


def _machine(tmp_path: Path, platform: str = "linux", **environ: str) -> Machine:
    path = environ.pop("PATH", str(tmp_path / "bin"))
    return Machine({"PATH": path, **environ}, (tmp_path / "home",), platform)


def test_xcode_via_xcode_select_on_macos_only(tmp_path: Path) -> None:
    developer = "/Applications/Xcode-15.4.app/Contents/Developer"
    fake.executable(tmp_path / "bin" / "xcode-select", f"echo {developer}")
    fake.executable(
        tmp_path / "bin" / "xcodebuild",
        'echo "Xcode 15.4 ($DEVELOPER_DIR)"; echo "Build version 15F31d"',
    )
    found = xcode(_machine(tmp_path, "darwin"))
    assert found == Found(
        "Xcode", Path(developer), f"15.4 ({developer})", {"DEVELOPER_DIR": developer}
    )
    assert xcode(_machine(tmp_path, "linux")) is None


def test_flutter_on_path_then_flutter_root_then_fvm_default(tmp_path: Path) -> None:
    on_path = fake.flutter_sdk(tmp_path / "opt", "flutter", "3.19.0")
    named = fake.flutter_sdk(tmp_path / "sdks", "named", "3.16.9")
    fvm = fake.flutter_sdk(tmp_path / "home" / "fvm" / "versions", "3.22.0")
    (tmp_path / "home" / "fvm" / "default").symlink_to(fvm)
    machine = _machine(tmp_path, PATH=str(on_path / "bin"), FLUTTER_ROOT=str(named))
    assert flutter(machine) == Found(
        "Flutter", on_path, "3.19.0", {"FLUTTER_ROOT": str(on_path)}, on_path / "bin"
    )
    found = flutter(_machine(tmp_path, FLUTTER_ROOT=str(named)))
    assert found is not None
    assert (found.path, found.version) == (named, "3.16.9")
    found = flutter(_machine(tmp_path))
    assert found is not None
    assert (found.path, found.version) == (fvm, "3.22.0")


def test_android_sdk_from_the_variables_or_the_usual_homes(tmp_path: Path) -> None:
    named = fake.android_sdk(tmp_path / "android")
    found = android_sdk(_machine(tmp_path, ANDROID_SDK_ROOT=str(named)))
    assert found is not None
    assert (found.path, found.version) == (named, "platforms android-34")
    assert found.variables == {"ANDROID_HOME": str(named), "ANDROID_SDK_ROOT": str(named)}
    assert android_sdk(_machine(tmp_path)) is None
    mac = fake.android_sdk(tmp_path / "home" / "Library" / "Android" / "sdk")
    found = android_sdk(_machine(tmp_path, ANDROID_HOME=str(tmp_path / "not-an-sdk")))
    assert found is not None
    assert found.path == mac


def test_java_from_java_home_from_path_and_by_running_it(tmp_path: Path) -> None:
    home = fake.jdk(tmp_path / "jvm", "jdk-17", "17.0.9")
    found = java(_machine(tmp_path, JAVA_HOME=str(home)))
    assert found is not None
    assert (found.path, found.version, found.bin) == (home, "17.0.9", home / "bin")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "java").symlink_to(home / "bin" / "java")  # as /usr/bin/java is
    (home / "release").unlink()  # no release file: `java -version` tells
    found = java(_machine(tmp_path))
    assert found is not None
    assert (found.path, found.version) == (home, "17.0.9")


def test_java_on_macos_asks_java_home(tmp_path: Path) -> None:
    home = fake.jdk(tmp_path / "jvm", "temurin-21.jdk", "21.0.2", macos=True)

    def run(argv: list[str], env: object) -> str | None:
        return str(home) if argv == ["/usr/libexec/java_home"] else None

    machine = Machine({"PATH": "/usr/bin"}, (), "darwin", run)
    found = java(machine)
    assert found is not None
    assert (found.path, found.version) == (home, "21.0.2")


def test_ruby_and_cocoapods_by_their_versions(tmp_path: Path) -> None:
    fake.executable(
        tmp_path / "bin" / "ruby", 'echo "ruby 3.2.2 (2023-03-30 revision e51014f9c0) [x86_64]"'
    )
    fake.executable(tmp_path / "bin" / "pod", "echo 1.15.2")
    found = {item.tool: item for item in detect(_machine(tmp_path))}
    assert (found["Ruby"].version, found["CocoaPods"].version) == ("3.2.2", "1.15.2")
    assert ruby(_machine(tmp_path, PATH=str(tmp_path / "none"))) is None


def test_what_init_writes_from_what_was_found() -> None:
    found = [
        Found(
            "Flutter",
            Path("/opt/flutter"),
            "3.19.0",
            {"FLUTTER_ROOT": "/opt/flutter"},
            Path("/opt/flutter/bin"),
        ),
        Found("Java", Path("/jdk"), "17", {"JAVA_HOME": "/jdk"}, Path("/jdk/bin")),
        Found("CocoaPods", Path("/usr/bin/pod"), "1.15.2", bin=Path("/usr/bin")),
    ]
    assert (
        build_path(found, "linux")
        == "/opt/flutter/bin:/jdk/bin:/usr/bin:/usr/local/bin:/bin:/usr/sbin:/sbin"
    )
    assert build_path(found, "darwin").split(":")[3] == "/opt/homebrew/bin"
    text = build_env_text(found)
    assert "# Flutter: 3.19.0 (/opt/flutter)\n" in text
    assert text.endswith("FLUTTER_ROOT=/opt/flutter\nJAVA_HOME=/jdk\n")
