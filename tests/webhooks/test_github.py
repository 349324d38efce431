"""GitHub payloads: every push and pull_request example, other events, and hand-made variants."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from oore.model import Provider, Trigger, TriggerKind
from oore.webhooks import Ignored, Malformed, RepoIdentity, github

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks" / "github"
INITIAL = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"  # the only commit in the push examples
PR_HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
SYNC_BEFORE = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
OTHER_SHA = "a" * 40
HELLO = RepoIdentity(owner="Codertocat", name="Hello-World", provider_id=186853002)
NEW_BRANCH = "push/with-new-branch.payload.json"
OPENED = "pull_request/opened.payload.json"
DELETE = object()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def edited(name: str, changes: dict[str, Any]) -> bytes:
    """The example with dotted paths set to new values (or removed, for DELETE)."""
    data = json.loads(fixture(name))
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return json.dumps(data).encode()


def push(**fields: Any) -> Trigger:
    values: dict[str, Any] = {
        "provider": Provider.GITHUB,
        "kind": TriggerKind.PUSH,
        "repo_owner": "Codertocat",
        "repo_name": "Hello-World",
        "repo_provider_id": 186853002,
        "sha": INITIAL,
        "branch": "master",
        "author": "Codertocat",
        "message": "Initial commit",
    }
    return Trigger(**(values | fields))


def pull_request(before_sha: str | None = None) -> Trigger:
    return Trigger(
        provider=Provider.GITHUB,
        kind=TriggerKind.PULL_REQUEST,
        repo_owner="Codertocat",
        repo_name="Hello-World",
        repo_provider_id=186853002,
        sha=PR_HEAD,
        branch="changes",
        pr_number=2,
        pr_source_branch="changes",
        pr_target_branch="master",
        author="Codertocat",
        message="Update the README with new information.",
        before_sha=before_sha,
    )


def not_built(action: str) -> Ignored:
    return Ignored(f"pull_request action '{action}' is not built")


TAG_DELETION = Ignored("tag deletion is not built")

# Every push and pull_request example; a new example file must be added here.
EXPECTED: dict[str, Trigger | Ignored] = {
    "push/1.payload.json": TAG_DELETION,
    "push/payload.json": TAG_DELETION,
    "push/with-installation.payload.json": TAG_DELETION,
    "push/with-organization.payload.json": TAG_DELETION,
    NEW_BRANCH: push(),
    # head_commit.author has no username there, and its name is the same login.
    "push/with-no-username-committer.payload.json": push(),
    OPENED: pull_request(),
    "pull_request/opened.with-null-body.json": pull_request(),
    "pull_request/opened.with-organization.payload.json": pull_request(),
    "pull_request/reopened.payload.json": pull_request(),
    "pull_request/reopened.with-organization.payload.json": pull_request(),
    "pull_request/synchronize.payload.json": pull_request(before_sha=SYNC_BEFORE),
    "pull_request/assigned.payload.json": not_built("assigned"),
    "pull_request/assigned.with-organization.payload.json": not_built("assigned"),
    "pull_request/closed.payload.json": not_built("closed"),
    "pull_request/closed.with-organization.payload.json": not_built("closed"),
    "pull_request/converted_to_draft.payload.json": not_built("converted_to_draft"),
    "pull_request/converted_to_draft.with-installation.payload.json": not_built(
        "converted_to_draft"
    ),
    "pull_request/converted_to_draft.with-organization.payload.json": not_built(
        "converted_to_draft"
    ),
    "pull_request/labeled.payload.json": not_built("labeled"),
    "pull_request/labeled.with-organization.payload.json": not_built("labeled"),
    "pull_request/locked.payload.json": not_built("locked"),
    "pull_request/locked.with-organization.payload.json": not_built("locked"),
    "pull_request/ready_for_review.payload.json": not_built("ready_for_review"),
    "pull_request/ready_for_review.with-installation.payload.json": not_built("ready_for_review"),
    "pull_request/ready_for_review.with-organization.payload.json": not_built("ready_for_review"),
    "pull_request/review_request_removed.payload.json": not_built("review_request_removed"),
    "pull_request/review_requested.payload.json": not_built("review_requested"),
    "pull_request/unassigned.payload.json": not_built("unassigned"),
    "pull_request/unassigned.with-organization.payload.json": not_built("unassigned"),
    "pull_request/unlabeled.payload.json": not_built("unlabeled"),
    "pull_request/unlabeled.with-organization.payload.json": not_built("unlabeled"),
    "pull_request/unlocked.payload.json": not_built("unlocked"),
    "pull_request/unlocked.with-organization.payload.json": not_built("unlocked"),
}

INSTALLATION = Ignored("installation event: applied to the GitHub App's installations on receipt")
OCTOCODERS = RepoIdentity(owner="Octocoders", name="Hello-World", provider_id=186853261)

# The other events kept as examples: (parse result, identify, installation_id).
OTHER: dict[str, tuple[Ignored, RepoIdentity | None, int | None]] = {
    "ping/payload.json": (Ignored("ping"), OCTOCODERS, None),
    "ping/with-app_id.payload.json": (Ignored("ping"), OCTOCODERS, None),
    "ping/with-organization.payload.json": (Ignored("ping"), None, None),
    "installation/created.payload.json": (INSTALLATION, None, 957387),
    "installation/created.with-requester.payload.json": (INSTALLATION, None, 957387),
    "installation/deleted.payload.json": (INSTALLATION, None, 2),
    "installation/new_permissions_accepted.payload.json": (INSTALLATION, None, 957387),
    "installation/suspend.payload.json": (INSTALLATION, None, 16598467),
    "installation/unsuspend.payload.json": (INSTALLATION, None, 16598467),
    "installation_repositories/added.payload.json": (INSTALLATION, None, 957387),
    "installation_repositories/removed.payload.json": (INSTALLATION, None, 2),
    "create/with-installation.payload.json": (Ignored("event 'create' is not built"), HELLO, 1),
    "delete/payload.json": (Ignored("event 'delete' is not built"), HELLO, None),
    "release/published.payload.json": (Ignored("event 'release' is not built"), HELLO, None),
    "check_run/requested_action.payload.json": (
        Ignored("event 'check_run' is not built"),
        RepoIdentity(owner="electron", name="electron", provider_id=9384267),
        690857,
    ),
    "check_suite/requested.payload.json": (
        Ignored("event 'check_suite' is not built"),
        HELLO,
        957387,
    ),
    "workflow_run/completed.payload.json": (
        Ignored("event 'workflow_run' is not built"),
        RepoIdentity(owner="octo-org", name="octo-repo", provider_id=300029405),
        None,
    ),
}


def test_every_push_and_pull_request_example_has_an_expectation() -> None:
    found = {
        str(path.relative_to(FIXTURES))
        for folder in ("push", "pull_request")
        for path in (FIXTURES / folder).iterdir()
    }
    assert found == set(EXPECTED)


@pytest.mark.parametrize(("name", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_push_and_pull_request_examples(name: str, expected: Trigger | Ignored) -> None:
    event = name.split("/")[0]
    assert github.parse(event, fixture(name)) == expected
    assert github.identify(fixture(name)) == HELLO


@pytest.mark.parametrize(("name", "expected"), OTHER.items(), ids=list(OTHER))
def test_other_event_examples(
    name: str, expected: tuple[Ignored, RepoIdentity | None, int | None]
) -> None:
    body = fixture(name)
    assert (github.parse(name.split("/")[0], body), github.identify(body)) == expected[:2]
    assert github.installation_id(body) == expected[2]


def test_installation_id_of_push_examples() -> None:
    assert github.installation_id(fixture("push/with-installation.payload.json")) == 1
    assert github.installation_id(fixture("push/payload.json")) is None


def test_unknown_event_is_ignored_by_name() -> None:
    assert github.parse("star", b"{}") == Ignored("event 'star' is not built")


# -- push variants ------------------------------------------------------------------------------


def test_branch_update() -> None:
    body = edited(NEW_BRANCH, {"created": False, "before": OTHER_SHA})
    assert github.parse("push", body) == push(before_sha=OTHER_SHA)


def test_lightweight_tag_push() -> None:
    body = edited(NEW_BRANCH, {"ref": "refs/tags/v1.2.0", "base_ref": "refs/heads/master"})
    assert github.parse("push", body) == push(kind=TriggerKind.TAG, branch=None, tag="v1.2.0")


def test_annotated_tag_push_builds_the_commit_not_the_tag_object() -> None:
    body = edited(NEW_BRANCH, {"ref": "refs/tags/v1.2.0", "after": OTHER_SHA})
    result = github.parse("push", body)
    assert isinstance(result, Trigger)
    assert (result.kind, result.tag, result.sha) == (TriggerKind.TAG, "v1.2.0", INITIAL)


def test_branch_push_builds_after() -> None:
    body = edited(NEW_BRANCH, {"after": OTHER_SHA})
    assert github.parse("push", body) == push(sha=OTHER_SHA)


@pytest.mark.parametrize(
    "changes",
    [
        {"deleted": True, "head_commit": None},
        {"after": "0" * 40, "deleted": DELETE},
    ],
)
def test_branch_deletion_is_ignored(changes: dict[str, Any]) -> None:
    body = edited(NEW_BRANCH, changes)
    assert github.parse("push", body) == Ignored("branch deletion is not built")


def test_push_without_head_commit_still_builds() -> None:
    body = edited(NEW_BRANCH, {"head_commit": None, "commits": []})
    assert github.parse("push", body) == push(author="Codertocat", message=None)


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ({"name": "Mona Lisa", "username": "octocat"}, "octocat"),
        ({"name": "Mona Lisa"}, "Mona Lisa"),
        ({"name": "Mona Lisa", "username": None}, "Mona Lisa"),
        ({}, "Codertocat"),  # pusher.name
        (7, "Codertocat"),  # a wrong type is not worth losing the build
    ],
)
def test_push_author(author: object, expected: str) -> None:
    result = github.parse("push", edited(NEW_BRANCH, {"head_commit.author": author}))
    assert isinstance(result, Trigger)
    assert result.author == expected


def test_push_without_any_author() -> None:
    body = edited(NEW_BRANCH, {"head_commit": None, "pusher": DELETE})
    assert github.parse("push", body) == push(author=None, message=None)


def test_lone_surrogate_in_message_is_replaced() -> None:
    body = edited(NEW_BRANCH, {"head_commit.message": "fix \ud800 bug"})
    assert github.parse("push", body) == push(message="fix ? bug")


def test_push_to_other_ref_namespace_is_ignored() -> None:
    body = edited(NEW_BRANCH, {"ref": "refs/notes/commits"})
    expected = Ignored("push to 'refs/notes/commits' is neither a branch nor a tag")
    assert github.parse("push", body) == expected


def test_owner_falls_back_to_full_name() -> None:
    body = edited(NEW_BRANCH, {"repository.owner": {}, "repository.name": DELETE})
    assert github.parse("push", body) == push()
    assert github.identify(body) == HELLO


def test_repository_id_is_optional() -> None:
    body = edited(NEW_BRANCH, {"repository.id": "186853002"})
    assert github.parse("push", body) == push(repo_provider_id=None)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"after": DELETE}, "push payload: 'after' is missing"),
        ({"after": 42}, "push payload: 'after' is a number, not a string"),
        (
            {"after": "--upload-pack=touch /tmp/x"},
            "push payload: 'after' is not a commit sha: '--upload-pack=touch /tmp/x'",
        ),
        (
            {"after": INITIAL.upper()},
            f"push payload: 'after' is not a commit sha: '{INITIAL.upper()}'",
        ),
        ({"ref": DELETE}, "push payload: 'ref' is missing"),
        ({"ref": ["refs/heads/master"]}, "push payload: 'ref' is an array, not a string"),
        ({"ref": "refs/heads/"}, "push payload: 'ref' is not a valid git ref: 'refs/heads/'"),
        ({"repository": DELETE}, "push payload: 'repository' is missing"),
        ({"repository": "Hello-World"}, "push payload: 'repository' is a string, not an object"),
    ],
)
def test_malformed_push_names_the_field(changes: dict[str, Any], reason: str) -> None:
    assert github.parse("push", edited(NEW_BRANCH, changes)) == Malformed(reason)


@pytest.mark.parametrize(
    "ref",
    [
        "refs/heads/-x",
        "refs/heads/a..b",
        "refs/heads/a b",
        "refs/heads/a\nb",
        "refs/heads/a:b",
        "refs/heads/a~1",
        "refs/heads/.hidden",
        "refs/heads/x.lock",
        "refs/heads/a//b",
        "refs/heads/a/",
        "refs/heads/@",
        "refs/heads/a@{1}",
        "refs/heads/a\\b",
        "refs/tags/v1.",
    ],
)
def test_refs_git_would_refuse_are_malformed(ref: str) -> None:
    result = github.parse("push", edited(NEW_BRANCH, {"ref": ref}))
    assert isinstance(result, Malformed)
    assert "'ref' is not a valid git ref" in result.reason


@pytest.mark.parametrize("name", ["feature/a-b_c.d", "renovate/@types-node", "ünïcode", "v1.0+x"])
def test_unusual_but_valid_branch_names_build(name: str) -> None:
    result = github.parse("push", edited(NEW_BRANCH, {"ref": f"refs/heads/{name}"}))
    assert isinstance(result, Trigger)
    assert result.branch == name


@pytest.mark.parametrize(
    "changes",
    [
        {"repository.name": ".."},
        {"repository.owner.login": "a/b"},
        {"repository.name": "x y"},
        {"repository.owner": {}, "repository.full_name": DELETE},
    ],
)
def test_repository_paths_are_checked(changes: dict[str, Any]) -> None:
    body = edited(NEW_BRANCH, changes)
    result = github.parse("push", body)
    assert isinstance(result, Malformed)
    assert "repository path" in result.reason
    assert github.identify(body) is None


# -- pull_request variants ----------------------------------------------------------------------


def test_pull_request_from_a_fork_builds_the_same_trigger_marked_as_a_fork() -> None:
    fork = {
        "id": 99,
        "full_name": "mallory/Hello-World",
        "clone_url": "https://evil.example/mallory/Hello-World.git",
        "owner": {"login": "mallory"},
    }
    body = edited(OPENED, {"pull_request.head.repo": fork, "pull_request.head.label": "mallory:x"})
    assert github.parse("pull_request", body) == replace(pull_request(), from_fork=True)


def test_pull_request_within_the_repository_is_not_a_fork() -> None:
    result = github.parse("pull_request", fixture(OPENED))
    assert isinstance(result, Trigger)
    assert result.from_fork is False


@pytest.mark.parametrize(
    "changes",
    [
        # A deleted fork: GitHub sends head.repo as null.
        {"pull_request.head.repo": None},
        {"pull_request.head.repo": DELETE},
        {"pull_request.head.repo.id": "186853002"},
        {"pull_request.head.repo.id": 186853003},
    ],
)
def test_a_pull_request_not_shown_to_be_from_the_repository_counts_as_a_fork(
    changes: dict[str, Any],
) -> None:
    result = github.parse("pull_request", edited(OPENED, changes))
    assert isinstance(result, Trigger)
    assert result.from_fork is True


@pytest.mark.parametrize("name", [n for n, e in EXPECTED.items() if isinstance(e, Trigger)])
def test_no_url_from_the_payload_reaches_the_trigger(name: str) -> None:
    result = github.parse(name.split("/")[0], fixture(name))
    assert isinstance(result, Trigger)
    text = json.dumps(result.to_json())
    assert "://" not in text
    assert "git@" not in text


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"pull_request.head.sha": DELETE}, "'pull_request.head.sha' is missing"),
        ({"pull_request.head": None}, "'pull_request.head.ref' is missing"),
        (
            {"pull_request.base.ref": "-f"},
            "'pull_request.base.ref' is not a valid branch name: '-f'",
        ),
        ({"number": 0}, "'number' is 0, not a positive number"),
        ({"number": True}, "'number' is a boolean, not an integer"),
        ({"number": "2"}, "'number' is a string, not an integer"),
        ({"action": DELETE}, "'action' is missing"),
        ({"action": None}, "'action' is missing"),
        ({"repository": DELETE}, "'repository' is missing"),
    ],
)
def test_malformed_pull_request_names_the_field(changes: dict[str, Any], reason: str) -> None:
    result = github.parse("pull_request", edited(OPENED, changes))
    assert result == Malformed(f"pull_request payload: {reason}")


def test_ignored_action_does_not_need_the_rest() -> None:
    body = json.dumps({"action": "closed"}).encode()
    assert github.parse("pull_request", body) == not_built("closed")


def test_pull_request_title_and_user_are_optional() -> None:
    body = edited(OPENED, {"pull_request.title": DELETE, "pull_request.user": None})
    result = github.parse("pull_request", body)
    assert isinstance(result, Trigger)
    assert (result.message, result.author) == (None, None)


# -- bodies that are not payloads ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe{}", "payload is not UTF-8"),
        (b"", "payload is not valid JSON"),
        (b"{'a': 1}", "payload is not valid JSON"),
        (b"\xef\xbb\xbf{}", "payload is not valid JSON"),  # a BOM is not JSON
        (b"[" * 100_000 + b"]" * 100_000, "payload is not valid JSON"),
        (b"1" * 5000, "payload is not valid JSON"),  # past Python's int-from-text limit
        (b"[]", "payload is not a JSON object (it is an array)"),
        (b"null", "payload is not a JSON object (it is null)"),
        (b'"push"', "payload is not a JSON object (it is a string)"),
        (b"true", "payload is not a JSON object (it is a boolean)"),
        (b"1.5", "payload is not a JSON object (it is a number)"),
    ],
)
@pytest.mark.parametrize("event", ["push", "pull_request", "ping", "star"])
def test_bodies_that_are_not_objects(event: str, body: bytes, reason: str) -> None:
    assert github.parse(event, body) == Malformed(reason)
    assert github.identify(body) is None
    assert github.installation_id(body) is None
