"""Redaction of env file text before it is shown."""

from __future__ import annotations

import pytest

from oore.service.steps import REDACTED, redact_env


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("OORE_ADMIN_TOKEN=oore_abc", f"OORE_ADMIN_TOKEN={REDACTED}"),
        ("export OORE_ENCRYPTION_KEY = 'ab'", f"export OORE_ENCRYPTION_KEY = {REDACTED}"),
        ("OORE_GITHUB_WEBHOOK_SECRET=s", f"OORE_GITHUB_WEBHOOK_SECRET={REDACTED}"),
        ("SMTP_PASSWORD=p", f"SMTP_PASSWORD={REDACTED}"),
        ("OORE_BIND=0.0.0.0:8080", "OORE_BIND=0.0.0.0:8080"),
        ("OORE_ADMIN_TOKEN=", "OORE_ADMIN_TOKEN="),
        ("# OORE_ADMIN_TOKEN=example", "# OORE_ADMIN_TOKEN=example"),
        ("", ""),
        # Not KEY=value: perhaps a secret pasted on its own line.
        ("oore_pasted-token-value", REDACTED),
    ],
)
def test_redact_env(line: str, shown: str) -> None:
    assert redact_env(line) == shown


def test_redact_env_keeps_the_line_structure() -> None:
    text = "A=1\nOORE_ADMIN_TOKEN=x\n"
    assert redact_env(text) == f"A=1\nOORE_ADMIN_TOKEN={REDACTED}\n"
