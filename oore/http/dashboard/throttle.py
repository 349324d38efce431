"""The sign-in throttle: how many sign-in attempts each client address has made lately.

An attempt is counted when it starts, before the token is checked (which awaits the store), and
given back only if it succeeds: counted after the check instead, any number of attempts sent at
once would all pass the limit before the first failure was recorded. The addresses are kept in
the order of their last attempt, so those whose window has passed are dropped from the front as
new ones come; past `capacity` addresses the least recent is dropped even inside its window, so
a flood of addresses costs bounded memory (and buys each of them only `limit` guesses anyway).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

FAILURES_ALLOWED = 10
FAILURE_WINDOW = 300.0  # seconds
ADDRESSES_KEPT = 10_000


@dataclass(slots=True)
class LoginThrottle:
    limit: int = FAILURES_ALLOWED
    window: float = FAILURE_WINDOW
    capacity: int = ADDRESSES_KEPT
    # address -> when its attempts within the window started, oldest first
    attempts: dict[str, deque[float]] = field(default_factory=dict)

    def reserve(self, address: str, now: float) -> bool:
        """Count an attempt from `address` at `now`; False, and nothing counted, when the
        address has no attempts left. Synchronous, so no other request runs in between."""
        recent = self._recent(address, now)
        if len(recent) >= self.limit:
            return False
        recent.append(now)
        return True

    def release(self, address: str, started: float) -> None:
        """Give back the attempt reserved at `started`: it succeeded, so it is no failure."""
        recent = self.attempts.get(address)
        if recent is not None and started in recent:
            recent.remove(started)
            if not recent:
                del self.attempts[address]

    def _recent(self, address: str, now: float) -> deque[float]:
        recent = self.attempts.pop(address, None)
        if recent is None:
            recent = deque()
        while recent and now - recent[0] > self.window:
            recent.popleft()
        self._make_room(now)
        self.attempts[address] = recent  # now the most recent address
        return recent

    def _make_room(self, now: float) -> None:
        while self.attempts:
            oldest = next(iter(self.attempts))
            stamps = self.attempts[oldest]
            expired = not stamps or now - stamps[-1] > self.window
            if not expired and len(self.attempts) < self.capacity:
                return
            del self.attempts[oldest]
