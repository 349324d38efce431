"""A made-up build report, shaped as the outbox's, for trying a channel's settings."""

from __future__ import annotations

from typing import Any


def sample_report(build_id: str) -> dict[str, Any]:
    """A succeeded build of `oore/example` with two steps; its links point at a build id that
    does not exist (the message says it is a test)."""
    return {
        "event": "succeeded",
        "build": {
            "id": build_id,
            "number": 0,
            "workflow": "oore-test",
            "status": "succeeded",
            "attempt": 1,
            "created_at": None,
            "started_at": None,
            "finished_at": None,
            "duration_seconds": 42.0,
            "error": None,
            "path": f"/builds/{build_id}",
        },
        "repository": {"id": None, "provider": None, "owner": "oore", "name": "example",
                       "full_name": "oore/example"},
        "trigger": {"sha": "0" * 40, "branch": "main", "author": "oore",
                    "message": "A test message from `oore settings ... test`: settings work"},
        "steps": [
            {"index": 0, "name": "Set up", "status": "succeeded", "duration_seconds": 2.0},
            {"index": 1, "name": "Build", "status": "succeeded", "duration_seconds": 40.0},
        ],
        "artifacts": [],
        "to": {},
    }  # fmt: skip
