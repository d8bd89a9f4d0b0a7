"""A tiny authoritative DNS server over UDP on loopback, built with dnspython's message API.

    async with DnsServer({"example.com": {"TXT": ['"v=spf1 -all"']}}) as server:
        resolver points at server.host, server.port

Records are given in zone-file text per (name, type); a name not in the zone answers NXDOMAIN,
a known name without the asked type answers NOERROR with no records. ``fail`` makes every
answer SERVFAIL, to test lookup errors.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import cast

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Zone = dict[str, dict[str, list[str]]]


def txt(value: str) -> str:
    """Zone-file text for a TXT record holding ``value``, cut into 255-character strings."""
    parts = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(self.server.answer(data), addr)


class DnsServer:
    def __init__(self, zone: Zone, host: str = "127.0.0.1") -> None:
        self.zone: dict[dns.name.Name, dict[str, list[str]]] = {}
        self.load(zone)
        self.host = host
        self.port = 0
        self.fail = False
        self.queries: list[tuple[str, str]] = []
        self._transport: asyncio.DatagramTransport | None = None

    def load(self, zone: Zone) -> None:
        """Replace the served records."""
        self.zone = {dns.name.from_text(name): records for name, records in zone.items()}

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        self.queries.append((question.name.to_text(), dns.rdatatype.to_text(question.rdtype)))
        if self.fail:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        records = self.zone.get(question.name)
        if records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response.to_wire()
        texts = records.get(dns.rdatatype.to_text(question.rdtype), [])
        if texts:
            rrset = dns.rrset.from_text_list(question.name, 300, dns.rdataclass.IN, question.rdtype, texts)
            response.answer.append(rrset)
        return response.to_wire(max_size=65535)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=(self.host, 0))
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def __aenter__(self) -> DnsServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
