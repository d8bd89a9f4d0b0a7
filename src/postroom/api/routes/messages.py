"""/api/v1/messages: list, search, read, tag, delete, release and put messages into the inbox."""

from __future__ import annotations

import base64
import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, Field

from postroom.api.deps import PostroomDep, Reader, Writer
from postroom.api.problems import Problem
from postroom.capture.release import RELEASE_JOB, ReleaseRequest
from postroom.core import jobs
from postroom.core.ingest import Incoming
from postroom.mime.compose import Attachment, ComposeError, Draft, compose
from postroom.store.query import parse_query

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])

MAX_HTTP_MESSAGE_BYTES = 50 * 1024 * 1024
PREVIEWABLE = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}


def html_csp(allow_remote_images: bool) -> str:
    images = "'self' data: https: http:" if allow_remote_images else "'self' data:"
    return (
        f"default-src 'none'; img-src {images}; style-src 'unsafe-inline'; font-src data:; "
        "form-action 'none'; frame-ancestors 'self'; base-uri 'none'; sandbox allow-popups"
    )


class MessagePatch(BaseModel):
    is_read: bool | None = None
    tags: list[str] | None = Field(None, description="replace all tags")
    add_tags: list[str] = []
    remove_tags: list[str] = []


class BulkPatch(MessagePatch):
    ids: list[int] = Field(..., min_length=1, max_length=10_000)


class BulkDelete(BaseModel):
    ids: list[int] = Field(..., min_length=1, max_length=10_000)


class ReleaseBody(BaseModel):
    to: list[str] = Field(default_factory=list, description="recipients; default: the original envelope")
    mail_from: str | None = None


class AttachmentIn(BaseModel):
    filename: str
    content_base64: str
    content_type: str = "application/octet-stream"
    content_id: str | None = None


class NewMessage(BaseModel):
    """Either ``raw`` (a whole RFC 5322 message) or the fields to build one."""

    raw: str | None = Field(None, description="the message source; base64 when raw_base64 is true")
    raw_base64: bool = False
    sender: str | None = Field(None, alias="from")
    to: list[str] = []
    cc: list[str] = []
    reply_to: str = ""
    subject: str = ""
    text: str = ""
    html: str = ""
    headers: dict[str, str] = {}
    attachments: list[AttachmentIn] = []
    tags: list[str] = []


@router.get("")
async def list_messages(
    postroom: PostroomDep,
    principal: Reader,
    query: Annotated[str, Query(description='search, e.g. from:alice subject:"reset" is:unread')] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    try:
        page = await postroom.messages.list(principal.tenant_id, parse_query(query), limit=limit, cursor=cursor)
    except ValueError as exc:
        raise Problem(400, str(exc)) from exc
    return {
        "items": page.items,
        "next_cursor": page.next_cursor,
        "total": page.total,
        "total_capped": page.total_capped,
        "unread": page.unread,
    }


@router.post("", status_code=201)
async def create_message(postroom: PostroomDep, principal: Writer, request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("message/rfc822", "text/plain", "application/octet-stream"):
        raw = await request.body()
        tags: list[str] = []
    else:
        try:
            body = NewMessage.model_validate(await request.json())
        except ValueError as exc:
            raise Problem(422, f"invalid message: {exc}") from exc
        raw = _raw_from(body)
        tags = body.tags
    if not raw.strip():
        raise Problem(400, "the message is empty")
    if len(raw) > MAX_HTTP_MESSAGE_BYTES:
        raise Problem(413, f"the message is larger than {MAX_HTTP_MESSAGE_BYTES} bytes")
    stored = await postroom.ingestor.ingest(
        Incoming(raw=raw, tenant_id=principal.tenant_id, source="http", tags=tuple(tags))
    )
    return await postroom.messages.get(principal.tenant_id, stored.id)


def _raw_from(body: NewMessage) -> bytes:
    if body.raw is not None:
        if body.raw_base64:
            try:
                return base64.b64decode(body.raw, validate=True)
            except ValueError as exc:
                raise Problem(400, "raw is not valid base64") from exc
        return body.raw.encode("utf-8", "surrogateescape")
    if not body.sender or not body.to:
        raise Problem(422, "give either raw, or from and to (with subject, text or html)")
    try:
        return compose(
            Draft(
                sender=body.sender,
                to=body.to,
                cc=body.cc,
                reply_to=body.reply_to,
                subject=body.subject,
                text=body.text,
                html=body.html,
                headers=body.headers,
                attachments=[Attachment(**a.model_dump()) for a in body.attachments],
            )
        )
    except ComposeError as exc:
        raise Problem(422, str(exc)) from exc


@router.patch("")
async def update_messages(postroom: PostroomDep, principal: Writer, patch: BulkPatch) -> dict[str, Any]:
    updated = await postroom.messages.update_many(
        principal.tenant_id,
        patch.ids,
        is_read=patch.is_read,
        add_tags=[*patch.add_tags, *(patch.tags or [])],
        remove_tags=patch.remove_tags,
    )
    return {"updated": updated}


@router.delete("")
async def delete_messages(
    postroom: PostroomDep,
    principal: Writer,
    query: Annotated[str | None, Query(description="delete what this search finds; omit to delete all")] = None,
    body: Annotated[BulkDelete | None, Body()] = None,
) -> dict[str, Any]:
    if body is not None:
        deleted = await postroom.messages.delete_ids(principal.tenant_id, body.ids)
    else:
        deleted = await postroom.messages.delete_matching(principal.tenant_id, parse_query(query or ""))
    return {"deleted": deleted}


@router.get("/{message_id}")
async def get_message(postroom: PostroomDep, principal: Reader, message_id: int) -> dict[str, Any]:
    return await postroom.messages.get(principal.tenant_id, message_id)


@router.get("/{message_id}/raw")
async def get_raw(postroom: PostroomDep, principal: Reader, message_id: int, download: bool = False) -> Response:
    raw = await postroom.messages.raw(principal.tenant_id, message_id)
    headers = {"X-Content-Type-Options": "nosniff"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="message-{message_id}.eml"'
    return Response(raw, media_type="message/rfc822" if download else "text/plain", headers=headers)


@router.get("/{message_id}/html")
async def get_html(postroom: PostroomDep, principal: Reader, message_id: int, remote_images: bool = False) -> Response:
    detail = await postroom.messages.get(principal.tenant_id, message_id)
    html = _link_inline_parts(detail["html"], detail["inline"] + detail["attachments"], message_id)
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": html_csp(remote_images),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def _link_inline_parts(html: str, parts: list[dict[str, Any]], message_id: int) -> str:
    by_cid = {p["content_id"]: p["index"] for p in parts if p.get("content_id")}

    def replace(match: re.Match[str]) -> str:
        index = by_cid.get(match.group(2))
        if index is None:
            return match.group(0)
        return f"{match.group(1)}/api/v1/messages/{message_id}/attachments/{index}?inline=true"

    return re.sub(r"""(["'(])cid:([^"')\s]+)""", replace, html)


@router.get("/{message_id}/attachments/{index}")
async def get_attachment(
    postroom: PostroomDep, principal: Reader, message_id: int, index: int, inline: bool = False
) -> Response:
    part, data = await postroom.messages.attachment(principal.tenant_id, message_id, index)
    previewable = inline and part.content_type in PREVIEWABLE
    disposition = "inline" if previewable else "attachment"
    ascii_name = part.filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return Response(
        data,
        media_type=part.content_type if previewable else "application/octet-stream",
        headers={
            "Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(part.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@router.patch("/{message_id}")
async def update_message(
    postroom: PostroomDep, principal: Writer, message_id: int, patch: MessagePatch
) -> dict[str, Any]:
    return await postroom.messages.update(
        principal.tenant_id,
        message_id,
        is_read=patch.is_read,
        tags=patch.tags,
        add_tags=patch.add_tags,
        remove_tags=patch.remove_tags,
    )


@router.delete("/{message_id}", status_code=204)
async def delete_message(postroom: PostroomDep, principal: Writer, message_id: int) -> Response:
    await postroom.messages.delete(principal.tenant_id, message_id)
    return Response(status_code=204)


@router.post("/{message_id}/release", status_code=202)
async def release_message(
    postroom: PostroomDep, principal: Writer, message_id: int, release: ReleaseBody
) -> dict[str, Any]:
    if not postroom.settings.release_host:
        raise Problem(409, "no release server is configured (set POSTROOM_RELEASE_HOST)")
    detail = await postroom.messages.get(principal.tenant_id, message_id)
    recipients = release.to or detail["envelope"]["to"] or [a["address"] for a in detail["to"]]
    if not recipients:
        raise Problem(422, "the message has no recipients; give 'to'")
    for address in recipients:
        if "\r" in address or "\n" in address or "@" not in address:
            raise Problem(422, f"to: {address!r} is not an email address")
    async with postroom.engine.begin() as conn:
        job_id = await jobs.enqueue(
            conn,
            RELEASE_JOB,
            ReleaseRequest(message_id, principal.tenant_id, tuple(recipients), release.mail_from).to_payload(),
            tenant_id=principal.tenant_id,
            max_attempts=8,
        )
    postroom.worker.notify()
    return {"job_id": job_id, "status": "queued", "to": recipients}
