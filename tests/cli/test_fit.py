"""Tables at an 80-column terminal (`oore.cli.client.fit` and `Output.table`): no row wraps,
the columns that name a row and say how it went are never cut, long names end in an ellipsis,
and a wide terminal (or a pipe) still gets everything."""

from __future__ import annotations

import pytest

from oore.cli.client.fit import fit
from oore.cli.client.output import Output

SHORT_END = ["running", "just now", "-"]
HEADERS = ["#", "ID", "REPOSITORY", "WORKFLOW", "REF", "SHA", "STATUS", "CREATED", "TOOK"]
ROWS = [
    [
        "1024",
        "01J9Z3K4M5N6P7Q8R9S0T1V2W3",
        "acme-industries-mobile/flutter-customer-loyalty-app",
        "android-release-signed-and-uploaded-to-play",
        "feature/JIRA-12345-checkout-flow-with-apple-pay-and-google-pay",
        "514272a4",
        "timed_out",
        "12 min ago",
        "1h 02m",
    ],
    ["7", "01J9Z3K4M5N6P7Q8R9S0T1V2W4", "acme/app", "ios", "main", "f84f67d1", *SHORT_END],
]


def table_at(
    width: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(width))
    Output(json=False, color=False).table(
        HEADERS, ROWS, shrink=["REPOSITORY", "WORKFLOW", "REF"], optional=["ID"]
    )
    return capsys.readouterr().out.splitlines()


def test_a_build_list_fits_80_columns_without_cutting_number_or_status(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = table_at(80, capsys, monkeypatch)
    assert [len(line) <= 80 for line in lines] == [True] * 3, lines
    assert lines[0].split() == [h for h in HEADERS if h != "ID"]  # the id went first
    long, short = lines[1], lines[2]
    assert long.startswith("1024  acme-indu")
    assert "…" in long
    for whole in ("514272a4", "timed_out", "12 min ago", "1h 02m"):
        assert whole in long
    assert short.split() == [
        "7",
        "acme/app",
        "ios",
        "main",
        "f84f67d1",
        *"running just now -".split(),
    ]


def test_a_wide_terminal_gets_every_column_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = table_at(250, capsys, monkeypatch)
    assert lines[0].split() == HEADERS
    assert "feature/JIRA-12345-checkout-flow-with-apple-pay-and-google-pay" in lines[1]
    assert "01J9Z3K4M5N6P7Q8R9S0T1V2W3" in lines[1]
    assert "…" not in "".join(lines)


def test_optional_columns_go_before_cut_ones_get_uncomfortable() -> None:
    headers = ["ID", "NAME", "STATE"]
    natural = [26, 30, 6]
    # 26 + 30 + 6 + 4 = 66: everything fits at 80.
    assert fit(headers, natural, 80, shrink=["NAME"], optional=["ID"]).shown == [0, 1, 2]
    # At 60 the name can lose 6 and keep 24 (comfortable): the id stays.
    kept = fit(headers, natural, 60, shrink=["NAME"], optional=["ID"])
    assert (kept.shown, kept.widths[1]) == ([0, 1, 2], 24)
    # At 40 keeping the id would cut the name to 4: the id goes, the name keeps 30.
    dropped = fit(headers, natural, 40, shrink=["NAME"], optional=["ID"])
    assert (dropped.shown, dropped.widths) == ([1, 2], {1: 30, 2: 6})


def test_too_narrow_for_anything_still_keeps_what_cannot_be_cut() -> None:
    layout = fit(["#", "NAME", "STATUS"], [4, 40, 9], 10, shrink=["NAME"])
    assert layout.widths == {0: 4, 1: 4, 2: 9}
