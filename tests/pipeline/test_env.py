"""Build inputs: `${{ inputs.x }}` substitution and the values a build is started with."""

from __future__ import annotations

import textwrap

import pytest

from oore.errors import ValidationError
from oore.pipeline import UnknownInput, interpolate_inputs, load, resolve_inputs

WORKFLOW = load(
    textwrap.dedent(
        """\
        workflows:
          release:
            inputs:
              flavor:
                description: Flavor
                type: choice
                options: [dev, prod]
                default: dev
              buildNumber:
                description: Build number
                type: number
              submit:
                description: Submit to TestFlight
                type: boolean
                default: false
              notes:
                description: Release notes
                default: ""
            scripts:
              - flutter build ipa --flavor ${{ inputs.flavor }} -n=${{inputs.buildNumber}}
        """
    )
).workflows["release"]


def test_interpolation_replaces_every_reference() -> None:
    text = WORKFLOW.scripts[0].script
    values = {"flavor": "prod", "buildNumber": 42}
    assert interpolate_inputs(text, values) == "flutter build ipa --flavor prod -n=42"


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (False, "false"), (3, "3"), (0.25, "0.25"), ("x y", "x y"), (None, "")],
)
def test_interpolated_values_as_text(value: object, text: str) -> None:
    assert interpolate_inputs("[${{ inputs.v }}]", {"v": value}) == f"[{text}]"


def test_text_without_references_is_unchanged() -> None:
    assert interpolate_inputs("echo ${HOME} $CM_BUILD_DIR {{ x }}", {}) == (
        "echo ${HOME} $CM_BUILD_DIR {{ x }}"
    )


def test_unknown_input_names_it() -> None:
    with pytest.raises(UnknownInput) as caught:
        interpolate_inputs("echo ${{ inputs.flavour }}", {"flavor": "dev"})
    assert caught.value.name == "flavour"
    assert str(caught.value) == "unknown input 'flavour' in ${{ inputs.flavour }} (known: flavor)"
    assert isinstance(caught.value, ValueError)


def test_resolve_fills_defaults_and_checks_types() -> None:
    assert resolve_inputs(WORKFLOW, {"buildNumber": 7}) == {
        "flavor": "dev",
        "buildNumber": 7,
        "submit": False,
        "notes": "",
    }
    # From the command line values arrive as text.
    assert resolve_inputs(WORKFLOW, {"buildNumber": "12", "submit": "true", "flavor": "prod"}) == {
        "flavor": "prod",
        "buildNumber": 12,
        "submit": True,
        "notes": "",
    }
    assert resolve_inputs(WORKFLOW, {"buildNumber": "1.5"})["buildNumber"] == 1.5


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({}, "inputs.buildNumber", "is required: it has no default"),
        ({"buildNumber": 1, "other": 2}, "inputs.other", "unknown input"),
        ({"buildNumber": "many"}, "inputs.buildNumber", "must be a number"),
        ({"buildNumber": "nan"}, "inputs.buildNumber", "must be a number"),
        ({"buildNumber": True}, "inputs.buildNumber", "must be a number"),
        ({"buildNumber": 1, "submit": "yes"}, "inputs.submit", "must be true or false"),
        ({"buildNumber": 1, "flavor": "staging"}, "inputs.flavor", "must be one of dev, prod"),
        ({"buildNumber": 1, "notes": 5}, "inputs.notes", "must be text"),
    ],
)
def test_resolve_refuses_bad_values(given: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        resolve_inputs(WORKFLOW, given)
    assert caught.value.field == field
    assert message in caught.value.message
