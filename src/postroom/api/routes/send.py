"""/api/v1/emails, /batches, /deliveries, /suppressions, /templates: the sending API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from postroom.api.deps import EmailReader, EmailSender, PostroomDep, SendingAdmin
from postroom.api.problems import Problem
from postroom.send import stats, suppression
from postroom.send.models import DeliveryStatus
from postroom.send.service import (
    Answer,
    AttachmentInput,
    BatchRecipient,
    BatchRequest,
    EmailRequest,
    request_hash,
)
from postroom.send.templates import TemplateInput
from postroom.send.templating import Preview

router = APIRouter(prefix="/api/v1", tags=["sending"])

IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=255, description="a repeat returns the first answer")
]


class AttachmentBody(BaseModel):
    filename: str
    content_base64: str = Field(..., alias="content", description="base64 of the file")
    content_type: str = "application/octet-stream"
    content_id: str | None = Field(None, description="set to show the file inline as cid:<content_id>")

    model_config = {"populate_by_name": True}


class ContentBody(BaseModel):
    sender: str = Field(..., alias="from", description="'Name <address>' or an address")
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    template_id: int | None = None
    variables: dict[str, Any] = {}
    reply_to: list[str] | str = []
    headers: dict[str, str] = {}
    attachments: list[AttachmentBody] = []
    tags: list[str] = Field([], max_length=50)
    metadata: dict[str, str] = {}
    send_at: datetime | None = None
    priority: Literal["high", "normal", "low"] = "normal"
    track_opens: bool = False
    track_clicks: bool = False
    list_unsubscribe: bool = Field(False, description="add List-Unsubscribe (RFC 8058 one-click); batches always do")

    model_config = {"populate_by_name": True}

    @field_validator("reply_to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def content_fields(self) -> dict[str, Any]:
        return {
            "sender": self.sender,
            "subject": self.subject,
            "html": self.html,
            "text": self.text,
            "template_id": self.template_id,
            "variables": self.variables,
            "reply_to": list(self.reply_to),
            "headers": self.headers,
            "attachments": [
                AttachmentInput(a.filename, a.content_base64, a.content_type, a.content_id) for a in self.attachments
            ],
            "tags": self.tags,
            "metadata": self.metadata,
            "send_at": self.send_at,
            "priority": self.priority,
            "track_opens": self.track_opens,
            "track_clicks": self.track_clicks,
            "list_unsubscribe": self.list_unsubscribe,
        }


class EmailBody(ContentBody):
    to: list[str] | str = []
    cc: list[str] | str = []
    bcc: list[str] | str = []

    @field_validator("to", "cc", "bcc", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class RecipientBody(BaseModel):
    to: str
    variables: dict[str, Any] | None = None


class BatchBody(ContentBody):
    recipients: list[RecipientBody] = Field(..., min_length=1, max_length=100_000)


def _answer(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status_code)


def _idempotency(route: str, key: str | None, body: BaseModel) -> tuple[str, str, str] | None:
    if not key:
        return None
    return route, key, request_hash(body.model_dump(mode="json", by_alias=True))


@router.post("/emails", status_code=202, summary="Send one email (to, cc and bcc each get their own delivery)")
async def send_email(
    body: EmailBody, principal: EmailSender, postroom: PostroomDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    request = EmailRequest(**body.content_fields(), to=list(body.to), cc=list(body.cc), bcc=list(body.bcc))
    answer = await postroom.sending.send_email(
        principal.tenant_id, request, idempotency=_idempotency("emails", idempotency_key, body)
    )
    return _answer(answer)


@router.get("/emails", summary="Sent emails and batches, newest first, with recipient counts by status")
async def list_emails(
    principal: EmailReader,
    postroom: PostroomDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: int = 0,
    batch: bool | None = None,
) -> dict[str, Any]:
    items, next_cursor = await postroom.sending.list_emails(
        principal.tenant_id, limit=limit, before_id=cursor, batch=batch
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/admin/metrics", summary="Sends, failures, bounces and queue depth over the last hours")
async def sending_metrics(
    principal: EmailReader, postroom: PostroomDep, hours: Annotated[float, Query(gt=0, le=168)] = 1
) -> dict[str, Any]:
    async with postroom.engine.connect() as conn:
        return await stats.summary(conn, principal.tenant_id, hours)


@router.get("/emails/{email_id}", summary="An email with each recipient's status and event timeline")
async def get_email(email_id: int, principal: EmailReader, postroom: PostroomDep) -> dict[str, Any]:
    return await postroom.sending.get_email(principal.tenant_id, email_id)


@router.post("/emails/{email_id}/cancel", summary="Cancel the recipients not handed to a transport yet")
async def cancel_email(email_id: int, principal: EmailSender, postroom: PostroomDep) -> dict[str, Any]:
    return await postroom.sending.cancel(principal.tenant_id, email_id)


@router.post("/batches", status_code=202, summary="One message to up to 100,000 recipients, each with variables")
async def send_batch(
    body: BatchBody, principal: EmailSender, postroom: PostroomDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    request = BatchRequest(
        **body.content_fields(), recipients=[BatchRecipient(r.to, r.variables) for r in body.recipients]
    )
    answer = await postroom.sending.send_batch(
        principal.tenant_id, request, idempotency=_idempotency("batches", idempotency_key, body)
    )
    return _answer(answer)


@router.get("/batches/{batch_id}", summary="Counts of the batch's recipients by status")
async def get_batch(batch_id: int, principal: EmailReader, postroom: PostroomDep) -> dict[str, Any]:
    return await postroom.sending.get_batch(principal.tenant_id, batch_id)


@router.post("/batches/{batch_id}/cancel", summary="Cancel the batch's recipients not handed to a transport yet")
async def cancel_batch(batch_id: int, principal: EmailSender, postroom: PostroomDep) -> dict[str, Any]:
    await postroom.sending.get_batch(principal.tenant_id, batch_id)
    return await postroom.sending.cancel(principal.tenant_id, batch_id)


StatusFilter = Annotated[str | None, Query(description="one of " + ", ".join(DeliveryStatus.ALL))]


@router.get("/deliveries", summary="Deliveries (one per recipient); status=failed lists the dead letters")
async def list_deliveries(
    principal: EmailReader,
    postroom: PostroomDep,
    status: StatusFilter = None,
    email_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: int = 0,
) -> dict[str, Any]:
    if status is not None and status not in DeliveryStatus.ALL:
        raise Problem(400, f"status must be one of {', '.join(DeliveryStatus.ALL)}")
    items, next_cursor = await postroom.sending.list_deliveries(
        principal.tenant_id, email_id=email_id, status=status, limit=limit, after_id=cursor
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/deliveries/{delivery_id}", summary="One delivery with its event timeline")
async def get_delivery(delivery_id: int, principal: EmailReader, postroom: PostroomDep) -> dict[str, Any]:
    return await postroom.sending.delivery(principal.tenant_id, delivery_id)


class RequeueBody(BaseModel):
    ids: list[int] | None = Field(None, description="dead-lettered delivery ids; omit for all of them")
    email_id: int | None = None


@router.post("/deliveries/requeue", summary="Put dead-lettered (failed) deliveries back in the queue")
async def requeue(body: RequeueBody, principal: SendingAdmin, postroom: PostroomDep) -> dict[str, int]:
    count = await postroom.sending.requeue(principal.tenant_id, body.ids, email_id=body.email_id)
    return {"requeued": count}


# ---- suppressions -------------------------------------------------------------------


class SuppressionBody(BaseModel):
    address: str
    reason: Literal["hard_bounce", "complaint", "unsubscribe", "manual"] = "manual"
    detail: str = ""


@router.get("/suppressions", summary="The tenant's suppression list, newest first")
async def list_suppressions(
    principal: EmailReader,
    postroom: PostroomDep,
    reason: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: int = 0,
) -> dict[str, Any]:
    async with postroom.engine.connect() as conn:
        items, next_cursor, total = await suppression.listing(
            conn, principal.tenant_id, limit=limit, after_id=cursor, reason=reason
        )
    return {"items": [i.to_json() for i in items], "next_cursor": next_cursor, "total": total}


@router.post("/suppressions", status_code=201, summary="Suppress an address")
async def add_suppression(
    body: SuppressionBody, principal: EmailSender, postroom: PostroomDep, response: Response
) -> dict[str, Any]:
    address = postroom.sending.checker.mailbox("address", body.address).address
    async with postroom.engine.begin() as conn:
        created = await suppression.add(conn, principal.tenant_id, address, body.reason, body.detail)
        found = await suppression.get(conn, principal.tenant_id, address)
    assert found is not None
    if not created:
        response.status_code = 200
    return found.to_json()


@router.get("/suppressions/{address}", summary="Whether an address is suppressed, and why")
async def get_suppression(address: str, principal: EmailReader, postroom: PostroomDep) -> dict[str, Any]:
    async with postroom.engine.connect() as conn:
        found = await suppression.get(conn, principal.tenant_id, address)
    if found is None:
        raise Problem(404, "that address is not suppressed")
    return found.to_json()


@router.delete("/suppressions/{address}", status_code=204, summary="Allow mail to an address again")
async def remove_suppression(address: str, principal: EmailSender, postroom: PostroomDep) -> Response:
    async with postroom.engine.begin() as conn:
        removed = await suppression.remove(conn, principal.tenant_id, address)
    if not removed:
        raise Problem(404, "that address is not suppressed")
    return Response(status_code=204)


# ---- templates ----------------------------------------------------------------------


class TemplateBody(BaseModel):
    name: str = Field(..., min_length=1, max_length=200)
    subject: str
    html: str | None = None
    text: str | None = None
    sample_variables: dict[str, Any] | None = None

    def data(self) -> TemplateInput:
        if not self.html and not self.text:
            raise Problem(422, "give html or text", errors=[{"field": "html", "message": "give html or text"}])
        return TemplateInput(self.name, self.subject, self.html, self.text, self.sample_variables)


class PreviewBody(BaseModel):
    variables: dict[str, Any] | None = Field(None, description="default: the template's sample variables")
    version: int | None = None


@router.get("/templates", summary="The tenant's templates")
async def list_templates(principal: EmailReader, postroom: PostroomDep) -> dict[str, Any]:
    return {"items": await postroom.templates.listing(principal.tenant_id)}


@router.post("/templates", status_code=201, summary="Create a template (version 1)")
async def create_template(body: TemplateBody, principal: EmailSender, postroom: PostroomDep) -> dict[str, Any]:
    return await postroom.templates.create(principal.tenant_id, body.data())


@router.get("/templates/{template_id}", summary="A template at its current (or a given) version")
async def get_template(
    template_id: int, principal: EmailReader, postroom: PostroomDep, version: int | None = None
) -> dict[str, Any]:
    return await postroom.templates.get(principal.tenant_id, template_id, version)


@router.put("/templates/{template_id}", summary="Change a template: stores a new version")
async def update_template(
    template_id: int, body: TemplateBody, principal: EmailSender, postroom: PostroomDep
) -> dict[str, Any]:
    return await postroom.templates.update(principal.tenant_id, template_id, body.data())


@router.delete("/templates/{template_id}", status_code=204, summary="Delete a template and its versions")
async def delete_template(template_id: int, principal: EmailSender, postroom: PostroomDep) -> Response:
    await postroom.templates.delete(principal.tenant_id, template_id)
    return Response(status_code=204)


def _preview_json(preview: Preview) -> dict[str, Any]:
    content = preview.content
    return {
        "subject": content.subject,
        "html": content.html,
        "text": content.text,
        "missing_variables": list(preview.missing),
    }


class SourcePreviewBody(BaseModel):
    subject: str = ""
    html: str | None = None
    text: str | None = None
    variables: dict[str, Any] | None = None


@router.post("/templates/preview", summary="Render template source that is not saved (a live preview)")
async def preview_source(body: SourcePreviewBody, principal: EmailReader, postroom: PostroomDep) -> dict[str, Any]:
    return _preview_json(postroom.templates.preview_source(body.subject, body.html, body.text, body.variables))


@router.post("/templates/{template_id}/preview", summary="Render with sample variables")
async def preview_template(
    template_id: int, body: PreviewBody, principal: EmailReader, postroom: PostroomDep
) -> dict[str, Any]:
    return _preview_json(
        await postroom.templates.preview(principal.tenant_id, template_id, body.variables, body.version)
    )


# ---- transports ---------------------------------------------------------------------


class TransportBody(BaseModel):
    provider: Literal["capture", "smtp", "ses", "sendgrid", "mailgun", "mailersend"]
    options: dict[str, str] = Field({}, description="provider options; stored encrypted, never shown again")


@router.get("/sending/transports", summary="Transports configured for the tenant (secrets redacted)")
async def list_transports(principal: SendingAdmin, postroom: PostroomDep) -> dict[str, Any]:
    default = postroom.transports.default_provider
    return {"default_provider": default, "items": await postroom.transports.listing(principal.tenant_id)}


class TransportSetting(TransportBody):
    domain: str = Field("", description="sender domain this applies to; empty: all the tenant's mail")


@router.put("/sending/transports", summary="Choose the transport for a sender domain (or all mail)")
async def save_transport(body: TransportSetting, principal: SendingAdmin, postroom: PostroomDep) -> dict[str, Any]:
    try:
        await postroom.transports.save(principal.tenant_id, body.domain, body.provider, body.options)
    except ValueError as exc:
        raise Problem(422, str(exc), errors=[{"field": "options", "message": str(exc)}]) from exc
    return {"domain": body.domain, "provider": body.provider}


@router.delete("/sending/transports", status_code=204, summary="Remove a transport setting")
async def remove_transport(principal: SendingAdmin, postroom: PostroomDep, domain: str = "") -> Response:
    if not await postroom.transports.remove(principal.tenant_id, domain):
        raise Problem(404, "no transport is set for that domain")
    return Response(status_code=204)


# ---- sending domains (DKIM) -------------------------------------------------------------


class DomainBody(BaseModel):
    domain: str
    algorithm: Literal["rsa", "ed25519"] | None = Field(None, description="default: POSTROOM_DKIM_ALGORITHM")


class RotateBody(BaseModel):
    algorithm: Literal["rsa", "ed25519"] | None = None


@router.get("/sending/domains", summary="Sending domains with their DKIM keys and the DNS records to publish")
async def list_domains(principal: EmailReader, postroom: PostroomDep) -> dict[str, Any]:
    return {"items": await postroom.domains.listing(principal.tenant_id)}


@router.post("/sending/domains", status_code=201, summary="Add a sending domain: generates its DKIM key")
async def add_domain(body: DomainBody, principal: SendingAdmin, postroom: PostroomDep) -> dict[str, Any]:
    return await postroom.domains.add(principal.tenant_id, body.domain, body.algorithm)


@router.get("/sending/domains/{domain}", summary="A sending domain's keys and DNS records")
async def get_domain(domain: str, principal: EmailReader, postroom: PostroomDep) -> dict[str, Any]:
    return await postroom.domains.get(principal.tenant_id, domain)


@router.post("/sending/domains/{domain}/rotate", summary="Sign with a new DKIM key under a new selector")
async def rotate_domain_key(
    domain: str, body: RotateBody, principal: SendingAdmin, postroom: PostroomDep
) -> dict[str, Any]:
    return await postroom.domains.rotate(principal.tenant_id, domain, body.algorithm)


@router.get("/sending/domains/{domain}/check", summary="Look up SPF, DKIM and DMARC and say what to publish")
async def check_domain(domain: str, principal: SendingAdmin, postroom: PostroomDep) -> dict[str, Any]:
    return await postroom.domains.check(principal.tenant_id, domain)


@router.delete("/sending/domains/{domain}", status_code=204, summary="Stop signing for a domain; drops its keys")
async def remove_domain(domain: str, principal: SendingAdmin, postroom: PostroomDep) -> Response:
    await postroom.domains.remove(principal.tenant_id, domain)
    return Response(status_code=204)
