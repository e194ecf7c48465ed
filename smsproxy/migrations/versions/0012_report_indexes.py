"""report indexes: deliveries by when they were queued, chats by when they closed

Revision ID: 0012_report_indexes
Revises: 0008_ambiguous_sends
Create Date: 2026-12-02 16:00:00

The Reports page counts deliveries per hour or day of a period (a range of
delivery.created_at, whatever their kind, with the state and sending time in the index
so the counts need no table reads) and the chats open during it (those still active,
or closed after its start).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_report_indexes"
down_revision: str | None = "0011_message_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_created", ["created_at", "status", "sent_at"], unique=False
        )
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.create_index("ix_chat_closed_at", ["closed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_closed_at")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_created")
