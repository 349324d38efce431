"""Refused webhook deliveries, logged once a minute per source.

A misconfigured hook (a wrong secret, no secret at all) is refused on every delivery; logging
each would flood the log, logging none leaves an admin with only GitHub's delivery page. So the
first refusal from a source is logged at once with its reason, and later ones are counted and
summed up at most once a minute. A source is the webhook as the provider names it (GitHub's hook
id, GitLab's repository) and the client's address.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import trio

log = logging.getLogger("oore.webhooks")

EVERY = 60.0
MAX_SOURCES = 1024


@dataclass(slots=True)
class _Seen:
    logged_at: float
    since: int = 0  # refusals not logged since then


class RejectionLog:
    def __init__(self, every: float = EVERY) -> None:
        self.every = every
        self._sources: dict[str, _Seen] = {}

    def note(self, source: str, why: str, message: str) -> None:
        now = trio.current_time()
        seen = self._sources.get(source)
        if seen is not None and now - seen.logged_at < self.every:
            seen.since += 1
            return
        more = f" ({seen.since} more refused since the last report)" if seen and seen.since else ""
        log.warning("refused a webhook delivery from %s (%s): %s%s", source, why, message, more)
        if len(self._sources) >= MAX_SOURCES:
            self._sources.clear()  # bounded: a flood of sources only costs log lines
        self._sources[source] = _Seen(now)
