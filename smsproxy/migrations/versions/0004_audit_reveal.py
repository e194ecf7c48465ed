"""audit log filters, API keys that may reveal numbers

Revision ID: 0004_audit_reveal
Revises: 0003_privacy_screen
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_audit_reveal"
down_revision: str | None = "0003_privacy_screen"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("can_reveal", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auditevent_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_auditevent_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_auditevent_target"), ["target"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auditevent_target"))
        batch_op.drop_index(batch_op.f("ix_auditevent_actor"))
        batch_op.drop_index(batch_op.f("ix_auditevent_action"))
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.drop_column("can_reveal")
