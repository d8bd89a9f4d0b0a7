"""With Redis, a rate limit is one bucket for every worker process; without, one per process."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from postroom.send.limits import Limits


def limits(redis: aioredis.Redis | None, domain: str) -> Limits:
    # A burst of one message, then one every two seconds.
    return Limits(
        domain_concurrency=10, domain_rates={domain: 0.5}, transport_rates={}, transport_concurrency={}, redis=redis
    )


async def take(worker: Limits, domain: str) -> None:
    async with worker.slot(domain, "smtp"):
        pass


async def test_two_workers_share_one_bucket_through_redis(redis_url: str) -> None:
    domain = f"{uuid.uuid4().hex}.example"
    clients = [aioredis.from_url(redis_url), aioredis.from_url(redis_url)]
    try:
        first, second = (limits(client, domain) for client in clients)
        await take(first, domain)  # the bucket's only token
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(take(second, domain), 0.5)  # the other process must wait for a refill
        await take(first, f"other-{domain}")  # other domains have their own bucket
    finally:
        for client in clients:
            await client.aclose()


async def test_without_redis_each_worker_has_its_own_bucket() -> None:
    domain = "solo.example"
    first, second = limits(None, domain), limits(None, domain)
    await take(first, domain)
    await asyncio.wait_for(take(second, domain), 0.5)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(take(first, domain), 0.5)
