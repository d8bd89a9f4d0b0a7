"""A local SendGrid v3 ``/v3/mail/send`` that checks the Bearer key and the documented required fields,
and signs Event Webhook deliveries the way SendGrid does (ECDSA P-256 over timestamp + body)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import FakeServer, json_response


def sendgrid_error(status: int, message: str, field: str | None = None) -> Response:
    return json_response(status, {"errors": [{"message": message, "field": field, "help": None}]})


def _problems(body: Any) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not isinstance(body, dict):
        return [("The request body is not JSON.", "")]
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        problems.append(("The personalizations field is required.", "personalizations"))
    else:
        for item in personalizations:
            to = item.get("to") if isinstance(item, dict) else None
            if not to or not all(isinstance(t, dict) and "@" in str(t.get("email", "")) for t in to):
                problems.append(("Each personalization needs valid to addresses.", "personalizations.0.to"))
    if "@" not in str((body.get("from") or {}).get("email", "")):
        problems.append(("The from object must be provided for every email send.", "from.email"))
    if not body.get("subject"):
        problems.append(("The subject is required.", "subject"))
    content = body.get("content")
    if not content or not all(isinstance(c, dict) and c.get("type") and c.get("value") for c in content):
        problems.append(("Unless a valid template_id is provided, the content parameter is required.", "content"))
    elif content[0]["type"] != "text/plain" and any(c["type"] == "text/plain" for c in content):
        problems.append(("If present, text/plain must be first.", "content"))
    for attachment in body.get("attachments", []):
        if attachment.get("disposition") not in ("inline", "attachment") or not attachment.get("filename"):
            problems.append(("Attachments need a filename and disposition.", "attachments"))
        if attachment.get("disposition") == "inline" and not attachment.get("content_id"):
            problems.append(("Inline attachments need a content_id.", "attachments.content_id"))
        try:
            base64.b64decode(attachment.get("content", ""), validate=True)
        except ValueError:
            problems.append(("Attachment content must be base64.", "attachments.content"))
    for name, value in (body.get("custom_args") or {}).items():
        if not isinstance(value, str):
            problems.append((f"custom_args {name} must be a string.", "custom_args"))
    return problems


class FakeSendGrid(FakeServer):
    def __init__(self, *, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key

    def routes(self) -> list[Route]:
        return [Route("/v3/mail/send", self.mail_send, methods=["POST"])]

    async def mail_send(self, request: Request) -> Response:
        received = await self.record(request)
        if received.headers.get("authorization") != f"Bearer {self.api_key}":
            return sendgrid_error(401, "The provided authorization grant is invalid, expired, or revoked")
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        try:
            problems = _problems(received.json())
        except ValueError:
            problems = [("The request body is not valid JSON.", "")]
        if problems:
            return json_response(
                400, {"errors": [{"message": message, "field": field, "help": None} for message, field in problems]}
            )
        self.issued_ids.append(uuid.uuid4().hex[:22])
        return Response(status_code=202, headers={"X-Message-Id": self.issued_ids[-1]})


class SendGridWebhookSigner:
    """Holds a P-256 key pair, as SendGrid does for a signed Event Webhook."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key(self) -> str:
        """Base64 DER, the form SendGrid shows in its mail settings."""
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def sign(self, body: bytes, timestamp: int) -> dict[str, str]:
        signature = self._key.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": str(timestamp),
            "Content-Type": "application/json",
        }

    def delivery(self, events: list[dict[str, Any]], timestamp: int) -> tuple[dict[str, str], bytes]:
        body = json.dumps(events).encode()
        return self.sign(body, timestamp), body
