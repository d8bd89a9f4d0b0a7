"""Stored templates: create, list, update (each update is a new version), delete, preview.

An email keeps the version it was accepted with, so editing a template never changes
mail already queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postroom.send.models import Template, TemplateVersion
from postroom.send.templating import CompiledTemplate, Preview, TemplateRenderer, TemplateSource
from postroom.store.types import db_json, utcnow


class TemplateNotFound(LookupError):
    pass


class TemplateNameTaken(ValueError):
    pass


@dataclass(frozen=True)
class TemplateInput:
    name: str
    subject: str
    html: str | None = None
    text: str | None = None
    sample_variables: dict[str, Any] | None = None


class TemplateService:
    def __init__(self, engine: AsyncEngine, renderer: TemplateRenderer) -> None:
        self.engine = engine
        self.renderer = renderer

    @staticmethod
    def _source(subject: str, html: str | None, text: str | None) -> TemplateSource:
        return TemplateSource(subject=subject, html=html, text=text)

    def check(self, data: TemplateInput) -> None:
        """Raises TemplateError (with the line) when a part does not compile."""
        self.renderer.check(self._source(data.subject, data.html, data.text))

    async def create(self, tenant_id: int, data: TemplateInput) -> dict[str, Any]:
        self.check(data)
        now = utcnow()
        try:
            async with self.engine.begin() as conn:
                template_id = await conn.scalar(
                    insert(Template)
                    .values(
                        tenant_id=tenant_id,
                        name=data.name,
                        current_version=1,
                        sample_variables=db_json(data.sample_variables or {}),
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(Template.id)
                )
                assert template_id is not None
                await self._add_version(conn, int(template_id), 1, data)
        except IntegrityError as exc:
            raise TemplateNameTaken(f"a template named {data.name!r} exists already") from exc
        return await self.get(tenant_id, int(template_id))

    @staticmethod
    async def _add_version(conn: AsyncConnection, template_id: int, version: int, data: TemplateInput) -> None:
        await conn.execute(
            insert(TemplateVersion).values(
                template_id=template_id,
                version=version,
                subject=data.subject,
                html=data.html,
                text=data.text,
                created_at=utcnow(),
            )
        )

    async def update(self, tenant_id: int, template_id: int, data: TemplateInput) -> dict[str, Any]:
        self.check(data)
        try:
            async with self.engine.begin() as conn:
                template = await self._template(conn, tenant_id, template_id)
                version = template.current_version + 1
                await self._add_version(conn, template_id, version, data)
                values: dict[str, Any] = {"current_version": version, "name": data.name, "updated_at": utcnow()}
                if data.sample_variables is not None:
                    values["sample_variables"] = db_json(data.sample_variables)
                await conn.execute(update(Template).where(Template.id == template_id).values(**values))
        except IntegrityError as exc:
            raise TemplateNameTaken(f"a template named {data.name!r} exists already") from exc
        return await self.get(tenant_id, template_id)

    async def delete(self, tenant_id: int, template_id: int) -> None:
        async with self.engine.begin() as conn:
            await self._template(conn, tenant_id, template_id)
            await conn.execute(delete(Template).where(Template.id == template_id))

    async def _template(self, conn: AsyncConnection, tenant_id: int, template_id: int) -> Any:
        row = (
            await conn.execute(select(Template).where(Template.id == template_id, Template.tenant_id == tenant_id))
        ).first()
        if row is None:
            raise TemplateNotFound("no such template")
        return row

    async def _version(self, conn: AsyncConnection, template_id: int, version: int) -> Any:
        row = (
            await conn.execute(
                select(TemplateVersion).where(
                    TemplateVersion.template_id == template_id, TemplateVersion.version == version
                )
            )
        ).first()
        if row is None:
            raise TemplateNotFound(f"template {template_id} has no version {version}")
        return row

    async def get(self, tenant_id: int, template_id: int, version: int | None = None) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            template = await self._template(conn, tenant_id, template_id)
            chosen = await self._version(conn, template_id, version or template.current_version)
            versions = [
                {"version": v, "created_at": at.isoformat()}
                for v, at in await conn.execute(
                    select(TemplateVersion.version, TemplateVersion.created_at)
                    .where(TemplateVersion.template_id == template_id)
                    .order_by(TemplateVersion.version)
                )
            ]
        return {
            "id": template.id,
            "name": template.name,
            "version": chosen.version,
            "current_version": template.current_version,
            "subject": chosen.subject,
            "html": chosen.html,
            "text": chosen.text,
            "sample_variables": template.sample_variables,
            "versions": versions,
            "created_at": template.created_at.isoformat(),
            "updated_at": template.updated_at.isoformat(),
        }

    async def listing(self, tenant_id: int) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(Template.id, Template.name, Template.current_version, Template.updated_at)
                .where(Template.tenant_id == tenant_id)
                .order_by(Template.name)
            )
            return [{"id": i, "name": n, "current_version": v, "updated_at": at.isoformat()} for i, n, v, at in rows]

    async def current_version(self, conn: AsyncConnection, tenant_id: int, template_id: int) -> int:
        return int((await self._template(conn, tenant_id, template_id)).current_version)

    async def compiled(self, template_id: int, version: int) -> CompiledTemplate:
        """The compiled template (cached by id and version), for delivery workers."""
        async with self.engine.connect() as conn:
            found = await self._version(conn, template_id, version)
        return self.renderer.compile(str(template_id), version, self._source(found.subject, found.html, found.text))

    async def check_renders(self, tenant_id: int, template_id: int, variables: dict[str, Any]) -> None:
        """Fail at acceptance, not at delivery: the template exists and renders with these variables."""
        async with self.engine.connect() as conn:
            template = await self._template(conn, tenant_id, template_id)
        compiled = await self.compiled(template_id, template.current_version)
        compiled.render(variables)

    def check_literal(self, subject: str, html: str | None, text: str | None, variables: dict[str, Any]) -> None:
        """Literal content sent with variables is a template too: it must render with them."""
        self.renderer.trial(self._source(subject, html, text), variables)

    def preview_source(
        self, subject: str, html: str | None, text: str | None, variables: dict[str, Any] | None
    ) -> Preview:
        """Render template source that is not saved (an editor's live preview)."""
        return self.renderer.preview(self._source(subject, html, text), variables or {})

    async def preview(
        self, tenant_id: int, template_id: int, variables: dict[str, Any] | None, version: int | None = None
    ) -> Preview:
        async with self.engine.connect() as conn:
            template = await self._template(conn, tenant_id, template_id)
            chosen = await self._version(conn, template_id, version or template.current_version)
        sample = template.sample_variables if variables is None else variables
        return self.renderer.preview(self._source(chosen.subject, chosen.html, chosen.text), sample)

    async def count(self, tenant_id: int) -> int:
        async with self.engine.connect() as conn:
            return int(
                await conn.scalar(select(func.count()).select_from(Template).where(Template.tenant_id == tenant_id))
                or 0
            )
