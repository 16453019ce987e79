"""Typed configuration: defaults < TOML file (--config) < AIRLOCK_* environment < CLI flags."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from airlock.issuer_urls import check_issuer_url, check_provider
from airlock.namespaces import check_namespaces

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

    # Uploads and their content (sec-content): bounded work whatever a client sends.
    max_unpacked_bytes: int | None = Field(
        None,
        description="Most bytes a tarball may decompress to (file data and headers); refused past it. Default 5 x max_tarball_bytes.",
    )
    max_manifest_bytes: int = Field(
        1024 * 1024,
        description="Largest package.json in a tarball, and largest stored version manifest (with its readme), in bytes.",
    )
    max_versions_per_package: int = Field(
        10_000,
        description="Most version numbers (published, staged or unpublished) one package may have.",
    )
    max_large_body_parses: int = Field(
        2,
        description="How many large JSON bodies (publish, stage, unpublish) one process parses at once; more wait their turn.",
    )

    # --- perf: read caches and server processes (docs/performance.md) ---
    read_cache_seconds: float = Field(
        1.0,
        ge=0.0,
        description="Longest time a packument or package fact cached by one process may lag a write made by another instance on the same database (writes by the same instance are seen at once).",
    )
    read_cache_max_entries: int = Field(
        10_000,
        ge=1,
        description="Packages (and unknown names) one process keeps in its read cache; the cache starts over when full.",
    )
    workers: int | None = Field(
        None,
        ge=1,
        description="Server processes of `airlock serve` sharing one port. Default: one per CPU core.",
    )

    # -- review: audit, notifications (issue #11) --
    operators: list[str] = Field(
        default_factory=list,
        description="Account names of operators: they may read the whole audit log (JSON list in the environment).",
    )
    webhooks: list[dict[str, Any]] = Field(
        default_factory=list,
        description='Operator webhooks: a list of {"url", "secret", "events"} (events: names like package:version:staged, or "*"); JSON in AIRLOCK_WEBHOOKS.',
    )
    notify_expiring_seconds: int = Field(
        24 * 3600,
        description="How long before a stage lapses the package:version:expiring notification is sent.",
    )
    notify_retry_seconds: float = Field(
        5.0,
        description="First retry delay of a failed webhook delivery; doubles each attempt (up to an hour).",
    )
    notify_max_attempts: int = Field(
        12, description="Webhook delivery attempts before a delivery is marked failed."
    )
    smtp_host: str | None = Field(
        None,
        description="SMTP server for e-mail to maintainers about their packages (unset: no e-mail).",
    )
    smtp_port: int = Field(25, description="SMTP server port.")
    smtp_from: str = Field("airlock@localhost", description="From address of notification e-mail.")
    smtp_username: str | None = Field(None, description="SMTP user name (unset: no login).")
    smtp_password: str | None = Field(None, description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")

    @field_validator("webhooks")
    @classmethod
    def _webhooks(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for hook in v:
            url, secret, events = hook.get("url"), hook.get("secret"), hook.get("events", ["*"])
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ValueError("every webhook needs a url starting with http:// or https://")
            if not isinstance(secret, str) or not secret:
                raise ValueError(f"webhook {url} needs a secret")
            if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                raise ValueError(f"events of webhook {url} must be a list of event names")
            hook["events"] = events
        return v

    # --- uplink and operations (uplink-ops) ---
    uplink_url: str | None = Field(
        None,
        description="Registry proxied for names that are not hosted here (e.g. https://registry.npmjs.org). Default: no uplink.",
    )
    private_namespaces: list[str] = Field(
        default_factory=list,
        description='Scopes ("@acme") and exact names that are always local and never fetched from the uplink (JSON list in the environment).',
    )
    uplink_allowed_names: list[str] = Field(
        default_factory=list,
        description="Names that may be created here although they exist on the uplink (operator override of the 409).",
    )
    uplink_ttl_seconds: float = Field(
        120.0, description="How long a cached uplink packument is served before it is revalidated."
    )
    uplink_timeout_seconds: float = Field(30.0, description="Timeout of one request to the uplink.")
    uplink_refetch_interval_seconds: float = Field(
        10.0,
        description="A request for a version or tag the cached uplink packument lacks refetches it at most once per name in this interval.",
    )
    uplink_review_timeout_seconds: float = Field(
        3.0,
        description="Timeout of the review's check whether a brand-new local name appeared on the uplink meanwhile.",
    )
    uplink_max_fails: int = Field(
        2, description="Consecutive uplink failures that open the circuit breaker."
    )
    uplink_fail_timeout_seconds: float = Field(
        300.0,
        description="How long the open breaker answers from the cache before one probe request is let through.",
    )
    uplink_max_packument_bytes: int = Field(
        64 * 1024 * 1024, description="Largest uplink packument accepted, in bytes."
    )
    uplink_max_tarball_bytes: int = Field(
        200 * 1024 * 1024, description="Largest uplink tarball accepted, in bytes."
    )
    metrics_token: str | None = Field(
        None,
        description="Bearer token that GET /-/metrics requires. Unset: /-/metrics answers 404.",
    )
    metrics_dir: Path | None = Field(
        None,
        description="Directory for multi-process metrics files (emptied at start; one per instance). Default DATA/metrics.",
    )
    log_format: str = Field(
        "auto",
        description="Log format: json (one JSON object a line), text, or auto (text on a terminal, else JSON).",
    )
    shutdown_timeout_seconds: float = Field(
        30.0,
        description="On SIGTERM, how long in-flight requests may take to finish before they are cut.",
    )

    @field_validator("private_namespaces", "uplink_allowed_names")
    @classmethod
    def _namespaces(cls, v: list[str]) -> list[str]:
        return check_namespaces(v)

    @field_validator("uplink_url")
    @classmethod
    def _uplink_url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError(f"uplink_url must be an http(s) URL, not {v!r}")
        return v.rstrip("/") if v else None

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, v: str) -> str:
        if v not in ("auto", "json", "text"):
            raise ValueError("log_format must be auto, json or text")
        return v

    # Web UI (branch web): browser sessions, sign-in throttling, npm web login / web 2FA.
    web_session_ttl_seconds: int = Field(
        12 * 3600, description="Lifetime of a browser session of the web UI."
    )
    web_signin_max_failures: int = Field(
        10,
        description="Failed web sign-ins (per account name and per client address) within 15 minutes before that key is locked.",
    )
    web_signin_lock_seconds: int = Field(900, description="How long a web sign-in lock lasts.")
    web_auth_request_seconds: int = Field(
        600,
        description="How long a loginUrl/authUrl of npm's web login and web 2FA stays usable.",
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
        20.0,
        description="Longest one S3 operation may take, retries included (then 503); a tarball streamed to a client may take longer but fails after this long without a byte from S3.",
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
    def unpacked_limit(self) -> int:
        if self.max_unpacked_bytes is not None:
            return self.max_unpacked_bytes
        return 5 * self.max_tarball_bytes

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data / 'airlock.db').resolve()}"

    # --- sec-auth: credentials, client addresses, throttles -------------------------
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Reverse proxies (IP addresses or CIDRs, JSON list in the environment) whose X-Forwarded-For header is believed. Default: none, so the client address is the socket peer.",
    )
    password_hash_concurrency: int = Field(
        2,
        ge=1,
        description="How many password checks (argon2, about 64 MiB and 0.2 s of CPU each) may run at once per process; more wait, and beyond 8 waiting per slot the server answers 503.",
    )
    login_failures_per_account: int = Field(
        10,
        ge=1,
        description="Failed password checks allowed per account name within login_failure_window_seconds (per process), then 429 with Retry-After.",
    )
    login_failures_per_address: int = Field(
        30,
        ge=1,
        description="Failed password checks allowed per client address within login_failure_window_seconds (per process), then 429 with Retry-After.",
    )
    login_failure_window_seconds: float = Field(
        900.0, gt=0, description="The sliding window of the failed-login throttles, in seconds."
    )
    oidc_exchanges_per_minute: int = Field(
        30,
        ge=1,
        description="Trusted-publishing token exchanges allowed per client address and minute (per process), then 429 with Retry-After.",
    )
    oidc_failure_cache_seconds: float = Field(
        60.0,
        ge=0,
        description="How long a failed fetch of an issuer's discovery document or keys is remembered (no refetch before).",
    )
    oidc_key_cache_issuers: int = Field(
        64,
        ge=1,
        description="Most issuers whose keys are cached at once (least recently used are dropped).",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, v: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(net.strip(), strict=False)) for net in v]

    # --- review: provenance (sigstore bundles, docs/review.md) ---
    max_provenance_bytes: int = Field(
        256 * 1024,
        description="Largest provenance (.sigstore bundle) attachment a publish or stage may carry, in bytes (413 past it).",
    )
    provenance_trusted_root: Path | None = Field(
        None,
        description="A Sigstore trusted_root.json to verify provenance against. Default: the public-good root embedded in sigstore-python (read offline, never refreshed).",
    )

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
