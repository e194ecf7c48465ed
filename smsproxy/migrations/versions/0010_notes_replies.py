"""notes and replies: staff's private notes on chats, and canned replies

Revision ID: 0010_notes_replies
Revises: 0008_ambiguous_sends
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import smsproxy.db

revision: str = "0010_notes_replies"
down_revision: str | None = "0009_assignment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chatnote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=True),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", smsproxy.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("erased_at", smsproxy.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["chat_id"], ["chat.id"]),
        sa.ForeignKeyConstraint(["staff_user_id"], ["staffuser.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("chatnote", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chatnote_public_id"), ["public_id"], unique=True)
        batch_op.create_index(
            "ix_chatnote_chat_time", ["chat_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "cannedreply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", smsproxy.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", smsproxy.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cannedreply", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cannedreply_public_id"), ["public_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("cannedreply", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cannedreply_public_id"))
    op.drop_table("cannedreply")
    with op.batch_alter_table("chatnote", schema=None) as batch_op:
        batch_op.drop_index("ix_chatnote_chat_time")
        batch_op.drop_index(batch_op.f("ix_chatnote_public_id"))
    op.drop_table("chatnote")
