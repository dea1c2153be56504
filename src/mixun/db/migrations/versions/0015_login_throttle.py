"""Failed logins counted in the database, shared by every server process

Revision ID: 0015
Revises: 0013

``login_throttle``: failures per address and per username that names no account. They were kept in
each process's memory, so with ``--workers N`` an unknown username locked only in the worker that
happened to answer (the answers told which usernames exist) and an address had N times its limit.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("window_start", sa.Float(), nullable=False, server_default="0"),
        sa.Column("locked_until", sa.Float(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
