from __future__ import annotations

import itertools

import pytest

from oore.errors import IllegalTransition
from oore.model import (
    BuildStatus,
    Provider,
    StepStatus,
    Trigger,
    TriggerKind,
    check_build_transition,
    check_step_transition,
)

B = BuildStatus
# DESIGN.md §3, written out independently of the table in model.py.
ALLOWED_BUILD = {
    (B.QUEUED, B.PREPARING),
    (B.PREPARING, B.RUNNING),
    (B.RUNNING, B.SUCCEEDED),
    (B.RUNNING, B.FAILED),
    (B.RUNNING, B.CANCELLED),
    (B.RUNNING, B.TIMED_OUT),
    (B.RUNNING, B.ERRORED),
    (B.QUEUED, B.SKIPPED),
    (B.QUEUED, B.ERRORED),
    (B.QUEUED, B.CANCELLED),
    (B.PREPARING, B.SKIPPED),
    (B.PREPARING, B.ERRORED),
    (B.PREPARING, B.CANCELLED),
    # A daemon restart interrupted it: back to the queue (Store.requeue_interrupted).
    (B.PREPARING, B.QUEUED),
    (B.RUNNING, B.QUEUED),
}
S = StepStatus
ALLOWED_STEP = {
    (S.PENDING, S.RUNNING),
    (S.PENDING, S.SKIPPED),
    (S.PENDING, S.CANCELLED),
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.CANCELLED),
    (S.RUNNING, S.TIMED_OUT),
}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(BuildStatus, BuildStatus)))
def test_build_transition_table(old: BuildStatus, new: BuildStatus) -> None:
    if (old, new) in ALLOWED_BUILD:
        check_build_transition(old, new)
    else:
        with pytest.raises(IllegalTransition, match=f"from {old} to {new}"):
            check_build_transition(old, new)


@pytest.mark.parametrize(("old", "new"), list(itertools.product(StepStatus, StepStatus)))
def test_step_transition_table(old: StepStatus, new: StepStatus) -> None:
    if (old, new) in ALLOWED_STEP:
        check_step_transition(old, new)
    else:
        with pytest.raises(IllegalTransition):
            check_step_transition(old, new)


def test_finished_statuses_are_terminal() -> None:
    finished = {s for s in BuildStatus if s.finished}
    assert finished == {B.SUCCEEDED, B.FAILED, B.CANCELLED, B.TIMED_OUT, B.SKIPPED, B.ERRORED}


def test_trigger_json_round_trip() -> None:
    trigger = Trigger(
        provider=Provider.GITLAB,
        kind=TriggerKind.PULL_REQUEST,
        repo_owner="group/sub",
        repo_name="app",
        sha="a" * 40,
        pr_number=7,
        pr_source_branch="feature",
        pr_target_branch="main",
    )
    data = trigger.to_json()
    assert data["provider"] == "gitlab"
    assert data["kind"] == "pull_request"
    assert Trigger.from_json(data) == trigger
