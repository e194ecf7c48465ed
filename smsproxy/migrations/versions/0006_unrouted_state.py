"""Unrouted SMS get a state (handled, dismissed); active API keys get unique names.

Revision ID: 0006_unrouted_state
Revises: 0005_read_scale
Create Date: 2026-12-02 12:16:00.037716
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import smsproxy.db

revision: str = "0006_unrouted_state"
down_revision: str | None = "0005_read_scale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_UNROUTED = sa.text("chat_id IS NULL AND unrouted_state IS NULL")
ACTIVE_KEY = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    # Active keys that already share a name keep working; all but the oldest get their
    # id appended, so the unique index can be built and `revoke NAME` finds one key.
    op.execute(
        "UPDATE apikey SET name = substr(name, 1, 80) || ' (' || id || ')' "
        "WHERE revoked_at IS NULL AND id NOT IN "
        "(SELECT min(id) FROM apikey WHERE revoked_at IS NULL GROUP BY name)"
    )
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.create_index(
            "uq_apikey_active_name",
            ["name"],
            unique=True,
            sqlite_where=ACTIVE_KEY,
            postgresql_where=ACTIVE_KEY,
        )

    # Nullable columns without constraints: ALTER TABLE ADD COLUMN on both databases,
    # no copy of the message table.
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unrouted_state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(
            sa.Column("unrouted_state_at", smsproxy.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "unrouted_state_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("unrouted_chat", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.create_index(
            "ix_message_unrouted_open",
            ["id"],
            unique=False,
            sqlite_where=OPEN_UNROUTED,
            postgresql_where=OPEN_UNROUTED,
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_unrouted_open")
        batch_op.drop_column("unrouted_chat")
        batch_op.drop_column("unrouted_state_by")
        batch_op.drop_column("unrouted_state_at")
        batch_op.drop_column("unrouted_state")

    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.drop_index("uq_apikey_active_name")
