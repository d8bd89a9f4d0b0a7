"""Per-destination-domain and per-transport concurrency and rate limits for one worker process.

Rates are token buckets (``rate`` tokens a second, a burst of one second's worth);
concurrency is a semaphore per key. A key without a configured rate is not throttled.
The limits hold per worker process: with N workers the fleet sends up to N times the rate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager


class TokenBucket:
    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class Limits:
    def __init__(
        self,
        *,
        domain_concurrency: int,
        domain_rates: Mapping[str, float],
        transport_rates: Mapping[str, float],
        transport_concurrency: Mapping[str, float],
    ) -> None:
        self.domain_concurrency = domain_concurrency
        self.domain_rates = dict(domain_rates)
        self.transport_rates = dict(transport_rates)
        self.transport_concurrency = {k: int(v) for k, v in transport_concurrency.items()}
        self._domain_slots: dict[str, asyncio.Semaphore] = {}
        self._transport_slots: dict[str, asyncio.Semaphore] = {}
        self._buckets: dict[str, TokenBucket] = {}

    def _bucket(self, key: str, rate: float | None) -> TokenBucket | None:
        if rate is None or rate <= 0:
            return None
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate)
        return bucket

    def _domain_rate(self, domain: str) -> float | None:
        return self.domain_rates.get(domain, self.domain_rates.get("*"))

    @asynccontextmanager
    async def slot(self, domain: str, transport: str) -> AsyncIterator[None]:
        domain_slot = self._domain_slots.get(domain)
        if domain_slot is None:
            domain_slot = self._domain_slots[domain] = asyncio.Semaphore(self.domain_concurrency)
        transport_slot = self._transport_slots.get(transport)
        if transport_slot is None and transport in self.transport_concurrency:
            transport_slot = self._transport_slots[transport] = asyncio.Semaphore(
                max(1, self.transport_concurrency[transport])
            )
        async with domain_slot:
            if transport_slot is not None:
                await transport_slot.acquire()
            try:
                for bucket in (
                    self._bucket(f"domain:{domain}", self._domain_rate(domain)),
                    self._bucket(f"transport:{transport}", self.transport_rates.get(transport)),
                ):
                    if bucket is not None:
                        await bucket.take()
                yield
            finally:
                if transport_slot is not None:
                    transport_slot.release()
