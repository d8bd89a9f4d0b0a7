"""The web UI: the single-page app built from ``web/`` into ``postroom/web_dist``.

Hashed assets are cached for a year; every other path under ``/`` that is not the API's
answers ``index.html`` so the app's own routes survive a reload. Without a build, ``/``
says how to make one instead of failing.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from postroom.api.problems import Problem

router = APIRouter(tags=["web"])

WEB_DIST = Path(__file__).resolve().parents[2] / "web_dist"
IMMUTABLE = "public, max-age=31536000, immutable"
# Paths the server answers itself: a miss there is a 404, never the app's page.
RESERVED = ("api", "internal", "graphql", "docs", "redoc", "openapi.json", "health", "ready", "metrics", "t")
APP_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Postroom</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>Postroom is running</h1>
<p>The web UI has not been built. From a clone of the repository, run
<code>scripts/web.sh</code> (it needs Node.js and npm), then reload this page.</p>
<p>The API works without it: see <a href="/docs">/docs</a>.</p>
</body></html>
"""


def _index(dist: Path) -> Response:
    index = dist / "index.html"
    if not index.is_file():
        return HTMLResponse(NOT_BUILT, status_code=200, headers={"Cache-Control": "no-cache"})
    return FileResponse(index, media_type="text/html; charset=utf-8", headers=APP_HEADERS)


def _static(dist: Path, path: str) -> Path | None:
    """The file under ``dist`` that ``path`` names, or None (never a file outside it)."""
    if not path or path.endswith("/"):
        return None
    candidate = (dist / path).resolve()
    if not candidate.is_relative_to(dist.resolve()) or not candidate.is_file():
        return None
    return candidate


def _dist(request: Request) -> Path:
    """Tests may point ``app.state.web_dist`` elsewhere; the installed build is the default."""
    dist: Path = getattr(request.app.state, "web_dist", WEB_DIST)
    return dist


@router.get("/", include_in_schema=False)
async def home(request: Request) -> Response:
    return _index(_dist(request))


@router.get("/{path:path}", include_in_schema=False)
async def app_route(request: Request, path: str) -> Response:
    dist = _dist(request)
    if path.split("/", 1)[0] in RESERVED:
        raise Problem(404, f"nothing at /{path}")
    found = _static(dist, path)
    if found is not None:
        cache = IMMUTABLE if path.startswith("assets/") else "no-cache"
        return FileResponse(found, headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})
    if path.startswith("assets/") or "." in path.rsplit("/", 1)[-1]:
        raise Problem(404, f"nothing at /{path}")
    return _index(dist)
