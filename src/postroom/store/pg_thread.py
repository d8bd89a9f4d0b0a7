"""One PostgreSQL connection with its own thread and event loop, for ingest's group commit.

On the server's event loop each await of the group commit (BEGIN, new ids, the statement,
COMMIT) queues behind the SMTP sessions' callbacks before it resumes. Here the cycle's
awaits resume at once; the server's loop only hands the batch over and gets the ids back
(3-4 % more messages a second in ``bench/ingest.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncEngine

from postroom.loops import loop_factory
from postroom.store.engine import PG_SERVER_SETTINGS

T = TypeVar("T")
CLOSE_SECONDS = 10.0
APPLICATION_NAME = "postroom-ingest"  # how the connection shows in pg_stat_activity


class PgThread:
    def __init__(self, engine: AsyncEngine) -> None:
        _, self._connect_args = engine.dialect.create_connect_args(engine.url)
        self._loop = (loop_factory("auto") or asyncio.new_event_loop)()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-writer", daemon=True)
        self._thread.start()
        self._conn: Any = None  # asyncpg.Connection, used on this thread's loop only
        self._busy = asyncio.Lock()  # one piece of work at a time on the connection (bound on first use)

    def submit(self, work: Callable[[Any], Awaitable[T]]) -> concurrent.futures.Future[T]:
        """Run ``work(connection)`` on the thread's loop."""
        return asyncio.run_coroutine_threadsafe(self._run(work), self._loop)

    async def _run(self, work: Callable[[Any], Awaitable[T]]) -> T:
        async with self._busy:
            if self._conn is None or self._conn.is_closed():
                # A connection that broke fails the batch it was writing (the sender is told
                # to retry: the COMMIT may or may not have happened); the next one reconnects.
                settings = {**PG_SERVER_SETTINGS, "application_name": APPLICATION_NAME}
                self._conn = await asyncpg.connect(**self._connect_args, server_settings=settings)
            return await work(self._conn)

    def close(self) -> None:
        async def disconnect() -> None:
            if self._conn is not None and not self._conn.is_closed():
                await self._conn.close()

        try:
            asyncio.run_coroutine_threadsafe(disconnect(), self._loop).result(CLOSE_SECONDS)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CLOSE_SECONDS)
            self._loop.close()
