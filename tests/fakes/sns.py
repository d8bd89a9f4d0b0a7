"""Amazon SNS as seen by an HTTPS subscriber: signed messages, and the signing certificate served
over HTTPS (self-signed for 127.0.0.1) at the ``SigningCertURL`` the messages name.

The signature is SHA1withRSA (SignatureVersion 1) or SHA256withRSA (2) over SNS's documented
canonical string, made with a test RSA key whose certificate this server hands out.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import ssl
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import FakeServer

TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:postroom-ses-events"
CERT_PATH = "/SimpleNotificationService-0000000000000000000000.pem"
_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def fresh_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _default_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """One signing and one TLS key per test process: generating RSA keys is the slow part."""
    return fresh_rsa_key(), fresh_rsa_key()


def self_signed(key: rsa.RSAPrivateKey, name: str, *, ip: str | None = None) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
    )
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        ).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


class FakeSns(FakeServer):
    """Serves the signing certificate and the SubscribeURL over HTTPS, and signs SNS messages."""

    def __init__(self, *, signing_key: rsa.RSAPrivateKey | None = None) -> None:
        super().__init__()
        default_signing, self._tls_key = _default_keys()
        self._signing_key = signing_key or default_signing
        self.signing_certificate = self_signed(self._signing_key, "sns.eu-west-1.amazonaws.com")
        self._tls_certificate = self_signed(self._tls_key, "127.0.0.1", ip="127.0.0.1")
        self.confirmed: list[str] = []

    def routes(self) -> list[Route]:
        return [
            Route(CERT_PATH, self.certificate),
            Route("/", self.confirm_subscription),
        ]

    async def certificate(self, request: Request) -> Response:
        await self.record(request)
        return Response(_pem(self.signing_certificate), media_type="application/x-pem-file")

    async def confirm_subscription(self, request: Request) -> Response:
        await self.record(request)
        if request.query_params.get("Action") != "ConfirmSubscription":
            return Response("unknown action", status_code=400)
        self.confirmed.append(request.query_params.get("Token", ""))
        return Response("<ConfirmSubscriptionResponse/>", media_type="text/xml")

    async def start_https(self, folder: Path) -> None:
        certfile, keyfile = folder / "sns-tls.pem", folder / "sns-tls.key"
        certfile.write_bytes(_pem(self._tls_certificate))
        keyfile.write_bytes(
            self._tls_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        await self.start(certfile=certfile, keyfile=keyfile)

    def client_context(self) -> ssl.SSLContext:
        """A TLS client context that trusts this server's self-signed certificate."""
        return ssl.create_default_context(cadata=_pem(self._tls_certificate).decode())

    @property
    def cert_url(self) -> str:
        return f"{self.base_url}{CERT_PATH}"

    def sign(self, message: dict[str, Any], *, version: int = 1, cert_url: str | None = None) -> dict[str, Any]:
        signed = dict(message)
        signed["SignatureVersion"] = str(version)
        signed["SigningCertURL"] = cert_url or self.cert_url
        canonical = "".join(
            f"{name}\n{signed[name]}\n" for name in _SIGNED[signed["Type"]] if signed.get(name) is not None
        )
        algorithm = hashes.SHA1() if version == 1 else hashes.SHA256()
        signature = self._signing_key.sign(canonical.encode(), padding.PKCS1v15(), algorithm)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed

    def notification(
        self,
        record: dict[str, Any] | str,
        *,
        timestamp: datetime,
        version: int = 1,
        subject: str | None = None,
        cert_url: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        message: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": TOPIC_ARN,
            "Message": record if isinstance(record, str) else json.dumps(record),
            "Timestamp": timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "UnsubscribeURL": f"{self.base_url}/?Action=Unsubscribe&SubscriptionArn={TOPIC_ARN}:1",
        }
        if subject is not None:
            message["Subject"] = subject
        body = json.dumps(self.sign(message, version=version, cert_url=cert_url)).encode()
        return self.headers("Notification"), body

    def subscription_confirmation(self, *, timestamp: datetime, version: int = 1) -> tuple[dict[str, str], bytes]:
        token = uuid.uuid4().hex
        message = {
            "Type": "SubscriptionConfirmation",
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": TOPIC_ARN,
            "Message": f"You have chosen to subscribe to the topic {TOPIC_ARN}.",
            "SubscribeURL": f"{self.base_url}/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token={token}",
            "Timestamp": timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        body = json.dumps(self.sign(message, version=version)).encode()
        return self.headers("SubscriptionConfirmation"), body

    @staticmethod
    def headers(kind: str) -> dict[str, str]:
        return {
            "x-amz-sns-message-type": kind,
            "x-amz-sns-topic-arn": TOPIC_ARN,
            "Content-Type": "text/plain; charset=UTF-8",
        }
