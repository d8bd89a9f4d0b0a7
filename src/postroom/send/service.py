"""Accepting emails and batches, answering their status, cancelling them.

Acceptance is one transaction: the email row, one delivery row per recipient (queued,
or suppressed when the address is on the tenant's list) and their ``accepted`` and
``queued`` events. Workers pick the deliveries up from there.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postroom.core.events import EventHub, NewEvent
from postroom.send import events as send_events
from postroom.send import suppression
from postroom.send.events import DeliveryRef
from postroom.send.models import Delivery, DeliveryStatus, Email, IdempotentRequest, Priority
from postroom.send.templates import TemplateService
from postroom.send.templating import UndefinedVariableError
from postroom.send.validation import AddressChecker, Mailbox, SendInputError, check_header, no_line_breaks
from postroom.store import bulk
from postroom.store.types import db_json, utcnow

MAX_RECIPIENTS_PER_EMAIL = 1000
MAX_BATCH_RECIPIENTS = 100_000
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
DELIVERY_COLUMNS = [
    "tenant_id",
    "email_id",
    "address",
    "kind",
    "domain",
    "variables",
    "status",
    "priority",
    "run_at",
    "attempts",
    "created_at",
    "updated_at",
    "finished_at",
]
DELIVERY_CASTS = ["", "", "", "", "", "jsonb", "", "", "", "", "", "", ""]


class EmailNotFound(LookupError):
    pass


class IdempotencyConflict(ValueError):
    """The key was used before with a different request."""


@dataclass(frozen=True)
class AttachmentInput:
    filename: str
    content_base64: str
    content_type: str = "application/octet-stream"
    content_id: str | None = None


@dataclass
class Content:
    """What every recipient gets: literal subject/html/text or a template, plus the envelope extras."""

    sender: str
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    template_id: int | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    reply_to: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    attachments: list[AttachmentInput] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    send_at: datetime | None = None
    priority: str = "normal"
    track_opens: bool = False
    track_clicks: bool = False
    list_unsubscribe: bool = False  # batches always carry it


@dataclass
class EmailRequest(Content):
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BatchRecipient:
    to: str
    variables: dict[str, Any] | None = None


@dataclass
class BatchRequest(Content):
    recipients: list[BatchRecipient] = field(default_factory=list)


@dataclass(frozen=True)
class Answer:
    """An HTTP-ready answer, remembered for an Idempotency-Key."""

    status_code: int
    body: dict[str, Any]


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class SendService:
    def __init__(
        self,
        engine: AsyncEngine,
        hub: EventHub,
        templates: TemplateService,
        checker: AddressChecker,
        *,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.engine = engine
        self.hub = hub
        self.templates = templates
        self.checker = checker
        self.on_queued = on_queued

    # ---- idempotency -------------------------------------------------------------

    async def remembered(self, tenant_id: int, route: str, key: str, digest: str) -> Answer | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(IdempotentRequest).where(
                        IdempotentRequest.tenant_id == tenant_id,
                        IdempotentRequest.route == route,
                        IdempotentRequest.key == key,
                    )
                )
            ).first()
        if row is None:
            return None
        saved = row
        if saved.request_hash != digest:
            raise IdempotencyConflict(f"Idempotency-Key {key!r} was already used with a different request")
        return Answer(saved.status_code, saved.response)

    async def _remember(
        self, conn: AsyncConnection, tenant_id: int, idempotency: tuple[str, str, str] | None, answer: Answer
    ) -> None:
        if idempotency is None:
            return
        route, key, digest = idempotency
        await conn.execute(
            insert(IdempotentRequest).values(
                tenant_id=tenant_id,
                route=route,
                key=key,
                request_hash=digest,
                status_code=answer.status_code,
                response=answer.body,
                created_at=utcnow(),
            )
        )

    async def _with_idempotency(
        self,
        tenant_id: int,
        idempotency: tuple[str, str, str] | None,
        work: Callable[[AsyncConnection], Any],
    ) -> Answer:
        if idempotency is not None:
            earlier = await self.remembered(tenant_id, *idempotency)
            if earlier is not None:
                return earlier
        try:
            async with self.engine.begin() as conn:
                answer: Answer
                answer, new_events = await work(conn)
                await self._remember(conn, tenant_id, idempotency, answer)
        except IntegrityError:
            if idempotency is None:
                raise
            earlier = await self.remembered(tenant_id, *idempotency)  # a concurrent twin won
            if earlier is None:
                raise
            return earlier
        if new_events:
            await self.hub.published()
            self.on_queued()
        return answer

    # ---- acceptance --------------------------------------------------------------

    def _content_checks(self, content: Content) -> tuple[Mailbox, list[Mailbox], int]:
        sender = self.checker.mailbox("from", content.sender)
        reply_to = [self.checker.mailbox(f"reply_to[{i}]", r) for i, r in enumerate(content.reply_to)]
        if content.subject is not None:
            no_line_breaks("subject", content.subject)
        for name, value in content.headers.items():
            check_header(name, value)
        for key, value in content.metadata.items():
            no_line_breaks(f"metadata.{key}", str(value))
        for index, tag in enumerate(content.tags):
            no_line_breaks(f"tags[{index}]", tag)
        if content.priority not in Priority.BY_NAME:
            raise SendInputError("priority", "must be high, normal or low")
        if content.template_id is None and not (content.html or content.text):
            raise SendInputError("html", "give html, text or template_id")
        if content.template_id is None and content.subject is None:
            raise SendInputError("subject", "is required without a template")
        total = 0
        for index, attachment in enumerate(content.attachments):
            no_line_breaks(f"attachments[{index}].filename", attachment.filename)
            no_line_breaks(f"attachments[{index}].content_type", attachment.content_type)
            try:
                total += len(base64.b64decode(attachment.content_base64, validate=True))
            except ValueError as exc:
                raise SendInputError(f"attachments[{index}].content_base64", "is not valid base64") from exc
        if total > MAX_ATTACHMENT_BYTES:
            raise SendInputError("attachments", f"together exceed {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB")
        return sender, reply_to, Priority.BY_NAME[content.priority]

    async def _email_row(
        self, conn: AsyncConnection, tenant_id: int, content: Content, sender: Mailbox, reply_to: list[Mailbox], *,
        batch: bool, to: Sequence[str] = (), cc: Sequence[str] = (), priority: int,
    ) -> int:  # fmt: skip
        template_version = None
        if content.template_id is not None:
            template_version = await self.templates.current_version(conn, tenant_id, content.template_id)
        email_id = await conn.scalar(
            insert(Email)
            .values(
                tenant_id=tenant_id,
                batch=batch,
                from_address=sender.header,
                to=list(to),
                cc=list(cc),
                reply_to=[r.header for r in reply_to],
                subject=content.subject or "",
                html=content.html,
                text=content.text,
                template_id=content.template_id,
                template_version=template_version,
                variables=db_json(content.variables),
                headers=content.headers,
                attachments=[
                    {
                        "filename": a.filename,
                        "content_type": a.content_type,
                        "content_base64": a.content_base64,
                        "content_id": a.content_id,
                    }
                    for a in content.attachments
                ],
                tags=content.tags,
                email_metadata=content.metadata,
                priority=priority,
                send_at=content.send_at,
                track_opens=content.track_opens,
                track_clicks=content.track_clicks,
                list_unsubscribe=content.list_unsubscribe,
                created_at=utcnow(),
            )
            .returning(Email.id)
        )
        assert email_id is not None
        return int(email_id)

    async def _deliveries(
        self,
        conn: AsyncConnection,
        tenant_id: int,
        email_id: int,
        recipients: Sequence[tuple[Mailbox, str, dict[str, Any] | None]],
        *,
        priority: int,
        run_at: datetime,
        extra: dict[str, Any],
    ) -> tuple[list[dict[str, Any]], list[NewEvent]]:
        now = utcnow()
        blocked = await suppression.suppressed_among(conn, tenant_id, (m.address for m, _, _ in recipients))
        rows = []
        for mailbox, kind, variables in recipients:
            status = DeliveryStatus.SUPPRESSED if mailbox.address.lower() in blocked else DeliveryStatus.QUEUED
            finished = now if status == DeliveryStatus.SUPPRESSED else None
            rows.append(
                (tenant_id, email_id, mailbox.address, kind, mailbox.domain, db_json(variables) if variables else None,
                 status, priority, run_at, 0, now, now, finished)
            )  # fmt: skip
        ids = await bulk.insert_returning_ids(conn, "send_deliveries", DELIVERY_COLUMNS, rows, casts=DELIVERY_CASTS)
        summary: list[dict[str, Any]] = []
        new_events: list[NewEvent] = []
        for delivery_id, row in zip(ids, rows, strict=True):
            ref = DeliveryRef(tenant_id, delivery_id, email_id, row[2])
            new_events.append(send_events.event(ref, send_events.ACCEPTED, **extra))
            if row[6] == DeliveryStatus.SUPPRESSED:
                new_events.append(
                    send_events.event(ref, send_events.SUPPRESSED, reason="address is on the suppression list")
                )
            else:
                new_events.append(send_events.event(ref, send_events.QUEUED, **extra))
            summary.append({"id": delivery_id, "address": row[2], "kind": row[3], "status": row[6]})
        await send_events.record(conn, new_events)
        return summary, new_events

    async def send_email(
        self, tenant_id: int, request: EmailRequest, *, idempotency: tuple[str, str, str] | None = None
    ) -> Answer:
        sender, reply_to, priority = self._content_checks(request)
        recipients: list[tuple[Mailbox, str, dict[str, Any] | None]] = []
        for kind, addresses in (("to", request.to), ("cc", request.cc), ("bcc", request.bcc)):
            for index, value in enumerate(addresses):
                recipients.append((self.checker.mailbox(f"{kind}[{index}]", value), kind, None))
        if not recipients:
            raise SendInputError("to", "give at least one recipient in to, cc or bcc")
        if len(recipients) > MAX_RECIPIENTS_PER_EMAIL:
            raise SendInputError("to", f"at most {MAX_RECIPIENTS_PER_EMAIL} recipients; use /api/v1/batches")
        await self._check_renders(tenant_id, request, request.variables, "variables")
        run_at = request.send_at or utcnow()

        async def work(conn: AsyncConnection) -> tuple[Answer, list[NewEvent]]:
            email_id = await self._email_row(
                conn, tenant_id, request, sender, reply_to, batch=False, priority=priority,
                to=[m.header for m, k, _ in recipients if k == "to"],
                cc=[m.header for m, k, _ in recipients if k == "cc"],
            )  # fmt: skip
            summary, new_events = await self._deliveries(
                conn, tenant_id, email_id, recipients, priority=priority, run_at=run_at, extra={}
            )
            body = {"id": email_id, "status": _overall([r["status"] for r in summary]), "recipients": summary}
            if request.send_at:
                body["send_at"] = request.send_at.isoformat()
            return Answer(202, body), new_events

        return await self._with_idempotency(tenant_id, idempotency, work)

    async def send_batch(
        self, tenant_id: int, request: BatchRequest, *, idempotency: tuple[str, str, str] | None = None
    ) -> Answer:
        sender, reply_to, priority = self._content_checks(request)
        if not request.recipients:
            raise SendInputError("recipients", "give at least one recipient")
        if len(request.recipients) > MAX_BATCH_RECIPIENTS:
            raise SendInputError("recipients", f"at most {MAX_BATCH_RECIPIENTS} recipients per batch")
        accepted: list[tuple[Mailbox, str, dict[str, Any] | None]] = []
        rejected: list[dict[str, Any]] = []
        first_valid = 0
        for index, recipient in enumerate(request.recipients):
            try:
                mailbox = self.checker.mailbox(f"recipients[{index}].to", recipient.to)
            except SendInputError as exc:
                rejected.append({"index": index, "to": recipient.to, "error": exc.message})
                continue
            if not accepted:
                first_valid = index
            accepted.append((mailbox, "to", recipient.variables))
        if accepted:
            # Every recipient renders the same parts: one trial catches what would fail them all.
            merged = {**request.variables, **(accepted[0][2] or {})}
            await self._check_renders(tenant_id, request, merged, f"recipients[{first_valid}].variables", batch=True)
        run_at = request.send_at or utcnow()

        async def work(conn: AsyncConnection) -> tuple[Answer, list[NewEvent]]:
            new_events: list[NewEvent] = []
            email_id = await self._email_row(conn, tenant_id, request, sender, reply_to, batch=True, priority=priority)
            if accepted:
                _, new_events = await self._deliveries(
                    conn, tenant_id, email_id, accepted, priority=priority, run_at=run_at, extra={"batch_id": email_id}
                )
            body = {"id": email_id, "accepted": len(accepted), "rejected": rejected}
            return Answer(202, body), new_events

        return await self._with_idempotency(tenant_id, idempotency, work)

    async def _check_renders(
        self, tenant_id: int, content: Content, variables: dict[str, Any], field: str, *, batch: bool = False
    ) -> None:
        try:
            if content.template_id is not None:
                await self.templates.check_renders(tenant_id, content.template_id, variables)
            elif variables or batch:
                self.templates.check_literal(content.subject or "", content.html, content.text, variables)
        except UndefinedVariableError as exc:
            raise SendInputError(field, f"the template needs {exc.variable!r}: {exc}") from exc

    # ---- reading -----------------------------------------------------------------

    async def _email(self, conn: AsyncConnection, tenant_id: int, email_id: int) -> Any:
        row = (await conn.execute(select(Email).where(Email.id == email_id, Email.tenant_id == tenant_id))).first()
        if row is None:
            raise EmailNotFound("no such email")
        return row

    async def get_email(self, tenant_id: int, email_id: int, *, recipients_limit: int = 1000) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            email = await self._email(conn, tenant_id, email_id)
            rows = list(
                await conn.execute(
                    select(Delivery).where(Delivery.email_id == email_id).order_by(Delivery.id).limit(recipients_limit)
                )
            )
            timeline = await send_events.timeline(conn, tenant_id, [d.id for d in rows])
            counts = await self._counts(conn, email_id)
        return {
            **_email_json(email),
            "status": _overall([d.status for d in rows]),
            "counts": counts,
            "recipients": [{**_delivery_json(d), "events": timeline.get(d.id, [])} for d in rows],
        }

    async def _counts(self, conn: AsyncConnection, email_id: int) -> dict[str, int]:
        rows = await conn.execute(
            select(Delivery.status, func.count()).where(Delivery.email_id == email_id).group_by(Delivery.status)
        )
        return {status: int(n) for status, n in rows}

    async def get_batch(self, tenant_id: int, batch_id: int) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            email = await self._email(conn, tenant_id, batch_id)
            if not email.batch:
                raise EmailNotFound("no such batch")
            counts = await self._counts(conn, batch_id)
        return {**_email_json(email), "counts": counts, "total": sum(counts.values())}

    async def list_emails(
        self, tenant_id: int, *, limit: int, before_id: int = 0, batch: bool | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Newest first, each with its recipients' counts by status."""
        where = [Email.tenant_id == tenant_id]
        if before_id:
            where.append(Email.id < before_id)
        if batch is not None:
            where.append(Email.batch.is_(batch))
        async with self.engine.connect() as conn:
            rows = list(await conn.execute(select(Email).where(*where).order_by(Email.id.desc()).limit(limit + 1)))
            page = rows[:limit]
            counts: dict[int, dict[str, int]] = {e.id: {} for e in page}
            if page:
                grouped = await conn.execute(
                    select(Delivery.email_id, Delivery.status, func.count())
                    .where(Delivery.email_id.in_(list(counts)))
                    .group_by(Delivery.email_id, Delivery.status)
                )
                for email_id, status, n in grouped:
                    counts[email_id][status] = int(n)
        next_cursor = page[-1].id if len(rows) > limit else None
        items = [{**_email_json(e), "counts": counts[e.id], "total": sum(counts[e.id].values())} for e in page]
        return items, next_cursor

    async def list_deliveries(
        self, tenant_id: int, *, email_id: int | None, status: str | None, limit: int, after_id: int = 0
    ) -> tuple[list[dict[str, Any]], int | None]:
        where = [Delivery.tenant_id == tenant_id]
        if email_id is not None:
            where.append(Delivery.email_id == email_id)
        if status is not None:
            where.append(Delivery.status == status)
        if after_id:
            where.append(Delivery.id > after_id)
        async with self.engine.connect() as conn:
            rows = [
                r for r in await conn.execute(select(Delivery).where(*where).order_by(Delivery.id).limit(limit + 1))
            ]
        next_cursor = rows[limit - 1].id if len(rows) > limit else None
        return [_delivery_json(d) for d in rows[:limit]], next_cursor

    async def delivery(self, tenant_id: int, delivery_id: int) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(Delivery).where(Delivery.id == delivery_id, Delivery.tenant_id == tenant_id))
            ).first()
            if row is None:
                raise EmailNotFound("no such delivery")
            timeline = await send_events.timeline(conn, tenant_id, [delivery_id])
        return {**_delivery_json(row), "events": timeline[delivery_id]}

    # ---- changing ----------------------------------------------------------------

    async def cancel(self, tenant_id: int, email_id: int) -> dict[str, Any]:
        """Cancel every delivery of the email that no worker holds yet."""
        async with self.engine.begin() as conn:
            await self._email(conn, tenant_id, email_id)
            now = utcnow()
            rows = list(
                await conn.execute(
                    update(Delivery)
                    .where(
                        Delivery.email_id == email_id,
                        Delivery.status.in_((DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED)),
                    )
                    .values(status=DeliveryStatus.CANCELLED, updated_at=now, finished_at=now)
                    .returning(Delivery.id, Delivery.address)
                )
            )
            await send_events.record(
                conn,
                [
                    send_events.event(DeliveryRef(tenant_id, d_id, email_id, address), send_events.CANCELLED)
                    for d_id, address in rows
                ],
            )
            counts = await self._counts(conn, email_id)
        if rows:
            await self.hub.published()
        return {"id": email_id, "cancelled": len(rows), "counts": counts}

    async def requeue(self, tenant_id: int, delivery_ids: Sequence[int] | None, *, email_id: int | None = None) -> int:
        """Put dead-lettered (failed) deliveries back in the queue with fresh attempts."""
        where = [Delivery.tenant_id == tenant_id, Delivery.status == DeliveryStatus.FAILED]
        if delivery_ids is not None:
            where.append(Delivery.id.in_(list(delivery_ids)))
        if email_id is not None:
            where.append(Delivery.email_id == email_id)
        async with self.engine.begin() as conn:
            now = utcnow()
            rows = list(
                await conn.execute(
                    update(Delivery)
                    .where(*where)
                    .values(status=DeliveryStatus.QUEUED, attempts=0, run_at=now, updated_at=now, finished_at=None)
                    .returning(Delivery.id, Delivery.email_id, Delivery.address)
                )
            )
            await send_events.record(
                conn,
                [
                    send_events.event(DeliveryRef(tenant_id, d_id, e_id, address), send_events.QUEUED, requeued=True)
                    for d_id, e_id, address in rows
                ],
            )
        if rows:
            await self.hub.published()
            self.on_queued()
        return len(rows)


def _overall(statuses: Sequence[str]) -> str:
    """One word for an email with several recipients: the least advanced status wins."""
    order = list(DeliveryStatus.ALL)
    return min(statuses, key=order.index) if statuses else DeliveryStatus.QUEUED


def _email_json(email: Any) -> dict[str, Any]:
    return {
        "id": email.id,
        "batch": email.batch,
        "from": email.from_address,
        "to": email.to,
        "cc": email.cc,
        "reply_to": email.reply_to,
        "subject": email.subject,
        "template_id": email.template_id,
        "template_version": email.template_version,
        "tags": email.tags,
        "metadata": email.metadata,
        "priority": {v: k for k, v in Priority.BY_NAME.items()}.get(email.priority, "normal"),
        "send_at": email.send_at.isoformat() if email.send_at else None,
        "created_at": email.created_at.isoformat(),
    }


def _delivery_json(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "email_id": d.email_id,
        "address": d.address,
        "kind": d.kind,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": d.run_at.isoformat() if d.status in DeliveryStatus.PENDING else None,
        "transport": d.transport,
        "provider_message_id": d.provider_message_id,
        "last_response": d.last_response,
        "created_at": d.created_at.isoformat(),
        "finished_at": d.finished_at.isoformat() if d.finished_at else None,
    }
