"""Async git operations for Oore: per-repository bare mirrors and per-build workspaces.

Every git process goes through `oore.git.process` (a clean, prompt-free environment, no hooks,
process-group cancellation). Callers serialise operations on one mirror; different mirrors may
be used at the same time.
"""

from __future__ import annotations

from oore.git.auth import GitCredential
from oore.git.credentials import remove_stale_keys
from oore.git.errors import CredentialsRefused, FetchError, GitError, RefNotFound, redact
from oore.git.mirror import Mirror, ensure_mirror, fetch, has_commit, resolve, ssh_dir
from oore.git.process import git_env
from oore.git.read import MAX_FILE_BYTES, changed_files, first_existing, read_file
from oore.git.workspace import create_workspace, remove_workspace

__all__ = [
    "MAX_FILE_BYTES",
    "CredentialsRefused",
    "FetchError",
    "GitCredential",
    "GitError",
    "Mirror",
    "RefNotFound",
    "changed_files",
    "create_workspace",
    "ensure_mirror",
    "fetch",
    "first_existing",
    "git_env",
    "has_commit",
    "read_file",
    "redact",
    "remove_stale_keys",
    "remove_workspace",
    "resolve",
    "ssh_dir",
]
