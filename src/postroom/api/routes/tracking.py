"""/t/o, /t/c, /t/u: open pixels, click redirects and (one-click) unsubscribe of sent mail.

Public: a signed token is the only credential. A click redirects only to the URL its
token was made for; an unsubscribe link asks before acting on GET (link scanners follow
links) and acts at once on POST, as RFC 8058 one-click requires.
"""

from __future__ import annotations

import contextlib
import html

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from postroom.api.deps import PostroomDep
from postroom.api.problems import Problem
from postroom.send.links import PIXEL, InvalidToken

router = APIRouter(prefix="/t", tags=["tracking"], include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"


def _page(title: str, body: str) -> HTMLResponse:
    document = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title>"
        "<body style='font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem'>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(
        document,
        headers={
            **NO_STORE,
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        },
    )


@router.get("/o/{token}")
async def open_pixel(token: str, postroom: PostroomDep) -> Response:
    with contextlib.suppress(InvalidToken):  # a broken pixel is still an image: clients show nothing
        await postroom.links.opened(token)
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get("/c/{token}")
async def click(token: str, url: str, postroom: PostroomDep) -> RedirectResponse:
    try:
        target = await postroom.links.clicked(token, url)
    except InvalidToken as exc:
        raise Problem(404, f"this link is not valid: {exc}") from exc
    return RedirectResponse(target, status_code=302, headers=NO_STORE)


@router.get("/u/{token}")
async def unsubscribe_page(token: str, postroom: PostroomDep) -> HTMLResponse:
    try:
        postroom.links.check_unsubscribe(token)
    except InvalidToken as exc:
        raise Problem(404, "this unsubscribe link is not valid") from exc
    form = (
        "<p>Stop receiving these emails at this address?</p>"
        f"<form method=post action='/t/u/{html.escape(token)}'><button type=submit>Unsubscribe</button></form>"
    )
    return _page("Unsubscribe", form)


@router.post("/u/{token}")
async def unsubscribe(token: str, postroom: PostroomDep) -> HTMLResponse:
    try:
        await postroom.links.unsubscribe(token)
    except InvalidToken as exc:
        raise Problem(404, "this unsubscribe link is not valid") from exc
    return _page("Unsubscribed", "<p>You will not receive these emails any more.</p>")
