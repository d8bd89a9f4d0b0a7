"""Sending domains: DKIM keys (generated, rotated, encrypted at rest), the DNS records to
publish, SPF/DKIM/DMARC checks, and the signer the delivery worker uses.

Rotation adds a key under a new selector and makes it the signing key; earlier keys stay
listed (inactive) so their DNS records can be removed once no mail signed with them is
in flight.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from postroom.config import Settings
from postroom.core.crypto import SecretBox
from postroom.mime.dkim import DkimKey, generate_key, load_key, sign_message
from postroom.send.dns_checks import DnsChecker, SpfExpectation
from postroom.send.models import SendingDomain
from postroom.send.render import Signer
from postroom.send.validation import SendInputError
from postroom.store.types import utcnow

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
SIGNER_TTL_SECONDS = 30.0


class DomainNotFound(LookupError):
    pass


def _selector() -> str:
    return f"pr{datetime.now(UTC):%Y%m}{secrets.token_hex(2)}"


class DomainService:
    def __init__(self, engine: AsyncEngine, settings: Settings, box: SecretBox) -> None:
        self.engine = engine
        self.settings = settings
        self.box = box
        self._signers: dict[tuple[int, str], tuple[float, Signer | None]] = {}

    @staticmethod
    def _clean(domain: str) -> str:
        cleaned = domain.strip().lower().rstrip(".")
        if not DOMAIN.match(cleaned):
            raise SendInputError("domain", f"{domain!r} is not a domain name")
        return cleaned

    def _key_json(self, row: Any) -> dict[str, Any]:
        key = load_key(row.domain, row.selector, self.box.decrypt(row.private_key))
        return {
            "selector": row.selector,
            "algorithm": key.algorithm,
            "active": row.active,
            "created_at": row.created_at.isoformat(),
            "dns": {"type": "TXT", "name": key.dns_name, "value": key.dns_value, "zone_line": key.zone_line},
        }

    async def _store(self, tenant_id: int, key: DkimKey) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(SendingDomain)
                .where(SendingDomain.tenant_id == tenant_id, SendingDomain.domain == key.domain)
                .values(active=False)
            )
            await conn.execute(
                insert(SendingDomain).values(
                    tenant_id=tenant_id,
                    domain=key.domain,
                    selector=key.selector,
                    private_key=self.box.encrypt(key.private_key),
                    public_record=key.dns_value,
                    active=True,
                    created_at=utcnow(),
                )
            )
        self._signers.pop((tenant_id, key.domain), None)

    async def add(self, tenant_id: int, domain: str, algorithm: str | None = None) -> dict[str, Any]:
        cleaned = self._clean(domain)
        async with self.engine.connect() as conn:
            exists = await conn.scalar(
                select(SendingDomain.id).where(SendingDomain.tenant_id == tenant_id, SendingDomain.domain == cleaned)
            )
        if exists is not None:
            return await self.get(tenant_id, cleaned)
        await self._store(tenant_id, generate_key(cleaned, _selector(), algorithm or self.settings.dkim_algorithm))
        return await self.get(tenant_id, cleaned)

    async def rotate(self, tenant_id: int, domain: str, algorithm: str | None = None) -> dict[str, Any]:
        cleaned = self._clean(domain)
        current = await self.get(tenant_id, cleaned)
        previous = current["keys"][0]["algorithm"] if current["keys"] else self.settings.dkim_algorithm
        await self._store(tenant_id, generate_key(cleaned, _selector(), algorithm or previous))
        return await self.get(tenant_id, cleaned)

    async def get(self, tenant_id: int, domain: str) -> dict[str, Any]:
        cleaned = self._clean(domain)
        async with self.engine.connect() as conn:
            rows = list(
                await conn.execute(
                    select(SendingDomain)
                    .where(SendingDomain.tenant_id == tenant_id, SendingDomain.domain == cleaned)
                    .order_by(SendingDomain.active.desc(), SendingDomain.id.desc())
                )
            )
        if not rows:
            raise DomainNotFound("no such sending domain")
        return {"domain": cleaned, "keys": [self._key_json(r) for r in rows]}

    async def listing(self, tenant_id: int) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            domains = [
                d
                for (d,) in await conn.execute(
                    select(SendingDomain.domain)
                    .where(SendingDomain.tenant_id == tenant_id)
                    .distinct()
                    .order_by(SendingDomain.domain)
                )
            ]
        return [await self.get(tenant_id, d) for d in domains]

    async def remove(self, tenant_id: int, domain: str) -> None:
        cleaned = self._clean(domain)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(SendingDomain).where(SendingDomain.tenant_id == tenant_id, SendingDomain.domain == cleaned)
            )
        if not result.rowcount:
            raise DomainNotFound("no such sending domain")
        self._signers.pop((tenant_id, cleaned), None)

    async def check(self, tenant_id: int, domain: str) -> dict[str, Any]:
        """Look the domain's SPF, DKIM (the active key) and DMARC records up and say what to publish."""
        info = await self.get(tenant_id, domain)
        active = next((k for k in info["keys"] if k["active"]), info["keys"][0])
        public = active["dns"]["value"].rpartition("p=")[2]
        checker = DnsChecker(self.settings.dns_servers or None, port=self.settings.dns_port)
        report = await checker.check_domain(
            info["domain"],
            spf=SpfExpectation(include=self.settings.spf_include or None, ip4=tuple(self.settings.spf_ip4)),
            dkim_selector=active["selector"],
            dkim_public_key=public,
            dkim_algorithm=active["algorithm"],
        )
        return {
            "domain": info["domain"],
            "ok": report.ok,
            "records": [
                {**asdict(check), "status": check.status.value} for check in (report.spf, report.dkim, report.dmarc)
            ],
        }

    async def signer_for(self, tenant_id: int, domain: str) -> Signer | None:
        """A function that DKIM-signs with the domain's active key (None when it has none)."""
        cached = self._signers.get((tenant_id, domain))
        if cached is not None and time.monotonic() - cached[0] < SIGNER_TTL_SECONDS:
            return cached[1]
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(SendingDomain.selector, SendingDomain.private_key).where(
                        SendingDomain.tenant_id == tenant_id,
                        SendingDomain.domain == domain,
                        SendingDomain.active.is_(True),
                    )
                )
            ).first()
        signer: Signer | None = None
        if row is not None:
            key = load_key(domain, row.selector, self.box.decrypt(row.private_key))

            def signer(raw: bytes, key: DkimKey = key) -> bytes:
                return sign_message(raw, key)

        self._signers[(tenant_id, domain)] = (time.monotonic(), signer)
        return signer
