"""/api/v1/webhooks/{ses,sendgrid,mailgun,mailersend}: event deliveries from email providers.

No API key: each request proves itself with the provider's signature (401 otherwise).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from postroom.api.deps import PostroomDep
from postroom.api.problems import Problem
from postroom.send.provider_events.event import WebhookSignatureError
from postroom.send.provider_webhooks import WebhookNotConfigured

router = APIRouter(prefix="/api/v1/webhooks", tags=["provider webhooks"])


async def _receive(provider: str, request: Request, postroom: PostroomDep) -> dict[str, object]:
    body = await request.body()
    try:
        return await postroom.provider_webhooks.receive(provider, dict(request.headers), body)
    except WebhookSignatureError as exc:
        raise Problem(401, exc.detail, title="Webhook signature refused") from exc
    except WebhookNotConfigured as exc:
        raise Problem(404, str(exc)) from exc


@router.post("/ses", summary="Amazon SES events through SNS (signature-checked)")
async def ses_events(request: Request, postroom: PostroomDep) -> dict[str, object]:
    return await _receive("ses", request, postroom)


@router.post("/sendgrid", summary="SendGrid signed event webhook")
async def sendgrid_events(request: Request, postroom: PostroomDep) -> dict[str, object]:
    return await _receive("sendgrid", request, postroom)


@router.post("/mailgun", summary="Mailgun webhooks (HMAC-signed)")
async def mailgun_events(request: Request, postroom: PostroomDep) -> dict[str, object]:
    return await _receive("mailgun", request, postroom)


@router.post("/mailersend", summary="MailerSend webhooks (HMAC-signed)")
async def mailersend_events(request: Request, postroom: PostroomDep) -> dict[str, object]:
    return await _receive("mailersend", request, postroom)
