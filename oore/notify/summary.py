"""A build report as text: Markdown (a check run's summary), plain text and HTML (an email).

Everything shown comes from the repository's own content (step names, commit messages) and so
is escaped for the format it lands in: a step named `a | b` must not break a Markdown table, a
commit message must not inject HTML into a mail.
"""

from __future__ import annotations

import html

from oore.notify.report import Report, duration_text


def _cell(text: object) -> str:
    # A table cell: no line break, no unescaped pipe.
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def facts(report: Report) -> list[tuple[str, str]]:
    """(label, value) of what every message says about the build."""
    rows = [
        ("Repository", report.full_name),
        ("Workflow", report.workflow),
        ("Status", report.word),
        ("Ref", report.ref or "-"),
        ("Commit", report.short_sha or "-"),
        ("Author", report.author or "-"),
        ("Duration", report.duration),
    ]
    if report.message_line:
        rows.append(("Message", report.message_line))
    if report.error:
        rows.append(("Error", report.error))
    return rows


def step_rows(report: Report) -> list[tuple[str, str, str, str]]:
    """(number, name, status, duration) of each step, in order."""
    return [
        (
            str(int(step.get("index") or 0) + 1),
            str(step.get("name") or "step"),
            str(step.get("status") or "-").replace("_", " "),
            duration_text(step.get("duration_seconds")),
        )
        for step in report.steps
    ]


def steps_markdown(report: Report) -> str:
    lines = [f"**{_cell(report.full_name)}** {_cell(report.number)}: {report.word}"]
    where = " ".join(f"`{_cell(x)}`" for x in (report.ref, report.short_sha) if x)
    if where:
        lines[0] += f" ({where})"
    lines[0] += f", {report.duration}" if report.duration != "-" else ""
    if report.error:
        lines += ["", f"> {_cell(report.error)}"]
    rows = step_rows(report)
    if rows:
        lines += ["", "| # | Step | Status | Duration |", "|---|------|--------|----------|"]
        lines += [f"| {' | '.join(_cell(c) for c in row)} |" for row in rows]
    links = report.artifact_links()
    if links:
        lines += ["", "Artifacts: " + ", ".join(f"[{_cell(n)}]({u})" for n, u in links)]
    lines += ["", f"[Build log]({report.build_url})"]
    return "\n".join(lines)


def plain_text(report: Report) -> str:
    lines = [report.title, ""]
    lines += [f"{label}: {value}" for label, value in facts(report)]
    rows = step_rows(report)
    if rows:
        lines += ["", "Steps:"]
        lines += [f"  {n}. {name}: {status} ({took})" for n, name, status, took in rows]
    links = report.artifact_links()
    if links:
        lines += ["", "Artifacts:"] + [f"  {name}: {url}" for name, url in links]
    lines += ["", f"Build: {report.build_url}", ""]
    return "\n".join(lines)


def html_text(report: Report) -> str:
    e = html.escape
    parts = [f"<h2>{e(report.title)}</h2>", "<table>"]
    parts += [f"<tr><th align='left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts(report)]
    parts.append("</table>")
    rows = step_rows(report)
    if rows:
        parts.append("<h3>Steps</h3><table><tr><th>#</th><th>Step</th><th>Status</th>")
        parts.append("<th>Duration</th></tr>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
    links = report.artifact_links()
    if links:
        parts.append("<h3>Artifacts</h3><ul>")
        parts += [f"<li><a href='{e(url)}'>{e(name)}</a></li>" for name, url in links]
        parts.append("</ul>")
    parts.append(f"<p><a href='{e(report.build_url)}'>Open the build</a></p>")
    return "<html><body>" + "".join(parts) + "</body></html>\n"
