"""How `oore` prints: the API's JSON unchanged for scripts (`--json`), or for people aligned
tables, coloured statuses, relative times ("3 min ago") and durations ("1m 12s") through rich.

rich is imported here only, and this module only when a command prints, so `oore --help` does
not pay for it. User data is printed as `Text`, never as markup: a branch named "[red]x" prints
as typed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text

from oore.cli.client.stdout import echo, reader_gone

if TYPE_CHECKING:
    from rich.console import Console

Cell = str | Text

STATUS_STYLES = {
    "succeeded": "green",
    "processed": "green",
    "ok": "green",
    "failed": "red",
    "timed_out": "red",
    "errored": "bold red",
    "cancelled": "magenta",
    "skipped": "dim",
    "ignored": "dim",
    "revoked": "dim",
    "inactive": "dim",
    "active": "green",
    "running": "yellow",
    "pending": "yellow",
    "preparing": "cyan",
    "queued": "blue",
}


class Output:
    def __init__(self, *, json: bool, color: bool) -> None:
        self.json_mode = json
        self.color = color and not os.environ.get("NO_COLOR")
        self._consoles: tuple[Console, Console] | None = None

    @property
    def console(self) -> Console:
        return self._both()[0]

    @property
    def errors(self) -> Console:
        return self._both()[1]

    def _both(self) -> tuple[Console, Console]:
        # Made on first use: `--json` output never needs them.
        if self._consoles is None:
            from rich.console import Console

            options: dict[str, Any] = {"highlight": False, "markup": False, "emoji": False}
            if not self.color:
                options["color_system"] = None
            # Piped output is read by people too (`| less`): do not cut lines at 80 columns.
            width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200
            self._consoles = Console(width=width, **options), Console(stderr=True, **options)
        return self._consoles

    def json(self, data: Any) -> None:
        echo(json.dumps(data, indent=2, ensure_ascii=False))

    def line(self, *parts: Cell) -> None:
        with reader_gone():
            self.console.print(Text.assemble(*parts), soft_wrap=True)

    def note(self, message: str) -> None:
        """A remark for the person at the terminal, on stderr (so stdout stays parseable)."""
        self.errors.print(Text(message, style="dim"), soft_wrap=True)

    def table(
        self,
        headers: Sequence[str],
        rows: Iterable[Sequence[Cell]],
        *,
        shrink: Sequence[str] = (),
        optional: Sequence[str] = (),
    ) -> None:
        """Columns aligned by padding (like `docker ps`): no borders, and lines a script can
        still split on whitespace. Rows fit the console's width: the `shrink` columns may be
        cut with an ellipsis, the `optional` ones left out (`oore.cli.client.fit`)."""
        from oore.cli.client.fit import fit

        cells = [[Text(h, style="bold") for h in headers]]
        cells += [[c if isinstance(c, Text) else Text(c) for c in row] for row in rows]
        if len(cells) == 1:
            return self.note("(none)")
        natural = [max(row[i].cell_len for row in cells) for i in range(len(headers))]
        layout = fit(headers, natural, self.console.width, shrink=shrink, optional=optional)
        widths = [layout.widths[i] for i in layout.shown]
        for row in cells:
            self._aligned([_cut(row[i], layout.widths[i]) for i in layout.shown], widths)

    def fields(self, pairs: Iterable[tuple[str, Cell | None]]) -> None:
        """`name: value` lines with the values aligned; empty values are left out."""
        shown = [(f"{name}:", value) for name, value in pairs if value not in (None, "")]
        width = max((len(name) for name, _ in shown), default=0)
        for name, value in shown:
            cell = value if isinstance(value, Text) else Text(str(value))
            self._aligned([Text(name, style="bold"), cell], [width])

    def _aligned(self, row: Sequence[Text], widths: Sequence[int]) -> None:
        line = Text()
        for i, cell in enumerate(row):
            if i:
                line.append("  ")
            line.append_text(cell)
            if i < len(row) - 1:
                line.append(" " * (widths[i] - cell.cell_len))
        with reader_gone():
            self.console.print(line, soft_wrap=True)


def _cut(cell: Text, width: int) -> Text:
    if cell.cell_len <= width:
        return cell
    cut = cell.copy()
    cut.truncate(width, overflow="ellipsis")
    return cut


def status(value: str | None, label: str | None = None) -> Text:
    """`value` in its status colour, shown as `label` if given."""
    text = value or "-"
    return Text(label or text, style=STATUS_STYLES.get(text, ""))


def ago(stamp: str | None, now: dt.datetime | None = None) -> str:
    if not stamp:
        return "-"
    moment = parse_time(stamp)
    seconds = ((now or dt.datetime.now(dt.UTC)) - moment).total_seconds()
    if seconds < 10:
        return "just now"
    for limit, unit, name in ((60, 1, "s"), (3600, 60, "min"), (86400, 3600, "h")):
        if seconds < limit:
            return f"{int(seconds // unit)} {name} ago"
    days = int(seconds // 86400)
    if days < 30:
        return f"{days} day{'s' if days != 1 else ''} ago"
    return moment.strftime("%Y-%m-%d")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds:.2f}s"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def elapsed(start: str | None, end: str | None) -> float | None:
    """Seconds from `start` to `end` (or to now for something still running)."""
    if not start:
        return None
    finish = parse_time(end) if end else dt.datetime.now(dt.UTC)
    return max((finish - parse_time(start)).total_seconds(), 0.0)


def size(count: int | None) -> str:
    if count is None:
        return "-"
    amount = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{int(amount)} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def parse_time(stamp: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def short(value: str | None, length: int = 12) -> str:
    return value[:length] if value else "-"


class ProgressBar:
    """A rich progress bar on stderr, drawn only for a person at a terminal."""

    def __init__(self, output: Output) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=output.errors,
            disable=output.json_mode or not output.errors.is_terminal,
        )
        self._task: Any = None

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def start(self, name: str, total: int | None, done: int) -> None:
        self._task = self._progress.add_task(name, total=total, completed=done)

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)
