"""Tracking and unsubscribe links of sent mail, and what happens when someone follows one."""

from __future__ import annotations

import hashlib

import structlog

from postroom.config import Settings
from postroom.send.feedback import Feedback, FeedbackService, reference_id
from postroom.send.tracking import InvalidToken, Tracker, TrackingKind

log = structlog.get_logger(__name__)

# A transparent 1x1 GIF.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def build_tracker(settings: Settings) -> Tracker | None:
    """None when links cannot be made: production needs an https ``POSTROOM_PUBLIC_URL``."""
    keys = [hashlib.sha256(b"postroom tracking links\x00" + s.encode()).digest() for s in settings.encryption_secrets]
    try:
        return Tracker(keys, settings.base_url, allow_http=not settings.is_production)
    except ValueError as exc:
        log.warning(
            "tracking_links_off", reason=str(exc), fix="set POSTROOM_PUBLIC_URL to the https address of Postroom"
        )
        return None


class Links:
    """Without a tracker, mail goes out untracked and without List-Unsubscribe links."""

    def __init__(self, tracker: Tracker | None, feedback: FeedbackService) -> None:
        self._tracker = tracker
        self.feedback = feedback

    @property
    def tracker(self) -> Tracker:
        if self._tracker is None:
            raise InvalidToken("tracking links are off on this server")
        return self._tracker

    def decorate(self, html: str, delivery_id: int, clicks: bool, opens: bool) -> str:
        if self._tracker is None:
            return html
        return self._tracker.rewrite_html(html, str(delivery_id), clicks=clicks, opens=opens)

    def unsubscribe_urls(self, delivery_id: int) -> list[str]:
        return self._tracker.unsubscribe_urls(str(delivery_id)) if self._tracker is not None else []

    async def opened(self, token: str) -> None:
        """Raises InvalidToken."""
        found = self.tracker.verify(token, TrackingKind.OPEN)
        await self.feedback.apply([Feedback("opened", "tracking", delivery_id=reference_id(found.reference))])

    async def clicked(self, token: str, url: str) -> str:
        """The URL to redirect to: only ever the one the link was signed for (raises InvalidToken)."""
        found = self.tracker.resolve_click(token, url)
        await self.feedback.apply([Feedback("clicked", "tracking", delivery_id=reference_id(found.reference), url=url)])
        return url

    def check_unsubscribe(self, token: str) -> None:
        self.tracker.verify(token, TrackingKind.UNSUBSCRIBE)

    async def unsubscribe(self, token: str) -> bool:
        """Suppress the recipient; False when the link names no delivery any more."""
        found = self.tracker.verify(token, TrackingKind.UNSUBSCRIBE)
        applied = await self.feedback.apply(
            [Feedback("unsubscribed", "unsubscribe", delivery_id=reference_id(found.reference))]
        )
        return applied.matched > 0


__all__ = ["PIXEL", "InvalidToken", "Links", "build_tracker"]
