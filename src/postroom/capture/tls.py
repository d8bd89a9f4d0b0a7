"""TLS for the capture server: the configured certificate, or a self-signed one made once.

Without ``POSTROOM_SMTP_TLS_CERT``/``_KEY`` a certificate for the SMTP hostname,
localhost and 127.0.0.1 is generated under ``STORAGE_DIR/tls/`` and reused on later
starts (made again when it expires or no longer names the hostname).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from postroom.config import ConfigError, Settings

__all__ = ["PEM_NAME", "ensure_self_signed", "server_context"]

# Certificate and key share one file, so replicas starting together can never pair one
# process's key with another's certificate.
PEM_NAME = "smtp.pem"
VALID_DAYS = 825
RENEW_BEFORE = dt.timedelta(days=30)
LOOPBACK_NAMES = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1", "::1")


def server_context(settings: Settings) -> ssl.SSLContext:
    """The server-side SSL context for STARTTLS or implicit TLS."""
    cert, key = settings.smtp_tls_cert, settings.smtp_tls_key
    if (cert is None) != (key is None):
        raise ConfigError("set both POSTROOM_SMTP_TLS_CERT and POSTROOM_SMTP_TLS_KEY, or neither")
    if cert is None or key is None:
        cert = key = ensure_self_signed(settings.storage_dir / "tls", settings.smtp_hostname)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the SMTP TLS certificate {cert} / key {key}: {exc}") from exc
    return context


def ensure_self_signed(folder: Path, hostname: str) -> Path:
    """Path of a PEM file holding a usable self-signed certificate and its key, made if needed."""
    path = folder / PEM_NAME
    if _still_good(path, hostname):
        return path
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = _certificate(key, hostname).public_bytes(serialization.Encoding.PEM)
    _write_atomically(path, cert_pem + key_pem)
    return path


def _names(hostname: str) -> list[x509.GeneralName]:
    dns = dict.fromkeys([hostname, *LOOPBACK_NAMES])
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in LOOPBACK_IPS]
    return names


def _certificate(key: ec.EllipticCurvePrivateKey, hostname: str) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(hostname)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def _still_good(cert_path: Path, hostname: str) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    fresh = cert.not_valid_after_utc - RENEW_BEFORE > dt.datetime.now(dt.UTC)
    return fresh and hostname in names.get_values_for_type(x509.DNSName)


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temp, path)
