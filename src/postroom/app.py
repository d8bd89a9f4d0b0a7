"""Composition root: settings -> engine -> services -> entry points. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy import text

from postroom.auth.service import AuthService
from postroom.automation.webhooks import WEBHOOK_JOB, WebhookDispatcher, WebhookService, make_webhook_handler
from postroom.capture.chaos import ChaosMonkey
from postroom.capture.pruning import prune
from postroom.capture.release import make_release_handler
from postroom.capture.smtp import CaptureServer
from postroom.config import Settings
from postroom.core.crypto import SecretBox
from postroom.core.events import EventHub
from postroom.core.ingest import Ingestor
from postroom.core.messages import MessageService
from postroom.core.parsing import ParseSweeper
from postroom.core.worker import JobHandler, JobWorker
from postroom.send.bounces import BounceCollector
from postroom.send.domains import DomainService
from postroom.send.feedback import FeedbackService
from postroom.send.links import Links, build_tracker
from postroom.send.provider_webhooks import ProviderWebhooks
from postroom.send.routing import TransportRouter
from postroom.send.service import SendService
from postroom.send.templates import TemplateService
from postroom.send.templating import TemplateRenderer
from postroom.send.validation import AddressChecker
from postroom.send.worker import DeliveryWorker
from postroom.store.blobs import BlobStore
from postroom.store.engine import create_engine
from postroom.store.migrate import upgrade_async

log = structlog.get_logger(__name__)

PRUNE_INTERVAL_SECONDS = 2.0


class Postroom:
    """One running Postroom: the pieces every entry point (serve, api, smtp, worker) shares."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.storage_dir.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(settings.resolved_database_url)
        self.blobs = BlobStore(settings.blob_dir, fsync=settings.blob_fsync)
        self.hub = EventHub(self.engine, redis_url=settings.redis_url)
        self.sweeper = ParseSweeper(self.engine, self.blobs)
        self.ingestor = Ingestor(
            self.engine, self.blobs, self.hub, on_commit=self.sweeper.notify, writers=settings.ingest_writers
        )
        self.messages = MessageService(self.engine, self.blobs, self.hub)
        self.auth = AuthService(self.engine, settings)
        self.chaos = ChaosMonkey.from_setting(settings.smtp_chaos)
        self.webhooks = WebhookService(self.engine, settings)
        handlers: dict[str, JobHandler] = {
            "capture.release": make_release_handler(settings, self.messages),
            WEBHOOK_JOB: make_webhook_handler(self.webhooks),
        }
        self.worker = JobWorker(
            self.engine,
            handlers,
            lease_seconds=settings.job_lease_seconds,
            poll_seconds=settings.job_poll_seconds,
        )
        self.webhook_dispatcher = WebhookDispatcher(
            self.engine, self.hub, max_attempts=settings.webhook_max_attempts, on_enqueue=self.worker.notify
        )
        self.secrets = SecretBox(settings.encryption_secrets)
        self.templates = TemplateService(self.engine, TemplateRenderer())
        self.transports = TransportRouter(self.engine, settings, self.ingestor, self.secrets)
        self.domains = DomainService(self.engine, settings, self.secrets)
        self.feedback = FeedbackService(self.engine, self.hub)
        self.links = Links(build_tracker(settings), self.feedback)
        self.delivery = DeliveryWorker(
            self.engine,
            self.hub,
            settings,
            self.templates,
            self.transports,
            decorate_html=self.links.decorate,
            unsubscribe=self.links.unsubscribe_urls,
            signer_for=self.domains.signer_for,
        )
        self.sending = SendService(
            self.engine,
            self.hub,
            self.templates,
            AddressChecker(production=settings.is_production),
            on_queued=self.delivery.notify,
        )
        self.provider_webhooks = ProviderWebhooks(settings, self.feedback)
        self.bounces = BounceCollector(self.engine, self.hub, self.messages, self.feedback)
        self.capture: CaptureServer | None = None
        self.default_tenant_id = 0
        self._background: list[asyncio.Task[None]] = []
        self._workers_running = False

    async def start(self, *, smtp: bool = True, workers: bool = True, migrate: bool | None = None) -> None:
        if migrate if migrate is not None else self.settings.is_sqlite:
            await upgrade_async(self.settings.resolved_database_url)
        self.default_tenant_id = await self.auth.ensure_default_tenant()
        await self.hub.start()
        await self.ingestor.start()
        if workers:
            await self.sweeper.start()
            await self.worker.start()
            await self.webhook_dispatcher.start()
            await self.delivery.start()
            await self.bounces.start()
            self._workers_running = True
            if self.settings.max_messages > 0:
                self._background.append(asyncio.create_task(self._prune_forever(), name="prune"))
        if smtp:
            self.capture = CaptureServer(
                self.settings,
                self.ingestor,
                default_tenant_id=self.default_tenant_id,
                chaos=self.chaos,
                resolve_api_key=self.auth.resolve_api_key,
            )
            await self.capture.start()

    async def stop(self) -> None:
        if self.capture is not None:
            await self.capture.stop()
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._workers_running:
            await self.bounces.stop()
            await self.delivery.stop()
            await self.webhook_dispatcher.stop()
            await self.worker.stop()
            await self.sweeper.stop()
        await self.provider_webhooks.close()
        await self.ingestor.stop()
        await self.hub.stop()
        await self.engine.dispose()

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_INTERVAL_SECONDS)
            try:
                await prune(self.engine, self.messages, self.settings.max_messages)
            except Exception as exc:
                log.warning("prune_failed", error=str(exc))

    async def database_ok(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True
