"""A background loop stopped with cancel() must stop, even when the cancel meets a wake.

Python 3.11's ``asyncio.wait_for`` around ``Condition.wait`` returned normally from a
cancelled wait whose wake had just arrived: the bounce collector then kept running and
``Postroom.stop()`` never returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from postroom.core.events import EventHub
from postroom.core.waits import wait_set


async def _cancel_around_wakes(
    wait: Callable[[], Awaitable[object]], wake: Callable[[], Awaitable[None]], yields: int
) -> None:
    for _ in range(100):
        task = asyncio.ensure_future(wait())
        await asyncio.sleep(0)  # the task is waiting
        await wake()
        for _ in range(yields):
            await asyncio.sleep(0)
        if not task.cancel():
            continue  # it had returned already: nothing to swallow
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(1):
                await task
        assert task.cancelled()


@pytest.mark.parametrize("yields", range(4))
async def test_an_event_hub_reader_cancelled_as_a_wake_arrives_stops(yields: int) -> None:
    hub = EventHub(None, poll_seconds=5.0)  # type: ignore[arg-type]  # waiting needs no database
    await _cancel_around_wakes(lambda: hub.wait(hub.generation), hub.published, yields)


@pytest.mark.parametrize("yields", range(4))
async def test_wait_set_cancelled_as_its_event_is_set_stops(yields: int) -> None:
    event = asyncio.Event()

    async def wake() -> None:
        event.set()

    async def wait() -> bool:
        event.clear()
        return await wait_set(event, 5.0)

    await _cancel_around_wakes(wait, wake, yields)


async def test_wait_set_says_whether_the_event_came() -> None:
    event = asyncio.Event()
    assert await wait_set(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_set(event, 5.0) is True
