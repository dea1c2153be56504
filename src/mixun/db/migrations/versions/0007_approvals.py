"""Dual control over administrators' accounts: approval requests, and departures kept apart

Revision ID: 0007
Revises: 0006

An action on an administrator's or a compliance officer's account, and a grant of the compliance
role, waits in `approvals` until a second administrator decides it. `users.departed_at` tells a
departure (final) from a plain disablement (reversible).
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("target_user_id", _ID, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("requested_by", _ID, nullable=False),
        sa.Column("requester_role", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", _ID, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(500), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(["target_user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_approvals_status", "approvals", ["status", "id"])
    op.create_index("ix_approvals_target_user_id", "approvals", ["target_user_id"])
    op.add_column("users", sa.Column("departed_at", sa.DateTime(timezone=True), nullable=True))
    # Departures recorded before this revision: the audit trail names them.
    op.execute("""
        UPDATE users SET departed_at = created_at
        WHERE disabled AND id IN (SELECT CAST(substr(target, 6) AS INTEGER) FROM audit_log
                                  WHERE action = 'account.departed' AND target LIKE 'user:%')""")
    # Administrators are not staff: they leave the directory's search keys.
    conn = op.get_bind()
    admins = []
    for uid, roles in conn.execute(sa.text("SELECT id, roles FROM users")):
        held = json.loads(roles) if isinstance(roles, str) else (roles or [])
        if any(r in ("sysadmin", "secadmin", "auditor") for r in held):
            admins.append(uid)
    for uid in admins:
        conn.execute(sa.text("DELETE FROM user_search_keys WHERE user_id = :u"), {"u": uid})


def downgrade() -> None:
    op.drop_column("users", "departed_at")
    op.drop_index("ix_approvals_target_user_id", "approvals")
    op.drop_index("ix_approvals_status", "approvals")
    op.drop_table("approvals")
