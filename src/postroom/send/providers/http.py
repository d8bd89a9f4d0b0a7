"""What the HTTP providers share: one pooled client, and one mapping from HTTP answers to outcomes.

2xx                                   -> accepted
401, 403 (credentials refused)        -> DeliveryDeferred: an operator can fix the key and the queue retries
408, 429, 5xx, timeouts, network      -> DeliveryDeferred
400, 413, 422 (message or recipient)  -> DeliveryBounced
any other 4xx (e.g. 404 unknown domain, a configuration problem) -> DeliveryDeferred

Each provider may refine the table (SES names its errors in ``x-amzn-ErrorType``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from postroom.send.transport import DeliveryBounced, DeliveryDeferred

DEFAULT_TIMEOUT = 30.0
BOUNCE_STATUSES = frozenset({400, 413, 422})
_MAX_ANSWER = 500


def describe(response: httpx.Response) -> str:
    """The status line and the start of the provider's answer, for logs and delivery attempts."""
    text = " ".join(response.text.split())
    if len(text) > _MAX_ANSWER:
        text = text[:_MAX_ANSWER] + "..."
    line = f"{response.status_code} {response.reason_phrase}".strip()
    return f"{line}: {text}" if text else line


def raise_for_answer(
    provider: str, response: httpx.Response, *, bounce_statuses: frozenset[int] = BOUNCE_STATUSES
) -> None:
    """Return when the provider took the message; raise the outcome the answer means otherwise."""
    status = response.status_code
    if 200 <= status < 300:
        return
    answer = describe(response)
    if status in (401, 403):
        raise DeliveryDeferred(f"{provider} refused the credentials (check the API key): {answer}", status)
    if status in bounce_statuses:
        raise DeliveryBounced(f"{provider} rejected the message: {answer}", status)
    raise DeliveryDeferred(f"{provider} answered {answer}", status)


class ProviderClient:
    """One pooled ``httpx.AsyncClient`` per transport; network failures become ``DeliveryDeferred``."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers=dict(headers or {}),
            auth=auth,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._client.post(path, **kwargs)
        except httpx.TimeoutException as exc:
            raise DeliveryDeferred(f"{self.provider} did not answer in time ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise DeliveryDeferred(f"{self.provider} could not be reached: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        await self._client.aclose()
