"""Provider webhook payloads turned into provider-neutral `Trigger`s.

`github.parse` and `gitlab.parse` read the raw body of a delivery that has already been verified and
stored, and answer with exactly one of three values: a `Trigger` to build, `Ignored` (a well-formed
event Oore does not build, with the reason recorded on the stored event), or `Malformed` (the body
is not what the provider documents, naming what is wrong). They never raise, whatever the bytes.
`identify` answers which repository a delivery belongs to before any parsing decision is made.
"""

from __future__ import annotations

from dataclasses import dataclass

from oore.model import Trigger


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed event that does not start a build; `reason` is shown to the user."""

    reason: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """A body that is not the payload the provider documents; `reason` names the bad part."""

    reason: str


ParseResult = Trigger | Ignored | Malformed


@dataclass(frozen=True, slots=True)
class RepoIdentity:
    """Which repository a delivery is about, as the provider names it.

    `owner` is a GitHub login or a GitLab namespace (which may contain '/'), `name` the last path
    segment, `provider_id` the provider's numeric id (stable across renames) when the payload
    has one.
    """

    owner: str
    name: str
    provider_id: int | None


__all__ = ["Ignored", "Malformed", "ParseResult", "RepoIdentity"]
