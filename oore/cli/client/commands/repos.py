"""`oore repo list|add|show|edit|remove|webhook-url` (and `credentials`, `deploy-key`: see
repo_credentials.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncclick as click

from oore.cli.client.commands.common import confirmed, find_repo, repo_id
from oore.cli.client.commands.repo_credentials import credentials, deploy_key
from oore.cli.client.errors import invalid
from oore.cli.client.session import Session, pass_session

DELETE_TIMEOUT = 130.0  # the server waits up to 120 s for the repository's builds to end


@click.group()
def repo() -> None:
    """Register repositories and manage them.

    \b
    Example:
        oore repo add acme/app --clone-url https://github.com/acme/app.git
        oore repo list
    """


@repo.command("list")
@pass_session
async def list_repos(session: Session) -> None:
    """List the registered repositories.

    \b
    Example:
        oore repo list
        oore --json repo list | jq -r '.items[].full_name'
    """
    async with session.api() as api:
        data = await api.get("/api/repositories")
    if session.json:
        return session.out.json(data)
    from oore.cli.client.output import ago, status

    rows = [
        [
            r["id"],
            r["full_name"],
            r["provider"],
            r["default_branch"],
            status("active" if r["active"] else "inactive"),
            r["clone_url"],
            ago(r["created_at"]),
        ]
        for r in data["items"]
    ]
    headers = ["ID", "REPOSITORY", "PROVIDER", "BRANCH", "STATE", "CLONE URL", "ADDED"]
    # OWNER/NAME names a repository as well as its id does (`--repo acme/app`): kept whole,
    # while the id may go when the terminal is narrow.
    session.out.table(
        headers,
        rows,
        shrink=["BRANCH", "CLONE URL"],
        optional=["CLONE URL", "ID", "PROVIDER"],
    )


def _edit_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The fields `add` and `edit` share."""
    options = [
        click.option(
            "--clone-url",
            metavar="URL",
            help="https://, ssh://, git://, file:// URL (no credentials).",
        ),
        click.option("--default-branch", metavar="BRANCH", help="Branch builds default to."),
        click.option("--webhook-secret", metavar="SECRET", help="Webhook secret (8+ chars)."),
        click.option("--github-repo-id", type=click.IntRange(1), help="GitHub's repository id."),
        click.option("--github-installation-id", type=click.IntRange(1), help="GitHub App id."),
        click.option("--gitlab-project-id", type=click.IntRange(1), help="GitLab's project id."),
        click.option(
            "--badge-public/--no-badge-public", default=None, help="Serve the status badge."
        ),
        click.option(
            "--allow-fork-secrets/--no-allow-fork-secrets",
            default=None,
            help="Give builds of pull requests from forks the secret groups (untrusted code).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@repo.command("add")
@click.argument("full_name", metavar="OWNER/NAME")
@click.option(
    "--provider", type=click.Choice(["github", "gitlab"]), default="github", show_default=True
)
@_edit_options
@pass_session
async def add_repo(session: Session, /, full_name: str, provider: str, **fields: Any) -> None:
    """Register the repository OWNER/NAME (for GitLab, OWNER may be a group path).

    The webhook secret (given, or generated) is shown once: put it in the provider's webhook
    settings with the webhook URL.

    \b
    Example:
        oore repo add acme/app --clone-url https://github.com/acme/app.git
        oore repo add group/sub/app --provider gitlab --clone-url git@gitlab.com:group/sub/app.git
    """
    owner, _, name = full_name.rpartition("/")
    if not owner or not name:
        raise invalid(f"name the repository as OWNER/NAME, not {full_name!r}")
    if not fields.get("clone_url"):
        raise invalid("--clone-url is required")
    body = {"provider": provider, "owner": owner, "name": name, **_present(fields)}
    async with session.api() as api:
        created = await api.json("POST", "/api/repositories", body=body)
    if session.json:
        return session.out.json(created)
    session.out.line(f"registered {created['full_name']} ({created['id']})")
    _show_webhook(session, created)


def _show_webhook(session: Session, repo_data: dict[str, Any]) -> None:
    session.out.fields(
        [
            ("webhook URL", repo_data.get("webhook_url")),
            ("webhook secret", repo_data.get("webhook_secret")),
        ]
    )
    if repo_data.get("webhook_secret"):
        session.out.note("the webhook secret is shown only this once: put it in the provider now")


@repo.command("show")
@click.argument("ref", metavar="REPO")
@pass_session
async def show_repo(session: Session, ref: str) -> None:
    """Show one repository. REPO is its id or OWNER/NAME.

    \b
    Example:
        oore repo show acme/app
    """
    async with session.api() as api:
        found = await find_repo(api, ref)
    if session.json:
        return session.out.json(found)
    from oore.cli.client.output import ago, status

    session.out.fields(
        [
            ("id", found["id"]),
            ("repository", found["full_name"]),
            ("provider", found["provider"]),
            ("state", status("active" if found["active"] else "inactive")),
            ("clone URL", found["clone_url"]),
            ("default branch", found["default_branch"]),
            ("webhook URL", found["webhook_url"]),
            ("webhook secret", "set" if found["has_webhook_secret"] else "not set"),
            ("github repo id", _text(found.get("github_repo_id"))),
            ("github installation", _text(found.get("github_installation_id"))),
            ("gitlab project id", _text(found.get("gitlab_project_id"))),
            ("public badge", "yes" if found["badge_public"] else "no"),
            ("fork secrets", "allowed" if found["allow_fork_secrets"] else "withheld"),
            ("added", ago(found["created_at"])),
            ("changed", ago(found["updated_at"])),
        ]
    )


@repo.command("edit")
@click.argument("ref", metavar="REPO")
@click.option("--active/--inactive", default=None, help="Inactive repositories do not build.")
@_edit_options
@pass_session
async def edit_repo(session: Session, /, ref: str, **fields: Any) -> None:
    """Change a repository's settings. REPO is its id or OWNER/NAME.

    \b
    Example:
        oore repo edit acme/app --default-branch develop --inactive
    """
    body = _present(fields)
    if not body:
        raise invalid("nothing to change: give at least one option (see --help)")
    async with session.api() as api:
        changed = await api.json("PATCH", f"/api/repositories/{await repo_id(api, ref)}", body=body)
    if session.json:
        return session.out.json(changed)
    session.out.line(f"updated {changed['full_name']} ({', '.join(sorted(body))})")
    if changed.get("webhook_secret"):
        _show_webhook(session, changed)


@repo.command("remove")
@click.argument("ref", metavar="REPO")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_session
async def remove_repo(session: Session, ref: str, yes: bool) -> None:
    """Remove a repository, with its builds, logs and artifacts. REPO is its id or OWNER/NAME.

    \b
    Example:
        oore repo remove acme/app --yes
    """
    async with session.api() as api:
        found = await find_repo(api, ref)
        confirmed(f"remove {found['full_name']} and all its builds?", yes)
        # The server first stops the repository's running builds (each gets its SIGTERM grace)
        # and answers once they have ended and the files are gone: up to its 120 s bound.
        await api.send("DELETE", f"/api/repositories/{found['id']}", timeout=DELETE_TIMEOUT)
    if session.json:
        return session.out.json({"id": found["id"], "removed": True})
    session.out.line(f"removed {found['full_name']} ({found['id']})")


@repo.command("webhook-url")
@click.argument("ref", metavar="REPO")
@pass_session
async def webhook_url(session: Session, ref: str) -> None:
    """How to set up the provider's webhook for a repository. REPO is its id or OWNER/NAME.

    \b
    Example:
        oore repo webhook-url acme/app
    """
    async with session.api() as api:
        data = await api.get(f"/api/repositories/{await repo_id(api, ref)}/webhook-url")
    if session.json:
        return session.out.json(data)
    session.out.fields(
        [
            ("URL", data.get("url")),
            ("content type", data.get("content_type")),
            ("secret", data.get("secret")),
            ("events", ", ".join(data.get("events", []))),
            ("signature header", data.get("header")),
        ]
    )


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _text(value: object) -> str | None:
    return None if value is None else str(value)


repo.add_command(credentials)
repo.add_command(deploy_key)
COMMANDS = (repo,)
