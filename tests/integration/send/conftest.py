"""Fixtures for sending tests: a scripted SMTP sink and a live Postroom that relays to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.integration.conftest import LiveFactory, LiveServer
from tests.integration.send.smtp_sink import ScriptedSink


@pytest.fixture
async def sink() -> AsyncIterator[ScriptedSink]:
    server = ScriptedSink()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def relay_live(live_factory: LiveFactory, sink: ScriptedSink) -> LiveServer:
    """Auth on, workers on, every delivery through the smtp transport to the scripted sink."""
    return await live_factory(
        email_provider="smtp",
        smtp_relay_host="127.0.0.1",
        smtp_relay_port=sink.port,
        smtp_relay_tls="none",
        smtp_relay_timeout=2.0,
        email_retry_delay=0.2,
        email_retry_max_delay=0.5,
        email_worker_max_retries=2,
    )
