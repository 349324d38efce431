"""Linux: the systemd unit `oored.service`, managed with systemctl; its output goes to the
journal, read with journalctl.
"""

from __future__ import annotations

from pathlib import Path

from oore.service.layout import OPEN_FILES, Layout
from oore.service.steps import Exec, Remove, Run, Step, WriteFile
from oore.service.templates import render_unit

UNIT_NAME = "oored"
UNIT = Path(f"/etc/systemd/system/{UNIT_NAME}.service")
TEMPORARY = ("/tmp", "/var/tmp")  # what PrivateTmp=yes replaces with empty folders


class Systemd:
    name = "systemd"

    def render_unit(self, layout: Layout) -> str:
        return render_unit(
            {
                "oored": str(layout.oored),
                "env_file": str(layout.env_file),
                "home": str(layout.home),
                "path": layout.path(),
                "data_dir": str(layout.data_dir),
                "log_dir": str(layout.log_dir),
                "stop_timeout": str(layout.stop_timeout),
                "nofile": str(OPEN_FILES),
            }
        )

    def warnings(self, layout: Layout) -> list[str]:
        """What would stop the unit from starting, said before it is written."""
        private_tmp = "PrivateTmp=yes" in self.render_unit(layout).splitlines()
        if private_tmp and any(layout.oored.is_relative_to(tmp) for tmp in TEMPORARY):
            return [
                f"oored is under a temporary folder ({layout.oored}) but the unit has "
                "PrivateTmp=yes: the service sees an empty /tmp of its own and cannot start "
                "oored (status=203/EXEC); install oore outside /tmp and /var/tmp (such as "
                "`pipx install oore`, or a venv in /opt/oore) and run that oored's install"
            ]
        return []

    def install(self, layout: Layout) -> list[Step]:
        return [
            WriteFile(UNIT, self.render_unit(layout), 0o644),
            Run(("systemctl", "daemon-reload")),
            Run(("systemctl", "enable", UNIT_NAME)),
            # Not `enable --now`: on a re-install the running daemon must pick up the new unit.
            Run(("systemctl", "restart", UNIT_NAME)),
        ]

    def uninstall(self, layout: Layout) -> list[Step]:
        return [
            Run(("systemctl", "disable", "--now", UNIT_NAME), may_fail=True),
            Remove(UNIT),
            Run(("systemctl", "daemon-reload")),
        ]

    def start(self) -> list[Step]:
        return [Run(("systemctl", "start", UNIT_NAME))]

    def stop(self) -> list[Step]:
        return [Run(("systemctl", "stop", UNIT_NAME))]

    def restart(self) -> list[Step]:
        return [Run(("systemctl", "restart", UNIT_NAME))]

    def status(self) -> list[Step]:
        return [Exec(("systemctl", "status", "--no-pager", UNIT_NAME))]

    def logs(self, lines: int, follow: bool) -> list[Step]:
        tail = ("-f",) if follow else ("--no-pager",)
        return [Exec(("journalctl", "-u", UNIT_NAME, "-n", str(lines), *tail))]
