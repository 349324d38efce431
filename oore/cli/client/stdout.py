"""Writing to stdout when its reader may stop early (`oore build logs -f ID | head`).

A closed stdout is not an error of ours: like `git log | head`, `oore` stops at once and exits 0.
A write that fails with EPIPE becomes `StdoutClosed`, which is deliberately not an `OSError`, so
no handler meant for the network (a lost connection is an OSError too) can take it for one and
retry. `main` turns it into a quiet exit 0.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import asyncclick as click


class StdoutClosed(Exception):
    """Whoever read our output has gone (a pipe's reader exited)."""


@contextmanager
def reader_gone() -> Iterator[None]:
    """Turn a broken pipe on our output into `StdoutClosed`."""
    try:
        yield
    except BrokenPipeError:
        raise StdoutClosed from None


def echo(line: str, *, err: bool = False) -> None:
    with reader_gone():
        click.echo(line, err=err)


def silence() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what is still buffered
    cannot fail (and print "Exception ignored ... BrokenPipeError") on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # no usable stdout at all: nothing will be flushed to it
