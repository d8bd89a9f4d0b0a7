"""A local Amazon SES v2 ``SendEmail`` endpoint that checks the AWS Signature Version 4 it receives.

The signature is recomputed here from the request exactly as it arrived (method, path, query,
the headers it names as signed, the SHA-256 of the body) and the secret key, following AWS's
documented steps; errors come back the way SES sends them (``x-amzn-ErrorType`` + JSON message).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import FakeServer, Received, json_response

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)


def ses_error(status: int, kind: str, message: str) -> Response:
    return json_response(status, {"message": message}, {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/"})


class FakeSes(FakeServer):
    def __init__(self, *, access_key_id: str, secret_access_key: str, region: str, session_token: str = "") -> None:
        super().__init__()
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.region = region
        self.session_token = session_token

    def routes(self) -> list[Route]:
        return [Route("/v2/email/outbound-emails", self.send_email, methods=["POST"])]

    def _expected_signature(self, received: Received, date: str, amz_date: str, signed: list[str]) -> str:
        lowered = {name.lower(): value for name, value in received.headers.items()}
        canonical = "\n".join(
            [
                received.method,
                quote(received.path, safe="/-_.~"),
                "&".join(
                    f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(parse_qsl(received.query))
                ),
                "".join(f"{name}:{' '.join(lowered.get(name, '').split())}\n" for name in signed),
                ";".join(signed),
                hashlib.sha256(received.body).hexdigest(),
            ]
        )
        scope = f"{date}/{self.region}/ses/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = ("AWS4" + self.secret_access_key).encode()
        for part in (date, self.region, "ses", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()

    def check_signature(self, received: Received) -> str | None:
        """None when the request is signed correctly, otherwise what is wrong."""
        match = _AUTH.fullmatch(received.headers.get("authorization", ""))
        if match is None:
            return "the Authorization header is not an AWS4-HMAC-SHA256 signature"
        if match["key"] != self.access_key_id:
            return "The security token included in the request is invalid."
        amz_date = received.headers.get("x-amz-date", "")
        if not amz_date.startswith(match["date"]) or match["region"] != self.region or match["service"] != "ses":
            return "Credential should be scoped to a valid region, service and date."
        signed = match["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return "host and x-amz-date must be signed"
        if self.session_token and (
            "x-amz-security-token" not in signed or received.headers.get("x-amz-security-token") != self.session_token
        ):
            return "The security token included in the request is invalid."
        moment = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if abs((datetime.now(UTC) - moment).total_seconds()) > 300:
            return "Signature expired"
        expected = self._expected_signature(received, match["date"], amz_date, signed)
        if not hmac.compare_digest(expected, match["signature"]):
            return "The request signature we calculated does not match the signature you provided."
        return None

    async def send_email(self, request: Request) -> Response:
        received = await self.record(request)
        problem = self.check_signature(received)
        if problem is not None:
            kind = "UnrecognizedClientException" if "security token" in problem else "InvalidSignatureException"
            return ses_error(403, kind, problem)
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        try:
            body = received.json()
            raw = base64.b64decode(body["Content"]["Raw"]["Data"], validate=True)
            recipients = body["Destination"]["ToAddresses"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            return ses_error(400, "BadRequestException", "Content.Raw.Data and Destination.ToAddresses are required")
        if not raw or not recipients:
            return ses_error(400, "BadRequestException", "the raw message and a destination are required")
        for tag in body.get("EmailTags", []):
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(tag.get("Value", ""))):
                return ses_error(400, "BadRequestException", "Invalid tag value")
        self.issued_ids.append(f"0100{uuid.uuid4().hex}-000000")
        return json_response(200, {"MessageId": self.issued_ids[-1]})
