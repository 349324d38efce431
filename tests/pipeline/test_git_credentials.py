"""`environment.git_credentials`: a workflow's opt-in to fetch with the repository's credential."""

from __future__ import annotations

import pytest

from oore.errors import InvalidPipeline
from oore.pipeline import load

PIPELINE = """\
workflows:
  plain:
    scripts: [echo]
  submodules:
    environment:
      git_credentials: {value}
    scripts: [echo]
"""


def test_git_credentials_is_off_unless_a_workflow_says_true() -> None:
    pipeline = load(PIPELINE.format(value="true"), "codemagic.yaml")
    assert pipeline.workflows["plain"].environment.git_credentials is False
    assert pipeline.workflows["submodules"].environment.git_credentials is True
    off = load(PIPELINE.format(value="false"), "codemagic.yaml")
    assert off.workflows["submodules"].environment.git_credentials is False


def test_git_credentials_must_be_a_boolean() -> None:
    with pytest.raises(InvalidPipeline) as refused:
        load(PIPELINE.format(value="yes please"), "codemagic.yaml")
    assert "git_credentials" in refused.value.message
