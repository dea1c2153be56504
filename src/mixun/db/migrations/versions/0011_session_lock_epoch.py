"""Sessions can be locked on the server; a revocation epoch every process watches

Revision ID: 0011
Revises: 0009

``sessions.locked_at``: a locked session answers 423 to everything but unlock, logout and a minimal
``/me`` until its password is given again. ``auth_epoch``: one row whose value moves with every
revocation or account change, from any process (the CLI included); servers poll it and drop their
session caches when it moves, so a revocation takes effect at once everywhere.
"""

import sqlalchemy as sa
from alembic import op

import mixun.db.types

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("locked_at", mixun.db.types.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "auth_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO auth_epoch (id, value) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("auth_epoch")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("locked_at")
