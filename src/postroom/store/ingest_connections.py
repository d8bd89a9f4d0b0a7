"""The PostgreSQL connections ingest's group commit writes through, outside SQLAlchemy's pool.

One asyncpg connection per group commit in flight (``POSTROOM_INGEST_WRITERS``, 1 by
default), on the server's own event loop. They ran on a thread with its own loop before,
so that the commit's awaits would not queue behind the SMTP sessions' callbacks: +3-4 %
messages a second on one machine, but on a slower one every cycle's hand-offs between the
two threads and the GIL cost about 10 % more CPU a message than the loop's own awaits
(``bench/README.md``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
APPLICATION_NAME = "postroom-ingest"  # how the connections show in pg_stat_activity
# The group commit runs the same few inserts over and over, with nothing in their values
# a plan depends on: planned once, not per batch as the search connections' custom plans
# are. Planning the batch statement was over a quarter of PostgreSQL's CPU a message
# (180-190 -> 128-138 us; bench/README.md).
SERVER_SETTINGS = {"application_name": APPLICATION_NAME, "plan_cache_mode": "force_generic_plan"}


class IngestConnections:
    def __init__(self, engine: AsyncEngine, size: int = 1) -> None:
        _, self._connect_args = engine.dialect.create_connect_args(engine.url)
        self._idle: list[Any] = []  # asyncpg.Connections not in use
        self._slots = asyncio.Semaphore(size)  # one piece of work per connection at a time

    async def run(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """``work(connection)`` on a connection of its own."""
        async with self._slots:
            conn = self._idle.pop() if self._idle else None
            if conn is None or conn.is_closed():
                # A connection that broke fails the batch it was writing (the sender is told
                # to retry: the COMMIT may or may not have happened); the next one reconnects.
                conn = await asyncpg.connect(**self._connect_args, server_settings=SERVER_SETTINGS)
            try:
                return await work(conn)
            finally:
                self._idle.append(conn)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            if not conn.is_closed():
                await conn.close()
