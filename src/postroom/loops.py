"""Which asyncio event loop the long-running commands use.

uvloop (libuv) runs the SMTP and HTTP servers' socket work, callbacks and futures in C:
measured with ``bench/ingest.py``, it took the server's CPU per captured message from
~500 to ~420 us and SMTP throughput up by about 15 %. ``auto`` uses it where it is
installed (it comes with ``uvicorn[standard]``, except on Windows).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable

__all__ = ["loop_factory", "loop_name"]


def loop_name(choice: str) -> str:
    """``asyncio`` or ``uvloop``: what ``choice`` (auto, asyncio, uvloop) resolves to here."""
    if choice == "auto":
        return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    return choice


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """For ``asyncio.Runner``; None is asyncio's own loop."""
    if loop_name(choice) != "uvloop":
        return None
    import uvloop

    return uvloop.new_event_loop
