"""macOS: the launchd daemon `build.oore.oored`, managed with launchctl in the system domain.

`stop` sends SIGTERM through launchd rather than booting the daemon out, so it stays loaded:
oored exits 0 on SIGTERM, which `KeepAlive: {SuccessfulExit: false}` does not restart, and
`start` (kickstart) and the next boot (RunAtLoad) bring it back.
"""

from __future__ import annotations

from pathlib import Path

from oore.service.layout import LOG_DIR, LOG_FILE_NAME, OPEN_FILES, Layout
from oore.service.steps import Exec, Remove, Run, Step, WriteFile
from oore.service.templates import NEWSYSLOG, render, render_plist

LABEL = "build.oore.oored"
TARGET = f"system/{LABEL}"
PLIST = Path(f"/Library/LaunchDaemons/{LABEL}.plist")
NEWSYSLOG_CONF = Path("/etc/newsyslog.d/oore.conf")
THROTTLE_SECONDS = 10
# launchd gives daemons only /usr/bin:/bin:/usr/sbin:/sbin; builds need Homebrew's tools (git,
# flutter, pod) and the oore installation itself.
SYSTEM_PATH = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


class Launchd:
    name = "launchd"

    def render_plist(self, layout: Layout) -> str:
        return render_plist(
            {
                "label": LABEL,
                "oored": str(layout.oored),
                "env_file": str(layout.env_file),
                "home": str(layout.home),
                "path": layout.path(SYSTEM_PATH),
                "data_dir": str(layout.data_dir),
                "log_file": str(layout.log_file),
                "throttle": str(THROTTLE_SECONDS),
                "stop_timeout": str(layout.stop_timeout),
                "nofile": str(OPEN_FILES),
            }
        )

    def warnings(self, layout: Layout) -> list[str]:
        return []

    def render_newsyslog(self, layout: Layout) -> str:
        return render(NEWSYSLOG, {"log_file": str(layout.log_file)})

    def install(self, layout: Layout) -> list[Step]:
        return [
            WriteFile(PLIST, self.render_plist(layout), 0o644),
            WriteFile(NEWSYSLOG_CONF, self.render_newsyslog(layout), 0o644),
            # A re-install replaces a loaded daemon: launchd reads the plist only at bootstrap.
            Run(("launchctl", "bootout", TARGET), may_fail=True),
            # Undo an earlier `launchctl disable`, which would make bootstrap fail.
            Run(("launchctl", "enable", TARGET)),
            Run(("launchctl", "bootstrap", "system", str(PLIST))),
        ]

    def uninstall(self, layout: Layout) -> list[Step]:
        return [
            Run(("launchctl", "bootout", TARGET), may_fail=True),
            Remove(PLIST),
            Remove(NEWSYSLOG_CONF),
        ]

    def start(self) -> list[Step]:
        return [Run(("launchctl", "kickstart", TARGET))]

    def stop(self) -> list[Step]:
        return [Run(("launchctl", "kill", "SIGTERM", TARGET))]

    def restart(self) -> list[Step]:
        return [Run(("launchctl", "kickstart", "-k", TARGET))]

    def status(self) -> list[Step]:
        return [Exec(("launchctl", "print", TARGET))]

    def logs(self, lines: int, follow: bool) -> list[Step]:
        argv = (
            "tail",
            "-n",
            str(lines),
            *(("-f",) if follow else ()),
            str(LOG_DIR / LOG_FILE_NAME),
        )
        return [Exec(argv)]
