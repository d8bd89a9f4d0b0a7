from __future__ import annotations

from typing import Any

import pytest

from postroom.capture.release import ReleaseRequest, make_release_handler, release_recipients_ok
from postroom.config import ConfigError, Settings
from postroom.core.worker import PermanentJobError


@pytest.mark.parametrize(
    ("recipients", "pattern", "ok"),
    [
        (["a@example.com"], "", True),
        (["a@example.com", "b@EXAMPLE.com"], r"@example\.com$", True),
        (["a@example.com", "b@other.org"], r"@example\.com$", False),
        (["a@example.com.evil.org"], r"@example\.com$", False),
        (["dev@team.test"], r"^dev@|@qa\.test$", True),
        ([], "", False),
    ],
)
def test_release_recipients_ok(recipients: list[str], pattern: str, ok: bool) -> None:
    assert release_recipients_ok(recipients, pattern) is ok


def test_release_request_round_trips_its_payload() -> None:
    request = ReleaseRequest(7, 1, ("a@x.org",), None)
    assert ReleaseRequest.from_payload(request.to_payload()) == request


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"message_id": "7", "tenant_id": 1, "to": ["a@x.org"]},
        {"message_id": 7, "tenant_id": 1, "to": []},
        {"message_id": 7, "tenant_id": 1, "to": "a@x.org"},
        {"message_id": 7, "tenant_id": 1, "to": ["a@x.org", ""]},
        {"message_id": 7, "tenant_id": 1, "to": ["a@x.org"], "mail_from": 5},
    ],
)
def test_release_request_refuses_bad_payloads(payload: dict[str, Any]) -> None:
    with pytest.raises(PermanentJobError):
        ReleaseRequest.from_payload(payload)


def test_a_bad_allow_rule_is_a_startup_error(tmp_path: Any) -> None:
    settings = Settings(storage_dir=tmp_path, release_allowed_recipients="([unclosed")
    with pytest.raises(ConfigError, match="POSTROOM_RELEASE_ALLOWED_RECIPIENTS"):
        make_release_handler(settings, messages=None)  # type: ignore[arg-type]
