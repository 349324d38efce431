"""Oore: self-hosted CI/CD for app teams, built on trio."""

import sys

__version__ = "0.1.0"

# httpx's package imports its own command-line tool whenever rich, pygments and click are
# installed (rich is ours, for the CLI), costing the daemon 3 MiB of resident memory for code it
# never runs. A None entry makes that import fail, and httpx then goes without its tool.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
