"""Deleting a repository: through the RepositorySupervisor, which owns its builds and files.

The supervisor cancels the repository's builds, waits for them to end (a running script gets
its SIGTERM grace), then deletes the rows and the files. The wait is bounded here by more than
that grace; past it the deletion still completes in the daemon, and the caller is told so.
"""

from __future__ import annotations

from oore.actors.messages import DeleteRepository, Reply
from oore.actors.runtime import RequestError, request
from oore.errors import Unavailable
from oore.http.services import Services

DELETE_TIMEOUT = 120.0


async def delete_repository(svc: Services, repository_id: str) -> None:
    """Delete the repository, its builds and its files, once its builds have ended."""
    try:
        answer: Reply = await request(
            svc.repository_inbox,
            lambda reply: DeleteRepository(repository_id, reply),
            timeout=DELETE_TIMEOUT,
        )
    except RequestError as exc:
        raise Unavailable(
            f"repository {repository_id} is still being deleted ({exc}): its builds are "
            f"being stopped. GET /api/repositories/{repository_id} answers 404 once it is gone."
        ) from exc
    if answer.error is not None:
        raise answer.error
