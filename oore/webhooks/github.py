"""GitHub deliveries (the `X-GitHub-Event` header and the JSON body) read into triggers.

Builds come from `push` (branches and tags) and `pull_request` (opened, synchronize, reopened);
every other event is `Ignored` with a reason the user can read. Field locations follow
https://docs.github.com/en/webhooks/webhook-events-and-payloads and are checked against the
octokit/webhooks payload examples in `tests/fixtures/webhooks/github`. Nothing the payload says
about where to fetch from (clone URLs, a fork's repository) ends up in the trigger.
"""

from __future__ import annotations

from collections.abc import Callable

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
)

INSTALLATION_REASON = "installation event: applied to the GitHub App's installations on receipt"
_REASONS = {
    "ping": "ping",
    "installation": INSTALLATION_REASON,
    "installation_repositories": INSTALLATION_REASON,
}
_BUILT_PR_ACTIONS = frozenset({"opened", "synchronize", "reopened"})


def parse(event_type: str, body: bytes) -> ParseResult:
    """What a delivery of `event_type` asks Oore to build; never raises."""
    try:
        payload = read_object(body)
    except PayloadError as exc:
        return Malformed(exc.reason)
    handler = _HANDLERS.get(event_type)
    if handler is None:
        return Ignored(_REASONS.get(event_type) or f"event {show(event_type)} is not built")
    try:
        return handler(payload)
    except PayloadError as exc:
        return Malformed(f"{event_type} payload: {exc.reason}")


def identify(body: bytes | dict[str, object]) -> RepoIdentity | None:
    """The repository a delivery is about, or None when it names none (org-level events).

    Takes the raw body or, where the receiver parsed it already, the payload."""
    return or_none(_identity, body)


def installation_id(body: bytes | dict[str, object]) -> int | None:
    """The GitHub App installation that sent the delivery, if any."""
    return or_none(lambda payload: opt_int(payload, "installation.id"), body)


def _identity(payload: dict[str, object]) -> RepoIdentity:
    req_dict(payload, "repository")
    # full_name is the fallback only: it is "owner/name" as a display string.
    full_owner, _, full_name = (opt_str(payload, "repository.full_name") or "").partition("/")
    owner = (
        opt_str(payload, "repository.owner.login")
        or opt_str(payload, "repository.owner.name")
        or full_owner
    )
    name = opt_str(payload, "repository.name") or full_name
    return repo_identity([owner], name, opt_int(payload, "repository.id"))


def _push(payload: dict[str, object]) -> ParseResult:
    identity = _identity(payload)
    ref = req_str(payload, "ref")
    branch, tag = short_ref(ref, "refs/heads/"), short_ref(ref, "refs/tags/")
    if branch is None and tag is None:
        return Ignored(f"push to {show(ref)} is neither a branch nor a tag")
    if payload.get("deleted") is True or is_zero_sha(opt_str(payload, "after")):
        return Ignored(f"{'tag' if tag is not None else 'branch'} deletion is not built")
    return Trigger(
        provider=Provider.GITHUB,
        kind=TriggerKind.TAG if tag is not None else TriggerKind.PUSH,
        repo_owner=identity.owner,
        repo_name=identity.name,
        repo_provider_id=identity.provider_id,
        sha=_push_sha(payload, is_tag=tag is not None),
        branch=branch,
        tag=tag,
        author=_push_author(payload),
        message=opt_str(payload, "head_commit.message"),
        before_sha=opt_sha(payload, "before"),
    )


def _push_sha(payload: dict[str, object], *, is_tag: bool) -> str:
    # For an annotated tag `after` is the tag object; head_commit is the commit it points at:
    # https://github.blog/changelog/2021-10-01-the-push-webhook-payload-provides-a-consistent-head_commit-on-tag-creation/
    commit = opt_sha(payload, "head_commit.id") if is_tag else None
    return commit or req_sha(payload, "after")


def _push_author(payload: dict[str, object]) -> str | None:
    return (
        opt_str(payload, "head_commit.author.username")
        or opt_str(payload, "head_commit.author.name")
        or opt_str(payload, "pusher.name")
    )


def _pull_request(payload: dict[str, object]) -> ParseResult:
    action = req_str(payload, "action")
    if action not in _BUILT_PR_ACTIONS:
        return Ignored(f"pull_request action {show(action)} is not built")
    identity = _identity(payload)
    source = req_ref_name(payload, "pull_request.head.ref")
    return Trigger(
        provider=Provider.GITHUB,
        kind=TriggerKind.PULL_REQUEST,
        repo_owner=identity.owner,
        repo_name=identity.name,
        repo_provider_id=identity.provider_id,
        sha=req_sha(payload, "pull_request.head.sha"),
        branch=source,
        pr_number=req_number(payload, "number"),
        pr_source_branch=source,
        pr_target_branch=req_ref_name(payload, "pull_request.base.ref"),
        author=opt_str(payload, "pull_request.user.login"),
        message=opt_str(payload, "pull_request.title"),
        # Only `synchronize` carries the previous head in a top-level `before`.
        before_sha=opt_sha(payload, "before"),
        from_fork=_from_fork(payload),
    )


def _from_fork(payload: dict[str, object]) -> bool:
    # A fork's pull request has its head in another repository. When the payload cannot show
    # that both are the same repository (a deleted fork's head.repo is null), its code is
    # treated as a fork's: untrusted.
    head = opt_int(payload, "pull_request.head.repo.id")
    base = opt_int(payload, "pull_request.base.repo.id") or opt_int(payload, "repository.id")
    return head is None or head != base


_HANDLERS: dict[str, Callable[[dict[str, object]], ParseResult]] = {
    "push": _push,
    "pull_request": _pull_request,
}
