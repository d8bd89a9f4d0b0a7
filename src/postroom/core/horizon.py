"""How far the event log can be read without skipping an event that is still being committed.

On PostgreSQL an event's id comes from a sequence when it is inserted, but the
transactions commit in any order: id 11 may be visible while id 10 is not yet. A
reader that moved its cursor past 11 would never see 10. So a reader stops before
the first missing id, and gives up on a gap only once it has stayed open for
``gap_timeout`` seconds (a rolled-back transaction leaves a gap for ever). On
SQLite one writer at a time assigns ids in commit order, so every visible id is safe.
"""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from postroom.core.models import Event

__all__ = ["CommitHorizon"]

GAP_TIMEOUT_SECONDS = 10.0
SCAN_LIMIT = 10_000


class CommitHorizon:
    def __init__(self, *, gap_timeout: float = GAP_TIMEOUT_SECONDS, scan_limit: int = SCAN_LIMIT) -> None:
        self.gap_timeout = gap_timeout
        self.scan_limit = scan_limit
        self._gaps_seen: dict[int, float] = {}  # first missing id -> when this reader first saw it missing

    async def safe_upto(self, conn: AsyncConnection, after: int) -> tuple[int, bool]:
        """(the highest id that can be read, whether more ids lie beyond the scan limit)."""
        if conn.dialect.name != "postgresql":
            newest = await conn.scalar(select(func.max(Event.id)))
            return max(int(newest or 0), after), False
        ids = list(
            await conn.scalars(select(Event.id).where(Event.id > after).order_by(Event.id).limit(self.scan_limit))
        )
        now = time.monotonic()
        safe = after
        for event_id in ids:
            if event_id > safe + 1:
                first_seen = self._gaps_seen.setdefault(safe + 1, now)
                if now - first_seen < self.gap_timeout:
                    break
            safe = event_id
        self._gaps_seen = {start: seen for start, seen in self._gaps_seen.items() if start > safe}
        return safe, len(ids) == self.scan_limit and safe == ids[-1]
