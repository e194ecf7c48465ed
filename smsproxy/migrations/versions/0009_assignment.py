"""triage: chats get an assignee, labels and a waiting-since time; staff save views

Revision ID: 0009_assignment
Revises: 0008_ambiguous_sends
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import smsproxy.db

revision: str = "0009_assignment"
down_revision: str | None = "0008_ambiguous_sends"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Chats whose newest participant text came after the last staff message: they wait
# since the first participant text after that staff message.
BACKFILL_AWAITING = """
UPDATE chat SET awaiting_since = (
    SELECT min(m.created_at) FROM message m
    WHERE m.chat_id = chat.id AND m.author_kind = 'participant'
      AND m.id > coalesce(
          (SELECT max(s.id) FROM message s
           WHERE s.chat_id = chat.id AND s.author_kind = 'staff'), 0)
)
"""


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: no copy of the chat table, which SQLite
    # could not drop while other tables' foreign keys point at it. SQLite accepts a
    # REFERENCES clause on a column added with a NULL default, but not a constraint
    # added afterwards, which is how Alembic adds one.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE chat ADD COLUMN assignee_id INTEGER REFERENCES staffuser (id)")
    else:
        op.add_column("chat", sa.Column("assignee_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_chat_assignee_id_staffuser", "chat", "staffuser", ["assignee_id"], ["id"]
        )
    op.add_column(
        "chat", sa.Column("awaiting_since", smsproxy.db.UTCDateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_chat_assignee_activity", "chat", ["assignee_id", "last_activity_at"])
    op.create_index(op.f("ix_chat_awaiting_since"), "chat", ["awaiting_since"])
    op.execute(BACKFILL_AWAITING)

    op.create_table(
        "chatlabel",
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chat.id"]),
        sa.PrimaryKeyConstraint("chat_id", "label"),
    )
    op.create_index("ix_chatlabel_label", "chatlabel", ["label", "chat_id"])

    op.create_table(
        "savedview",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("query", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("created_at", smsproxy.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_user_id"], ["staffuser.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("staff_user_id", "name"),
    )
    op.create_index(op.f("ix_savedview_staff_user_id"), "savedview", ["staff_user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_savedview_staff_user_id"), table_name="savedview")
    op.drop_table("savedview")
    op.drop_index("ix_chatlabel_label", table_name="chatlabel")
    op.drop_table("chatlabel")
    op.drop_index(op.f("ix_chat_awaiting_since"), table_name="chat")
    op.drop_index("ix_chat_assignee_activity", table_name="chat")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_chat_assignee_id_staffuser", "chat", type_="foreignkey")
    # SQLite 3.35+ drops a column that no index or constraint names but its own REFERENCES.
    op.drop_column("chat", "awaiting_since")
    op.drop_column("chat", "assignee_id")
