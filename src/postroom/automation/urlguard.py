"""Keeps webhook requests away from the server's own network (SSRF).

A URL is refused unless it is http(s) and every address its host resolves to is a
public unicast address. IPv4 addresses hidden inside IPv6 ones (IPv4-mapped,
6to4, NAT64) are unwrapped first. The check runs when an endpoint is saved and
again before each delivery, and the delivery then connects to the very address
that was checked, so a DNS answer that changes in between cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["ResolvedUrl", "UnresolvableHost", "UnsafeUrl", "check_address", "check_url_syntax", "resolve_url"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
MAX_URL_LENGTH = 2000
RESOLVE_TIMEOUT_SECONDS = 5.0


class UnsafeUrl(ValueError):
    """The URL may not be called (scheme, syntax, or a non-public address)."""


class UnresolvableHost(Exception):
    """The host name does not resolve now (it may later: DNS is down or not set up yet)."""


@dataclass(frozen=True)
class ResolvedUrl:
    url: str
    scheme: str
    host: str  # as written, without brackets
    port: int
    addresses: tuple[str, ...]  # every checked address, in resolver order
    resolved: bool  # False when the name did not resolve (only allowed when saving)


def check_url_syntax(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a well-formed http(s) URL, or ``UnsafeUrl``."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("only http and https URLs are allowed")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("the URL has no host")
    return scheme, host, port or (443 if scheme == "https" else 80)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def check_address(text: str) -> None:
    """Raise ``UnsafeUrl`` unless ``text`` is a public unicast IP address."""
    address: IPAddress = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            check_address(str(inner))
    if (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    ):
        raise UnsafeUrl(f"the address {address} is not public")


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


async def resolve_url(url: str, *, allow_private: bool, require_resolution: bool) -> ResolvedUrl:
    """Check ``url`` and the addresses its host has now.

    A host that does not resolve is an error (``UnresolvableHost``) only with
    ``require_resolution``: an endpoint may be saved before its DNS exists, but
    nothing is sent to it then.
    """
    scheme, host, port = check_url_syntax(url)
    literal = _literal(host)
    if literal is not None:
        addresses: tuple[str, ...] = (literal,)
    else:
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, TimeoutError) as exc:
            if require_resolution:
                raise UnresolvableHost(f"the host {host} does not resolve: {exc or 'timed out'}") from exc
            return ResolvedUrl(url, scheme, host, port, (), resolved=False)
        addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            check_address(address)
    return ResolvedUrl(url, scheme, host, port, addresses, resolved=True)
