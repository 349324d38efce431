"""The notification outbox in SQLite: which deliveries each build change plans (in the change's
own transaction), claiming in chain order within each target's room, failures, dead rows,
resends, the reset after a crash, listings; and the signed webhook targets."""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any

import pytest

from oore.errors import Conflict, IllegalTransition, NotFound
from oore.ids import new_id
from oore.model import (
    Build,
    BuildStatus,
    DeliveryState,
    Provider,
    Repository,
    WebhookTarget,
    utcnow,
)
from oore.store import outbox
from oore.store.base import CredentialKind, DeliveryFilter, RepositoryCredential
from oore.store.changes import ChangeKind
from oore.store.sqlite import SqliteStore
from tests.store.factories import (
    NO_SECRETS,
    made_deliveries_at,
    make_build,
    make_event,
    make_repo,
    make_trigger,
)

LATER = "2999-01-01T00:00:00.000Z"


async def registered(store: SqliteStore, **fields: Any) -> Repository:
    repo = dataclasses.replace(make_repo(), **fields)
    await store.create_repository(repo, NO_SECRETS)
    return repo


async def add_target(
    store: SqliteStore, repository_id: str | None = None, events: tuple[str, ...] = ()
) -> WebhookTarget:
    target = WebhookTarget(new_id(), repository_id, "http://127.0.0.1:9/hook", events, utcnow())
    await store.add_webhook_target(target, b"sealed")
    return target


async def run_build(store: SqliteStore, build: Build, *statuses: BuildStatus) -> Build:
    created = await store.create_build(build)
    for status in statuses:
        created = await store.transition_build(created.id, status)
    return created


def events_of(store: SqliteStore, build_id: str, kind: str | None = None) -> list[str]:
    conn = sqlite3.connect(store.engine.path)
    try:
        sql = "SELECT event FROM deliveries WHERE build_id = ?"
        params = [build_id]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        return [row[0] for row in conn.execute(sql + " ORDER BY id", params)]
    finally:
        conn.close()


async def set_setting(store: SqliteStore, kind: str) -> None:
    await store.engine.write(
        lambda db: db.execute(
            "INSERT INTO notification_settings (kind, config, secret_sealed, updated_at)"
            " VALUES (?, '{}', x'00', ?)",
            [kind, utcnow()],
        )
    )


RUN = (BuildStatus.PREPARING, BuildStatus.RUNNING, BuildStatus.SUCCEEDED)


# --- planning -----------------------------------------------------------------------------


async def test_a_build_notifies_each_target_of_queued_started_and_its_outcome(
    store: SqliteStore,
) -> None:
    repo = await registered(store)
    everything = await add_target(store)  # global
    ours = await add_target(store, repo.id, ("succeeded", "failed"))
    other = await registered(store, id=new_id(), name="other", github_repo_id=7)
    await add_target(store, other.id)  # another repository's: not told
    build = await run_build(store, make_build(repo), *RUN)
    page = await store.list_deliveries(DeliveryFilter(build_id=build.id), None, 50)
    sent = sorted((d.target, d.event) for d in page.items)
    assert sent == sorted(
        [
            (f"webhook:{everything.id}", "queued"),
            (f"webhook:{everything.id}", "started"),
            (f"webhook:{everything.id}", "succeeded"),
            (f"webhook:{ours.id}", "succeeded"),
        ]
    )
    first = next(d for d in page.items if d.event == "succeeded" and d.target.endswith(ours.id))
    assert first.idempotency_key == f"{build.id}:webhook:webhook:{ours.id}:succeeded"
    assert (first.state, first.attempts) == (DeliveryState.PENDING, 0)


async def test_the_payload_is_the_build_report_at_the_change(store: SqliteStore) -> None:
    repo = await registered(store)
    target = await add_target(store)
    build = await run_build(store, make_build(repo, "release"), *RUN)
    page = await store.list_deliveries(DeliveryFilter(build_id=build.id), None, 50)
    done = next(d for d in page.items if d.event == "succeeded").payload
    assert done["event"] == "succeeded"
    assert done["build"]["id"] == build.id
    assert done["build"]["status"] == "succeeded"
    assert done["build"]["workflow"] == "release"
    assert done["build"]["path"] == f"/builds/{build.id}"
    assert isinstance(done["build"]["duration_seconds"], float)
    assert done["repository"]["full_name"] == "acme/app"
    assert done["trigger"]["sha"] == build.sha
    assert (done["steps"], done["artifacts"]) == ([], [])
    assert done["to"] == {"target_id": target.id}
    queued = next(d for d in page.items if d.event == "queued").payload
    assert queued["build"]["status"] == "queued"  # a snapshot, not read at sending time


async def test_preparing_tells_nobody(store: SqliteStore) -> None:
    repo = await registered(store)
    await add_target(store)
    build = await run_build(store, make_build(repo), BuildStatus.PREPARING)
    assert events_of(store, build.id) == ["queued"]


async def test_no_target_no_delivery(store: SqliteStore) -> None:
    repo = await registered(store)
    build = await run_build(store, make_build(repo), *RUN)
    assert events_of(store, build.id) == []


async def test_the_status_kind_follows_the_repository(store: SqliteStore) -> None:
    app = await registered(store, github_installation_id=99)
    assert events_of(store, (await run_build(store, make_build(app))).id, "github_check") == [
        "queued"
    ]
    pat = await registered(store, id=new_id(), name="pat", github_repo_id=8)
    credential = RepositoryCredential(
        new_id(), pat.id, CredentialKind.HTTPS_TOKEN, "bot", None, "https://x", utcnow()
    )
    await store.set_repository_credential(credential, b"sealed")
    built = await run_build(store, make_build(pat), BuildStatus.PREPARING, BuildStatus.RUNNING)
    assert events_of(store, built.id, "github_status") == ["queued", "started"]
    lab = await registered(store, id=new_id(), name="lab", provider=Provider.GITLAB)
    await store.set_repository_credential(
        dataclasses.replace(credential, id=new_id(), repository_id=lab.id), b"sealed"
    )
    built = await run_build(store, make_build(lab), BuildStatus.CANCELLED)
    assert events_of(store, built.id, "gitlab_status") == ["queued", "cancelled"]
    bare = await registered(store, id=new_id(), name="bare", github_repo_id=9)
    assert events_of(store, (await run_build(store, make_build(bare), *RUN)).id) == []


async def test_slack_and_email_only_for_the_outcomes_asked_for(store: SqliteStore) -> None:
    repo = await registered(store)
    notify = {
        "slack": {"channel": "#ci", "start": True, "success": False, "failure": True},
        "email": {"recipients": ["a@example.com"], "success": True, "failure": False},
    }
    build = dataclasses.replace(make_build(repo), notify=notify)
    built = await run_build(store, build, *RUN)
    assert events_of(store, built.id) == []  # no Slack or SMTP settings: nothing to send with
    await set_setting(store, "slack")
    await set_setting(store, "smtp")
    ok = await run_build(store, dataclasses.replace(build, id=new_id()), *RUN)
    assert events_of(store, ok.id, "slack") == ["started"]
    assert events_of(store, ok.id, "email") == ["succeeded"]
    failed = dataclasses.replace(build, id=new_id())
    failed = await run_build(store, failed, BuildStatus.PREPARING, BuildStatus.RUNNING)
    await store.transition_build(failed.id, BuildStatus.FAILED)
    assert events_of(store, failed.id, "slack") == ["started", "failed"]
    assert events_of(store, failed.id, "email") == []
    page = await store.list_deliveries(DeliveryFilter(build_id=failed.id, kind="slack"), None, 9)
    assert {d.payload["to"]["channel"] for d in page.items} == {"#ci"}
    skipped = await run_build(store, dataclasses.replace(build, id=new_id()), BuildStatus.SKIPPED)
    assert events_of(store, skipped.id, "slack") == []  # skipped is no failure


async def test_a_change_and_its_deliveries_commit_together(store: SqliteStore) -> None:
    repo = await registered(store)
    await add_target(store)
    seen: list[list[str]] = []

    def witness(change: Any) -> bool:  # runs in `publish`, right after the commit
        seen.append(events_of(store, change.build.id))
        return True

    with store.changes.subscribe(buffer=100, accept=witness):
        build = await run_build(store, make_build(repo), BuildStatus.PREPARING)
        await store.transition_build(build.id, BuildStatus.RUNNING)
    assert seen == [["queued"], ["queued"], ["queued", "started"]]
    # A change that fails writes none: an illegal transition, and a batch of builds that
    # conflicts (the whole delivery's unit is rolled back, its first build's deliveries too).
    with pytest.raises(IllegalTransition):
        await store.transition_build(build.id, BuildStatus.PREPARING)
    event = make_event("d-1")
    await store.insert_event(event)
    twins = [make_build(repo, "same", event.id), make_build(repo, "same", event.id)]
    with pytest.raises(Conflict):
        await store.create_builds_for_event(event.id, twins, "two", make_trigger())
    assert events_of(store, twins[0].id) == []
    assert len((await store.list_deliveries(DeliveryFilter(), None, 50)).items) == 2


async def test_planning_the_same_change_again_adds_nothing(store: SqliteStore) -> None:
    repo = await registered(store)
    await add_target(store)
    build = await run_build(store, make_build(repo))
    again = await store.engine.write(lambda db: outbox.plan(db, build, created=True))
    assert again == 0
    assert events_of(store, build.id) == ["queued"]


# --- claiming, outcomes -------------------------------------------------------------------


async def test_a_chain_is_sent_in_order_and_carries_its_ref(store: SqliteStore) -> None:
    repo = await registered(store)
    await add_target(store)
    build = await run_build(store, make_build(repo), *RUN)
    first = await store.claim_deliveries(utcnow(), {}, 4)
    assert [d.event for d in first] == ["queued"]  # started waits for queued
    assert first[0].state is DeliveryState.SENDING
    assert await store.claim_deliveries(utcnow(), {}, 4) == []
    await store.delivery_sent(first[0].id, "check-run-5")
    second = await store.claim_deliveries(utcnow(), {}, 4)
    assert [(d.event, d.chain_ref) for d in second] == [("started", "check-run-5")]
    await store.delivery_failed(second[0].id, "gone", None)  # dead: no longer holds the chain
    third = await store.claim_deliveries(utcnow(), {}, 4)
    assert [(d.event, d.chain_ref) for d in third] == [("succeeded", "check-run-5")]
    assert third[0].build_id == build.id


async def test_each_target_gets_its_own_room(store: SqliteStore) -> None:
    repo = await registered(store)
    slow, fast = await add_target(store), await add_target(store)
    for _ in range(6):
        await run_build(store, make_build(repo))
    claimed = await store.claim_deliveries(utcnow(), {f"webhook:{slow.id}": 3}, 4)
    targets = [d.target for d in claimed]
    assert targets.count(f"webhook:{slow.id}") == 1
    assert targets.count(f"webhook:{fast.id}") == 4


async def test_a_failed_delivery_waits_for_its_time_then_dies(store: SqliteStore) -> None:
    repo = await registered(store)
    await add_target(store)
    await run_build(store, make_build(repo))
    (claimed,) = await store.claim_deliveries(utcnow(), {}, 4)
    await store.delivery_failed(claimed.id, "HTTP 503", LATER)
    assert await store.claim_deliveries(utcnow(), {}, 4) == []
    assert await store.next_delivery_due() == LATER
    (again,) = await store.claim_deliveries(LATER, {}, 4)
    assert (again.attempts, again.last_error) == (1, "HTTP 503")
    await store.delivery_failed(again.id, "HTTP 404", None)
    dead = await store.get_delivery(again.id)
    assert (dead.state, dead.attempts, dead.last_error) == (DeliveryState.DEAD, 2, "HTTP 404")
    assert await store.next_delivery_due() is None


async def test_a_resend_puts_a_dead_delivery_back_and_wakes_the_notifier(
    store: SqliteStore,
) -> None:
    repo = await registered(store)
    await add_target(store)
    await run_build(store, make_build(repo))
    (claimed,) = await store.claim_deliveries(utcnow(), {}, 4)
    with pytest.raises(Conflict):
        await store.resend_delivery(claimed.id)  # still sending
    await store.delivery_failed(claimed.id, "refused", None)
    with store.changes.subscribe() as changes:
        resent = await store.resend_delivery(claimed.id)
        assert changes.receive.receive_nowait().kind is ChangeKind.NOTIFICATIONS_CHANGED
    assert resent.state is DeliveryState.PENDING
    assert resent.retry_since >= claimed.retry_since
    assert [d.id for d in await store.claim_deliveries(utcnow(), {}, 4)] == [claimed.id]
    with pytest.raises(NotFound):
        await store.resend_delivery(new_id())


async def test_sending_rows_go_back_to_pending_at_start(store: SqliteStore) -> None:
    repo = await registered(store)
    await add_target(store)
    await run_build(store, make_build(repo))
    (claimed,) = await store.claim_deliveries(utcnow(), {}, 4)
    assert claimed.attempts == 0
    assert await store.reset_sending() == 1
    reset = await store.get_delivery(claimed.id)
    # The send the daemon died in may have reached the target: it counts as an attempt.
    assert (reset.state, reset.attempts) == (DeliveryState.PENDING, 1)
    (again,) = await store.claim_deliveries(utcnow(), {}, 4)
    assert (again.id, again.attempts) == (claimed.id, 1)


async def test_deliveries_are_listed_newest_first_by_filter_and_cursor(
    store: SqliteStore,
) -> None:
    repo = await registered(store)
    await add_target(store)
    builds = [await run_build(store, make_build(repo), *RUN) for _ in range(2)]
    first = await store.list_deliveries(DeliveryFilter(), None, 4)
    assert len(first.items) == 4
    assert first.next_cursor is not None
    rest = await store.list_deliveries(DeliveryFilter(), first.next_cursor, 4)
    ids = [d.id for d in first.items + rest.items]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 6
    assert rest.next_cursor is None
    one = await store.list_deliveries(DeliveryFilter(build_id=builds[0].id), None, 9)
    assert {d.build_id for d in one.items} == {builds[0].id}
    (claimed,) = [d for d in await store.claim_deliveries(utcnow(), {}, 1)][:1]
    await store.delivery_sent(claimed.id, None)
    done = await store.list_deliveries(DeliveryFilter(state=DeliveryState.DELIVERED), None, 9)
    assert [d.id for d in done.items] == [claimed.id]
    assert await store.delivery_counts() == {("webhook", "delivered"): 1, ("webhook", "pending"): 5}
    assert (await store.list_deliveries(DeliveryFilter(kind="slack"), None, 9)).items == []


# --- webhook targets ----------------------------------------------------------------------


async def test_webhook_targets_are_stored_sealed_and_removed(store: SqliteStore) -> None:
    repo = await registered(store)
    target = await add_target(store, repo.id, ("failed",))
    assert await store.webhook_targets() == [target]
    assert await store.sealed_webhook_target(target.id) == (target, b"sealed")
    with pytest.raises(NotFound):
        await add_target(store, new_id())
    await store.delete_webhook_target(target.id)
    assert await store.webhook_targets() == []
    with pytest.raises(NotFound):
        await store.delete_webhook_target(target.id)
    with pytest.raises(NotFound):
        await store.sealed_webhook_target(target.id)


async def test_a_repository_target_goes_with_its_repository(store: SqliteStore) -> None:
    repo = await registered(store)
    await add_target(store, repo.id)
    await store.delete_repository(repo.id)
    assert await store.webhook_targets() == []


# --- retention, deleting a build, resending a status ----------------------------------------

OLD = "2020-01-01T00:00:00.000Z"
CUTOFF = "2021-01-01T00:00:00.000Z"  # OLD is before it, now is after it


async def sql(store: SqliteStore, statement: str, *args: object) -> None:
    await store.engine.write(lambda db: db.execute(statement, args))


async def payload_bytes(store: SqliteStore, build_id: str) -> int:
    query = "SELECT sum(length(payload)) FROM deliveries WHERE build_id = ?"
    held: int = await store.engine.read(lambda db: db.execute(query, [build_id]).fetchone()[0])
    return held


async def deliver_all(store: SqliteStore) -> None:
    while claimed := await store.claim_deliveries(utcnow(), {}, 16):
        for d in claimed:
            await store.delivery_sent(d.id, f"ref-{d.id}")


async def test_old_finished_chains_are_deleted_whole(store: SqliteStore) -> None:
    repo = await registered(store)
    await add_target(store)
    old = await run_build(store, make_build(repo), *RUN)
    waiting = await run_build(store, make_build(repo), *RUN)
    recent = await run_build(store, make_build(repo), *RUN)
    await deliver_all(store)
    await store.engine.write(lambda db: made_deliveries_at(db, OLD, "build_id != ?", recent.id))
    await sql(
        store,
        "UPDATE deliveries SET retry_since = ?, delivered_at = ? WHERE build_id != ?",
        OLD,
        OLD,
        recent.id,
    )
    # `waiting`'s outcome is being retried: its chain (and the run id on its first delivery)
    # stays until it is done.
    await sql(
        store,
        "UPDATE deliveries SET state = 'pending' WHERE build_id = ? AND event = ?",
        waiting.id,
        "succeeded",
    )
    held = await payload_bytes(store, old.id)

    # A batch of one still takes the whole chain: its first delivery holds the check run's id.
    assert await store.delete_old_deliveries(CUTOFF, 1) == (3, held)

    assert events_of(store, old.id) == []
    assert events_of(store, waiting.id) == ["queued", "started", "succeeded"]
    assert events_of(store, recent.id) == ["queued", "started", "succeeded"]
    # A resend is recent activity: a chain resent since the cutoff stays.
    await sql(store, "UPDATE deliveries SET state = 'delivered' WHERE build_id = ?", waiting.id)
    (latest,) = (await store.list_deliveries(DeliveryFilter(build_id=waiting.id), None, 1)).items
    await store.resend_delivery(latest.id)
    await deliver_all(store)
    assert await store.delete_old_deliveries(CUTOFF, 100) == (0, 0)
    assert events_of(store, waiting.id) == ["queued", "started", "succeeded"]


async def test_deleting_a_build_deletes_its_deliveries_but_a_chain_on_its_way(
    store: SqliteStore,
) -> None:
    repo = await registered(store)
    done_target, busy_target = await add_target(store), await add_target(store)
    build = await run_build(store, make_build(repo), *RUN)
    other = await run_build(store, make_build(repo), *RUN)
    await deliver_all(store)
    await sql(
        store,
        "UPDATE deliveries SET state = 'dead' WHERE build_id = ? AND target = ?"
        " AND event = 'succeeded'",
        build.id,
        f"webhook:{done_target.id}",
    )
    await sql(
        store,
        "UPDATE deliveries SET state = 'pending' WHERE build_id = ? AND target = ?"
        " AND event = 'succeeded'",
        build.id,
        f"webhook:{busy_target.id}",
    )

    await store.delete_build(build.id)

    left = (await store.list_deliveries(DeliveryFilter(build_id=build.id), None, 50)).items
    assert sorted((d.target, d.event) for d in left) == sorted(
        (f"webhook:{busy_target.id}", e) for e in ("queued", "started", "succeeded")
    )
    assert len(events_of(store, other.id)) == 6


async def test_an_older_status_is_not_resent_after_a_later_one(store: SqliteStore) -> None:
    repo = await registered(store, github_installation_id=99)
    await add_target(store)
    build = await run_build(store, make_build(repo), *RUN)
    await deliver_all(store)
    page = await store.list_deliveries(DeliveryFilter(build_id=build.id), None, 50)
    check = {d.event: d for d in page.items if d.kind == "github_check"}
    hook = {d.event: d for d in page.items if d.kind == "webhook"}

    with pytest.raises(Conflict) as refused:
        await store.resend_delivery(check["queued"].id)

    assert str(refused.value) == (
        f"delivery {check['queued'].id} (queued) was followed by delivery"
        f" {check['succeeded'].id} (succeeded) of the same GitHub check run: sending it again"
        f" would set it back to queued; resend {check['succeeded'].id} instead"
    )
    assert (await store.get_delivery(check["queued"].id)).state is DeliveryState.DELIVERED
    assert (await store.resend_delivery(check["succeeded"].id)).state is DeliveryState.PENDING
    # A message (here a signed webhook) is only sent again, whatever came after it.
    assert (await store.resend_delivery(hook["queued"].id)).state is DeliveryState.PENDING
