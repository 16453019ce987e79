"""Issuer settings and per-provider claim rules (pure functions)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airlock.oidc import issuers, providers
from airlock.settings import Settings, load_settings


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/gh",
        "http://localhost:9000",
        "http://[::1]:80",
        "https://gitlab.corp.example/",
    ],
)
def test_https_or_loopback_http_issuers_are_accepted(url):
    assert Settings(oidc_gitlab_issuer=url).oidc_gitlab_issuer == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    ["http://gitlab.corp.example", "http://10.0.0.5", "ftp://x", "gitlab.com", "https://x/?q=1"],
)
def test_other_issuers_are_refused(url):
    with pytest.raises(ValidationError):
        Settings(oidc_github_issuer=url)


def test_issuers_come_from_the_environment_and_the_config_file(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRLOCK_OIDC_GITHUB_ISSUER", "https://ghe.corp.example/_services/token")
    monkeypatch.setenv("AIRLOCK_OIDC_GITLAB_ISSUER", "http://127.0.0.1:1234")
    monkeypatch.setenv("AIRLOCK_OIDC_CIRCLECI_ISSUER", "https://oidc.circle.example/org")
    config = tmp_path / "airlock.toml"
    config.write_text('[oidc_extra_issuers]\n"gitlab:corp" = "https://gitlab.corp.example"\n')
    s = load_settings(config)
    assert issuers.resolve(s, "https://ghe.corp.example/_services/token").provider == "github"
    assert issuers.resolve(s, "http://127.0.0.1:1234").provider == "gitlab"
    assert issuers.resolve(s, "https://gitlab.corp.example").provider == "gitlab"
    circle = issuers.resolve(s, "https://oidc.circle.example/org/abc-123")
    assert circle is not None and circle.provider == "circleci" and circle.org_id == "abc-123"
    # The built-in public issuer was overridden, so it is no longer trusted.
    assert issuers.resolve(s, "https://token.actions.githubusercontent.com") is None
    assert issuers.resolve(s, "https://oidc.circle.example/org/a/b") is None
    monkeypatch.setenv("AIRLOCK_OIDC_GITLAB_ISSUER", "http://gitlab.corp.example")
    with pytest.raises(ValidationError):
        load_settings(None)


def test_extra_issuer_names_start_with_a_provider():
    with pytest.raises(ValidationError):
        Settings(oidc_extra_issuers={"bitbucket": "https://bb.example"})
    with pytest.raises(ValidationError):
        Settings(oidc_extra_issuers={"gitlab": "http://gitlab.corp.example"})


def test_builtin_issuers_are_the_public_ones():
    s = Settings()
    assert issuers.resolve(s, "https://token.actions.githubusercontent.com").provider == "github"
    assert issuers.resolve(s, "https://gitlab.com").provider == "gitlab"
    assert issuers.resolve(s, "https://oidc.circleci.com/org/3f0d").provider == "circleci"
    assert issuers.resolve(s, "https://evil.example") is None


@pytest.mark.parametrize(
    ("public_url", "aud"),
    [(None, "npm:127.0.0.1"), ("https://npm.corp.example:8443/prefix/", "npm:npm.corp.example")],
)
def test_audience_is_npm_colon_registry_hostname(public_url, aud):
    assert issuers.audience(Settings(public_url=public_url)) == aud


GH = {"repository": "Alice/Pkg", "workflow_ref": {"file": "release.yml"}}


@pytest.mark.parametrize(
    ("workflow_ref", "ok"),
    [
        ("alice/pkg/.github/workflows/release.yml@refs/heads/main", True),
        ("ALICE/PKG/.github/workflows/release.yml@refs/tags/v1.0.0", True),
        ("alice/pkg/.github/workflows/Release.yml@refs/heads/main", False),
        ("alice/pkg/.github/workflows/release.yml", False),
        ("alice/pkg-fork/.github/workflows/release.yml@main", False),
        ("alice/pkg/.github/workflows/release.yml.bak@main", False),
    ],
)
def test_github_workflow_ref_rule(workflow_ref, ok):
    signed = {"repository": "alice/pkg", "workflow_ref": workflow_ref}
    assert providers.matches("github", GH, signed) is ok


def test_gitlab_config_uri_rule_ignores_the_host_but_not_the_project():
    cfg = {"project_path": "grp/proj", "ci_config_ref_uri": {"file": "ci/release.yml"}}
    base = {"project_path": "grp/proj"}
    uri = "gitlab.corp.example/grp/proj//ci/release.yml@refs/heads/main"
    assert providers.matches("gitlab", cfg, {**base, "ci_config_ref_uri": uri})
    evil = "gitlab.com/evil/grp/proj-x//ci/release.yml@refs/heads/main"
    assert not providers.matches("gitlab", cfg, {**base, "ci_config_ref_uri": evil})
    assert not providers.matches(
        "gitlab", cfg, {"project_path": "grp/proj", "ci_config_ref_uri": 3}
    )


def test_identity_records_the_workflow():
    signed = {
        "repository": "alice/pkg",
        "workflow_ref": "alice/pkg/.github/workflows/release.yml@refs/heads/main",
        "sha": "abc",
        "run_id": "7",
        "secret_stuff": "x",
    }
    ident = providers.identity("github", signed)
    assert ident["workflow"] == "release.yml"
    assert ident["sha"] == "abc" and "secret_stuff" not in ident
