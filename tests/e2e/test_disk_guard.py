"""Below OORE_MIN_FREE_DISK a real daemon queues new builds with that reason instead of starting
them, and /api/health says why (without failing: restarting would free nothing)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.daemon import Daemon
from tests.e2e.test_builds import make_repo, running_ci

PIPELINE = """\
workflows:
  build:
    scripts:
      - echo "never runs while the disk is short"
"""


async def test_new_builds_wait_for_disk_space_and_health_says_so(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", PIPELINE)
    # More than any disk here has free: every build must wait.
    async with running_ci(daemon_factory, tmp_path, OORE_MIN_FREE_DISK=str(2**62)) as ci:
        health = (await ci.http.get("/api/health")).json()
        assert health["status"] == "degraded"
        assert "OORE_MIN_FREE_DISK" in health["problems"][0]
        repo = await ci.register(git, "app")
        build = await ci.trigger(repo, workflow="build", branch="main")
        waiting = await ci.wait(
            build["id"], lambda b: "waiting for free disk space" in (b.get("queue_reason") or "")
        )
        assert waiting["status"] == "queued"
        assert waiting["started_at"] is None
