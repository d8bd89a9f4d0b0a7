"""Amazon SES v2 ``SendEmail`` with raw content, signed with AWS Signature Version 4.

The raw message goes as is (DKIM signature included) to exactly one destination address;
our reference rides along as the ``postroom-reference`` email tag, which SES copies into
every event it publishes for the message.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

import httpx

from postroom.send.providers import options as opts
from postroom.send.providers.http import DEFAULT_TIMEOUT, ProviderClient, describe, raise_for_answer
from postroom.send.providers.sigv4 import Credentials, sign
from postroom.send.transport import DeliveryBounced, DeliveryDeferred, DeliveryResult, OutboundMessage

SEND_PATH = "/v2/email/outbound-emails"
REFERENCE_TAG = "postroom-reference"
# SES tag values may hold only these characters (at most 256 of them).
_TAG_VALUE = re.compile(r"[A-Za-z0-9_\-]{1,256}")
# Errors that are about this message or recipient; every other SES error is retried.
_BOUNCE_ERRORS = frozenset({"MessageRejected", "BadRequestException", "InvalidParameterValue"})


def endpoint_for(region: str) -> str:
    return f"https://email.{region}.amazonaws.com"


def _error_type(response: httpx.Response) -> str:
    header = response.headers.get("x-amzn-ErrorType", "")
    if header:
        return str(header).split(":", 1)[0]
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        kind = body.get("__type") or body.get("code") or body.get("Code") or ""
        return str(kind).rsplit("#", 1)[-1]
    return ""


def _raise_for_ses_answer(response: httpx.Response) -> None:
    status = response.status_code
    if status >= 400 and status not in (401, 403):
        error = _error_type(response)
        if error in _BOUNCE_ERRORS:
            raise DeliveryBounced(f"SES rejected the message ({error}): {describe(response)}", status)
        raise DeliveryDeferred(f"SES answered {error or 'an error'}: {describe(response)}", status)
    raise_for_answer("SES", response)


class SesTransport:
    name = "ses"

    def __init__(
        self,
        *,
        region: str,
        credentials: Credentials,
        endpoint_url: str | None = None,
        configuration_set: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.region = region
        self.credentials = credentials
        self.configuration_set = configuration_set
        self._http = ProviderClient("SES", endpoint_url or endpoint_for(region), timeout=timeout)

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> SesTransport:
        region = opts.required(options, "ses", "region")
        return cls(
            region=region,
            credentials=Credentials(
                access_key_id=opts.required(options, "ses", "access_key_id"),
                secret_access_key=opts.required(options, "ses", "secret_access_key"),
                session_token=opts.optional(options, "session_token") or None,
            ),
            endpoint_url=opts.optional(options, "endpoint_url") or None,
            configuration_set=opts.optional(options, "configuration_set") or None,
            timeout=opts.timeout(options, "ses"),
        )

    def request_body(self, message: OutboundMessage) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Destination": {"ToAddresses": [message.recipient]},
            "Content": {"Raw": {"Data": base64.b64encode(message.raw).decode("ascii")}},
        }
        if _TAG_VALUE.fullmatch(message.reference):
            body["EmailTags"] = [{"Name": REFERENCE_TAG, "Value": message.reference}]
        if self.configuration_set:
            body["ConfigurationSetName"] = self.configuration_set
        return body

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        payload = json.dumps(self.request_body(message)).encode()
        url = self._http.base_url + SEND_PATH
        headers = sign(
            "POST",
            url,
            {"Content-Type": "application/json"},
            payload,
            credentials=self.credentials,
            region=self.region,
            service="ses",
        )
        response = await self._http.post(SEND_PATH, content=payload, headers=headers)
        _raise_for_ses_answer(response)
        try:
            message_id: str | None = str(response.json()["MessageId"])
        except (ValueError, KeyError, TypeError):
            message_id = None  # taken all the same: retrying would send it twice
        return DeliveryResult(response=f"{response.status_code} MessageId {message_id}", provider_message_id=message_id)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    async def close(self) -> None:
        await self._http.close()
