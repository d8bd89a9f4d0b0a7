"""search indexes: header lexemes of message_search on PostgreSQL

Revision ID: 0004
Revises: 0003

``from:``, ``to:`` and ``subject:`` terms are weight-restricted lexemes (A..C, see
``store.search``). The GIN index on the whole document only knows that a word occurs
somewhere, so ``subject:"two words"`` of words common in bodies rechecked tens of thousands
of rows; this index holds the header lexemes alone. SQLite's FTS5 table already indexes
each column apart: nothing to do there.

Built CONCURRENTLY, outside the migration's transaction: on a store in use, a plain
CREATE INDEX would hold up every ingest commit for as long as it reads the table. A
build cut short leaves an invalid index, which a rerun drops first.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_message_search_headers")
            op.execute(
                "CREATE INDEX CONCURRENTLY ix_message_search_headers ON message_search "
                "USING GIN (ts_filter(document, '{a,b,c}'))"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_message_search_headers")
