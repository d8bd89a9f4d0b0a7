"""The delivery worker: claims due deliveries, renders and hands each to its transport.

Outcomes are written back in bulk (one transaction every few milliseconds for all
deliveries that finished meanwhile), together with their events and any new
suppressions. A worker killed mid-flight loses nothing: its claims' leases run out and
another worker (or this one restarted) takes them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from postroom.config import Settings
from postroom.core.events import EventHub, NewEvent, WakeThrottle
from postroom.core.jobs import Backoff
from postroom.core.waits import wait_set
from postroom.send import events as send_events
from postroom.send import metrics, queue, suppression
from postroom.send.events import DeliveryRef
from postroom.send.limits import Limits
from postroom.send.models import DeliveryStatus, Email
from postroom.send.queue import Claimed, Outcome
from postroom.send.render import HtmlDecorator, PreparedEmail, Signer, UnsubscribeLinks, prepare, render
from postroom.send.routing import TransportRouter
from postroom.send.templates import TemplateService
from postroom.send.templating import TemplateError
from postroom.send.transport import DeliveryBounced, DeliveryDeferred, DeliveryResult
from postroom.store.types import utcnow

log = structlog.get_logger(__name__)

FLUSH_SECONDS = 0.02
WAKE_SECONDS = 0.05  # live readers hear of outcomes at most this often during a burst
FLUSH_MAX = 500
PREPARED_CACHE = 256
ENHANCED_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")

# (tenant id, sender domain) -> a DKIM signer for that domain, or None
SignerLookup = Callable[[int, str], Awaitable[Signer | None]]


def address_failure(code: int | None, response: str) -> bool:
    """Whether a permanent failure says the address itself is bad (and should be suppressed).

    Enhanced status 5.1.x (bad mailbox or domain) and 5.2.1 (disabled) say so; 5.7.x
    (policy, spam) does not. Without an enhanced code, 550/551/553 are taken as address failures.
    """
    match = ENHANCED_STATUS.search(response)
    if match:
        klass, subject, detail = match.groups()
        return klass == "5" and (subject == "1" or (subject == "2" and detail == "1"))
    return code in (550, 551, 553)


@dataclass
class _Finished:
    outcome: Outcome
    events: list[NewEvent]
    suppress: tuple[int, str, str] | None = None  # tenant, address, detail


def _redis(url: str) -> Any:
    """A Redis client for shared rate limits, when REDIS_URL is set (connects on first use)."""
    if not url:
        return None
    import redis.asyncio as aioredis

    return aioredis.from_url(url)


class DeliveryWorker:
    def __init__(
        self,
        engine: AsyncEngine,
        hub: EventHub,
        settings: Settings,
        templates: TemplateService,
        router: TransportRouter,
        *,
        decorate_html: HtmlDecorator | None = None,
        unsubscribe: UnsubscribeLinks | None = None,
        signer_for: SignerLookup | None = None,
    ) -> None:
        self.engine = engine
        self.hub = hub
        self.settings = settings
        self.templates = templates
        self.router = router
        self.decorate_html = decorate_html
        self.unsubscribe = unsubscribe
        self.signer_for = signer_for
        self.concurrency = settings.email_worker_concurrency
        self.lease_seconds = settings.email_lease_seconds
        self.max_attempts = settings.email_worker_max_retries + 1
        self.backoff = Backoff(
            base_seconds=settings.email_retry_delay,
            factor=settings.email_retry_exponential_base,
            max_seconds=settings.email_retry_max_delay,
        )
        self.limits = Limits(
            domain_concurrency=settings.email_domain_concurrency,
            domain_rates=settings.email_domain_rate,
            transport_rates=settings.email_transport_rate,
            transport_concurrency=settings.email_transport_concurrency,
            redis=_redis(settings.redis_url),
        )
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.poll_seconds = max(0.05, settings.job_poll_seconds)
        # A transport has its own timeouts; this one only stops a call that hangs for ever.
        self.send_timeout = settings.smtp_relay_timeout * 2
        self._prepared: OrderedDict[int, PreparedEmail] = OrderedDict()
        self._prepare_locks: dict[int, asyncio.Lock] = {}
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._finished: list[_Finished] = []
        self._blocked: set[int] = set()
        self._wake = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._wakes = WakeThrottle(hub, WAKE_SECONDS)
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._flush_task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name=f"delivery-{self.worker_id}")
        self._flush_task = asyncio.create_task(self._flush_forever(), name=f"delivery-flush-{self.worker_id}")

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop claiming, let deliveries in flight finish within the grace period, hand back the rest."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._in_flight:
            await asyncio.wait(list(self._in_flight.values()), timeout=grace_seconds)
        unfinished = list(self._in_flight)
        for task in list(self._in_flight.values()):
            task.cancel()
        if self._flush_task is not None:
            self._flush_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush_task
        await self._flush()
        await self._wakes.flush()
        if unfinished:
            async with self.engine.begin() as conn:
                await queue.release(conn, self.worker_id, unfinished)
        await self.router.close()
        if self.limits.redis is not None:
            await self.limits.redis.aclose()

    async def run_until_idle(self, max_seconds: float = 30.0) -> None:
        """Deliver everything due now and write it back (tests and the CLI's one-shot mode)."""
        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline:
            claimed = await self._claim(self.concurrency)
            if not claimed:
                break
            await asyncio.gather(*(self._deliver(c) for c in claimed))
            await self._flush()
        await self._flush()

    # ---- claiming ---------------------------------------------------------------

    async def _claim(self, limit: int) -> list[Claimed]:
        """Claim due deliveries and note which of them are suppressed (one lookup per tenant)."""
        async with self.engine.begin() as conn:
            claimed = await queue.claim(conn, self.worker_id, limit=limit, lease_seconds=self.lease_seconds)
            by_tenant: dict[int, list[Claimed]] = {}
            for item in claimed:
                by_tenant.setdefault(item.tenant_id, []).append(item)
            for tenant_id, items in by_tenant.items():
                blocked = await suppression.suppressed_among(conn, tenant_id, (c.address for c in items))
                self._blocked.update(c.id for c in items if c.address.lower() in blocked)
        return claimed

    async def _run(self) -> None:
        while not self._stopping:
            free = self.concurrency - len(self._in_flight)
            claimed: list[Claimed] = []
            # Claim in rounds of at least half the capacity: fewer, larger claims.
            if free >= max(1, self.concurrency // 2):
                try:
                    claimed = await self._claim(free)
                except Exception as exc:
                    log.warning("delivery_claim_failed", error=str(exc))
            for item in claimed:
                task = asyncio.create_task(self._deliver(item))
                self._in_flight[item.id] = task
                task.add_done_callback(functools.partial(self._done, item.id))
            if not claimed:
                self._wake.clear()
                await wait_set(self._wake, self.poll_seconds)

    def _done(self, delivery_id: int, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(delivery_id, None)
        if len(self._in_flight) <= self.concurrency // 2:
            self._wake.set()

    # ---- one delivery -----------------------------------------------------------

    async def _prepared_email(self, email_id: int) -> PreparedEmail:
        found = self._prepared.get(email_id)
        if found is not None:
            self._prepared.move_to_end(email_id)
            return found
        lock = self._prepare_locks.setdefault(email_id, asyncio.Lock())
        async with lock:
            found = self._prepared.get(email_id)
            if found is not None:
                return found
            async with self.engine.connect() as conn:
                email = (await conn.execute(select(Email).where(Email.id == email_id))).one()
            compiled = None
            if email.template_id is not None and email.template_version is not None:
                compiled = await self.templates.compiled(email.template_id, email.template_version)
            prepared = prepare(email, self.templates.renderer, compiled)
            if self.signer_for is not None:
                prepared.signer = await self.signer_for(prepared.tenant_id, prepared.sender_domain)
            self._prepared[email_id] = prepared
            while len(self._prepared) > PREPARED_CACHE:
                self._prepared.popitem(last=False)
        self._prepare_locks.pop(email_id, None)
        return prepared

    async def _deliver(self, claimed: Claimed) -> None:
        ref = DeliveryRef(claimed.tenant_id, claimed.id, claimed.email_id, claimed.address)
        try:
            finished = await self._attempt(claimed, ref)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an unexpected failure: retry like a deferral
            log.exception("delivery_crashed", delivery_id=claimed.id)
            finished = self._deferred(claimed, ref, None, f"internal error: {type(exc).__name__}: {exc}", None)
        self._finished.append(finished)
        if len(self._finished) >= FLUSH_MAX:
            self._flush_now.set()

    async def _attempt(self, claimed: Claimed, ref: DeliveryRef) -> _Finished:
        prepared = await self._prepared_email(claimed.email_id)
        if claimed.id in self._blocked:
            self._blocked.discard(claimed.id)
            metrics.EMAILS_FAILED.labels(reason="suppressed").inc()
            return _Finished(
                Outcome(claimed.id, DeliveryStatus.SUPPRESSED, "address is on the suppression list"),
                [send_events.event(ref, send_events.SUPPRESSED, reason="address is on the suppression list")],
            )
        try:
            message = render(
                prepared,
                claimed,
                bounce_domain=self.settings.bounce_domain,
                decorate_html=self.decorate_html,
                unsubscribe=self.unsubscribe,
            )
        except (TemplateError, ValueError) as exc:
            metrics.EMAILS_FAILED.labels(reason="failed").inc()
            return _Finished(
                Outcome(claimed.id, DeliveryStatus.FAILED, f"cannot render the message: {exc}"),
                [send_events.event(ref, send_events.FAILED, reason=f"cannot render the message: {exc}")],
            )
        transport = await self.router.transport(claimed.tenant_id, prepared.sender_domain)
        started = time.monotonic()
        try:
            async with self.limits.slot(claimed.domain, transport.name), asyncio.timeout(self.send_timeout):
                result = await transport.send(message)
        except DeliveryBounced as exc:
            return self._bounced(claimed, ref, transport.name, exc)
        except DeliveryDeferred as exc:
            return self._deferred(claimed, ref, transport.name, exc.response, exc.code)
        except TimeoutError:
            return self._deferred(claimed, ref, transport.name, "timed out waiting for the transport", None)
        finally:
            metrics.EMAIL_TRANSPORT_SECONDS.labels(transport=transport.name).observe(time.monotonic() - started)
        return self._sent(claimed, ref, transport.name, result)

    def _sent(self, claimed: Claimed, ref: DeliveryRef, transport: str, result: DeliveryResult) -> _Finished:
        metrics.EMAILS_SENT.labels(transport=transport).inc()
        metrics.EMAIL_SEND_SECONDS.observe(max(0.0, (utcnow() - claimed.created_at).total_seconds()))
        detail = {"transport": transport, "response": result.response, "attempt": claimed.attempts}
        if result.provider_message_id:
            detail["provider_message_id"] = result.provider_message_id
        found = [send_events.event(ref, send_events.SENT, **detail)]
        status = DeliveryStatus.SENT
        if result.delivered:
            status = DeliveryStatus.DELIVERED
            found.append(send_events.event(ref, send_events.DELIVERED, response=result.response))
        return _Finished(Outcome(claimed.id, status, result.response, transport, result.provider_message_id), found)

    def _bounced(self, claimed: Claimed, ref: DeliveryRef, transport: str, exc: DeliveryBounced) -> _Finished:
        metrics.EMAILS_FAILED.labels(reason="bounced").inc()
        suppress = address_failure(exc.code, exc.response)
        event = send_events.event(
            ref,
            send_events.BOUNCED,
            bounce_type="hard",
            response=exc.response,
            transport=transport,
            suppressed=suppress,
        )
        return _Finished(
            Outcome(claimed.id, DeliveryStatus.BOUNCED, exc.response, transport),
            [event],
            (claimed.tenant_id, claimed.address, exc.response) if suppress else None,
        )

    def _deferred(
        self, claimed: Claimed, ref: DeliveryRef, transport: str | None, response: str, code: int | None
    ) -> _Finished:
        if claimed.attempts >= self.max_attempts:
            metrics.EMAILS_FAILED.labels(reason="failed").inc()
            reason = f"gave up after {claimed.attempts} attempts; last answer: {response}"
            return _Finished(
                Outcome(claimed.id, DeliveryStatus.FAILED, response, transport),
                [
                    send_events.event(
                        ref, send_events.FAILED, reason=reason, response=response, attempts=claimed.attempts
                    )
                ],
            )
        metrics.EMAILS_DEFERRED.labels(transport=transport or "none").inc()
        retry_at = utcnow() + timedelta(seconds=self.backoff.delay(claimed.attempts))
        return _Finished(
            Outcome(claimed.id, DeliveryStatus.DEFERRED, response, transport, retry_at=retry_at),
            [
                send_events.event(
                    ref, send_events.DEFERRED, response=response, attempt=claimed.attempts,
                    next_attempt_at=retry_at.isoformat(), bounce_type="soft" if code else None,
                )
            ],
        )  # fmt: skip

    # ---- writing outcomes back --------------------------------------------------

    async def _flush_forever(self) -> None:
        renewed = time.monotonic()
        while True:
            await wait_set(self._flush_now, FLUSH_SECONDS)
            self._flush_now.clear()
            try:
                await self._flush()
                if time.monotonic() - renewed > self.lease_seconds / 3:
                    renewed = time.monotonic()
                    await self._renew_leases()
            except Exception as exc:  # the database is away: keep the outcomes and try again
                log.warning("delivery_flush_failed", error=str(exc), pending=len(self._finished))
                await asyncio.sleep(1)

    async def _renew_leases(self) -> None:
        holding = list(self._in_flight) + [f.outcome.delivery_id for f in self._finished]
        if holding:
            async with self.engine.begin() as conn:
                await queue.extend(conn, self.worker_id, holding, lease_seconds=self.lease_seconds)

    async def _flush(self) -> None:
        if not self._finished:
            return
        batch, self._finished = self._finished, []
        taken = batch
        try:
            async with self.engine.begin() as conn:
                held = await queue.still_held(conn, self.worker_id, [f.outcome.delivery_id for f in batch])
                lost = len(batch) - len(held)
                if lost:
                    log.warning("delivery_lease_lost", count=lost, worker=self.worker_id)
                batch = [f for f in batch if f.outcome.delivery_id in held]
                await queue.finish(conn, self.worker_id, [f.outcome for f in batch])
                await send_events.record(conn, [e for f in batch for e in f.events])
                for f in batch:
                    if f.suppress is not None:
                        tenant_id, address, detail = f.suppress
                        await suppression.add(conn, tenant_id, address, "hard_bounce", detail)
        except BaseException:
            self._finished = taken + self._finished
            raise
        self._wakes.committed()
