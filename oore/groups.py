"""Exception-group unwrapping for context managers that hold a nursery open around their body.

trio wraps whatever escapes a nursery in an ExceptionGroup; an error raised by the body of such a
context manager (say a ConfigError at start-up) should reach the caller as itself, so callers can
catch it by type. Groups of more than one error are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def unwrap_single() -> Iterator[None]:
    try:
        yield
    except BaseExceptionGroup as group:
        leaves = _leaves(group)
        if len(leaves) == 1:
            raise leaves[0] from leaves[0].__cause__
        raise


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found.extend(_leaves(exc))
        else:
            found.append(exc)
    return found
