"""How the Python app serves the built UI next to the API, without shadowing any of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.integration.conftest import LiveFactory, LiveServer


@pytest.fixture
async def server(live_factory: LiveFactory, web_build: Path) -> LiveServer:
    return await live_factory(auth_required=True)


def hashed_asset(build: Path) -> str:
    return next(p.name for p in (build.parent / "assets").iterdir() if p.name.startswith("index-"))


async def test_the_app_answers_its_own_routes_and_caches_hashed_assets(server: LiveServer, web_build: Path) -> None:
    async with server.client() as client:
        for path in ("/", "/messages/42", "/api-keys", "/profile?x=1"):
            response = await client.get(path)
            assert response.status_code == 200, path
            assert '<div id="root">' in response.text
            assert response.headers["cache-control"] == "no-cache"
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        asset = await client.get(f"/assets/{hashed_asset(web_build)}")
        assert asset.status_code == 200
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "javascript" in asset.headers["content-type"]
        favicon = await client.get("/favicon.svg")
        assert favicon.headers["content-type"].startswith("image/svg")


async def test_api_docs_and_operations_are_never_shadowed(server: LiveServer) -> None:
    async with server.client() as client:
        for path in ("/api/v1/nothing-here", "/api/v1/messages/1/nope", "/internal/x", "/metrics/x", "/health/x"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/problem+json"
        assert (await client.get("/api/v1/messages")).status_code == 401
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "Postroom"
        assert "swagger" in (await client.get("/docs")).text.lower()
        assert (await client.get("/health")).json()["status"] == "healthy"
        assert (await client.get("/metrics")).status_code == 200


async def test_missing_files_and_paths_outside_the_build_are_not_found(server: LiveServer) -> None:
    async with server.client() as client:
        for path in ("/assets/index-missing.js", "/assets/..%2F..%2Fapp.py", "/..%2Fapi%2Froutes%2Fweb.py", "/x.png"):
            response = await client.get(path)
            assert response.status_code == 404, path


async def test_without_a_build_the_front_door_says_how_to_make_one(server: LiveServer, tmp_path: Path) -> None:
    app = server.server.config.app
    assert isinstance(app, FastAPI)
    app.state.web_dist = tmp_path  # an empty folder: no build
    async with server.client() as client:
        for path in ("/", "/messages/1"):
            response = await client.get(path)
            assert response.status_code == 200
            assert "scripts/web.sh" in response.text
            assert 'href="/docs"' in response.text
