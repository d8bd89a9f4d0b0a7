from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from postroom.capture.tls import ensure_self_signed, server_context
from postroom.config import ConfigError, Settings


def _names(path: Path) -> tuple[list[str], list[str]]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return names.get_values_for_type(x509.DNSName), [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]


def test_self_signed_certificate_names_host_localhost_and_loopback(tmp_path: Path) -> None:
    path = ensure_self_signed(tmp_path / "tls", "mail.test")
    dns, ips = _names(path)
    assert dns == ["mail.test", "localhost"]
    assert ipaddress.ip_address("127.0.0.1") in {ipaddress.ip_address(ip) for ip in ips}
    assert path.stat().st_mode & 0o077 == 0  # the key is in there


def test_self_signed_certificate_is_made_once_and_reused(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path, "mail.test").read_bytes()
    assert ensure_self_signed(tmp_path, "mail.test").read_bytes() == first
    assert ensure_self_signed(tmp_path, "other.test").read_bytes() != first  # the hostname changed


def test_server_context_uses_the_generated_certificate(tmp_path: Path) -> None:
    settings = Settings(storage_dir=tmp_path, smtp_hostname="mail.test")
    context = server_context(settings)
    assert isinstance(context, ssl.SSLContext)
    assert (tmp_path / "tls" / "smtp.pem").is_file()


def test_server_context_needs_both_cert_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="POSTROOM_SMTP_TLS_KEY"):
        server_context(Settings(storage_dir=tmp_path, smtp_tls_cert=tmp_path / "cert.pem"))


def test_server_context_loads_a_configured_pair(tmp_path: Path) -> None:
    pem = ensure_self_signed(tmp_path / "elsewhere", "given.test")
    settings = Settings(storage_dir=tmp_path / "data", smtp_tls_cert=pem, smtp_tls_key=pem)
    server_context(settings)
    assert not (tmp_path / "data" / "tls").exists()


def test_server_context_reports_an_unreadable_certificate(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(ConfigError, match="cannot load"):
        server_context(Settings(storage_dir=tmp_path, smtp_tls_cert=bogus, smtp_tls_key=bogus))
