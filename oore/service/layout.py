"""Where an installed `oored` lives: its executable, env file, data and log directories, and the
numbers the service files derive from the settings (stop timeout, file limit).
"""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from oore.config import settings_from
from oore.execution.env import DEFAULT_PATH
from oore.service.runner import ServiceError

LOG_DIR = Path("/var/log/oore")
LOG_FILE_NAME = "oored.log"
OPEN_FILES = 65536
# After the shutdown grace, oored still cancels builds (killing their process groups) and closes
# the store; the service manager must not SIGKILL it while it does.
STOP_MARGIN_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Layout:
    oored: Path
    env_file: Path
    data_dir: Path
    shutdown_grace: float
    log_dir: Path = LOG_DIR
    build_path: str | None = None  # OORE_BUILD_PATH: the service's PATH after oored's own folder

    @property
    def log_file(self) -> Path:
        return self.log_dir / LOG_FILE_NAME

    @property
    def home(self) -> Path:
        """HOME for the daemon and its builds: tool caches (pub, Gradle, CocoaPods) go here."""
        return self.data_dir / "home"

    @property
    def build_home(self) -> Path:
        """HOME of the build user (DataPaths.build_home): never the daemon's own HOME."""
        return self.data_dir / "build-home"

    def path(self, system: str = DEFAULT_PATH) -> str:
        """The service's PATH: oored's folder (its git helpers), then what builds get."""
        return ":".join(
            dict.fromkeys([str(self.oored.parent), *(self.build_path or system).split(":")])
        )

    @property
    def stop_timeout(self) -> int:
        return math.ceil(self.shutdown_grace) + STOP_MARGIN_SECONDS


def service_layout(
    env_file: Path, values: Mapping[str, str], oored: Path, *, build_path: str | None = None
) -> Layout:
    """The layout for a service whose env file will hold `values` (validated as oored would);
    `build_path`: the service's PATH when the file has no OORE_BUILD_PATH (the tools found)."""
    settings = settings_from(values, is_root=True)
    return Layout(
        oored=oored,
        env_file=env_file,
        data_dir=settings.data_dir,
        shutdown_grace=settings.shutdown_grace,
        build_path=settings.build_path or build_path,
    )


def oored_executable(argv0: str = sys.argv[0]) -> Path:
    """The absolute path of the running `oored`, which the service files will start."""
    candidate = Path(argv0)
    if candidate.name == "oored" and candidate.is_file():
        return candidate.absolute()
    found = shutil.which("oored")
    if found is None:
        raise ServiceError(
            "cannot find the oored executable; run this command by its full path, "
            "such as: sudo /opt/oore/bin/oored install"
        )
    return Path(found).absolute()
