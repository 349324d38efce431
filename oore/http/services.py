"""What request handlers may use: the HTTP side's narrow, frozen view of the daemon's wiring.

`oore.wiring` builds one `Services` (after the store, mailboxes, log hub and intake exist) and
`create_app` attaches it to the app; handlers reach it through `services()`, never through
globals of their own. Nothing here is replaced after start: a handler sees what every other
handler sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import trio
from quart import current_app

from oore.actors.messages import RepositoryMessage
from oore.actors.metrics import DaemonGauges
from oore.config import Settings
from oore.crypto import Sealer
from oore.logs.hub import LogHub
from oore.paths import DataPaths
from oore.primitives import Broadcast
from oore.providers.github_app import GithubApps
from oore.providers.gitlab_connection import GitLabConnection
from oore.store.base import HttpStore
from oore.store.changes import Change
from oore.webhooks.intake import Intake

APP_KEY = "OORE_SERVICES"


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    paths: DataPaths
    store: HttpStore  # reads, and the writes HTTP owns (not builds: those go to the queue)
    sealer: Sealer
    intake: Intake
    log_hub: LogHub
    # Changes go through the RepositorySupervisor (it owns the queue and running builds).
    repository_inbox: trio.MemorySendChannel[RepositoryMessage]
    # Wakes the webhook ingester for a stored event id (reprocess); never blocks.
    reprocess: Callable[[str], None]
    gitlab_token_key: bytes
    started_monotonic: float
    gauges: DaemonGauges  # what /metrics reads
    gitlab: GitLabConnection  # the GitLab OAuth connection (one: its refreshes are serialised)
    github: GithubApps  # the GitHub App: one, so that its installation tokens are shared

    @property
    def changes(self) -> Broadcast[Change]:
        """Build, step, queue and repository changes, announced by the store after commit."""
        return self.store.changes


def services() -> Services:
    found: Services = current_app.config[APP_KEY]
    return found
