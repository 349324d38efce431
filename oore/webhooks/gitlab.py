"""GitLab deliveries (the `X-Gitlab-Event` header and the JSON body) read into triggers.

The header routes: `Push Hook` (branches), `Tag Push Hook` (tags) and `Merge Request Hook` (open,
reopen, and update with new commits) can build; every other hook is `Ignored`. A payload whose
`object_kind` contradicts the header is `Malformed`, since one of the two is lying. Field
locations follow https://docs.gitlab.com/user/project/integrations/webhook_events/ and are checked
against the examples in `tests/fixtures/webhooks/gitlab`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from oore.model import Provider, Trigger, TriggerKind
from oore.webhooks import Ignored, Malformed, ParseResult, RepoIdentity
from oore.webhooks._git import is_zero_sha, opt_sha, repo_identity, req_ref_name, req_sha, short_ref
from oore.webhooks._json import (
    PayloadError,
    opt_int,
    opt_str,
    or_none,
    read_object,
    req_dict,
    req_number,
    req_str,
    show,
    value_at,
)

_BUILT_MR_ACTIONS = frozenset({"open", "reopen", "update"})


@dataclass(frozen=True, slots=True)
class _Hook:
    object_kind: str
    handle: Callable[[dict[str, object]], ParseResult]


def parse(event_type: str, body: bytes) -> ParseResult:
    """What a delivery of `event_type` (the X-Gitlab-Event header) asks Oore to build."""
    try:
        payload = read_object(body)
    except PayloadError as exc:
        return Malformed(exc.reason)
    hook = _HOOKS.get(event_type)
    if hook is None:
        return Ignored(f"event {show(event_type)} is not built")
    try:
        _check_object_kind(payload, hook.object_kind, event_type)
        return hook.handle(payload)
    except PayloadError as exc:
        return Malformed(f"{event_type} payload: {exc.reason}")


def identify(body: bytes | dict[str, object]) -> RepoIdentity | None:
    """The project a delivery is about, or None when the payload does not say."""
    return or_none(_identity, body)


def project_id(body: bytes | dict[str, object]) -> int | None:
    """The project id the payload names (raw body, or the payload already parsed)."""
    return or_none(_project_id, body)


def _check_object_kind(payload: dict[str, object], expected: str, event_type: str) -> None:
    kind = payload.get("object_kind")
    if kind is not None and kind != expected:
        found = show(kind) if isinstance(kind, str) else "not a string"
        raise PayloadError(f"'object_kind' is {found}, but the header says {event_type!r}")


def _project_id(payload: dict[str, object]) -> int | None:
    top = opt_int(payload, "project_id")
    return top if top is not None else opt_int(payload, "project.id")


def _identity(payload: dict[str, object]) -> RepoIdentity:
    path = opt_str(payload, "project.path_with_namespace") or _homepage_path(payload)
    if path is None:
        raise PayloadError("'project.path_with_namespace' is missing")
    namespace, _, name = path.rpartition("/")
    return repo_identity(namespace.split("/"), name, _project_id(payload))


def _homepage_path(payload: dict[str, object]) -> str | None:
    # Payloads from GitLab before 8.5 have no `project`; `repository.homepage` is the project URL.
    # (An instance under a relative URL root would put that root in the namespace; such a
    # namespace matches no registered repository, so the event is reported, not misrouted.)
    homepage = opt_str(payload, "repository.homepage")
    if homepage is None:
        return None
    try:
        return urlsplit(homepage).path.strip("/") or None
    except ValueError:
        return None


def _push(payload: dict[str, object]) -> ParseResult:
    return _ref_push(payload, "refs/heads/", TriggerKind.PUSH)


def _tag_push(payload: dict[str, object]) -> ParseResult:
    return _ref_push(payload, "refs/tags/", TriggerKind.TAG)


def _ref_push(payload: dict[str, object], prefix: str, kind: TriggerKind) -> ParseResult:
    identity = _identity(payload)
    ref = req_str(payload, "ref")
    name = short_ref(ref, prefix)
    if name is None:
        raise PayloadError(f"'ref' {show(ref)} is not under {prefix}")
    noun = "tag" if kind is TriggerKind.TAG else "branch"
    if is_zero_sha(opt_str(payload, "after")):
        return Ignored(f"{noun} deletion is not built")
    if "checkout_sha" in payload and payload["checkout_sha"] is None:
        # checkout_sha is null when the pushed ref resolves to no commit; nothing to check out.
        return Ignored(f"{noun} push has no commit to build (checkout_sha is null)")
    sha = _push_sha(payload)
    return Trigger(
        provider=Provider.GITLAB,
        kind=kind,
        repo_owner=identity.owner,
        repo_name=identity.name,
        repo_provider_id=identity.provider_id,
        sha=sha,
        branch=name if kind is TriggerKind.PUSH else None,
        tag=name if kind is TriggerKind.TAG else None,
        author=opt_str(payload, "user_username") or opt_str(payload, "user_name"),
        message=_commit_message(payload, sha),
        before_sha=opt_sha(payload, "before"),
    )


def _push_sha(payload: dict[str, object]) -> str:
    # For an annotated tag `after` is the tag object and checkout_sha the commit it points at.
    if value_at(payload, "checkout_sha") is not None:
        return req_sha(payload, "checkout_sha")
    return req_sha(payload, "after")


def _commit_message(payload: dict[str, object], sha: str) -> str | None:
    commits = payload.get("commits")
    if not isinstance(commits, list) or not commits:
        return None
    # GitLab lists only the last 20 commits, oldest first, so the head is normally the last one
    # (https://gitlab.com/gitlab-org/gitlab/-/issues/20551).
    head = next((c for c in commits if value_at(c, "id") == sha), commits[-1])
    return opt_str(head, "message")


def _merge_request(payload: dict[str, object]) -> ParseResult:
    attributes = req_dict(payload, "object_attributes")
    action = req_str(payload, "object_attributes.action")
    if action not in _BUILT_MR_ACTIONS:
        return Ignored(f"merge request action {show(action)} is not built")
    # `oldrev` is present only when the update pushed commits; title or label edits also send
    # "update" (https://docs.gitlab.com/user/project/integrations/webhook_events/#merge-request-events).
    if action == "update" and attributes.get("oldrev") is None:
        return Ignored("merge request update without new commits")
    identity = _identity(payload)
    source = req_ref_name(payload, "object_attributes.source_branch")
    return Trigger(
        provider=Provider.GITLAB,
        kind=TriggerKind.PULL_REQUEST,
        repo_owner=identity.owner,
        repo_name=identity.name,
        repo_provider_id=identity.provider_id,
        sha=req_sha(payload, "object_attributes.last_commit.id"),
        branch=source,
        pr_number=req_number(payload, "object_attributes.iid"),
        pr_source_branch=source,
        pr_target_branch=req_ref_name(payload, "object_attributes.target_branch"),
        author=opt_str(payload, "user.username") or opt_str(payload, "user.name"),
        message=opt_str(payload, "object_attributes.title"),
        before_sha=opt_sha(payload, "object_attributes.oldrev"),
        from_fork=_from_fork(payload),
    )


def _from_fork(payload: dict[str, object]) -> bool:
    # A merge request from a fork has a source project other than its target. When the payload
    # cannot show they are the same project, its code is treated as a fork's: untrusted.
    source = opt_int(payload, "object_attributes.source_project_id")
    target = opt_int(payload, "object_attributes.target_project_id") or opt_int(
        payload, "project.id"
    )
    return source is None or source != target


_HOOKS = {
    "Push Hook": _Hook("push", _push),
    "Tag Push Hook": _Hook("tag_push", _tag_push),
    "Merge Request Hook": _Hook("merge_request", _merge_request),
}
