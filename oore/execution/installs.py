"""What SDKs this machine has installed side by side: Flutter SDKs (fvm's folder or any folder of
SDKs), JDKs and Xcodes, each with the version it says it is. Plain filesystem reads, so callers
on the event loop run these in a thread.

A version comes from the SDK's own files where it keeps one (Flutter's `version` file or
`bin/cache/flutter.version.json`, a JDK's `release`, an Xcode's `Contents/version.plist`), else
from the folder's name (`3.19.0`, `java-17-openjdk-amd64`, `Xcode-16.2.app`).
"""

from __future__ import annotations

import json
import plistlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_JAVA_VERSION = re.compile(r'^JAVA_VERSION="?([^"\n]+)"?\s*$', re.MULTILINE)
_VERSION_IN_NAME = re.compile(r"\d+(?:[._]\d+)*")
MAX_VERSION_FILE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Install:
    version: str  # as the SDK says
    home: Path  # FLUTTER_ROOT, JAVA_HOME, or the Xcode .app
    alias: str = ""  # the folder's name, which may be a channel (fvm's `stable`)

    def describe(self) -> str:
        return f"{self.version} ({self.home})"


def flutter_sdks(roots: Iterable[Path]) -> list[Install]:
    found = []
    for child in _children(roots):
        if (child / "bin" / "flutter").is_file():
            found.append(Install(flutter_version(child) or child.name, child, child.name))
    return _unique(found)


def java_homes(roots: Iterable[Path]) -> list[Install]:
    found = []
    for child in _children(roots):
        # macOS bundles a JDK as NAME.jdk/Contents/Home.
        home = child / "Contents" / "Home" if (child / "Contents" / "Home").is_dir() else child
        if (home / "bin" / "java").is_file():
            version = java_version(home) or _version_in(child.name)
            if version:
                found.append(Install(version, home, child.name))
    return _unique(found)


def xcodes(root: Path) -> list[Install]:
    found = []
    for child in _children([root]):
        if child.name.startswith("Xcode") and child.suffix == ".app":
            if (child / "Contents" / "Developer").is_dir():
                version = _xcode_version(child) or _version_in(child.name)
                if version:
                    found.append(Install(version, child, child.name))
    return _unique(found)


def java_version(home: Path) -> str | None:
    text = _read(home / "release")
    match = _JAVA_VERSION.search(text) if text else None
    return match.group(1).strip() if match else None


def flutter_version(sdk: Path) -> str | None:
    cached = _read(sdk / "bin" / "cache" / "flutter.version.json")
    if cached:
        try:
            value = json.loads(cached).get("frameworkVersion")
        except (ValueError, AttributeError):
            value = None
        if isinstance(value, str) and value:
            return value
    text = _read(sdk / "version")
    return text.strip().splitlines()[0] if text and text.strip() else None


def _xcode_version(app: Path) -> str | None:
    try:
        with (app / "Contents" / "version.plist").open("rb") as file:
            value = plistlib.load(file).get("CFBundleShortVersionString")
    except (OSError, ValueError, plistlib.InvalidFileException, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def _version_in(name: str) -> str | None:
    match = _VERSION_IN_NAME.search(name)
    return match.group(0) if match else None


def _read(path: Path) -> str | None:
    try:
        with path.open("rb") as file:
            return file.read(MAX_VERSION_FILE).decode(errors="replace")
    except OSError:
        return None


def _children(roots: Iterable[Path]) -> Iterator[Path]:
    for root in roots:
        try:
            # Links last: /usr/lib/jvm/default-java is a second name for a JDK listed anyway.
            entries = sorted(root.iterdir(), key=lambda entry: (entry.is_symlink(), entry.name))
        except OSError:  # a folder that is not there (yet) holds no SDKs
            continue
        yield from (entry for entry in entries if entry.is_dir())


def _unique(found: list[Install]) -> list[Install]:
    """One entry per SDK: /usr/lib/jvm holds links (default-java) to the same JDKs."""
    seen: set[Path] = set()
    unique = []
    for install in found:
        real = install.home.resolve()
        if real not in seen:
            seen.add(real)
            unique.append(install)
    return unique
