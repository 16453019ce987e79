"""Where settings come from, and in which order they win."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.cli.settings_doc import settings_rows
from airlock.settings import Settings, load_settings, normalise_database_url

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_embedded_sqlite_on_loopback(monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("AIRLOCK_"):
            monkeypatch.delenv(key)
    s = load_settings()
    assert (s.host, s.port) == ("127.0.0.1", 4873)
    assert s.base_url == "http://127.0.0.1:4873"
    assert s.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert s.effective_database_url.endswith("airlock-data/airlock.db")


def test_toml_file_then_environment_then_flags(tmp_path, monkeypatch):
    config = tmp_path / "airlock.toml"
    config.write_text("port = 5000\nopen-signup = false\nstage_expiry_seconds = 60\n")
    s = load_settings(config)
    assert (s.port, s.open_signup, s.stage_expiry_seconds) == (5000, False, 60)
    monkeypatch.setenv("AIRLOCK_PORT", "6000")
    assert load_settings(config).port == 6000
    assert load_settings(config).open_signup is False  # untouched by the environment
    assert load_settings(config, port=7000).port == 7000


def test_unknown_keys_in_the_file_are_an_error(tmp_path):
    config = tmp_path / "airlock.toml"
    config.write_text("prot = 5000\n")
    with pytest.raises(ValueError, match="prot"):
        load_settings(config)


def test_production_refuses_the_built_in_secret():
    with pytest.raises(ValueError, match="AIRLOCK_SECRET_KEY"):
        Settings(development=False).check_secrets()
    Settings(development=False, secret_key="x" * 40).check_secrets()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:////tmp/a.db", "sqlite+aiosqlite:////tmp/a.db"),
    ],
)
def test_plain_database_urls_get_the_async_driver(given, expected):
    assert normalise_database_url(given) == expected


def test_public_url_drives_tarball_links():
    assert Settings(public_url="https://npm.example.com/").base_url == "https://npm.example.com"


def test_every_setting_is_documented():
    doc = (ROOT / "docs" / "configuration.md").read_text()
    missing = [env for _, env, _, _ in settings_rows() if env not in doc]
    assert not missing, f"docs/configuration.md lacks {missing}: run `airlock settings --markdown`"
