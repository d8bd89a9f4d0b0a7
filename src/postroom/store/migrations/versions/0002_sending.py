"""sending: emails, deliveries (the queue), suppressions, templates, domains, transports

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "send_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_send_cursors")),
    )
    op.create_table(
        "send_provider_receipts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_provider_receipts")),
        sa.UniqueConstraint("provider", "event_id", name=op.f("uq_send_provider_receipts_provider_event_id")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "send_domains",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("selector", sa.String(length=63), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=False),
        sa.Column("public_record", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_send_domains_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_domains")),
        sa.UniqueConstraint("tenant_id", "domain", "selector", name=op.f("uq_send_domains_tenant_id_domain_selector")),
    )
    op.create_table(
        "send_emails",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("batch", sa.Boolean(), nullable=False),
        sa.Column("from_address", sa.String(length=998), nullable=False),
        sa.Column("to", JSON, nullable=False),
        sa.Column("cc", JSON, nullable=False),
        sa.Column("reply_to", JSON, nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("template_version", sa.Integer(), nullable=True),
        sa.Column("variables", JSON, nullable=False),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("attachments", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("track_opens", sa.Boolean(), nullable=False),
        sa.Column("track_clicks", sa.Boolean(), nullable=False),
        sa.Column("list_unsubscribe", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_send_emails_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_emails")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_send_emails_tenant_id_id", "send_emails", ["tenant_id", "id"], unique=False)
    op.create_table(
        "send_idempotency",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("route", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_send_idempotency_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_idempotency")),
        sa.UniqueConstraint("tenant_id", "route", "key", name=op.f("uq_send_idempotency_tenant_id_route_key")),
    )
    op.create_table(
        "send_suppressions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_send_suppressions_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_suppressions")),
        sa.UniqueConstraint("tenant_id", "address", name=op.f("uq_send_suppressions_tenant_id_address")),
    )
    op.create_table(
        "send_templates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column(
            "sample_variables",
            JSON,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_send_templates_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_templates")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_send_templates_tenant_id_name")),
    )
    op.create_table(
        "send_transports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("options", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_send_transports_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_transports")),
        sa.UniqueConstraint("tenant_id", "domain", name=op.f("uq_send_transports_tenant_id_domain")),
    )
    op.create_table(
        "send_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("email_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("variables", JSON, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(length=128), nullable=True),
        sa.Column("transport", sa.String(length=32), nullable=True),
        sa.Column("provider_message_id", sa.String(length=255), nullable=True),
        sa.Column("last_response", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["email_id"], ["send_emails.id"], name=op.f("fk_send_deliveries_email_id_send_emails"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_send_deliveries_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_deliveries")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_send_deliveries_due",
        "send_deliveries",
        ["priority", "run_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('queued', 'deferred', 'sending')"),
        sqlite_where=sa.text("status IN ('queued', 'deferred', 'sending')"),
    )
    op.create_index("ix_send_deliveries_email_status", "send_deliveries", ["email_id", "status"], unique=False)
    op.create_index("ix_send_deliveries_provider_id", "send_deliveries", ["provider_message_id"], unique=False)
    op.create_index("ix_send_deliveries_tenant_status", "send_deliveries", ["tenant_id", "status", "id"], unique=False)
    op.create_table(
        "send_template_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["send_templates.id"],
            name=op.f("fk_send_template_versions_template_id_send_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_template_versions")),
        sa.UniqueConstraint("template_id", "version", name=op.f("uq_send_template_versions_template_id_version")),
    )
    op.create_index(
        "ix_events_email_subject",
        "events",
        ["subject_id"],
        unique=False,
        sqlite_where=sa.text("type LIKE 'email.%'"),
        postgresql_where=sa.text("type LIKE 'email.%'"),
    )


def downgrade() -> None:
    op.drop_table("send_cursors")
    op.drop_index("ix_events_email_subject", table_name="events")
    op.drop_table("send_template_versions")
    op.drop_table("send_deliveries")
    op.drop_table("send_transports")
    op.drop_table("send_templates")
    op.drop_table("send_suppressions")
    op.drop_table("send_idempotency")
    op.drop_table("send_emails")
    op.drop_table("send_domains")
    op.drop_table("send_provider_receipts")
