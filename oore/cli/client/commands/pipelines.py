"""`oore pipeline validate|show|set|delete`: check a pipeline file, and the pipeline stored for a
repository (used when a commit has no pipeline file of its own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncclick as click

from oore.cli.client.commands.common import repo_id
from oore.cli.client.errors import ExitCode, invalid
from oore.cli.client.session import Session, pass_session

MAX_FILE = 1024 * 1024


@click.group()
def pipeline() -> None:
    """Validate pipeline files; manage a repository's stored pipeline.

    \b
    Example:
        oore pipeline validate codemagic.yaml
        oore pipeline set acme/app ci/oore.yaml
    """


@pipeline.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_session
async def validate(session: Session, file: Path) -> None:
    """Check a pipeline file the way the server would; exit 6 if it has errors.

    \b
    Example:
        oore pipeline validate codemagic.yaml
    """
    async with session.api() as api:
        report = await api.json("POST", "/api/pipelines/validate", body=_body(file))
    if session.json:
        session.out.json(report)
    else:
        _print_report(session, file, report)
    if not report.get("ok"):
        raise click.exceptions.Exit(int(ExitCode.INVALID))


def _print_report(session: Session, file: Path, report: dict[str, Any]) -> None:
    from oore.cli.client.output import status

    for kind, items in (
        ("error", report.get("errors", [])),
        ("warning", report.get("warnings", [])),
    ):
        for item in items:
            where = f"{item.get('file') or file}:{item['line']}" if item.get("line") else str(file)
            key = f" ({item['key']})" if item.get("key") else ""
            label = status("failed" if kind == "error" else "pending", kind)
            session.out.line(f"{where}{key}: ", label, f": {item['message']}")
    workflows = ", ".join(report.get("workflows", [])) or "none"
    ok = bool(report.get("ok"))
    verdict = status("succeeded" if ok else "failed", "valid" if ok else "invalid")
    session.out.line(verdict, f" {file} (workflows: {workflows})")


def _body(file: Path) -> dict[str, str]:
    if file.stat().st_size > MAX_FILE:
        raise invalid(f"{file} is larger than {MAX_FILE} bytes; no pipeline file is")
    try:
        return {"content": file.read_text(encoding="utf-8"), "file": file.name}
    except UnicodeDecodeError:
        raise invalid(f"{file} is not UTF-8 text") from None


@pipeline.command("show")
@click.argument("ref", metavar="REPO")
@pass_session
async def show(session: Session, ref: str) -> None:
    """Print the pipeline stored for REPO (its id or OWNER/NAME).

    \b
    Example:
        oore pipeline show acme/app > stored.yaml
    """
    async with session.api() as api:
        repository = await repo_id(api, ref)
        text = (await api.send("GET", f"/api/repositories/{repository}/pipeline")).text
    if session.json:
        return session.out.json({"repository_id": repository, "content": text})
    click.echo(text, nl=not text.endswith("\n"))


@pipeline.command("set")
@click.argument("ref", metavar="REPO")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_session
async def set_pipeline(session: Session, ref: str, file: Path) -> None:
    """Store FILE as REPO's pipeline, used for commits without a pipeline file of their own.

    \b
    Example:
        oore pipeline set acme/app codemagic.yaml
    """
    async with session.api() as api:
        repository = await repo_id(api, ref)
        path = f"/api/repositories/{repository}/pipeline"
        answer = await api.json("PUT", path, body=_body(file))
    if session.json:
        return session.out.json(answer)
    workflows = ", ".join(answer.get("workflows", [])) or "none"
    session.out.line(f"stored {file.name} for {ref} (workflows: {workflows})")
    for warning in answer.get("warnings", []):
        session.out.note(f"warning: line {warning.get('line')}: {warning.get('message')}")


@pipeline.command("delete")
@click.argument("ref", metavar="REPO")
@pass_session
async def delete(session: Session, ref: str) -> None:
    """Remove REPO's stored pipeline.

    \b
    Example:
        oore pipeline delete acme/app
    """
    async with session.api() as api:
        repository = await repo_id(api, ref)
        await api.json("DELETE", f"/api/repositories/{repository}/pipeline")
    if session.json:
        return session.out.json({"repository_id": repository, "deleted": True})
    session.out.line(f"removed the stored pipeline of {ref}")


COMMANDS = (pipeline,)
