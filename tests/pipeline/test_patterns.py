"""Wildcards for branches and tags (Codemagic's examples), changeset paths, and who decides."""

from __future__ import annotations

import pytest

from oore.pipeline import BranchPattern, TagPattern, changeset_admits
from oore.pipeline.changeset import path_matches
from oore.pipeline.globs import PatternError, compile_glob, matches
from oore.pipeline.patterns import Decision, decide_pull_request, decide_push, decide_tag


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        # The examples table of Codemagic's "Tracking specific branches and tags".
        ("*", "anything/at/all", True),
        ("*-dev", "v0.0.42-dev", True),
        ("*-dev", "v0.0.42", False),
        ("!(*-dev)", "v0.0.42", True),
        ("!(*-dev)", "v0.0.42-dev", False),
        ("{test,qa}/*", "test/popup", True),
        ("{test,qa}/*", "qa/x", True),
        ("{test,qa}/*", "dev/popup", False),
        ("v+([0-9]).+([0-9]).+([0-9])", "v0.0.42", True),
        ("v+([0-9]).+([0-9]).+([0-9])", "v0.0.42-rc1", False),
        ("v+([0-9]).+([0-9]).+([0-9])", "v..1", False),
        # fnmatch basics, case-sensitive, and '*' crosses '/' in names.
        ("main", "main", True),
        ("main", "Main", False),
        ("release/*", "release/1.2/hotfix", True),
        ("feature?", "feature1", True),
        ("feature?", "feature12", False),
        ("[!a-c]x", "dx", True),
        ("[!a-c]x", "bx", False),
        ("[a-c]x", "bx", True),
        ("[]]", "]", True),
        ("a[", "a[", True),
        ("{only}", "{only}", True),
        ("?(x)y", "y", True),
        ("?(x)y", "xy", True),
        ("*(ab)c", "ababc", True),
        ("@(a|b)", "b", True),
        ("@(a|b)", "ab", False),
        ("release-!(rc*)", "release-1", True),
        ("release-!(rc*)", "release-rc1", False),
        (r"literal\*", "literal*", True),
        (r"literal\*", "literalx", False),
        ("a.b", "axb", False),
        ("[[]", "[", True),
        ("[+--]", ",", True),  # a range ending in '-', no set-difference warning
        ("[a--]", "-", False),  # an empty range, as in fnmatch
        ("[a-]", "-", True),
        ("[&&]", "&", True),
    ],
)
def test_name_globs(pattern: str, name: str, expected: bool) -> None:
    assert matches(pattern, name) is expected


def test_pathological_negations_are_refused() -> None:
    with pytest.raises(PatternError):
        compile_glob("!(a)" * 6)


def test_push_last_matching_pattern_wins() -> None:
    patterns = (
        BranchPattern("*"),
        BranchPattern("release/*", include=False),
        BranchPattern("release/keep-*"),
    )
    assert decide_push(patterns, "main") == Decision(True, "*")
    assert decide_push(patterns, "release/1.0") == Decision(False, "release/*")
    assert decide_push(patterns, "release/keep-me") == Decision(True, "release/keep-*")


def test_push_order_matters() -> None:
    include_last = (BranchPattern("wip/*", include=False), BranchPattern("*"))
    assert decide_push(include_last, "wip/x") == Decision(True, "*")


def test_push_with_no_matching_pattern_is_not_built() -> None:
    assert decide_push((BranchPattern("main"),), "dev") == Decision(False, None)


def test_no_patterns_admit_everything() -> None:
    assert decide_push((), "anything") == Decision(True, None)
    assert decide_pull_request((), "a", "b") == Decision(True, None)
    assert decide_tag((), "v1") == Decision(True, None)


def test_push_ignores_source() -> None:
    # "This setting has no effect on other types of builds."
    patterns = (BranchPattern("main", include=True, source=False),)
    assert decide_push(patterns, "main").admitted is True


def test_pull_request_source_and_target() -> None:
    into_main = (BranchPattern("main", include=True, source=False),)
    assert decide_pull_request(into_main, "feature/x", "main").admitted is True
    assert decide_pull_request(into_main, "main", "develop").admitted is False
    from_main = (BranchPattern("main", include=True, source=True),)
    assert decide_pull_request(from_main, "main", "develop").admitted is True
    assert decide_pull_request(from_main, "feature/x", "main").admitted is False


def test_pull_request_mixed_patterns_last_match_wins() -> None:
    patterns = (
        BranchPattern("*", include=True, source=True),
        BranchPattern("release/*", include=False, source=False),
        BranchPattern("hotfix/*", include=True, source=True),
    )
    assert decide_pull_request(patterns, "feature/a", "main") == Decision(True, "*")
    assert decide_pull_request(patterns, "feature/a", "release/2") == Decision(False, "release/*")
    assert decide_pull_request(patterns, "hotfix/b", "release/2") == Decision(True, "hotfix/*")


def test_tags_last_match_wins() -> None:
    patterns = (
        TagPattern("*"),
        TagPattern("*-beta*", include=False),
        TagPattern("v9*-beta*", include=True),
    )
    assert decide_tag(patterns, "v1.0.0") == Decision(True, "*")
    assert decide_tag(patterns, "v1.0.0-beta.1") == Decision(False, "*-beta*")
    assert decide_tag(patterns, "v9.0-beta") == Decision(True, "v9*-beta*")


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        (".", "any/file.dart", True),
        ("./", "README.md", True),
        ("android/", "android/app/build.gradle", True),
        ("android/", "androidx/file", False),
        ("android", "android/app/build.gradle", True),
        ("android", "android", True),
        ("lib/*.dart", "lib/main.dart", True),
        ("lib/*.dart", "lib/src/a.dart", False),
        ("lib/**/*.dart", "lib/main.dart", True),
        ("lib/**/*.dart", "lib/src/deep/a.dart", True),
        ("**/*.md", "README.md", True),
        ("**/*.md", "docs/guide/intro.md", True),
        ("**/*.md", "docs/guide/intro.mdx", False),
        ("*.md", "docs/intro.md", False),
        ("packages/*", "packages/core/lib/a.dart", True),
        ("./ios/**", "ios/Runner/Info.plist", True),
        ("/ios", "ios/Podfile", True),
        ("{ios,android}/", "android/x", True),
        ("pubspec.*", "pubspec.lock", True),
        ("pubspec.*", "sub/pubspec.lock", False),
        ("test?.dart", "test/.dart", False),
    ],
)
def test_changeset_paths(pattern: str, path: str, expected: bool) -> None:
    assert path_matches(pattern, path) is expected


def test_changeset_includes_and_excludes() -> None:
    # Codemagic's example: skip builds when only Markdown changed.
    assert changeset_admits((".",), ("**/*.md",), ["README.md", "docs/a.md"]) is False
    assert changeset_admits((".",), ("**/*.md",), ["README.md", "lib/main.dart"]) is True
    # An excluded file does not hide an included one, and vice versa.
    assert changeset_admits(("android/",), ("android/**/*.md",), ["android/NOTES.md"]) is False
    assert changeset_admits(("android/",), (), ["ios/Podfile"]) is False
    assert changeset_admits((), (), ["anything"]) is True  # includes default to '.'
    assert changeset_admits((), ("docs/",), ["docs/x"]) is False


def test_changeset_unknown_changes_admit_and_no_changes_do_not() -> None:
    assert changeset_admits(("android/",), (), None) is True
    assert changeset_admits(("android/",), (), []) is False


def test_the_pipeline_file_is_always_in_the_changeset() -> None:
    assert changeset_admits(("android/",), (), ["codemagic.yaml"], "codemagic.yaml") is True
    assert changeset_admits(("android/",), (), ["codemagic.yaml"], "oore.yaml") is False
