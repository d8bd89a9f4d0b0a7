"""Which transport carries a delivery: per tenant and sender domain, else the server default.

A tenant may store a transport for one sender domain or for all its mail (credentials
encrypted at rest). Without one, ``EMAIL_PROVIDER`` decides: ``capture`` (into the
tenant's own inbox, the default), ``smtp`` (``SMTP_RELAY_*``) or one of
the HTTP providers with its options from the environment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from postroom.automation.urlguard import UnsafeUrl, resolve_url
from postroom.config import Settings
from postroom.core.crypto import SecretBox
from postroom.core.ingest import Ingestor
from postroom.send.models import TransportConfig
from postroom.send.transport import Transport
from postroom.send.transports.capture import CaptureTransport
from postroom.send.transports.smtp import SmtpOptions, SmtpTransport
from postroom.store.types import upsert_insert, utcnow

PROVIDERS = ("capture", "smtp", "ses", "sendgrid", "mailgun", "mailersend")
CONFIG_TTL_SECONDS = 30.0
SECRET_OPTION_WORDS = ("password", "secret", "key", "token")
URL_OPTIONS = ("base_url", "endpoint_url")


@dataclass(frozen=True)
class Route:
    provider: str
    options: Mapping[str, str]

    @property
    def cache_key(self) -> str:
        return self.provider + ":" + json.dumps(dict(self.options), sort_keys=True)


def smtp_options(settings: Settings, options: Mapping[str, str]) -> SmtpOptions:
    def pick(name: str, default: Any) -> Any:
        return options.get(name) or default

    tls = pick("tls", settings.smtp_relay_tls)
    if tls not in ("none", "starttls", "implicit"):
        raise ValueError(f"smtp option tls must be none, starttls or implicit, not {tls!r}")
    return SmtpOptions(
        host=pick("host", settings.smtp_relay_host),
        port=int(pick("port", settings.smtp_relay_port)),
        username=pick("username", settings.smtp_relay_username),
        password=pick("password", settings.smtp_relay_password),
        tls=tls,
        verify_tls=str(pick("verify_tls", settings.smtp_relay_verify_tls)).lower() not in ("false", "0", "no"),
        pool_size=int(pick("pool_size", settings.smtp_relay_pool_size)),
        timeout=float(pick("timeout", settings.smtp_relay_timeout)),
    )


def redact(options: Mapping[str, str]) -> dict[str, str]:
    return {k: ("********" if any(w in k.lower() for w in SECRET_OPTION_WORDS) else v) for k, v in options.items()}


class TransportRouter:
    def __init__(self, engine: AsyncEngine, settings: Settings, ingestor: Ingestor, box: SecretBox) -> None:
        self.engine = engine
        self.settings = settings
        self.ingestor = ingestor
        self.box = box
        self._configs: dict[int, tuple[float, dict[str, Route]]] = {}
        self._transports: dict[tuple[int, str], Transport] = {}

    @property
    def default_provider(self) -> str:
        return self.settings.email_provider

    def _default_route(self) -> Route:
        provider = self.default_provider
        options = self.settings.provider_options(provider) if provider not in ("capture", "smtp") else {}
        return Route(provider, options)

    async def _tenant_routes(self, tenant_id: int) -> dict[str, Route]:
        cached = self._configs.get(tenant_id)
        if cached and time.monotonic() - cached[0] < CONFIG_TTL_SECONDS:
            return cached[1]
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(TransportConfig.domain, TransportConfig.provider, TransportConfig.options).where(
                    TransportConfig.tenant_id == tenant_id
                )
            )
            routes = {domain: Route(provider, json.loads(self.box.decrypt(opts))) for domain, provider, opts in rows}
        self._configs[tenant_id] = (time.monotonic(), routes)
        return routes

    async def route(self, tenant_id: int, sender_domain: str) -> Route:
        routes = await self._tenant_routes(tenant_id)
        return routes.get(sender_domain.lower()) or routes.get("") or self._default_route()

    async def transport(self, tenant_id: int, sender_domain: str) -> Transport:
        route = await self.route(tenant_id, sender_domain)
        # Capture writes into the tenant's own inbox, so its instance is per tenant.
        key = (tenant_id if route.provider == "capture" else 0, route.cache_key)
        found = self._transports.get(key)
        if found is None:
            found = self._transports[key] = self.build(route, tenant_id)
        return found

    def build(self, route: Route, tenant_id: int) -> Transport:
        if route.provider == "capture":
            return CaptureTransport(self.ingestor, tenant_id)
        if route.provider == "smtp":
            return SmtpTransport(smtp_options(self.settings, route.options))
        from postroom.send.providers import build_provider

        return build_provider(route.provider, route.options)

    async def close(self) -> None:
        transports, self._transports = list(self._transports.values()), {}
        for transport in transports:
            await transport.close()

    # ---- stored configurations (the API) ------------------------------------------

    async def _check_destinations(self, provider: str, options: Mapping[str, str]) -> None:
        """A tenant may not point a transport at the server's own network (SSRF)."""
        urls = [options[name] for name in URL_OPTIONS if options.get(name)]
        if provider == "smtp" and options.get("host"):
            urls.append(f"https://{options['host']}/")  # only the host's addresses are checked
        for url in urls:
            try:
                await resolve_url(url, allow_private=self.settings.webhook_allow_private, require_resolution=False)
            except UnsafeUrl as exc:
                raise ValueError(f"{exc} (POSTROOM_WEBHOOK_ALLOW_PRIVATE allows private addresses)") from exc

    async def save(self, tenant_id: int, domain: str, provider: str, options: Mapping[str, str]) -> None:
        if provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}")
        await self._check_destinations(provider, options)
        route = Route(provider, dict(options))
        probe = self.build(route, tenant_id)  # refuses missing options before anything is stored
        await probe.close()
        sealed = self.box.encrypt(json.dumps(dict(options)).encode())
        statement = upsert_insert(self.engine.dialect.name, TransportConfig).values(
            tenant_id=tenant_id, domain=domain.lower(), provider=provider, options=sealed, created_at=utcnow()
        )
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id", "domain"], set_={"provider": provider, "options": sealed}
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)
        self._configs.pop(tenant_id, None)

    async def remove(self, tenant_id: int, domain: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(TransportConfig).where(
                    TransportConfig.tenant_id == tenant_id, TransportConfig.domain == domain.lower()
                )
            )
        self._configs.pop(tenant_id, None)
        return bool(result.rowcount)

    async def listing(self, tenant_id: int) -> list[dict[str, Any]]:
        routes = await self._tenant_routes(tenant_id)
        self._configs.pop(tenant_id, None)
        stored = [
            {"domain": domain, "provider": r.provider, "options": redact(r.options)} for domain, r in routes.items()
        ]
        return sorted(stored, key=lambda item: item["domain"])
