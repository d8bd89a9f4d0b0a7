"""A local Mailgun ``/v3/{domain}/messages.mime`` that checks basic auth ``api:KEY``, the domain and
the multipart fields, and signs webhook deliveries (HMAC-SHA256 over timestamp + token)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import FakeServer, json_response


class FakeMailgun(FakeServer):
    def __init__(self, *, api_key: str, domain: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.domain = domain

    def routes(self) -> list[Route]:
        return [Route("/v3/{domain}/messages.mime", self.messages_mime, methods=["POST"])]

    async def messages_mime(self, request: Request) -> Response:
        received = await self.record(request, form=True)
        expected = "Basic " + base64.b64encode(f"api:{self.api_key}".encode()).decode()
        if received.headers.get("authorization") != expected:
            return Response("Forbidden", status_code=401)
        if request.path_params["domain"] != self.domain:
            return json_response(404, {"message": f"Domain not found: {request.path_params['domain']}"})
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        if not received.headers.get("content-type", "").startswith("multipart/form-data"):
            return json_response(400, {"message": "messages.mime needs multipart/form-data"})
        if not received.form.get("to"):
            return json_response(400, {"message": "to parameter is missing"})
        message = received.form.get("message", [])
        if len(message) != 1 or not isinstance(message[0], tuple) or not message[0][2]:
            return json_response(400, {"message": "message parameter is missing"})
        if len(received.form.get("o:tag", [])) > 3:
            return json_response(400, {"message": "too many tags"})
        self.issued_ids.append(f"{uuid.uuid4().hex}@{self.domain}")
        return json_response(200, {"id": f"<{self.issued_ids[-1]}>", "message": "Queued. Thank you."})


def mailgun_signature(signing_key: str, timestamp: str, token: str) -> str:
    return hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def mailgun_delivery(
    signing_key: str, event_data: dict[str, Any], timestamp: int, token: str | None = None
) -> tuple[dict[str, str], bytes]:
    """A webhook POST body as Mailgun sends it (JSON with ``signature`` and ``event-data``)."""
    token = token or secrets.token_hex(25)
    stamp = str(timestamp)
    body = {
        "signature": {"timestamp": stamp, "token": token, "signature": mailgun_signature(signing_key, stamp, token)},
        "event-data": event_data,
    }
    return {"Content-Type": "application/json"}, json.dumps(body).encode()
