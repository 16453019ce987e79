"""npm's naming rules for packages, versions and dist-tags."""

from __future__ import annotations

import pytest

from airlock.packages.errors import InvalidPackage
from airlock.packages.names import (
    is_semver_range,
    name_problem,
    tarball_filename,
    validate_tag,
    version_from_filename,
)
from airlock.packages.packument import highest


@pytest.mark.parametrize(
    "name", ["pkg-a", "a", "@alice/pkg-s", "a.b_c-d", "x" * 214, "@s/" + "y" * 211, "-dash"]
)
def test_valid_names(name):
    assert name_problem(name) is None


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../x",
        "..",
        "x/../y",
        "UPPER",
        "Mixed",
        "x" * 215,
        "@scope/",
        "@/x",
        "@scope",
        "@s/x/y",
        ".x",
        "_x",
        "@s/.x",
        "@_s/x",
        " x",
        "a b",
        "a~b",
        "a(b)",
        "a!b",
        "a*b",
        "a'b",
        "node_modules",
        "favicon.ico",
        "é",
        "a%2fb",
        "a:b",
    ],
)
def test_invalid_names(name):
    assert name_problem(name) is not None


@pytest.mark.parametrize(
    "text",
    [
        "1",
        "1.x",
        "^1.0.0",
        "~1.2",
        "*",
        "x",
        "X",
        "",
        ">=1 <2",
        "1 - 2",
        "1.0.0 || 2.x",
        "v1",
        "=1.0.0",
        "1.0.0-beta.1",
    ],
)
def test_ranges_are_recognised(text):
    assert is_semver_range(text)


@pytest.mark.parametrize("tag", ["latest", "next", "beta", "v1-lts", "canary.2", "rc"])
def test_ordinary_tags_are_accepted(tag):
    assert not is_semver_range(tag)
    validate_tag(tag)


@pytest.mark.parametrize("tag", ["", "1.0.0", "^2", "x", "has space", "a/b", "ä", "-x"])
def test_bad_tags_are_refused(tag):
    with pytest.raises(InvalidPackage):
        validate_tag(tag)


def test_tarball_file_names_round_trip():
    assert tarball_filename("@alice/pkg-s", "1.0.0-rc.1") == "pkg-s-1.0.0-rc.1.tgz"
    assert version_from_filename("@alice/pkg-s", "pkg-s-1.0.0-rc.1.tgz") == "1.0.0-rc.1"
    assert version_from_filename("pkg-a", "pkg-b-1.0.0.tgz") is None
    assert version_from_filename("pkg-a", "pkg-a-1.0.0.zip") is None


def test_highest_prefers_stable_when_asked():
    assert highest(["1.0.0", "2.0.0-beta.1", "1.5.0"]) == "2.0.0-beta.1"
    assert highest(["1.0.0", "2.0.0-beta.1", "1.5.0"], stable_only=True) == "1.5.0"
    assert highest(["2.0.0-beta.1"], stable_only=True) is None
