"""privacy: screened texts, opt-outs per real number, retention

Revision ID: 0003_privacy_screen
Revises: 0002_messages_api
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import smsproxy.db

revision: str = "0003_privacy_screen"
down_revision: str | None = "0002_messages_api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = ("forward", "intro", "goodbye", "staff", "ended_reply")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # PostgreSQL keeps the kinds as a type of its own; SQLite stores plain text.
        op.execute("ALTER TYPE deliverykind ADD VALUE IF NOT EXISTS 'keyword_reply'")
    else:
        with op.batch_alter_table("delivery", schema=None) as batch_op:
            batch_op.alter_column(
                "kind",
                existing_type=sa.Enum(*_KINDS, name="deliverykind"),
                type_=sa.Enum(*_KINDS, "keyword_reply", name="deliverykind"),
                existing_nullable=False,
            )

    op.create_table(
        "optout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("keyword", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("proxy_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("created_at", smsproxy.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("optout", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_optout_number"), ["number"], unique=True)

    op.create_table(
        "erasedoptout",
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("opted_out_at", smsproxy.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("erased_at", smsproxy.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_table(
        "sitekey",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )

    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bodies_erased_at", smsproxy.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_chat_retention", ["bodies_erased_at", "closed_at"], unique=False)

    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("screening", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(
            sa.Column("screening_note", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.add_column(
            sa.Column("erased_at", smsproxy.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_message_retention", ["erased_at", "created_at"], unique=False)

    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_kind_created", ["kind", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_kind_created")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_retention")
        batch_op.drop_column("erased_at")
        batch_op.drop_column("screening_note")
        batch_op.drop_column("screening")
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_retention")
        batch_op.drop_column("bodies_erased_at")
    op.drop_table("sitekey")
    op.drop_table("erasedoptout")
    with op.batch_alter_table("optout", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_optout_number"))
    op.drop_table("optout")
    # PostgreSQL cannot drop a value from an enum type: 'keyword_reply' stays in
    # deliverykind, unused.
