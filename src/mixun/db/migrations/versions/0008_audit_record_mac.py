"""Audit records carry a MAC under a key of the key store

Revision ID: 0008
Revises: 0007

A correctly hashed record could be appended by anyone who can write to the database. From now on each
record carries HMAC-SHA256(id, hash) under keys/audit-record.key, which is not in the database. Records
written before this revision keep a NULL mac: the key file, created with the first authenticated
record, names the id from which records must carry one (services/audit_checkpoints.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table rebuild on SQLite): the append-only triggers stay as they are.
    op.add_column("audit_log", sa.Column("mac", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_column("mac")
