"""Shared fixtures: every storage test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest

from postroom.config import Settings, to_async_url
from postroom.store.migrate import upgrade
from tests.services import PostgresServer, RedisServer

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("POSTROOM_CORPUS", REPO.parent / "shared" / "corpus"))


def _worker_id(request: pytest.FixtureRequest) -> str:
    return str(getattr(request.config, "workerinput", {}).get("workerid", "main"))


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin URL of a PostgreSQL server holding a migrated template database."""
    external = os.environ.get("POSTROOM_TEST_POSTGRES_URL")
    server = None
    if external:
        admin = external
    else:
        server = PostgresServer(tmp_path_factory.mktemp("pg"))
        server.start()
        admin = server.admin_url
    template = f"postroom_tpl_{uuid.uuid4().hex[:8]}"

    async def create_template() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'CREATE DATABASE "{template}"')
        finally:
            await conn.close()

    # Session fixtures may be first requested from inside a running test loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, create_template()).result()
    base = admin.rsplit("/", 1)[0]
    upgrade(to_async_url(f"{base}/{template}"))
    yield f"{admin}#{template}"
    if server is not None:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated database for one test, on each engine in turn."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "postroom.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    admin_and_template: str = request.getfixturevalue("postgres")
    admin, template = admin_and_template.split("#")
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    yield to_async_url(f"{admin.rsplit('/', 1)[0]}/{name}")
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        storage_dir=tmp_path / "data",
        environment="test",
        smtp_port=0,
        api_port=0,
        blob_fsync=False,
        job_poll_seconds=0.05,
    )


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("POSTROOM_TEST_REDIS_URL")
    if external:
        yield external
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"mail corpus not found at {CORPUS} (set POSTROOM_CORPUS)")
    return CORPUS
