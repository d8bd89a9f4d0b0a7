from pathlib import Path

import pytest
from pydantic import AliasChoices, ValidationError

from postroom.config import Settings, settings_table
from postroom.loops import loop_factory, loop_name

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_names_deployers_use_are_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {
        "DATABASE_URL": "postgres://u:p@db/postroom",
        "REDIS_URL": "redis://cache:6379/0",
        "SMTP_PORT": "2525",
        "API_PORT": "9025",
        "JWT_SECRET": "x" * 40,
        "CORS_ORIGINS": "https://a.example, https://b.example",
        "STORAGE_DIR": str(tmp_path),
        "ENVIRONMENT": "staging",
        "LOG_LEVEL": "debug",
        "LOG_FORMAT": "json",
        "MAX_MESSAGES": "500",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.resolved_database_url == "postgresql+asyncpg://u:p@db/postroom"
    assert settings.redis_url == "redis://cache:6379/0"
    assert (settings.smtp_port, settings.api_port, settings.max_messages) == (2525, 9025, 500)
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.storage_dir == tmp_path and settings.environment == "staging"
    assert settings.log_level == "DEBUG" and settings.json_logs


def test_app_env_and_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "postroom.env"
    config.write_text("SMTP_PORT=3025\nAPP_ENV=test\n")
    settings = Settings(_env_file=config)  # type: ignore[call-arg]
    assert settings.smtp_port == 3025 and settings.environment == "test"


@pytest.mark.parametrize("secret", [None, "short"])
def test_production_refuses_default_or_short_secrets(monkeypatch: pytest.MonkeyPatch, secret: str | None) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    if secret:
        monkeypatch.setenv("JWT_SECRET", secret)
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings()


def test_production_refuses_a_placeholder_encryption_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", "s" * 40)
    monkeypatch.setenv("POSTROOM_SECRET_KEYS", f"{'k' * 40},REPLACE_ME")
    with pytest.raises(ValidationError, match="POSTROOM_SECRET_KEYS"):
        Settings()
    monkeypatch.setenv("POSTROOM_SECRET_KEYS", f"{'k' * 40},{'o' * 32}")
    assert len(Settings().secret_keys) == 2


def test_production_requires_auth_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTROOM_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", "s" * 40)
    settings = Settings()
    assert settings.auth_is_required("127.0.0.1") and settings.json_logs


def test_laptop_defaults_are_open_only_on_loopback() -> None:
    settings = Settings()
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert not settings.auth_is_required("127.0.0.1")
    assert settings.auth_is_required("0.0.0.0")


def test_configuration_docs_match_the_settings() -> None:
    assert settings_table() in DOCS.read_text(), "regenerate docs/configuration.md from postroom.config.settings_table"


def test_the_sending_names_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "SMTP_PORT": "2525",
        "SMTP_RELAY_HOST": "relay.example",
        "SMTP_RELAY_PORT": "465",
        "SMTP_RELAY_USERNAME": "mailer",
        "SMTP_RELAY_PASSWORD": "pw",
        "SMTP_RELAY_TLS": "implicit",
        "EMAIL_PROVIDER": "ses",
        "EMAIL_RETRY_DELAY": "30",
        "EMAIL_RETRY_MAX_DELAY": "600",
        "EMAIL_RETRY_EXPONENTIAL_BASE": "3",
        "EMAIL_WORKER_MAX_RETRIES": "7",
        "EMAIL_DOMAIN_RATE": "gmail.com=50, *=500",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.smtp_port == 2525  # still the capture listener
    assert (settings.smtp_relay_host, settings.smtp_relay_port, settings.smtp_relay_tls) == (
        "relay.example",
        465,
        "implicit",
    )
    assert (settings.smtp_relay_username, settings.smtp_relay_password) == ("mailer", "pw")
    assert settings.email_provider == "ses"
    assert (settings.email_retry_delay, settings.email_retry_max_delay) == (30, 600)
    assert (settings.email_retry_exponential_base, settings.email_worker_max_retries) == (3, 7)
    assert settings.email_domain_rate == {"gmail.com": 50, "*": 500}


@pytest.mark.parametrize(
    ("host", "user", "password"),
    [("SMTP_HOST", "SMTP_USER", "SMTP_PASSWORD"), ("SMTP_SERVER", "SMTP_USERNAME", "SMTP_PASSWORD")],
)
def test_the_older_smtp_names_set_the_relay(
    monkeypatch: pytest.MonkeyPatch, host: str, user: str, password: str
) -> None:
    monkeypatch.setenv(host, "old.example")
    monkeypatch.setenv(user, "someone")
    monkeypatch.setenv(password, "secret")
    settings = Settings()
    assert (settings.smtp_relay_host, settings.smtp_relay_username, settings.smtp_relay_password) == (
        "old.example",
        "someone",
        "secret",
    )
    # The relay's host is not where the capture server listens.
    assert settings.smtp_bind == "127.0.0.1"


def test_no_setting_is_named_like_another_settings_variable() -> None:
    # A field's own name is accepted as a variable too: it must not be another setting's.
    owners: dict[str, set[str]] = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias] if isinstance(alias, str) else []
        for choice in choices:
            if isinstance(choice, str):
                owners.setdefault(choice.upper(), set()).add(name)
    assert {
        name: owners[name.upper()] for name in Settings.model_fields if owners.get(name.upper(), {name}) != {name}
    } == {}


def test_a_bad_rate_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_DOMAIN_RATE", "gmail.com:50")
    with pytest.raises(ValidationError, match="EMAIL_DOMAIN_RATE"):
        Settings()


def test_the_event_loop_is_uvloop_unless_asked_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().event_loop == "auto" and loop_name("auto") == "uvloop"
    assert loop_factory("auto") is not None and loop_factory("asyncio") is None
    monkeypatch.setenv("POSTROOM_EVENT_LOOP", "trio")
    with pytest.raises(ValidationError, match="POSTROOM_EVENT_LOOP"):
        Settings()


@pytest.mark.parametrize(
    "url", ["sqlite:///:memory:", "sqlite+aiosqlite:///:memory:", "sqlite://", "sqlite:///file:db?mode=memory&uri=true"]
)
def test_sqlite_without_a_file_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ValidationError, match=r"DATABASE_URL=.*SQLite needs a database file"):
        Settings()


def test_sqlite_on_a_file_is_taken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/mail.db")
    assert Settings().resolved_database_url == f"sqlite+aiosqlite:///{tmp_path}/mail.db"
