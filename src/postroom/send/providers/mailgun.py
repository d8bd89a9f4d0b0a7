"""Mailgun ``POST /v3/{domain}/messages.mime``: the raw MIME as is, to one recipient.

Our reference travels as the user variable ``v:postroom-reference``, which Mailgun puts
into ``event-data.user-variables`` of every event of the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from postroom.send.providers import options as opts
from postroom.send.providers.http import DEFAULT_TIMEOUT, ProviderClient, raise_for_answer
from postroom.send.transport import DeliveryResult, OutboundMessage

US_BASE_URL = "https://api.mailgun.net"
EU_BASE_URL = "https://api.eu.mailgun.net"
REFERENCE_VARIABLE = "postroom-reference"
MAX_TAGS = 3


class MailgunTransport:
    name = "mailgun"

    def __init__(
        self, *, api_key: str, domain: str, base_url: str = US_BASE_URL, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.domain = domain
        self.path = f"/v3/{quote(domain, safe='')}/messages.mime"
        self._http = ProviderClient("Mailgun", base_url, timeout=timeout, auth=("api", api_key))

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> MailgunTransport:
        region = opts.optional(options, "region", "us").lower()
        if region not in {"us", "eu"}:
            raise ValueError(f"the mailgun option 'region' must be 'us' or 'eu', not {region!r}")
        return cls(
            api_key=opts.required(options, "mailgun", "api_key"),
            domain=opts.required(options, "mailgun", "domain"),
            base_url=opts.optional(options, "base_url", EU_BASE_URL if region == "eu" else US_BASE_URL),
            timeout=opts.timeout(options, "mailgun"),
        )

    def form_fields(self, message: OutboundMessage) -> dict[str, str | list[str]]:
        fields: dict[str, str | list[str]] = {
            "to": message.recipient,
            f"v:{REFERENCE_VARIABLE}": message.reference,
        }
        if message.tags:
            fields["o:tag"] = list(dict.fromkeys(message.tags))[:MAX_TAGS]
        return fields

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        response = await self._http.post(
            self.path,
            data=self.form_fields(message),
            files={"message": ("message.mime", message.raw, "message/rfc822")},
        )
        raise_for_answer("Mailgun", response)
        try:
            answer = response.json()
            raw_id = str(answer.get("id") or "")
            text = str(answer.get("message") or "Queued")
        except (ValueError, AttributeError):
            raw_id, text = "", response.text.strip()
        # Mailgun's webhooks carry the Message-ID without angle brackets.
        message_id = raw_id.strip("<>") or None
        return DeliveryResult(response=f"{response.status_code} {text}", provider_message_id=message_id)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    async def close(self) -> None:
        await self._http.close()
