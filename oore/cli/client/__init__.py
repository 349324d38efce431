"""`oore`: the command-line client of an Oore server (console script `oore.cli.client:main`)."""

from oore.cli.client.app import cli, main, run

__all__ = ["cli", "main", "run"]
