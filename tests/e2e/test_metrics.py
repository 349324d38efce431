"""`GET /metrics` on a real daemon: refused without a token, and after a push has built, the
figures say so (a delivery stored, a build's duration by result, log bytes, no restarts)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.daemon import Daemon
from tests.e2e.test_builds import make_repo, running_ci

PIPELINE = """\
workflows:
  build:
    triggering:
      events: [push]
    scripts:
      - name: hello
        script: echo "hello from metrics"
"""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample, by name and labels (the text must parse as Prometheus's format)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_a_push_and_its_build(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", PIPELINE)
    async with running_ci(daemon_factory, tmp_path) as ci:
        assert (await ci.http.get("/metrics")).status_code == 401
        before = samples((await ci.operator.get("/metrics")).text)
        assert before[("oore_builds_running", ())] == 0
        assert ("oore_build_duration_seconds_count", (("result", "succeeded"),)) not in before
        unsigned = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "unsigned-1"}
        refused = await ci.http.post("/api/webhooks/github", content=b"{}", headers=unsigned)
        assert refused.status_code == 401
        repo = await ci.register(git, "app")
        made = await ci.push(repo, "main", git.head())
        await ci.succeeded(made["build"]["id"])
        response = await ci.operator.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        after = samples(response.text)
    assert after[("oore_build_duration_seconds_count", (("result", "succeeded"),))] == 1
    assert (
        after[("oore_webhooks_stored_total", (("provider", "github"), ("state", "processed")))] == 1
    )
    assert after[("oore_log_bytes_total", ())] >= len("hello from metrics\n")
    assert after[("oore_builds_queued", ())] == 0
    rejected = (
        "oore_webhooks_rejected_total",
        (("provider", "github"), ("reason", "missing_signature")),
    )
    assert after[rejected] == 1
    assert after[("oore_store_commits_total", ())] > before[("oore_store_commits_total", ())]
    assert after[("oore_store_busy_retries_total", ())] == 0
    restarts = {k[1][0][1]: v for k, v in after.items() if k[0] == "oore_actor_restarts_total"}
    assert restarts == {
        "build-durations": 0,
        "janitor": 0,
        "notifier": 0,
        "log-streamer": 0,
        "repository-supervisor": 0,
        "webhook-ingester": 0,
    }
    capacity = {k[1][0][1]: v for k, v in after.items() if k[0] == "oore_mailbox_capacity"}
    assert capacity == {"logs": 64, "repositories": 64, "webhooks": 256}
