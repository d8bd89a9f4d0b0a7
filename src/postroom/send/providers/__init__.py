"""HTTP email providers, each a ``Transport``: SES, SendGrid, Mailgun and MailerSend.

``build_provider`` makes one from a plain dict of options (the tenant's stored, decrypted
settings or ``Settings.provider_options``):

ses         region, access_key_id, secret_access_key; session_token, endpoint_url, configuration_set
sendgrid    api_key; base_url
mailgun     api_key, domain; region (us|eu), base_url
mailersend  api_key; base_url, send_headers (true to send custom headers, a paid-plan feature)
every one   timeout (seconds, default 30)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from postroom.send.providers.mailersend import MailerSendTransport
from postroom.send.providers.mailgun import MailgunTransport
from postroom.send.providers.sendgrid import SendGridTransport
from postroom.send.providers.ses import SesTransport
from postroom.send.transport import Transport

__all__ = [
    "PROVIDERS",
    "MailerSendTransport",
    "MailgunTransport",
    "SendGridTransport",
    "SesTransport",
    "build_provider",
]

PROVIDERS: dict[str, Callable[[Mapping[str, str]], Transport]] = {
    "ses": SesTransport.from_options,
    "sendgrid": SendGridTransport.from_options,
    "mailgun": MailgunTransport.from_options,
    "mailersend": MailerSendTransport.from_options,
}


def build_provider(name: str, options: Mapping[str, str]) -> Transport:
    """A transport for ``name``; a ValueError names the unknown provider or the missing option."""
    factory = PROVIDERS.get(name.strip().lower())
    if factory is None:
        raise ValueError(f"unknown email provider {name!r}; expected one of {', '.join(sorted(PROVIDERS))}")
    return factory(options)
