"""Typed configuration: defaults < TOML file (--config) < AIRLOCK_* environment < CLI flags."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "airlock-development-secret-do-not-use-in-production"


class Settings(BaseSettings):
    """Every knob Airlock has. `airlock --help` and docs/configuration.md describe them."""

    model_config = SettingsConfigDict(env_prefix="AIRLOCK_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = 4873
    data: Path = Path("./airlock-data")
    # Base URL written into packuments (tarball URLs); defaults to http://host:port.
    public_url: str | None = None
    database_url: str | None = None  # default: sqlite under `data`
    storage: str = "filesystem"  # "filesystem" (S3 later)
    workers: int = 1
    log_level: str = "info"

    # Secret for encrypting TOTP secrets at rest and signing. A list allows rotation:
    # the first key encrypts, every key decrypts.
    secret_key: str = DEV_SECRET
    old_secret_keys: list[str] = Field(default_factory=list)
    development: bool = True

    open_signup: bool = True
    max_tarball_bytes: int = 50 * 1024 * 1024
    session_token_ttl_seconds: int = 12 * 3600
    token_default_days: int = 7
    token_max_days: int = 90
    auth_cache_seconds: float = 5.0
    stage_expiry_seconds: int = 14 * 24 * 3600
    expiry_sweep_seconds: float = 60.0
    otp_max_failures: int = 5
    otp_lockout_seconds: int = 900
    oidc_token_ttl_seconds: int = 900
    oidc_leeway_seconds: int = 60
    oidc_github_issuer: str = "https://token.actions.githubusercontent.com"
    oidc_gitlab_issuer: str = "https://gitlab.com"
    oidc_circleci_issuer: str = "https://oidc.circleci.com/org"
    oidc_extra_issuers: dict[str, str] = Field(default_factory=dict)

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, v: str | None) -> str | None:
        return v.rstrip("/") if v else v

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data / 'airlock.db').resolve()}"

    def check_secrets(self) -> None:
        """Refuse the built-in development secret outside development mode."""
        if not self.development and self.secret_key == DEV_SECRET:
            raise ValueError(
                "AIRLOCK_SECRET_KEY must be set when development mode is off "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )


def normalise_database_url(url: str) -> str:
    """Accept the plain URLs people write and pick the async driver for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from an optional TOML file, the environment and explicit overrides."""
    file_values: dict[str, Any] = {}
    if config is not None:
        with config.open("rb") as fh:
            raw = tomllib.load(fh)
        file_values = {k.replace("-", "_"): v for k, v in raw.items()}
    # Environment beats the file; explicit overrides (CLI flags) beat both.
    env_settings = Settings()
    env_set = env_settings.model_fields_set
    merged: dict[str, Any] = dict(file_values)
    merged.update({k: getattr(env_settings, k) for k in env_set})
    merged.update({k: v for k, v in overrides.items() if v is not None})
    return Settings.model_validate(merged)
