"""Typed configuration: defaults < TOML file (--config) < AIRLOCK_* environment < CLI flags."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from airlock.oidc.urls import check_issuer_url, check_provider

DEV_SECRET = "airlock-development-secret-do-not-use-in-production"


class Settings(BaseSettings):
    """Every knob Airlock has. `airlock --help` and docs/configuration.md describe them."""

    model_config = SettingsConfigDict(env_prefix="AIRLOCK_", extra="forbid")

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(4873, description="Port to listen on.")
    data: Path = Field(
        Path("./airlock-data"),
        description="Data folder: the SQLite database and the filesystem blob store live here.",
    )
    public_url: str | None = Field(
        None,
        description="Base URL clients reach Airlock at; tarball links are built from it. Default http://HOST:PORT.",
    )
    database_url: str | None = Field(
        None,
        description="postgresql://user@host/db or sqlite:///path. Default: SQLite at DATA/airlock.db.",
    )
    storage: str = Field(
        "filesystem",
        description="Blob store backend: filesystem (under DATA/blobs) or s3 (the s3_* settings).",
    )
    log_level: str = Field("info", description="Log level: critical, error, warning, info, debug.")

    # A list allows rotation: the first key encrypts, every key decrypts.
    secret_key: str = Field(
        "",
        description="Key that encrypts TOTP secrets at rest. Unset: generated on first start and kept in DATA/secret-key (mode 0600); must be set explicitly for a non-loopback host and shared by every instance.",
    )
    old_secret_keys: list[str] = Field(
        default_factory=list,
        description="Previous secret keys, still accepted for decryption while rotating (JSON list in the environment).",
    )
    development: bool = Field(
        True,
        description="Development mode allows a secret key generated into the data folder (loopback only). Set false in production.",
    )

    open_signup: bool = Field(
        True, description="Whether anyone may create an account with npm adduser."
    )
    max_tarball_bytes: int = Field(
        50 * 1024 * 1024,
        description="Largest tarball accepted by publish and stage publish, in bytes.",
    )
    session_token_ttl_seconds: int = Field(
        12 * 3600, description="Lifetime of tokens from npm login."
    )
    token_default_days: int = Field(
        7, description="Default lifetime of granular access tokens, in days."
    )
    token_max_days: int = Field(
        90, description="Longest lifetime a granular access token may have, in days."
    )
    auth_cache_seconds: float = Field(
        5.0,
        description="How long one process caches a token lookup (revocations reach other processes within this time).",
    )
    stage_expiry_seconds: int = Field(
        14 * 24 * 3600,
        description="How long a staged version waits for a decision before it expires.",
    )
    expiry_sweep_seconds: float = Field(
        60.0, description="How often each process deletes expired stages."
    )
    otp_max_failures: int = Field(
        5,
        description="Wrong second-factor codes in a row before second-factor attempts are locked.",
    )
    otp_lockout_seconds: int = Field(900, description="How long that lock lasts.")
    oidc_token_ttl_seconds: int = Field(
        900, description="Lifetime of tokens from the trusted-publishing exchange."
    )
    oidc_leeway_seconds: int = Field(
        60, description="Clock leeway for ID-token exp/nbf/iat checks."
    )
    oidc_github_issuer: str = Field(
        "https://token.actions.githubusercontent.com",
        description="Issuer trusted for GitHub Actions ID tokens.",
    )
    oidc_gitlab_issuer: str = Field(
        "https://gitlab.com", description="Issuer trusted for GitLab CI ID tokens."
    )
    oidc_circleci_issuer: str = Field(
        "https://oidc.circleci.com/org",
        description="Issuer (prefix) trusted for CircleCI ID tokens.",
    )
    oidc_extra_issuers: dict[str, str] = Field(
        default_factory=dict,
        description='More issuers (self-hosted GitLab, GitHub Enterprise), as {"<provider>[:<label>]": "https://issuer"} with provider github, gitlab or circleci (JSON in the environment).',
    )
    oidc_jwks_cache_seconds: float = Field(
        3600.0,
        description="How long an issuer's signing keys are cached (an unknown key id refetches sooner).",
    )

    # --- storage, blob lifetime and connection limits (storage branch) ---
    s3_bucket: str | None = Field(None, description="S3 bucket for storage = s3.")
    s3_prefix: str = Field(
        "", description="Key prefix inside the bucket (e.g. airlock/), for a shared bucket."
    )
    s3_endpoint_url: str | None = Field(
        None,
        description="S3 endpoint for S3-compatible services (MinIO, Ceph, R2...). Default: AWS.",
    )
    s3_region: str = Field("us-east-1", description="S3 region.")
    s3_access_key_id: str | None = Field(
        None, description="S3 access key id. Default: the usual AWS credential chain."
    )
    s3_secret_access_key: str | None = Field(None, description="S3 secret access key.")
    s3_timeout_seconds: float = Field(
        20.0, description="Connect and read timeout of one S3 request (then 503)."
    )
    s3_presign_seconds: int = Field(
        0,
        description="When > 0 and storage = s3, tarball GETs are answered with a redirect to a presigned S3 URL valid this long.",
    )
    blob_grace_seconds: float = Field(
        900.0,
        description="An unreferenced blob is deleted only this long after it was last written or claimed (protects uploads in flight in any process).",
    )
    blob_sweep_seconds: float = Field(
        300.0,
        description="How often each process deletes unreferenced blobs and stale partial uploads.",
    )
    header_timeout_seconds: float = Field(
        10.0,
        description="A connection must deliver a request's complete headers within this time (408 and closed otherwise); 0 disables.",
    )
    body_timeout_seconds: float = Field(
        30.0,
        description="Longest pause while a request body arrives; after this long the body must also average body_min_bytes_per_second (408 and closed otherwise); 0 disables.",
    )
    body_min_bytes_per_second: int = Field(
        1024, description="Slowest average request body rate accepted (see body_timeout_seconds)."
    )
    max_header_bytes: int = Field(
        65536, description="Largest request line plus headers accepted (431 otherwise)."
    )
    max_connections_per_client: int = Field(
        128,
        description="Open connections one client address may hold (429 and closed beyond); 0 disables (use 0 behind a reverse proxy).",
    )

    @field_validator("oidc_github_issuer", "oidc_gitlab_issuer", "oidc_circleci_issuer")
    @classmethod
    def _issuer_url(cls, v: str) -> str:
        # http:// only on loopback (tests, local setups); anything else must be https://.
        return check_issuer_url(v)

    @field_validator("oidc_extra_issuers")
    @classmethod
    def _extra_issuers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, url in v.items():
            check_provider(name.split(":", 1)[0])
            check_issuer_url(url)
        return {name: url.rstrip("/") for name, url in v.items()}

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
        """Refuse the old public development key, and a generated key on a public listener.

        A key generated into the data folder is fine on a laptop; a server reachable from
        the network (several instances, on other hosts) needs one key set by the operator."""
        if self.secret_key == DEV_SECRET and not self.development:
            raise ValueError(f"AIRLOCK_SECRET_KEY must not be the public development key. {_HOW}")
        if not self.secret_key and not self.development:
            raise ValueError(f"The secret key must be set when development mode is off. {_HOW}")
        if not self.secret_key and not is_loopback(self.host):
            raise ValueError(
                f"--host {self.host} listens beyond this machine, so the secret key must be "
                f"set explicitly (the same on every instance). {_HOW}"
            )


_HOW = (
    "Set secret_key in the config file or AIRLOCK_SECRET_KEY in the environment; "
    "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
