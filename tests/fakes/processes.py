"""What `ps` would show: every process's command line, sampled while something runs.

A test starts `ArgvWatcher.run` in its nursery before the work (a fetch, a build) and stops it
after; `seen` then holds every distinct argv of any process on the machine observed meanwhile,
so the test can both grep it for a secret and check the work's processes were in fact seen.
`leftovers` reads /proc once for what a build left running (by process group or by a word in
its command line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import trio

PROC = Path("/proc")
EVERY = 0.005


def _argvs() -> set[str]:
    found = set()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if raw:
            found.add(raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace"))
    return found


@dataclass(slots=True)
class ArgvWatcher:
    seen: set[str] = field(default_factory=set)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            self.seen |= await trio.to_thread.run_sync(_argvs)
            await trio.sleep(EVERY)

    def matching(self, word: str) -> list[str]:
        return sorted(argv for argv in self.seen if word in argv)


def leftovers(token: str, groups: frozenset[int] = frozenset()) -> list[str]:
    """Live processes (zombies hold nothing and do not count) that belong to one of `groups` or
    whose command line holds `token`: what a build left behind, read from /proc."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        # The command name (field 2) may hold spaces or ')': the fields start after its last ')'.
        state, _parent, group = stat.rsplit(")", 1)[1].split()[:3]
        if state != "Z" and (int(group) in groups or token in argv):
            found.append(f"pid {entry.name} ({state}, group {group}): {argv.strip()}")
    return found
