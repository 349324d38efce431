"""Errors of the git layer, and the redaction that keeps credentials out of their messages.

Every message names the operation that failed, says what to do, and ends with the tail of git's
stderr; URLs (and anything URL-like inside git's output) pass through `redact` first, because a
registered clone URL may carry a token (``https://x-access-token:TOKEN@github.com/...``).
"""

from __future__ import annotations

import re

from oore.errors import NotFound, OoreError

# Git ends the authority at the first "/" and takes the userinfo up to the last "@" before it
# (see git's `url.c`/`credential.c`), so the greedy class below strips exactly what git would send.
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s]*@")
_TAIL_CHARS = 1500


class GitError(OoreError):
    """A git operation failed; the message names it and carries the end of git's stderr."""

    code = "git_error"
    status = 500


class FetchError(GitError):
    """Fetching from the registered remote failed or timed out (an upstream problem)."""

    code = "fetch_failed"
    status = 502


class CredentialsRefused(FetchError):
    """The remote refused the fetch for want of valid credentials (missing, revoked, expired)."""


class RefNotFound(GitError, NotFound):
    """A ref or commit is not in the mirror (fetch it first)."""

    code = "ref_not_found"
    status = 404


def redact(url: str) -> str:
    """`url` (or any text containing URLs) with every ``user:password@`` removed."""
    return _USERINFO.sub(r"\1", url)


def stderr_tail(stderr: bytes) -> str:
    """The last lines of git's stderr, redacted, for an error message."""
    text = stderr.decode("utf-8", errors="replace").strip()
    if len(text) > _TAIL_CHARS:
        text = "..." + text[-_TAIL_CHARS:]
    return redact(text) or "(git printed nothing)"
