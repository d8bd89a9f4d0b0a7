"""Checks on what a client asks to send: addresses and header values."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import getaddresses

from email_validator import EmailNotValidError, validate_email

MAX_HEADER_VALUE = 998


class SendInputError(ValueError):
    """A field of a send request is invalid; ``field`` names it for the problem+json answer."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Mailbox:
    address: str  # normalised addr-spec
    domain: str
    display: str  # as the client wrote it, for the header

    @property
    def header(self) -> str:
        return self.display or self.address


def no_line_breaks(field: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise SendInputError(field, "must not contain CR or LF (header injection)")
    return value


def check_header(name: str, value: str) -> None:
    field = f"headers.{name}"
    if not name or not name.isascii() or any(c in name for c in ":\r\n \t") or not name.isprintable():
        raise SendInputError(field, "is not a valid header name")
    no_line_breaks(field, value)
    if len(value) > MAX_HEADER_VALUE:
        raise SendInputError(field, f"is longer than {MAX_HEADER_VALUE} characters")


class AddressChecker:
    """email-validator without DNS; test domains (``.test``) are allowed outside production."""

    def __init__(self, *, production: bool) -> None:
        self.production = production

    def mailbox(self, field: str, value: str) -> Mailbox:
        no_line_breaks(field, value)
        pairs = getaddresses([value])
        if len(pairs) != 1 or not pairs[0][1]:
            raise SendInputError(field, f"{value!r} is not one email address")
        name, addr = pairs[0]
        try:
            checked = validate_email(
                addr,
                check_deliverability=False,
                test_environment=not self.production,
                allow_smtputf8=True,
            )
        except EmailNotValidError as exc:
            raise SendInputError(field, f"{addr!r}: {exc}") from exc
        display = value.strip() if name else ""
        return Mailbox(address=checked.normalized, domain=checked.domain.lower(), display=display)

    def address_or_none(self, value: str) -> Mailbox | None:
        try:
            return self.mailbox("to", value)
        except SendInputError:
            return None
