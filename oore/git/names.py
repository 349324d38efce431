"""Validation of what reaches git's command line: commit ids, full ref names, ids and URLs.

Refs and shas usually come from webhook payloads, so a bad one is a user-visible GitError (the
build is errored with the reason), not a crash; and nothing may reach git that it would read as an
option or as a refspec with a different meaning (``a:b``, ``+x``, ``refs/*``).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from oore.git.errors import GitError, redact

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 object names
_REPOSITORY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# What `git check-ref-format` rejects, plus "*": a fetched ref must name one ref, not a pattern.
_BAD_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(/|$)|[/.]$")


def is_sha(text: str) -> bool:
    return _SHA.fullmatch(text) is not None


def check_sha(sha: str) -> str:
    if not is_sha(sha):
        raise GitError(f"{sha!r} is not a full commit sha (40 or 64 lowercase hex digits)")
    return sha


def check_ref(ref: str) -> str:
    if not ref.startswith("refs/") or _BAD_REF.search(ref):
        raise GitError(
            f"{ref!r} is not a full ref name: pass e.g. 'refs/heads/main', 'refs/tags/v1.0', "
            "'refs/pull/7/head' or a full commit sha"
        )
    return ref


def check_repository_id(repository_id: str) -> str:
    if not _REPOSITORY_ID.fullmatch(repository_id):
        raise GitError(f"{repository_id!r} cannot name a mirror directory (letters, digits, _.-)")
    return repository_id


def check_url(url: str) -> str:
    if not url or url.startswith("-") or any(c in url for c in "\r\n\0"):
        raise GitError(f"{redact(url)!r} is not a usable clone URL; register the repository's URL")
    return url


def has_credentials(url: object) -> bool:
    """Whether `url` carries a secret in its user part: any user on http(s), a password else."""
    if not isinstance(url, str):
        return False
    scheme, sep, rest = url.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if not sep or "@" not in authority:
        return False
    user = authority.rpartition("@")[0]
    return scheme.lower() in ("http", "https") or ":" in user


def shown_clone_url(url: str) -> str:
    """`url` as the API shows it: without the credentials an older version stored in it."""
    return redact(url) if has_credentials(url) else url


# user@host:path, git's scp-like syntax for ssh (no "://", and a ":" before any "/").
_SCP_LIKE = re.compile(r"(?:[^@/]+@)?(?P<host>[^/:]+):(?!//)")


def origin_of(url: str) -> str:
    """Where a clone URL sends credentials: ``scheme://host[:port]``, lowercase, without any
    user; an scp-like ``git@host:path`` is ``ssh://host``; "" for a local or unparsable URL."""
    if "://" not in url:
        scp = _SCP_LIKE.match(url)
        return f"ssh://{scp['host'].lower()}" if scp else ""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme.lower() == "file" or not parts.hostname:
        return ""
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")


# What a repository's owner, name and clone URL may be: what its API takes, and what a
# provider's answer must meet before Oore registers it.
# A path segment: no "." or ".." (providers refuse them, and they would be path traversal).
SEGMENT = r"(?!\.\.?(?:/|$))[A-Za-z0-9_.-]{1,100}"
NAME = re.compile(SEGMENT)
GITHUB_OWNER = re.compile(SEGMENT)
GITLAB_NAMESPACE = re.compile(rf"{SEGMENT}(?:/{SEGMENT}){{0,19}}")
# No control characters or spaces anywhere, and no host starting with "-" (an option to ssh).
# No credentials either: http(s) takes no user part at all (a token works as a user name), ssh
# and git take a user name (git@host) but no password. `has_credentials` says why.
_HOST = r"(?!-)[^\s\x00-\x1f\x7f/?#@]+"
_REST = r"(?:[/?#][^\s\x00-\x1f\x7f]*)?"
CLONE_URL = re.compile(
    rf"(?:https?://{_HOST}{_REST}"
    rf"|(?:ssh|git)://(?:[^\s\x00-\x1f\x7f/?#@:]+@)?{_HOST}{_REST}"
    r"|file://(?!-)[^\s\x00-\x1f\x7f]+"
    r"|[A-Za-z0-9_.-]+@[A-Za-z0-9_.][A-Za-z0-9_.-]*:[^\s\x00-\x1f\x7f]+)"
)
