"""A local MailerSend ``/v1/email`` that checks the Bearer token and the documented required fields
(422 with per-field errors, as MailerSend answers), and signs webhook deliveries (HMAC-SHA256 of the body)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import FakeServer, json_response


def _errors(body: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(body, dict):
        return {"body": ["The body must be a JSON object."]}
    if "@" not in str((body.get("from") or {}).get("email", "")):
        errors["from.email"] = ["The from.email must be verified."]
    to = body.get("to")
    if not isinstance(to, list) or not to or not all("@" in str(item.get("email", "")) for item in to):
        errors["to"] = ["The to field is required."]
    if not body.get("subject"):
        errors["subject"] = ["The subject field is required."]
    if not body.get("text") and not body.get("html"):
        errors["text"] = ["The text field is required when none of html / template id are present."]
    if len(body.get("tags", [])) > 5:
        errors["tags"] = ["The tags may not have more than 5 items."]
    for index, attachment in enumerate(body.get("attachments", [])):
        if attachment.get("disposition") not in ("inline", "attachment"):
            errors[f"attachments.{index}.disposition"] = ["The selected disposition is invalid."]
        if attachment.get("disposition") == "inline" and not attachment.get("id"):
            errors[f"attachments.{index}.id"] = ["The id is required for inline attachments."]
    for index, item in enumerate(body.get("headers", [])):
        if not isinstance(item, dict) or not item.get("name") or "value" not in item:
            errors[f"headers.{index}"] = ["Each header needs a name and a value."]
    return errors


class FakeMailerSend(FakeServer):
    def __init__(self, *, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key

    def routes(self) -> list[Route]:
        return [Route("/v1/email", self.email, methods=["POST"])]

    async def email(self, request: Request) -> Response:
        received = await self.record(request)
        if received.headers.get("authorization") != f"Bearer {self.api_key}":
            return json_response(401, {"message": "Unauthenticated."})
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        try:
            errors = _errors(received.json())
        except ValueError:
            errors = {"body": ["The body must be JSON."]}
        if errors:
            return json_response(422, {"message": "The given data was invalid.", "errors": errors})
        self.issued_ids.append(uuid.uuid4().hex[:24])
        return Response(status_code=202, headers={"X-Message-Id": self.issued_ids[-1]})


def mailersend_delivery(secret: str, payload: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Signature": signature, "Content-Type": "application/json"}, body
