"""Whatever the body, the parsers answer a declared value and never raise.

Three kinds of input: arbitrary bytes, arbitrary JSON (including objects keyed with the field names
the parsers look for), and the real examples with random fields removed or replaced by random JSON,
which reach far deeper into the parsers than random text ever does. A `Trigger` that comes out must
also hold the values the rest of the daemon relies on: a commit sha, git-valid ref names, checked
repository paths, and text that survives UTF-8 and the JSON round trip into the store.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oore.model import Provider, Trigger
from oore.webhooks import Ignored, Malformed, ParseResult, RepoIdentity, github, gitlab
from oore.webhooks._git import is_path_segment, is_ref_name

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks"
GITHUB_EVENTS = [
    "push",
    "pull_request",
    "ping",
    "installation",
    "installation_repositories",
    "create",
    "delete",
    "release",
    "check_run",
    "check_suite",
    "workflow_run",
    "star",
    "",
]
GITLAB_EVENTS = ["Push Hook", "Tag Push Hook", "Merge Request Hook", "Pipeline Hook", "Note Hook"]
GITLAB_HOOKS = {
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "merge_request": "Merge Request Hook",
    "pipeline": "Pipeline Hook",
}
# Field names the parsers read, so random objects hit real code paths, not only the top-level check.
KEYS = [
    "ref", "after", "before", "deleted", "head_commit", "id", "author", "username", "name",
    "pusher", "message", "repository", "full_name", "owner", "login", "action", "number",
    "pull_request", "head", "base", "sha", "user", "title", "installation", "object_kind",
    "checkout_sha", "project", "project_id", "path_with_namespace", "homepage", "commits",
    "user_username", "user_name", "object_attributes", "iid", "oldrev", "last_commit",
    "source_branch", "target_branch",
]  # fmt: skip
SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["refs/heads/main", "refs/tags/v1", "0" * 40, "a" * 40, "a/b", "open"])
    # Lone surrogates: legal in JSON text ("\ud800"), but no UTF-8 store can hold them.
    | st.text(st.characters(codec=None, categories=["Cs", "Ll", "Nd"]), max_size=6)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)
json_objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=12)


def load(path: Path) -> Any:
    return json.loads(path.read_bytes())


def paths_in(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside a decoded JSON value (dict keys and list indexes)."""
    children: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    found = []
    for key, child in children:
        found.append((*prefix, key))
        found.extend(paths_in(child, (*prefix, key)))
    return found


def examples() -> list[tuple[Provider, str, Any, list[tuple[Any, ...]]]]:
    found = []
    for path in sorted(FIXTURES.glob("*/*/*.json")):
        provider = Provider(path.parts[-3])
        folder = path.parts[-2]
        event = folder if provider is Provider.GITHUB else GITLAB_HOOKS[folder]
        payload = load(path)
        found.append((provider, event, payload, paths_in(payload)))
    return found


EXAMPLES = examples()


def check(provider: Provider, result: ParseResult) -> None:
    assert isinstance(result, Trigger | Ignored | Malformed)
    if isinstance(result, Ignored | Malformed):
        assert isinstance(result.reason, str)
        assert result.reason
        return
    assert result.provider is provider
    assert SHA.fullmatch(result.sha)
    assert result.before_sha is None or SHA.fullmatch(result.before_sha)
    for name in (result.branch, result.tag, result.pr_source_branch, result.pr_target_branch):
        assert name is None or is_ref_name(name)
    assert all(is_path_segment(s) for s in [*result.repo_owner.split("/"), result.repo_name])
    assert result.pr_number is None or result.pr_number > 0
    for value in result.to_json().values():
        assert not isinstance(value, str) or value.encode("utf-8")
    stored = json.dumps(result.to_json(), ensure_ascii=False).encode("utf-8")
    assert Trigger.from_json(json.loads(stored)) == result


def check_github(event: str, body: bytes) -> None:
    check(Provider.GITHUB, github.parse(event, body))
    identity = github.identify(body)
    assert identity is None or isinstance(identity, RepoIdentity)
    installation = github.installation_id(body)
    assert installation is None or type(installation) is int


def check_gitlab(event: str, body: bytes) -> None:
    check(Provider.GITLAB, gitlab.parse(event, body))
    identity = gitlab.identify(body)
    assert identity is None or isinstance(identity, RepoIdentity)
    project = gitlab.project_id(body)
    assert project is None or type(project) is int


@SETTINGS
@given(body=st.binary(max_size=200))
def test_any_bytes(body: bytes) -> None:
    for event in GITHUB_EVENTS:
        check_github(event, body)
    for event in GITLAB_EVENTS:
        check_gitlab(event, body)


@SETTINGS
@given(value=json_values | json_objects)
def test_any_json(value: Any) -> None:
    body = json.dumps(value).encode()
    for event in GITHUB_EVENTS:
        check_github(event, body)
    for event in GITLAB_EVENTS:
        check_gitlab(event, body)


def mutate(payload: Any, paths: list[tuple[Any, ...]], data: st.DataObject) -> Any:
    """A deep copy of the payload with a few fields removed or replaced by random JSON."""
    mutated = json.loads(json.dumps(payload))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        # Half the time aim at a field a parser reads; the payloads are mostly fields it ignores.
        hot = [path for path in paths if path[-1] in KEYS]
        *parents, last = data.draw(st.sampled_from(hot if data.draw(st.booleans()) else paths))
        node = mutated
        for key in parents:
            node = node[key] if _has(node, key) else None
        if not _has(node, last):
            continue  # an earlier mutation removed or replaced this part
        if isinstance(node, dict) and data.draw(st.booleans()):
            del node[last]
        else:
            node[last] = data.draw(json_values)
    return mutated


def _has(node: Any, key: Any) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(node, list) and isinstance(key, int) and key < len(node)


@SETTINGS
@given(example=st.sampled_from(EXAMPLES), data=st.data())
def test_real_examples_with_random_damage(
    example: tuple[Provider, str, Any, list[tuple[Any, ...]]], data: st.DataObject
) -> None:
    provider, event, payload, paths = example
    body = json.dumps(mutate(payload, paths, data)).encode()
    if provider is Provider.GITHUB:
        check_github(event, body)
    else:
        check_gitlab(event, body)


def test_examples_are_loaded() -> None:
    # Guards the property test above against silently sampling from nothing.
    providers = {provider for provider, *_ in EXAMPLES}
    assert providers == {Provider.GITHUB, Provider.GITLAB}
    assert len(EXAMPLES) == len(list(FIXTURES.glob("*/*/*.json")))
