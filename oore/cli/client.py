"""`oore`: the command-line client of an Oore server."""

from __future__ import annotations

import json
import sys
from typing import Any

import asyncclick as click
import httpx

from oore import __version__

DEFAULT_SERVER = "http://127.0.0.1:8080"
EXIT_UNREACHABLE = 3
EXIT_API_ERROR = 4


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oore")
@click.option(
    "--server",
    envvar="OORE_SERVER",
    default=DEFAULT_SERVER,
    show_default=True,
    help="Base URL of the Oore server (env OORE_SERVER).",
)
@click.option("--token", envvar="OORE_TOKEN", help="API or admin token (env OORE_TOKEN).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON unchanged.")
@click.pass_context
def cli(ctx: click.Context, server: str, token: str | None, as_json: bool) -> None:
    """Drive an Oore build server from the command line.

    \b
    Example:
        oore --server http://buildbox:8080 health
    """
    ctx.obj = {"server": server.rstrip("/"), "token": token, "json": as_json}


@cli.command()
@click.pass_obj
async def health(obj: dict[str, Any]) -> None:
    """Check that the server answers and its store works.

    \b
    Example:
        oore health
    """
    data = await _get(obj, "/api/health")
    _print(obj, data, f"ok (up {data.get('uptime_seconds', 0):.0f}s)")


@cli.command()
@click.pass_obj
async def version(obj: dict[str, Any]) -> None:
    """Show the client's and the server's versions.

    \b
    Example:
        oore version
    """
    data = await _get(obj, "/api/version")
    _print(obj, data, f"client {__version__}, server {data.get('version')}")


async def _get(obj: dict[str, Any], path: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {obj['token']}"} if obj["token"] else {}
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(obj["server"] + path, headers=headers)
    except httpx.HTTPError as exc:
        click.echo(f"oore: cannot reach {obj['server']}: {exc}. Is oored running?", err=True)
        sys.exit(EXIT_UNREACHABLE)
    try:
        data: dict[str, Any] = response.json()
    except ValueError:
        data = {}
    if response.is_error:
        message = data.get("error", {}).get("message", response.reason_phrase)
        click.echo(f"oore: {response.status_code} {message}", err=True)
        sys.exit(EXIT_API_ERROR)
    return data


def _print(obj: dict[str, Any], data: dict[str, Any], human: str) -> None:
    click.echo(json.dumps(data, indent=2) if obj["json"] else human)


def main() -> None:
    cli(_anyio_backend="trio")


if __name__ == "__main__":
    main()
