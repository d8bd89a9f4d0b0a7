"""Waiting for an asyncio.Event with a time limit, in a way cancellation always ends.

Python 3.11's ``asyncio.wait_for`` can swallow a ``cancel()`` that arrives as the inner
wait finishes, and around ``Condition.wait`` it can leave the lock released; a background
loop stopped with ``cancel()`` then keeps running and its ``stop()`` never returns.
``asyncio.timeout`` tells its own deadline from an outside cancellation.
"""

from __future__ import annotations

import asyncio

__all__ = ["wait_set"]


async def wait_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; True when it was set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
