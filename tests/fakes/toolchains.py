"""Fake SDKs on disk for toolchain tests: Flutter SDKs, JDKs, Xcodes and small executables that
print version strings the way the real tools do. Each returns the folder it made."""

from __future__ import annotations

import plistlib
from pathlib import Path


def executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def flutter_sdk(root: Path, name: str, version: str | None = None) -> Path:
    """An SDK folder as fvm makes them: ROOT/NAME with bin/flutter and a `version` file."""
    sdk = root / name
    executable(sdk / "bin" / "flutter", f'echo "Flutter {version or name} • channel stable"')
    (sdk / "version").write_text(f"{version or name}\n")
    return sdk


def jdk(root: Path, name: str, version: str, *, macos: bool = False) -> Path:
    """A JDK: ROOT/NAME (NAME/Contents/Home on macOS) with bin/java and a `release` file."""
    home = root / name / "Contents" / "Home" if macos else root / name
    executable(home / "bin" / "java", f"echo 'openjdk version \"{version}\"' >&2")
    (home / "release").write_text(f'IMPLEMENTOR="Test"\nJAVA_VERSION="{version}"\n')
    return home


def xcode(root: Path, name: str, version: str | None) -> Path:
    """An Xcode app: ROOT/NAME.app/Contents/Developer, and version.plist if `version`."""
    app = root / f"{name}.app"
    (app / "Contents" / "Developer").mkdir(parents=True)
    if version is not None:
        plist = {"CFBundleShortVersionString": version}
        (app / "Contents" / "version.plist").write_bytes(plistlib.dumps(plist))
    return app


def android_sdk(root: Path) -> Path:
    """An Android SDK with platform-tools/adb and a platform."""
    executable(root / "platform-tools" / "adb", 'echo "Android Debug Bridge version 1.0.41"')
    (root / "platforms" / "android-34").mkdir(parents=True)
    return root
