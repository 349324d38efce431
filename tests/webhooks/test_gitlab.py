"""GitLab payloads: every example, each merge request action, and hand-made push variants."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from oore.model import Provider, Trigger, TriggerKind
from oore.webhooks import Ignored, Malformed, RepoIdentity, gitlab

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks" / "gitlab"
PUSH = "push/docs.push.json"
TAG_PUSH = "tag_push/docs.tag_push.json"
MR_OPEN = "merge_request/docs.merge_request.open.json"
MR_UPDATE = "merge_request/go-gitlab.service_merge_request.json"
MR_GROUP = "merge_request/go-gitlab.group_merge_request.json"
PIPELINE = "pipeline/docs.pipeline.json"
HEADERS = {
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "merge_request": "Merge Request Hook",
    "pipeline": "Pipeline Hook",
}
PUSH_HEAD = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
PUSH_FIRST = "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327"
PUSH_BEFORE = "95790bf891e76fee5e1747ab589903a6a1f80f22"
PUSH_FIRST_MSG = (
    "Update Catalan translation to e38cb41.\n\n"
    "See https://gitlab.com/gitlab-org/gitlab for more information"
)
TAG_COMMIT = "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"
UPDATE_HEAD = "0ab96a10266b95b4b533dcfd98738015fbe70889"
UPDATE_OLDREV = "6ef047571374c96a2bf13c361efd1fb008b0063e"
OTHER_SHA = "b" * 40
ZERO = "0" * 40
DELETE = object()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def header(name: str) -> str:
    return HEADERS[name.split("/")[0]]


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


def branch_push(**fields: Any) -> Trigger:
    values: dict[str, Any] = {
        "provider": Provider.GITLAB,
        "kind": TriggerKind.PUSH,
        "repo_owner": "mike",
        "repo_name": "diaspora",
        "repo_provider_id": 15,
        "sha": PUSH_HEAD,
        "branch": "master",
        "author": "jsmith",
        "message": "fixed readme",
        "before_sha": PUSH_BEFORE,
    }
    return Trigger(**(values | fields))


def tag_push(**fields: Any) -> Trigger:
    values: dict[str, Any] = {
        "provider": Provider.GITLAB,
        "kind": TriggerKind.TAG,
        "repo_owner": "jsmith",
        "repo_name": "example",
        "repo_provider_id": 1,
        "sha": TAG_COMMIT,
        "tag": "v1.0.0",
        "author": "John Smith",  # this example has no user_username
    }
    return Trigger(**(values | fields))


def opened_mr(**fields: Any) -> Trigger:
    values: dict[str, Any] = {
        "provider": Provider.GITLAB,
        "kind": TriggerKind.PULL_REQUEST,
        "repo_owner": "gitlabhq",
        "repo_name": "gitlab-test",
        "repo_provider_id": 1,
        "sha": PUSH_HEAD,
        "branch": "ms-viewport",
        "pr_number": 1,
        "pr_source_branch": "ms-viewport",
        "pr_target_branch": "master",
        "author": "root",
        "message": "MS-Viewport",
    }
    return Trigger(**(values | fields))


UPDATED_MR = Trigger(
    provider=Provider.GITLAB,
    kind=TriggerKind.PULL_REQUEST,
    repo_owner="test",
    repo_name="woodpecker",
    repo_provider_id=2,
    sha=UPDATE_HEAD,
    branch="next-feature",
    pr_number=2,
    pr_source_branch="next-feature",
    pr_target_branch="master",
    author="test",
    message="Update client.go \U0001f389",
    before_sha=UPDATE_OLDREV,
)

# Every GitLab example: (parse result, identify); project_id is identify's provider_id.
EXPECTED: dict[str, tuple[Trigger | Ignored, RepoIdentity]] = {
    PUSH: (branch_push(), RepoIdentity("mike", "diaspora", 15)),
    TAG_PUSH: (tag_push(), RepoIdentity("jsmith", "example", 1)),
    MR_OPEN: (opened_mr(), RepoIdentity("gitlabhq", "gitlab-test", 1)),
    MR_UPDATE: (UPDATED_MR, RepoIdentity("test", "woodpecker", 2)),
    # go-gitlab's example has stray spaces in most keys ("iid "); its action alone decides.
    MR_GROUP: (
        Ignored("merge request action 'merge' is not built"),
        RepoIdentity("exm-namespace", "example-project", None),
    ),
    PIPELINE: (
        Ignored("event 'Pipeline Hook' is not built"),
        RepoIdentity("gitlab-org", "gitlab-test", 1),
    ),
}


def test_every_example_has_an_expectation() -> None:
    found = {str(path.relative_to(FIXTURES)) for path in FIXTURES.glob("*/*.json")}
    assert found == set(EXPECTED)


@pytest.mark.parametrize(("name", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_examples(name: str, expected: tuple[Trigger | Ignored, RepoIdentity]) -> None:
    body = fixture(name)
    assert (gitlab.parse(header(name), body), gitlab.identify(body)) == expected
    assert gitlab.project_id(body) == expected[1].provider_id


# -- push and tag push --------------------------------------------------------------------------


def test_push_without_checkout_sha_builds_after() -> None:
    body = edited(PUSH, {"checkout_sha": DELETE, "after": PUSH_FIRST})
    assert gitlab.parse("Push Hook", body) == branch_push(sha=PUSH_FIRST, message=PUSH_FIRST_MSG)


def test_message_is_from_the_commit_that_is_built() -> None:
    body = edited(PUSH, {"checkout_sha": PUSH_FIRST})
    assert gitlab.parse("Push Hook", body) == branch_push(sha=PUSH_FIRST, message=PUSH_FIRST_MSG)


def test_message_falls_back_to_the_last_listed_commit() -> None:
    # GitLab lists only the last 20 commits; fall back to the last one listed.
    body = edited(PUSH, {"checkout_sha": OTHER_SHA})
    assert gitlab.parse("Push Hook", body) == branch_push(sha=OTHER_SHA)


@pytest.mark.parametrize("commits", [DELETE, [], None, "x", [7]])
def test_message_is_optional(commits: object) -> None:
    body = edited(PUSH, {"commits": commits})
    assert gitlab.parse("Push Hook", body) == branch_push(message=None)


def test_author_falls_back_to_user_name() -> None:
    body = edited(PUSH, {"user_username": DELETE})
    assert gitlab.parse("Push Hook", body) == branch_push(author="John Smith")


def test_annotated_tag_builds_checkout_sha() -> None:
    # For an annotated tag `after` is the tag object and checkout_sha the commit.
    body = edited(TAG_PUSH, {"after": OTHER_SHA})
    assert gitlab.parse("Tag Push Hook", body) == tag_push()


@pytest.mark.parametrize(
    ("name", "reason"),
    [(PUSH, "branch deletion is not built"), (TAG_PUSH, "tag deletion is not built")],
)
def test_deletion_is_ignored(name: str, reason: str) -> None:
    body = edited(name, {"after": ZERO, "checkout_sha": None, "commits": []})
    assert gitlab.parse(header(name), body) == Ignored(reason)


def test_ref_without_a_commit_is_ignored() -> None:
    body = edited(TAG_PUSH, {"checkout_sha": None})
    expected = Ignored("tag push has no commit to build (checkout_sha is null)")
    assert gitlab.parse("Tag Push Hook", body) == expected


def test_nested_namespace() -> None:
    body = edited(PUSH, {"project.path_with_namespace": "group/sub/diaspora"})
    assert gitlab.parse("Push Hook", body) == branch_push(repo_owner="group/sub")
    assert gitlab.identify(body) == RepoIdentity("group/sub", "diaspora", 15)


def test_identity_falls_back_to_repository_homepage() -> None:
    body = edited(PUSH, {"project": DELETE})
    assert gitlab.parse("Push Hook", body) == branch_push()


def test_project_id_falls_back_to_project() -> None:
    body = edited(PUSH, {"project_id": DELETE, "project.id": 16})
    assert gitlab.project_id(body) == 16
    assert gitlab.parse("Push Hook", body) == branch_push(repo_provider_id=16)


@pytest.mark.parametrize(
    ("hook", "name", "changes", "reason"),
    [
        ("Push Hook", PUSH, {"object_kind": "tag_push"}, "'object_kind' is 'tag_push'"),
        ("Tag Push Hook", TAG_PUSH, {"object_kind": "push"}, "'object_kind' is 'push'"),
        ("Push Hook", MR_OPEN, {}, "'object_kind' is 'merge_request'"),
        ("Merge Request Hook", PUSH, {}, "'object_kind' is 'push'"),
        ("Push Hook", PUSH, {"object_kind": 3}, "'object_kind' is not a string"),
        (
            "Push Hook",
            PUSH,
            {"ref": "refs/tags/v1"},
            "'ref' 'refs/tags/v1' is not under refs/heads/",
        ),
        ("Tag Push Hook", TAG_PUSH, {"ref": "refs/heads/x"}, "is not under refs/tags/"),
        ("Push Hook", PUSH, {"ref": "refs/heads/-x"}, "'ref' is not a valid git ref"),
        ("Push Hook", PUSH, {"checkout_sha": "HEAD"}, "'checkout_sha' is not a commit sha: 'HEAD'"),
        ("Push Hook", PUSH, {"checkout_sha": DELETE, "after": DELETE}, "'after' is missing"),
        ("Push Hook", PUSH, {"ref": DELETE}, "'ref' is missing"),
        (
            "Push Hook",
            PUSH,
            {"project": DELETE, "repository": DELETE},
            "'project.path_with_namespace' is missing",
        ),
        (
            "Push Hook",
            PUSH,
            {"project.path_with_namespace": "mike/../diaspora"},
            "repository path 'mike/../diaspora' is not valid",
        ),
        (
            "Push Hook",
            PUSH,
            {"project.path_with_namespace": "diaspora"},
            "repository path '/diaspora' is not valid",
        ),
    ],
)
def test_malformed_push(hook: str, name: str, changes: dict[str, Any], reason: str) -> None:
    result = gitlab.parse(hook, edited(name, changes))
    assert isinstance(result, Malformed)
    assert result.reason.startswith(f"{hook} payload: ")
    assert reason in result.reason


def test_object_kind_may_be_absent() -> None:
    assert gitlab.parse("Push Hook", edited(PUSH, {"object_kind": DELETE})) == branch_push()


# -- merge requests -----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["open", "reopen"])
def test_merge_request_open_and_reopen(action: str) -> None:
    body = edited(MR_OPEN, {"object_attributes.action": action})
    assert gitlab.parse("Merge Request Hook", body) == opened_mr()


def test_merge_request_update_with_new_commits() -> None:
    body = edited(
        MR_OPEN, {"object_attributes.action": "update", "object_attributes.oldrev": OTHER_SHA}
    )
    assert gitlab.parse("Merge Request Hook", body) == opened_mr(before_sha=OTHER_SHA)


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        (MR_OPEN, {}),  # no oldrev key at all
        (MR_UPDATE, {"object_attributes.oldrev": DELETE}),
        (MR_UPDATE, {"object_attributes.oldrev": None}),
    ],
)
def test_merge_request_update_without_new_commits(name: str, changes: dict[str, Any]) -> None:
    body = edited(name, {"object_attributes.action": "update", **changes})
    expected = Ignored("merge request update without new commits")
    assert gitlab.parse("Merge Request Hook", body) == expected


@pytest.mark.parametrize(
    "action", ["close", "merge", "approved", "unapproved", "approval", "unapproval"]
)
def test_other_merge_request_actions_are_ignored(action: str) -> None:
    body = edited(MR_OPEN, {"object_attributes.action": action})
    expected = Ignored(f"merge request action '{action}' is not built")
    assert gitlab.parse("Merge Request Hook", body) == expected


def test_merge_request_from_a_fork_builds_the_same_trigger_marked_as_a_fork() -> None:
    source = {
        "path_with_namespace": "mallory/gitlab-test",
        "http_url": "https://evil.example/x.git",
    }
    body = edited(
        MR_OPEN, {"object_attributes.source": source, "object_attributes.source_project_id": 99}
    )
    assert gitlab.parse("Merge Request Hook", body) == replace(opened_mr(), from_fork=True)


def test_merge_request_within_the_project_is_not_a_fork() -> None:
    result = gitlab.parse("Merge Request Hook", fixture(MR_OPEN))
    assert isinstance(result, Trigger)
    assert result.from_fork is False


@pytest.mark.parametrize(
    "changes",
    [
        {"object_attributes.source_project_id": DELETE},
        {"object_attributes.source_project_id": None},
        {"object_attributes.source_project_id": "14"},
        {"object_attributes.target_project_id": 15},
    ],
)
def test_a_merge_request_not_shown_to_be_from_the_project_counts_as_a_fork(
    changes: dict[str, Any],
) -> None:
    result = gitlab.parse("Merge Request Hook", edited(MR_OPEN, changes))
    assert isinstance(result, Trigger)
    assert result.from_fork is True


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"object_attributes": DELETE}, "'object_attributes' is missing"),
        ({"object_attributes": []}, "'object_attributes' is an array, not an object"),
        ({"object_attributes.action": DELETE}, "'object_attributes.action' is missing"),
        ({"object_attributes.iid": DELETE}, "'object_attributes.iid' is missing"),
        ({"object_attributes.iid": -1}, "'object_attributes.iid' is -1, not a positive number"),
        ({"object_attributes.last_commit": None}, "'object_attributes.last_commit.id' is missing"),
        (
            {"object_attributes.source_branch": "a..b"},
            "'object_attributes.source_branch' is not a valid branch name: 'a..b'",
        ),
        ({"object_attributes.target_branch": ""}, "'object_attributes.target_branch' is empty"),
    ],
)
def test_malformed_merge_request_names_the_field(changes: dict[str, Any], reason: str) -> None:
    result = gitlab.parse("Merge Request Hook", edited(MR_OPEN, changes))
    assert result == Malformed(f"Merge Request Hook payload: {reason}")


def test_merge_request_author_falls_back_to_name() -> None:
    body = edited(MR_OPEN, {"user.username": DELETE})
    assert gitlab.parse("Merge Request Hook", body) == opened_mr(author="Administrator")


# -- other hooks and bodies ---------------------------------------------------------------------


@pytest.mark.parametrize("hook", ["Note Hook", "Job Hook", "System Hook", "push", ""])
def test_other_hooks_are_ignored_by_name(hook: str) -> None:
    assert gitlab.parse(hook, fixture(PUSH)) == Ignored(f"event {hook!r} is not built")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xc3\x28", "payload is not UTF-8"),
        (b"{", "payload is not valid JSON"),
        (b"[{}]", "payload is not a JSON object (it is an array)"),
    ],
)
@pytest.mark.parametrize("hook", ["Push Hook", "Merge Request Hook", "Pipeline Hook"])
def test_bodies_that_are_not_objects(hook: str, body: bytes, reason: str) -> None:
    assert gitlab.parse(hook, body) == Malformed(reason)
    assert gitlab.identify(body) is None
    assert gitlab.project_id(body) is None
