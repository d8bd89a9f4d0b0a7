"""One typed Settings object for the whole service.

Values come from environment variables (the names deployers already use, such as
``DATABASE_URL`` or ``SMTP_PORT``, and ``POSTROOM_*`` for everything else) and from
an optional file named by ``POSTROOM_CONFIG`` (a ``KEY=value`` env file).
"""

from __future__ import annotations

import importlib.util
import json
import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from postroom.store.engine import sqlite_file

DEFAULT_JWT_SECRET = "postroom-development-secret-change-me"
MIN_SECRET_LENGTH = 32
PRODUCTION_NAMES = {"production", "prod"}


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class ConfigError(ValueError):
    """A setting is missing or unsafe; the message names the variable to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=os.environ.get("POSTROOM_CONFIG"),
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    environment: Literal["development", "test", "production", "prod", "staging"] = Field(
        "development",
        validation_alias=_env("POSTROOM_ENV", "APP_ENV", "ENVIRONMENT"),
        description="development (safe laptop defaults) or production (auth and secrets enforced)",
    )
    database_url: str = Field(
        "",
        validation_alias=_env("DATABASE_URL", "POSTROOM_DATABASE_URL"),
        description="sqlite:///path or postgresql://user:pass@host/db; default: SQLite in STORAGE_DIR",
    )
    redis_url: str = Field(
        "",
        validation_alias=_env("REDIS_URL", "POSTROOM_REDIS_URL"),
        description="Redis for cross-process live events (optional; without it they arrive within a second)",
    )
    storage_dir: Path = Field(
        Path("./postroom-data"),
        validation_alias=_env("STORAGE_DIR", "POSTROOM_STORAGE_DIR"),
        description="folder for the SQLite database and the raw message blobs",
    )
    blob_fsync: bool = Field(
        True,
        validation_alias=_env("POSTROOM_BLOB_FSYNC"),
        description="fsync raw message files before acknowledging them",
    )

    # HTTP
    api_host: str = Field(
        "127.0.0.1",
        validation_alias=_env("API_HOST", "POSTROOM_API_HOST"),
        description="HTTP bind address; anything but loopback requires authentication",
    )
    api_port: int = Field(
        8025, validation_alias=_env("API_PORT", "POSTROOM_API_PORT"), description="HTTP port of the API and web UI"
    )
    event_loop: Literal["auto", "asyncio", "uvloop"] = Field(
        "auto",
        validation_alias=_env("POSTROOM_EVENT_LOOP"),
        description="event loop of serve/api/smtp/worker; auto: uvloop where installed",
    )
    ops_port: int = Field(
        0,
        ge=0,
        le=65535,
        validation_alias=_env("POSTROOM_OPS_PORT"),
        description="port of /health, /ready and /metrics for `postroom smtp` and `postroom worker` (0: none)",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=_env("CORS_ORIGINS", "POSTROOM_CORS_ORIGINS"),
        description="comma-separated origins allowed to call the API from a browser",
    )

    # SMTP capture
    smtp_bind: str = Field(
        "127.0.0.1", validation_alias=_env("SMTP_BIND", "POSTROOM_SMTP_HOST"), description="SMTP capture bind address"
    )
    smtp_port: int = Field(
        1025, validation_alias=_env("SMTP_PORT", "POSTROOM_SMTP_PORT"), description="SMTP capture port"
    )
    smtp_hostname: str = Field(
        "postroom.local",
        validation_alias=_env("POSTROOM_SMTP_HOSTNAME"),
        description="name the SMTP server greets with",
    )
    smtp_max_message_bytes: int = Field(
        50 * 1024 * 1024,
        validation_alias=_env("POSTROOM_SMTP_MAX_MESSAGE_BYTES", "SMTP_MAX_MESSAGE_SIZE"),
        description="largest message accepted (SIZE); bigger ones get 552",
    )
    smtp_max_line_bytes: int = Field(
        1024 * 1024,
        validation_alias=_env("POSTROOM_SMTP_MAX_LINE_BYTES"),
        description="hard cap for one line; lines over 998 octets below it are accepted and flagged",
    )
    smtp_auth: Literal["none", "any", "file"] = Field(
        "none",
        validation_alias=_env("POSTROOM_SMTP_AUTH"),
        description="none: no AUTH; any: accept any credentials; file: check POSTROOM_SMTP_AUTH_FILE",
    )
    smtp_auth_file: Path | None = Field(
        None,
        validation_alias=_env("POSTROOM_SMTP_AUTH_FILE"),
        description="credentials file for POSTROOM_SMTP_AUTH=file: lines 'user:password[:tenant_id]'",
    )
    smtp_auth_allow_insecure: bool = Field(
        True, validation_alias=_env("POSTROOM_SMTP_AUTH_ALLOW_INSECURE"), description="allow AUTH without TLS"
    )
    smtp_tls: Literal["none", "starttls", "implicit"] = Field(
        "none",
        validation_alias=_env("POSTROOM_SMTP_TLS"),
        description="none, starttls (STARTTLS offered) or implicit (SMTPS)",
    )
    smtp_tls_cert: Path | None = Field(
        None,
        validation_alias=_env("POSTROOM_SMTP_TLS_CERT"),
        description="PEM certificate for SMTP TLS; a self-signed one is generated when unset",
    )
    smtp_tls_key: Path | None = Field(
        None, validation_alias=_env("POSTROOM_SMTP_TLS_KEY"), description="PEM private key for SMTP TLS"
    )
    smtp_chaos: str = Field(
        "",
        validation_alias=_env("POSTROOM_SMTP_CHAOS"),
        description="chaos triggers, e.g. 'mail=451:0.5,rcpt=550:0.1,data=452:1'",
    )

    # Release (relay captured mail to a real server)
    release_host: str = Field(
        "",
        validation_alias=_env("POSTROOM_RELEASE_HOST"),
        description="SMTP server that 'release' relays captured messages to",
    )
    release_port: int = Field(
        25, validation_alias=_env("POSTROOM_RELEASE_PORT"), description="port of the release server"
    )
    release_username: str = Field(
        "", validation_alias=_env("POSTROOM_RELEASE_USERNAME"), description="login for the release server"
    )
    release_password: str = Field(
        "", validation_alias=_env("POSTROOM_RELEASE_PASSWORD"), description="password for the release server"
    )
    release_tls: Literal["none", "starttls", "implicit"] = Field(
        "none",
        validation_alias=_env("POSTROOM_RELEASE_TLS"),
        description="none, starttls or implicit TLS towards the release server",
    )
    release_allowed_recipients: str = Field(
        "",
        validation_alias=_env("POSTROOM_RELEASE_ALLOWED_RECIPIENTS"),
        description="regular expression a release recipient must match (empty: any)",
    )

    # Store limits
    max_messages: int = Field(
        0,
        validation_alias=_env("MAX_MESSAGES", "POSTROOM_MAX_MESSAGES"),
        description="keep at most this many messages per tenant (0: unlimited)",
    )

    # Auth
    jwt_secret: str = Field(
        DEFAULT_JWT_SECRET,
        validation_alias=_env("JWT_SECRET", "POSTROOM_JWT_SECRET"),
        description="secret that signs access and refresh tokens (32+ characters in production)",
    )
    jwt_access_minutes: int = Field(
        15, validation_alias=_env("POSTROOM_JWT_ACCESS_MINUTES"), description="lifetime of an access token"
    )
    jwt_refresh_days: int = Field(
        14, validation_alias=_env("POSTROOM_JWT_REFRESH_DAYS"), description="lifetime of a refresh token"
    )
    auth_required: bool | None = Field(
        None,
        validation_alias=_env("POSTROOM_AUTH_REQUIRED"),
        description="default: open only when bound to loopback outside production",
    )
    bootstrap_token: str = Field(
        "",
        validation_alias=_env("POSTROOM_BOOTSTRAP_TOKEN"),
        description="token that allows POST /internal/users from a non-loopback address",
    )

    ingest_writers: int = Field(
        1,
        ge=1,
        le=16,
        validation_alias=_env("POSTROOM_INGEST_WRITERS"),
        description="concurrent group commits (more than 1 measured slower on SQLite and on 2 cores)",
    )

    # Workers
    run_workers: bool = Field(
        True,
        validation_alias=_env("POSTROOM_RUN_WORKERS"),
        description="run the background workers inside `postroom serve`",
    )
    job_lease_seconds: int = Field(
        60,
        validation_alias=_env("POSTROOM_JOB_LEASE_SECONDS"),
        description="how long a claimed job stays with its worker before another may take it",
    )
    job_poll_seconds: float = Field(
        0.5, validation_alias=_env("POSTROOM_JOB_POLL_SECONDS"), description="how often idle workers look for due jobs"
    )

    # Sending
    secret_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=_env("POSTROOM_SECRET_KEYS", "SECRET_KEY"),
        description="comma-separated keys (newest first) that encrypt credentials at rest; default: from JWT_SECRET",
    )
    smtp_relay_host: str = Field(
        "",
        validation_alias=_env("SMTP_RELAY_HOST", "SMTP_HOST", "SMTP_SERVER"),
        description="SMTP server the smtp transport delivers through",
    )
    smtp_relay_port: int = Field(587, validation_alias=_env("SMTP_RELAY_PORT"), description="port of the SMTP relay")
    smtp_relay_username: str = Field(
        "", validation_alias=_env("SMTP_RELAY_USERNAME", "SMTP_USER", "SMTP_USERNAME"), description="SMTP relay login"
    )
    smtp_relay_password: str = Field(
        "", validation_alias=_env("SMTP_RELAY_PASSWORD", "SMTP_PASSWORD"), description="SMTP relay password"
    )
    smtp_relay_tls: Literal["none", "starttls", "implicit"] = Field(
        "starttls",
        validation_alias=_env("SMTP_RELAY_TLS"),
        description="none, starttls (upgrade when offered) or implicit TLS towards the relay",
    )
    smtp_relay_verify_tls: bool = Field(
        True, validation_alias=_env("SMTP_RELAY_VERIFY_TLS"), description="verify the relay's TLS certificate"
    )
    smtp_relay_pool_size: int = Field(
        16,
        ge=1,
        validation_alias=_env("SMTP_RELAY_POOL_SIZE"),
        description="SMTP connections kept open and reused per relay",
    )
    smtp_relay_timeout: float = Field(
        30.0, validation_alias=_env("SMTP_RELAY_TIMEOUT"), description="seconds before an SMTP command is deferred"
    )
    email_retry_delay: float = Field(
        60.0, validation_alias=_env("EMAIL_RETRY_DELAY"), description="seconds before the first retry of a delivery"
    )
    email_retry_max_delay: float = Field(
        3600.0, validation_alias=_env("EMAIL_RETRY_MAX_DELAY"), description="longest wait between two attempts"
    )
    email_retry_exponential_base: float = Field(
        2.0, validation_alias=_env("EMAIL_RETRY_EXPONENTIAL_BASE"), description="growth factor of the retry delay"
    )
    email_worker_max_retries: int = Field(
        5,
        ge=0,
        validation_alias=_env("EMAIL_WORKER_MAX_RETRIES"),
        description="retries after the first attempt before a delivery is dead-lettered as failed",
    )
    email_worker_concurrency: int = Field(
        64,
        ge=1,
        validation_alias=_env("EMAIL_WORKER_CONCURRENCY"),
        description="deliveries one worker process has in flight at once",
    )
    email_lease_seconds: int = Field(
        120,
        validation_alias=_env("EMAIL_LEASE_SECONDS"),
        description="how long a claimed delivery stays with its worker before another may take it",
    )
    email_domain_concurrency: int = Field(
        32,
        ge=1,
        validation_alias=_env("EMAIL_DOMAIN_CONCURRENCY"),
        description="deliveries in flight at once per recipient domain, per worker",
    )
    email_domain_rate: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict,
        validation_alias=_env("EMAIL_DOMAIN_RATE"),
        description="per-domain messages/second, e.g. `gmail.com=50,*=500` (`*`: every other domain)",
    )
    email_transport_rate: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict,
        validation_alias=_env("EMAIL_TRANSPORT_RATE"),
        description="per-transport messages/second, e.g. `ses=14,smtp=1000`",
    )
    email_transport_concurrency: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict,
        validation_alias=_env("EMAIL_TRANSPORT_CONCURRENCY"),
        description="per-transport deliveries in flight per worker, e.g. `ses=8`",
    )
    dkim_algorithm: Literal["rsa", "ed25519"] = Field(
        "rsa",
        validation_alias=_env("POSTROOM_DKIM_ALGORITHM"),
        description="key type for new DKIM keys: rsa (2048 bits, read everywhere) or ed25519 (RFC 8463, faster)",
    )
    spf_include: str = Field(
        "",
        validation_alias=_env("POSTROOM_SPF_INCLUDE"),
        description="domain senders' SPF records must include (checked by the domain DNS check)",
    )
    spf_ip4: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=_env("POSTROOM_SPF_IP4"),
        description="comma-separated addresses or networks senders' SPF records must allow",
    )
    dns_servers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=_env("POSTROOM_DNS_SERVERS"),
        description="comma-separated DNS servers for the domain checks; default: the system's",
    )
    dns_port: int = Field(53, validation_alias=_env("POSTROOM_DNS_PORT"), description="port of POSTROOM_DNS_SERVERS")
    public_url: str = Field(
        "",
        validation_alias=_env("POSTROOM_PUBLIC_URL", "PUBLIC_URL"),
        description="public base URL for unsubscribe and tracking links; default: http://API_HOST:API_PORT",
    )
    bounce_domain: str = Field(
        "",
        validation_alias=_env("POSTROOM_BOUNCE_DOMAIN"),
        description="domain of the VERP return path (bounces+ID@domain); default: the sender's domain",
    )

    # Outgoing webhooks
    webhook_allow_private: bool = Field(
        False,
        validation_alias=_env("POSTROOM_WEBHOOK_ALLOW_PRIVATE"),
        description="let webhook and tenant transport URLs reach private and loopback addresses (tests, closed nets)",
    )
    webhook_timeout_seconds: float = Field(
        10.0,
        gt=0,
        validation_alias=_env("POSTROOM_WEBHOOK_TIMEOUT_SECONDS"),
        description="how long one webhook delivery may take before it counts as failed",
    )
    webhook_max_attempts: int = Field(
        8,
        ge=1,
        validation_alias=_env("POSTROOM_WEBHOOK_MAX_ATTEMPTS"),
        description="delivery attempts per event and endpoint before it is dead-lettered",
    )

    # Email providers (HTTP APIs) and their event webhooks
    email_provider: Literal["smtp", "ses", "sendgrid", "mailgun", "mailersend", "capture"] = Field(
        "capture",
        validation_alias=_env("EMAIL_PROVIDER", "POSTROOM_EMAIL_PROVIDER"),
        description="transport for sent mail: smtp, ses, sendgrid, mailgun, mailersend or capture (kept here)",
    )
    ses_region: str = Field(
        "", validation_alias=_env("SES_REGION", "AWS_REGION"), description="AWS region of Amazon SES, e.g. eu-west-1"
    )
    aws_access_key_id: str = Field("", validation_alias=_env("AWS_ACCESS_KEY_ID"), description="AWS access key for SES")
    aws_secret_access_key: str = Field(
        "", validation_alias=_env("AWS_SECRET_ACCESS_KEY"), description="AWS secret key for SES"
    )
    aws_session_token: str = Field(
        "", validation_alias=_env("AWS_SESSION_TOKEN"), description="AWS session token (temporary credentials)"
    )
    ses_endpoint_url: str = Field(
        "",
        validation_alias=_env("SES_ENDPOINT_URL"),
        description="SES API base URL; default: https://email.<region>.amazonaws.com",
    )
    ses_configuration_set: str = Field(
        "",
        validation_alias=_env("SES_CONFIGURATION_SET"),
        description="SES configuration set whose event destinations publish delivery events",
    )
    sendgrid_api_key: str = Field("", validation_alias=_env("SENDGRID_API_KEY"), description="SendGrid API key")
    sendgrid_base_url: str = Field(
        "",
        validation_alias=_env("SENDGRID_BASE_URL"),
        description="SendGrid API URL; default: https://api.sendgrid.com",
    )
    sendgrid_webhook_public_key: str = Field(
        "",
        validation_alias=_env("SENDGRID_WEBHOOK_PUBLIC_KEY"),
        description="verification key of SendGrid's signed event webhook (base64, as SendGrid shows it)",
    )
    mailgun_api_key: str = Field("", validation_alias=_env("MAILGUN_API_KEY"), description="Mailgun API key")
    mailgun_domain: str = Field("", validation_alias=_env("MAILGUN_DOMAIN"), description="Mailgun sending domain")
    mailgun_base_url: str = Field(
        "",
        validation_alias=_env("MAILGUN_BASE_URL"),
        description="Mailgun API URL: https://api.mailgun.net (US, default) or https://api.eu.mailgun.net (EU)",
    )
    mailgun_webhook_signing_key: str = Field(
        "", validation_alias=_env("MAILGUN_WEBHOOK_SIGNING_KEY"), description="Mailgun HTTP webhook signing key"
    )
    mailersend_api_key: str = Field("", validation_alias=_env("MAILERSEND_API_KEY"), description="MailerSend API token")
    mailersend_base_url: str = Field(
        "",
        validation_alias=_env("MAILERSEND_BASE_URL"),
        description="MailerSend API URL; default: https://api.mailersend.com",
    )
    mailersend_webhook_secret: str = Field(
        "", validation_alias=_env("MAILERSEND_WEBHOOK_SECRET"), description="MailerSend webhook signing secret"
    )
    sns_cert_host_pattern: str = Field(
        r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?",
        validation_alias=_env("SNS_CERT_HOST_PATTERN"),
        description="regular expression an SNS SigningCertURL / SubscribeURL host must match (https only)",
    )
    sns_ca_bundle: Path | None = Field(
        None,
        validation_alias=_env("SNS_CA_BUNDLE"),
        description="PEM file of authorities trusted when fetching SNS certificates; default: the system's",
    )
    webhook_tolerance_seconds: int = Field(
        300,
        ge=1,
        validation_alias=_env("WEBHOOK_TOLERANCE_SECONDS"),
        description="how old a provider webhook's signed timestamp may be before it is refused",
    )

    # Logs
    log_level: str = Field(
        "INFO", validation_alias=_env("LOG_LEVEL", "POSTROOM_LOG_LEVEL"), description="DEBUG, INFO, WARNING or ERROR"
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto",
        validation_alias=_env("LOG_FORMAT", "POSTROOM_LOG_FORMAT"),
        description="auto (JSON in production), json or console",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("email_domain_rate", "email_transport_rate", "email_transport_concurrency", mode="before")
    @classmethod
    def _parse_rates(cls, value: Any) -> Any:
        if isinstance(value, str):
            rates: dict[str, float] = {}
            for item in value.split(","):
                if not item.strip():
                    continue
                name, sep, number = item.partition("=")
                if not sep:
                    raise ValueError(f"expected name=number, got {item.strip()!r}")
                rates[name.strip().lower()] = float(number)
            return rates
        return value

    @field_validator("secret_keys", "spf_ip4", "dns_servers", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _sqlite_on_a_file(cls, value: str) -> str:
        if value.startswith("sqlite"):
            try:
                sqlite_file(value)
            except ValueError as exc:
                raise ConfigError(f"DATABASE_URL={value!r}: {exc}") from None
        return value

    @field_validator("event_loop")
    @classmethod
    def _loop_installed(cls, value: str) -> str:
        if value == "uvloop" and importlib.util.find_spec("uvloop") is None:
            raise ValueError("POSTROOM_EVENT_LOOP=uvloop, but uvloop is not installed")
        return value

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if not self.is_production:
            return self
        if self.jwt_secret == DEFAULT_JWT_SECRET or len(self.jwt_secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"JWT_SECRET must be set to a random value of at least {MIN_SECRET_LENGTH} characters in production"
            )
        if self.bootstrap_token and len(self.bootstrap_token) < MIN_SECRET_LENGTH:
            raise ConfigError(f"POSTROOM_BOOTSTRAP_TOKEN must be at least {MIN_SECRET_LENGTH} characters in production")
        if self.auth_required is False:
            raise ConfigError("POSTROOM_AUTH_REQUIRED cannot be false in production")
        if any(len(key) < MIN_SECRET_LENGTH for key in self.secret_keys):
            raise ConfigError(
                f"every key in POSTROOM_SECRET_KEYS must be a random value of at least {MIN_SECRET_LENGTH} characters "
                "in production"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment in PRODUCTION_NAMES

    @property
    def encryption_secrets(self) -> list[str]:
        return self.secret_keys or [self.jwt_secret]

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    def provider_options(self, name: str) -> dict[str, str]:
        """The options ``build_provider(name, ...)`` takes, from these settings (unset ones left out)."""
        options = {
            "ses": {
                "region": self.ses_region,
                "access_key_id": self.aws_access_key_id,
                "secret_access_key": self.aws_secret_access_key,
                "session_token": self.aws_session_token,
                "endpoint_url": self.ses_endpoint_url,
                "configuration_set": self.ses_configuration_set,
            },
            "sendgrid": {"api_key": self.sendgrid_api_key, "base_url": self.sendgrid_base_url},
            "mailgun": {
                "api_key": self.mailgun_api_key,
                "domain": self.mailgun_domain,
                "base_url": self.mailgun_base_url,
            },
            "mailersend": {"api_key": self.mailersend_api_key, "base_url": self.mailersend_base_url},
        }.get(name, {})
        return {key: value for key, value in options.items() if value}

    @cached_property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL for DATABASE_URL (SQLite in STORAGE_DIR by default)."""
        url = self.database_url or f"sqlite:///{(self.storage_dir / 'postroom.db').resolve()}"
        return to_async_url(url)

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def blob_dir(self) -> Path:
        return self.storage_dir / "blobs"

    def auth_is_required(self, bind_host: str | None = None) -> bool:
        if self.auth_required is not None:
            return self.auth_required
        if self.is_production:
            return True
        return (bind_host or self.api_host) not in {"127.0.0.1", "localhost", "::1"}

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.is_production
        return self.log_format == "json"


def to_async_url(url: str) -> str:
    """Map the URLs deployers write to SQLAlchemy's async drivers."""
    for prefix, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgresql+psycopg://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(prefix):
            return driver + url[len(prefix) :]
    return url


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment; ``overrides`` win (used by the CLI flags and tests)."""
    return Settings(**overrides)


def settings_table() -> str:
    """The Markdown table of every setting, for docs/configuration.md (a test keeps them equal)."""
    lines = [
        "| environment variable(s) | default | description |",
        "| --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names = " / ".join(f"`{n}`" for n in alias.choices) if isinstance(alias, AliasChoices) else f"`{name}`"
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        shown = "" if default in ("", None) else f"`{default}`"
        lines.append(f"| {names} | {shown} | {field.description or ''} |")
    return "\n".join(lines) + "\n"
