"""Delivery into Postroom's own capture inbox: in development every sent email shows up in the UI."""

from __future__ import annotations

from postroom.core.ingest import Incoming, Ingestor, StoreUnavailable
from postroom.send.transport import DeliveryDeferred, DeliveryResult, OutboundMessage


class CaptureTransport:
    name = "capture"

    def __init__(self, ingestor: Ingestor, tenant_id: int) -> None:
        self.ingestor = ingestor
        self.tenant_id = tenant_id

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        try:
            stored = await self.ingestor.ingest(
                Incoming(
                    raw=message.raw,
                    tenant_id=self.tenant_id,
                    source="send",
                    envelope_from=message.envelope_from,
                    envelope_to=(message.recipient,),
                    tags=message.tags,
                )
            )
        except StoreUnavailable as exc:
            raise DeliveryDeferred(f"451 capture inbox unavailable: {exc}", 451) from exc
        return DeliveryResult(
            response=f"250 stored in the capture inbox as message {stored.id}",
            provider_message_id=str(stored.id),
            delivered=True,
        )

    async def close(self) -> None:
        return None
