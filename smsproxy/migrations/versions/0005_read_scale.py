"""reads that stay fast at scale: route counters on proxy numbers, a transcript index

Revision ID: 0005_read_scale
Revises: 0004_audit_reveal
Create Date: 2026-12-02 13:00:00

Allocation reads each number's load from its counters instead of counting every active
participant per chat creation; they start from a full count. A chat page reads its
newest messages as an index range.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_read_scale"
down_revision: str | None = "0004_audit_reveal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("proxynumber", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active_routes", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("active_chats", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute(
        """
        UPDATE proxynumber SET
            active_routes = (
                SELECT count(*) FROM participant
                WHERE participant.proxy_number = proxynumber.number AND participant.active
            ),
            active_chats = (
                SELECT count(DISTINCT participant.chat_id) FROM participant
                WHERE participant.proxy_number = proxynumber.number AND participant.active
            )
        """
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index("ix_message_chat_time", ["chat_id", "created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_chat_time")
    with op.batch_alter_table("proxynumber", schema=None) as batch_op:
        batch_op.drop_column("active_chats")
        batch_op.drop_column("active_routes")
