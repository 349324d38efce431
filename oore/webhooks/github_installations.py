"""The GitHub App's `installation` and `installation_repositories` deliveries, applied to the
store's table of installations and the repositories each may see.

Shapes per https://docs.github.com/en/webhooks/webhook-events-and-payloads#installation and
#installation_repositories. The intake applies a verified delivery only after storing it, and
only when it is new: GitHub redelivers on request and in any order, and a redelivered older
`created` applied again would bring back an installation deleted since (and with it the token
its repositories fetch with). The price: a crash between storing and applying loses that one
update (the next delivery for the installation, or installing the app again, restores it).
"""

from __future__ import annotations

from oore.errors import NotFound
from oore.model import GithubInstallation, GithubInstallationRepo, utcnow
from oore.store.base import GithubAppStore
from oore.webhooks._json import PayloadError, opt_str, req_dict, req_int, req_str, value_at

EVENTS = frozenset({"installation", "installation_repositories"})


async def apply(store: GithubAppStore, event_type: str, payload: dict[str, object]) -> None:
    """Bring the installations table up to date with one verified app delivery (a malformed
    one changes nothing: it is stored, and the ingester records why it is unusable)."""
    try:
        if event_type == "installation":
            await _installation(store, payload)
        elif event_type == "installation_repositories":
            await _repositories(store, payload)
    except PayloadError:
        return


async def _installation(store: GithubAppStore, payload: dict[str, object]) -> None:
    action = req_str(payload, "action")
    installation_id = req_int(payload, "installation.id")
    if action == "deleted":
        await store.delete_github_installation(installation_id)
        return
    listed = value_at(payload, "repositories")
    if isinstance(listed, list):
        repos = _repos(listed)
    else:  # suspend/unsuspend may leave the list out: keep what is known
        known = await _known(store, installation_id)
        repos = known.repositories if known is not None else ()
    await store.put_github_installation(_read(payload, repos, suspended=action == "suspend"))


async def _repositories(store: GithubAppStore, payload: dict[str, object]) -> None:
    installation_id = req_int(payload, "installation.id")
    added = _repos(_list(payload, "repositories_added"))
    removed = tuple(r.id for r in _repos(_list(payload, "repositories_removed")))
    if await _known(store, installation_id) is None:
        # The `installation created` delivery was missed: start from this one.
        await store.put_github_installation(_read(payload, added, suspended=False))
        return
    await store.change_github_installation_repositories(installation_id, added, removed)


def _read(
    payload: dict[str, object], repos: tuple[GithubInstallationRepo, ...], *, suspended: bool
) -> GithubInstallation:
    installation = req_dict(payload, "installation")
    return GithubInstallation(
        id=req_int(installation, "id"),
        account=opt_str(installation, "account.login") or "",
        account_type=opt_str(installation, "account.type") or "",
        repository_selection=opt_str(installation, "repository_selection")
        or opt_str(payload, "repository_selection")
        or "selected",
        suspended=suspended or value_at(installation, "suspended_at") is not None,
        repositories=repos,
        updated_at=utcnow(),
    )


def _repos(items: list[object]) -> tuple[GithubInstallationRepo, ...]:
    return tuple(
        GithubInstallationRepo(
            req_int(item, "id"), req_str(item, "full_name"), value_at(item, "private") is True
        )
        for item in items
    )


def _list(payload: dict[str, object], path: str) -> list[object]:
    value = value_at(payload, path)
    return value if isinstance(value, list) else []


async def _known(store: GithubAppStore, installation_id: int) -> GithubInstallation | None:
    try:
        return await store.github_installation(installation_id)
    except NotFound:
        return None
