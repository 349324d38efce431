"""Realistic codemagic.yaml files load into exactly the values they say, field by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from oore.pipeline import (
    BranchPattern,
    InputSpec,
    Pipeline,
    PipelineWarning,
    Script,
    TagPattern,
    Triggering,
    When,
    load,
    validate,
)
from oore.pipeline.loader import SELF_HOSTED

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Pipeline:
    return load((FIXTURES / name).read_text(encoding="utf-8"), name)


def test_flutter_android_workflow_reads_every_field() -> None:
    wf = fixture("flutter_app.yaml").workflows["android-release"]
    assert (wf.id, wf.name, wf.max_build_duration) == ("android-release", "Android release", 60)
    assert wf.instance_type == "linux_x2"
    assert wf.labels == ("android", "release")
    assert dict(wf.inputs) == {}
    assert wf.working_directory is None
    assert wf.environment.groups == ("keystore_credentials", "google_play")
    # 100 is a YAML integer; the variable keeps the text.
    assert dict(wf.environment.vars) == {
        "PACKAGE_NAME": "io.example.app",
        "GOOGLE_PLAY_TRACK": "internal",
        "BUILD_OFFSET": "100",
    }
    assert dict(wf.environment.tool_versions) == {"flutter": "stable", "java": "17"}
    assert wf.cache_paths == ("$HOME/.gradle/caches", "$FLUTTER_ROOT/.pub-cache")
    assert wf.triggering == Triggering(
        events=("push", "tag"),
        branch_patterns=(BranchPattern("main", include=True, source=True),),
        tag_patterns=(TagPattern("v*", include=True),),
        cancel_previous_builds=True,
    )
    assert wf.when is None
    assert wf.artifacts == (
        "build/**/outputs/**/*.aab",
        "build/**/outputs/**/mapping.txt",
        "flutter_drive.log",
    )


def test_flutter_scripts_from_anchors_keep_their_fields() -> None:
    scripts = fixture("flutter_app.yaml").workflows["android-release"].scripts
    assert [s.name for s in scripts] == [
        "Set up local.properties",
        "Get Flutter packages",
        "Unit tests",
        "Build AAB",
    ]
    assert scripts[1] == Script("Get Flutter packages", "flutter packages pub get")
    assert scripts[2] == Script(
        name="Unit tests",
        script="mkdir -p test-results\nflutter test --machine > test-results/flutter.json\n",
        ignore_failure=True,
        test_report="test-results/flutter.json",
    )
    assert scripts[3].script.startswith("BUILD_NUMBER=$(($(google-play")
    assert scripts[3].script.endswith("--build-number=$BUILD_NUMBER\n")


def test_flutter_publishing_merges_the_shared_email_block() -> None:
    pub = fixture("flutter_app.yaml").workflows["android-release"].publishing
    assert pub.email_recipients == ("mobile-team@example.com", "release@example.com")
    assert dict(pub.email_notify) == {"success": True, "failure": False}
    assert pub.slack_channel is None
    assert pub.scripts == ()
    assert dict(pub.other) == {
        "google_play": {
            "credentials": "$GCLOUD_SERVICE_ACCOUNT_CREDENTIALS",
            "track": "$GOOGLE_PLAY_TRACK",
            "submit_as_draft": True,
        }
    }


def test_flutter_ios_workflow_merges_instance_and_versions() -> None:
    wf = fixture("flutter_app.yaml").workflows["ios-release"]
    assert (wf.name, wf.instance_type, wf.max_build_duration) == ("iOS release", "mac_mini_m2", 120)
    # 15.4 and 3.22.2 stay as written, not as floats.
    assert dict(wf.environment.tool_versions) == {
        "flutter": "3.22.2",
        "xcode": "15.4",
        "cocoapods": "default",
    }
    assert wf.environment.groups == ("app_store_credentials",)
    assert wf.environment.vars["APP_STORE_APPLE_ID"] == "1555555551"
    assert wf.triggering is not None
    assert wf.triggering.events == ("pull_request",)
    assert wf.triggering.branch_patterns == (
        BranchPattern("*", True, True),
        BranchPattern("release/*", False, False),
    )
    assert wf.triggering.cancel_previous_builds is False
    assert wf.when == When(changeset_includes=(".",), changeset_excludes=("**/*.md",))
    assert [s.name for s in wf.scripts] == [
        "Get Flutter packages",
        "Install pods",
        "Flutter build ipa",
    ]
    assert wf.scripts[2].timeout_seconds == 30 * 60
    assert wf.artifacts == ("build/ios/ipa/*.ipa", "/tmp/xcodebuild_logs/*.log")


def test_flutter_ios_publishing_has_slack_email_and_scripts() -> None:
    pub = fixture("flutter_app.yaml").workflows["ios-release"].publishing
    assert pub.slack_channel == "#mobile-builds"
    assert dict(pub.slack_notify) == {"start": True, "success": True, "failure": True}
    assert pub.email_recipients == ("mobile-team@example.com", "release@example.com")
    assert pub.scripts == (Script("Report", 'echo "published"'),)
    assert dict(pub.other) == {}


def test_flutter_file_warns_about_instance_types_and_the_recorded_publisher() -> None:
    pipeline = fixture("flutter_app.yaml")
    assert list(pipeline.workflows) == ["android-release", "ios-release"]
    assert pipeline.warnings == (
        *(
            PipelineWarning("flutter_app.yaml", line, f"workflows.{wf}.instance_type", SELF_HOSTED)
            for line, wf in ((5, "ios-release"), (35, "android-release"))
        ),
        PipelineWarning(
            "flutter_app.yaml",
            80,
            "workflows.android-release.publishing.google_play",
            "google_play is recorded, not published yet",
        ),
    )


def test_ios_native_inputs_working_directory_and_conditions() -> None:
    wf = fixture("ios_native.yaml").workflows["ios-native-tests"]
    assert (wf.max_build_duration, wf.working_directory) == (45, "apps/ios")
    assert dict(wf.inputs) == {
        "runUITests": InputSpec("runUITests", "boolean", False, "Run the UI test plan as well"),
        "configuration": InputSpec(
            "configuration", "choice", "Debug", "Build configuration", ("Debug", "Release")
        ),
        "simulatorName": InputSpec("simulatorName", "string", "iPhone 15", "Simulator to test on"),
    }
    assert wf.environment.vars["CONFIGURATION"] == "${{ inputs.configuration }}"
    assert dict(wf.environment.tool_versions) == {
        "xcode": "latest",
        "cocoapods": "1.15.2",
        "ruby": "3.2.2",
    }
    assert wf.when is not None
    assert wf.when.condition is not None
    assert wf.when.condition.source == "not event.pull_request.draft"
    assert not wf.when.has_changeset
    assert wf.triggering is not None
    assert [p.pattern for p in wf.triggering.branch_patterns] == [
        "*",
        "dependabot/**",
        "dependabot/bundler/*",
    ]
    assert [p.include for p in wf.triggering.branch_patterns] == [True, False, True]


def test_ios_native_scripts_carry_step_settings() -> None:
    scripts = fixture("ios_native.yaml").workflows["ios-native-tests"].scripts
    assert scripts[0].working_directory == "apps/ios"
    assert scripts[1].test_report == "build/ios/test/*.xml"
    assert scripts[1].timeout_seconds == 1800
    assert '--device "${{ inputs.simulatorName }}"' in scripts[1].script
    ui = scripts[2]
    assert ui.ignore_failure is True
    assert ui.when is not None
    assert ui.when.condition is not None
    assert ui.when.condition.source == "${{ inputs.runUITests }}"
    assert ui.when.changeset_includes == ("apps/ios/",)
    assert ui.when.changeset_excludes == ("**/*.md",)
    # A shebang is not a name: the step is named after its first command.
    assert scripts[3].name == 'print("summary")'
    assert scripts[3].script.startswith("#!/usr/bin/env python3\n")


def test_android_native_plain_string_scripts_and_warnings() -> None:
    pipeline = fixture("android_native.yaml")
    wf = pipeline.workflows["android-debug"]
    assert wf.scripts == (
        Script("chmod +x ./gradlew", "chmod +x ./gradlew"),
        Script("./gradlew assembleDebug", "./gradlew assembleDebug"),
        Script("Lint", "./gradlew lint", ignore_failure=True),
    )
    assert dict(wf.environment.vars) == {
        "GRADLE_OPTS": "-Dorg.gradle.daemon=false",
        "VERBOSE": "true",
    }
    assert wf.triggering is not None
    assert wf.triggering.events == ("push", "pull_request", "pull_request_labeled")
    assert wf.when == When(changeset_includes=("android/", "build.gradle.kts"))
    assert wf.publishing.scripts == (Script("Announce", 'echo "$CM_ARTIFACT_LINKS"'),)
    assert wf.publishing.other["firebase"] == {
        "firebase_service_account": "$FIREBASE_SERVICE_ACCOUNT",
        "android": {"app_id": "1:1234567890:android:abcdef", "groups": ["qa"]},
    }
    assert [(w.line, w.key) for w in pipeline.warnings] == [
        (4, "workflows.android-debug.instance_type"),
        (12, "workflows.android-debug.environment.node"),  # java 17 is honoured: no warning
        (17, "workflows.android-debug.triggering.events[2]"),
        (39, "workflows.android-debug.publishing.firebase"),
        (45, "workflows.android-debug.publishing.scripts"),
    ]


def test_a_workflow_without_settings_gets_the_defaults() -> None:
    wf = fixture("android_native.yaml").workflows["nightly"]
    assert (wf.name, wf.max_build_duration, wf.instance_type) == ("Nightly", 60, None)
    assert wf.triggering is None
    assert wf.when is None
    assert (wf.labels, wf.cache_paths, wf.artifacts) == ((), (), ())
    assert dict(wf.environment.vars) == {}
    assert wf.environment.groups == ()
    assert wf.publishing.email_recipients == ()
    assert wf.publishing.slack_channel is None
    assert dict(wf.publishing.email_notify) == {"success": True, "failure": True}


@pytest.mark.parametrize("name", ["flutter_app.yaml", "ios_native.yaml", "android_native.yaml"])
def test_validate_agrees_with_load(name: str) -> None:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    report = validate(text, name)
    pipeline = load(text, name)
    assert report.ok
    assert report.errors == []
    assert report.workflows == list(pipeline.workflows)
    assert report.warnings == [w.to_json() for w in pipeline.warnings]


def test_loaded_values_are_read_only() -> None:
    wf = fixture("flutter_app.yaml").workflows["android-release"]
    with pytest.raises(TypeError):
        wf.environment.vars["X"] = "y"  # type: ignore[index]
    with pytest.raises(AttributeError):
        wf.name = "other"  # type: ignore[misc]


def test_validate_says_which_keys_a_self_hosted_machine_ignores() -> None:
    text = """\
workflows:
  app:
    instance_type: mac_mini_m2
    max_build_duration: 30
    environment:
      flutter: 3.19.0
      java: 17
      xcode: latest
      cocoapods: default
      node: 20.11.1
      ruby: latest
    scripts:
      - echo hi
"""
    report = validate(text, "codemagic.yaml")
    assert report.ok
    assert [(w["line"], w["key"]) for w in report.warnings] == [
        (3, "workflows.app.instance_type"),
        (10, "workflows.app.environment.node"),
    ]
    assert "ignored on a self-hosted machine" in report.warnings[0]["message"]
    assert "not 20.11.1" in report.warnings[1]["message"]
