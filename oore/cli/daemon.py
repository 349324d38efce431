"""`oored`: run the daemon in the foreground and manage its database."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import asyncclick as click

from oore import __version__, daemon, logsetup
from oore.actors.runtime import SupervisorEscalation
from oore.config import Settings, ensure_secrets, load_settings
from oore.errors import ConfigError, OoreError
from oore.store.sqlite import migrate as migrate_store

EXIT_SOFTWARE = 70  # sysexits EX_SOFTWARE: an actor kept crashing; let launchd/systemd restart us
EXIT_CONFIG = 78  # sysexits EX_CONFIG: fix the configuration, restarting will not help


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oored")
def cli() -> None:
    """The Oore build-server daemon.

    \b
    Start it in the foreground on the embedded default (SQLite in a per-user data dir,
    127.0.0.1:8080, an admin token generated on first start):
        oored run
    Configuration comes from /etc/oore/oore.env (or OORE_ENV_FILE) and OORE_* variables.
    """


@cli.command()
@click.option("--bind", metavar="HOST:PORT", help="Listen address; overrides OORE_BIND.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Overrides OORE_DATA_DIR.")
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), help="Overrides OORE_LOG_FORMAT."
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Overrides OORE_LOG_LEVEL.",
)
@click.option(
    "--ready-file",
    type=click.Path(path_type=Path),
    help='Write {"url", "pid"} as JSON to this file once the daemon is serving.',
)
async def run(
    bind: str | None,
    data_dir: Path | None,
    log_format: str | None,
    log_level: str | None,
    ready_file: Path | None,
) -> None:
    """Run the daemon in the foreground until SIGTERM or Ctrl-C.

    \b
    Example:
        oored run --bind 127.0.0.1:9000 --log-format json
    """
    overrides = {
        "OORE_BIND": bind,
        "OORE_DATA_DIR": str(data_dir) if data_dir else None,
        "OORE_LOG_FORMAT": log_format,
        "OORE_LOG_LEVEL": log_level,
    }
    settings = _settings_or_exit(overrides)
    logsetup.configure(settings.log_level, settings.log_format)
    if settings.admin_token_file is not None:
        click.echo(f"oored: admin token is in {settings.admin_token_file}", err=True)

    def on_ready(url: str) -> None:
        if ready_file is not None:
            ready_file.write_text(json.dumps({"url": url, "pid": os.getpid()}))

    try:
        await daemon.run(settings, on_ready=on_ready)
    except ConfigError as exc:
        _fail(exc.message, EXIT_CONFIG)
    except SupervisorEscalation as exc:
        _fail(f"giving up: {exc}", EXIT_SOFTWARE)
    except OoreError as exc:
        _fail(exc.message, EXIT_SOFTWARE)


@cli.command()
async def migrate() -> None:
    """Apply pending database migrations, then exit.

    \b
    Example:
        OORE_DATA_DIR=/var/lib/oore oored migrate
    """
    settings = _settings_or_exit({})
    applied = migrate_store(settings.database_path)
    if applied:
        click.echo(f"applied migrations {', '.join(map(str, applied))} to {settings.database_path}")
    else:
        click.echo(f"{settings.database_path} is up to date")


def _settings_or_exit(overrides: Mapping[str, str | None]) -> Settings:
    environ = dict(os.environ)
    environ.update({k: v for k, v in overrides.items() if v})
    try:
        return ensure_secrets(load_settings(environ))
    except ConfigError as exc:
        _fail(exc.message, EXIT_CONFIG)
    except OSError as exc:
        _fail(f"cannot prepare the data dir: {exc}", EXIT_CONFIG)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"oored: {message}", err=True)
    sys.exit(code)


def main() -> None:
    cli(_anyio_backend="trio")


if __name__ == "__main__":
    main()
