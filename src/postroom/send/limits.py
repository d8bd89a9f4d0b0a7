"""Per-destination-domain and per-transport concurrency and rate limits.

Rates are token buckets (``rate`` tokens a second, a burst of one second's worth). With
``REDIS_URL`` set, a bucket lives in Redis and every worker process on every host takes
from the same one; without it each process has its own. Concurrency is a semaphore per
key in each process. A key without a configured rate is not throttled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any


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


# Takes a token if there is one; answers how long to wait otherwise (Redis's clock for all).
_TAKE = """
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisTokenBucket:
    """The same bucket for every process that uses this key."""

    def __init__(self, redis: Any, key: str, rate: float, burst: float | None = None) -> None:
        self.redis = redis
        self.key = f"postroom:rate:{key}"
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else rate)

    async def take(self) -> None:
        while True:
            wait = float(await self.redis.eval(_TAKE, 1, self.key, self.rate, self.capacity))
            if wait <= 0:
                return
            await asyncio.sleep(wait)


class Limits:
    def __init__(
        self,
        *,
        domain_concurrency: int,
        domain_rates: Mapping[str, float],
        transport_rates: Mapping[str, float],
        transport_concurrency: Mapping[str, float],
        redis: Any = None,
    ) -> None:
        self.redis = redis
        self.domain_concurrency = domain_concurrency
        self.domain_rates = dict(domain_rates)
        self.transport_rates = dict(transport_rates)
        self.transport_concurrency = {k: int(v) for k, v in transport_concurrency.items()}
        self._domain_slots: dict[str, asyncio.Semaphore] = {}
        self._transport_slots: dict[str, asyncio.Semaphore] = {}
        self._buckets: dict[str, TokenBucket | RedisTokenBucket] = {}

    def _bucket(self, key: str, rate: float | None) -> TokenBucket | RedisTokenBucket | None:
        if rate is None or rate <= 0:
            return None
        bucket = self._buckets.get(key)
        if bucket is None:
            made = RedisTokenBucket(self.redis, key, rate) if self.redis is not None else TokenBucket(rate)
            bucket = self._buckets[key] = made
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
