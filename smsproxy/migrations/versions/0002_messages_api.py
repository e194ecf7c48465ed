"""Messages API: each participant's channel; each inbound SMS's webhook format and the
carrier's time of receipt (of multipart SMS parts too); whole-message carrier ids and
the carrier's failure reasons

Revision ID: 0002_messages_api
Revises: 0001
Create Date: 2026-12-02 12:01:46.519691
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import smsproxy.db

revision: str = "0002_messages_api"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("carriermessage", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("whole_message", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("error_text", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
        )

    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("carrier_api", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(
            sa.Column("carrier_received_at", smsproxy.db.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("inboundpart", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("carrier_received_at", smsproxy.db.UTCDateTime(timezone=True), nullable=True)
        )

    # Everyone so far was reached by SMS.
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "channel",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                server_default="sms",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.drop_column("channel")

    with op.batch_alter_table("inboundpart", schema=None) as batch_op:
        batch_op.drop_column("carrier_received_at")

    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("carrier_received_at")
        batch_op.drop_column("carrier_api")

    with op.batch_alter_table("carriermessage", schema=None) as batch_op:
        batch_op.drop_column("error_text")
        batch_op.drop_column("whole_message")
