"""The ``webhook.deliver`` job: POST one signed message to one endpoint and log the attempt.

Steps: load the endpoint (gone or disabled: nothing to do) -> build the body ->
check the URL against SSRF rules again, resolving DNS now -> POST to the checked
address, redirects not followed -> log the attempt. A 2xx answer is success; any
other answer, a timeout, a connection error or a name that does not resolve is
retried by the job queue with its backoff, and the attempt that spends the last
try is logged as ``dead``. A refused URL dead-letters at once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from sqlalchemy import select

from postroom import __version__
from postroom.automation.deliveries import Attempt, DeliveryRequest, record_attempt
from postroom.automation.endpoints import WebhookService
from postroom.automation.models import DeliveryStatus, WebhookEndpoint
from postroom.automation.signing import signature_headers
from postroom.automation.urlguard import ResolvedUrl, UnresolvableHost, UnsafeUrl, resolve_url
from postroom.core.jobs import ClaimedJob
from postroom.core.models import Event
from postroom.core.worker import JobHandler, PermanentJobError
from postroom.store.types import utcnow

__all__ = ["RESPONSE_EXCERPT_BYTES", "WebhookFailed", "event_message", "make_webhook_handler"]

log = structlog.get_logger(__name__)

RESPONSE_EXCERPT_BYTES = 2048
USER_AGENT = f"Postroom-Webhooks/{__version__}"


class WebhookFailed(Exception):
    """This attempt failed (non-2xx answer, timeout, connection error); the queue retries it."""


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    body: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def event_message(event: Any) -> dict[str, Any]:
    """The JSON a receiver gets for an event (Standard Webhooks: type, timestamp, data)."""
    return {
        "id": event.id,
        "type": event.type,
        "timestamp": event.created_at.isoformat(),
        "subject_id": event.subject_id,
        "data": event.payload,
    }


def make_webhook_handler(service: WebhookService) -> JobHandler:
    async def handle(job: ClaimedJob) -> dict[str, Any] | None:
        return await deliver(service, job)

    return handle


async def deliver(service: WebhookService, job: ClaimedJob) -> dict[str, Any] | None:
    request = DeliveryRequest.from_payload(job.payload)
    tenant_id = job.tenant_id
    if tenant_id is None:
        raise PermanentJobError("webhook job without a tenant")
    async with service.engine.connect() as conn:
        endpoint = (
            await conn.execute(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.id == request.endpoint_id, WebhookEndpoint.tenant_id == tenant_id
                )
            )
        ).first()
        if endpoint is None:
            return {"skipped": "the endpoint was deleted"}
        if not endpoint.enabled:
            return {"skipped": "the endpoint is disabled"}
        message = request.test_message
        if message is None:
            event = (
                await conn.execute(select(Event).where(Event.id == request.event_id, Event.tenant_id == tenant_id))
            ).first()
            if event is None:
                raise PermanentJobError(f"event {request.event_id} no longer exists")
            message = event_message(event)
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    started_at = utcnow()
    clock = time.monotonic()
    last_try = job.attempts >= job.max_attempts

    async def log_attempt(status: str, outcome: Outcome) -> None:
        attempt = Attempt(
            tenant_id=tenant_id,
            endpoint_id=request.endpoint_id,
            request=request,
            event_type=str(message.get("type", "")),
            job_id=job.id,
            attempt=job.attempts,
            status=status,
            started_at=started_at,
            response_status=outcome.status_code,
            response_body=outcome.body,
            duration_ms=round((time.monotonic() - clock) * 1000),
            error=outcome.error,
        )
        async with service.engine.begin() as conn:
            await record_attempt(conn, attempt)

    try:
        target = await resolve_url(
            endpoint.url, allow_private=service.settings.webhook_allow_private, require_resolution=True
        )
    except UnsafeUrl as exc:
        await log_attempt(DeliveryStatus.DEAD, Outcome(None, None, f"refused: {exc}"))
        raise PermanentJobError(f"webhook URL refused: {exc}") from exc
    except UnresolvableHost as exc:
        await log_attempt(DeliveryStatus.DEAD if last_try else DeliveryStatus.FAILED, Outcome(None, None, str(exc)))
        raise WebhookFailed(str(exc)) from exc

    headers = signature_headers(service.signing_secrets(endpoint), request.webhook_id, int(time.time()), body)
    outcome = await _post(target, body, headers, service.settings.webhook_timeout_seconds)
    if outcome.ok:
        await log_attempt(DeliveryStatus.SUCCEEDED, outcome)
        return {"status_code": outcome.status_code}
    await log_attempt(DeliveryStatus.DEAD if last_try else DeliveryStatus.FAILED, outcome)
    raise WebhookFailed(outcome.error or f"the endpoint answered HTTP {outcome.status_code}")


async def _post(target: ResolvedUrl, body: bytes, signed: dict[str, str], timeout_seconds: float) -> Outcome:
    """POST to each checked address in turn until one connects; never to a fresh DNS answer."""
    url = httpx.URL(target.url)
    headers = {
        **signed,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": url.netloc.decode("ascii"),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    error = "no address to connect to"
    # trust_env=False: a proxy from the environment would resolve the name again by itself.
    async with httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False, trust_env=False) as client:
        for address in target.addresses:
            try:
                async with client.stream(
                    "POST", url.copy_with(host=address), content=body, headers=headers, extensions=extensions
                ) as response:
                    excerpt = await _read_excerpt(response)
                    return Outcome(response.status_code, excerpt, None)
            except httpx.ConnectError as exc:
                error = f"could not connect to {address}: {exc}"
            except httpx.TimeoutException as exc:
                return Outcome(None, None, f"timed out after {timeout_seconds:g} s ({type(exc).__name__})")
            except httpx.HTTPError as exc:
                return Outcome(None, None, f"{type(exc).__name__}: {exc}")
    return Outcome(None, None, error)


async def _read_excerpt(response: httpx.Response) -> str:
    collected = b""
    async for chunk in response.aiter_bytes():
        collected += chunk
        if len(collected) >= RESPONSE_EXCERPT_BYTES:
            break
    return collected[:RESPONSE_EXCERPT_BYTES].decode("utf-8", "replace")
