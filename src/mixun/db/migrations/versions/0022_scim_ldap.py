"""SCIM deletions (RFC 7644 §3.6: a deleted User is a 404 from then on, while the departed account and
its history stay), the externalId a SCIM client gives each resource, employee numbers up to 64
characters, cross-unit group requests awaiting the unit head, and the directory (LDAP / Active Directory) sync runs HR's console shows

Revision ID: 0022
Revises: 0020
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "scim_deletions",
        sa.Column("user_id", BIG, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "scim_external_ids",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("resource_id", BIG, primary_key=True),
        sa.Column("external_id", sa.String(255), nullable=False),
    )
    op.create_index("ix_scim_external_ids_value", "scim_external_ids", ["kind", "external_id"])
    # An HR system's employee numbers (and Active Directory's employeeNumber) run longer than 32.
    for table in ("users", "account_applications"):
        with op.batch_alter_table(table) as b:
            b.alter_column("employee_no", existing_type=sa.String(32), type_=sa.String(64))
    # Accounts made without HR's number used to get E000001…, numbers HR's own files hold: each such
    # placeholder (the account's id, never verified by HR) becomes ADM-000001 (administrators and
    # compliance officers) or MX-000042, which HR never uses (services/users.placeholder_employee_no).
    bind = op.get_bind()
    privileged = {"sysadmin", "secadmin", "auditor", "compliance"}
    for uid, no, roles, verified in bind.execute(sa.text(
            "SELECT id, employee_no, roles, hr_verified FROM users WHERE employee_no LIKE 'E%'")).all():
        if no != f"E{uid:06d}" or verified:
            continue
        held = json.loads(roles) if isinstance(roles, str) else (roles or [])
        new = f"{'ADM' if privileged & set(held) else 'MX'}-{uid:06d}"
        bind.execute(sa.text("UPDATE users SET employee_no = :new WHERE id = :id"), {"new": new, "id": uid})
    op.create_table(
        "directory_syncs",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("ok", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
    )
    op.create_index("ix_directory_syncs_source", "directory_syncs", ["source", "id"])
    op.create_table(
        "group_requests",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("requester_id", BIG, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("unit_id", BIG, sa.ForeignKey("units.id"), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", BIG, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("conversation_id", BIG, sa.ForeignKey("conversations.id"), nullable=True),
    )
    op.create_index("ix_group_requests_status", "group_requests", ["status", "id"])
    op.create_index("ix_group_requests_requester", "group_requests", ["requester_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_group_requests_requester", "group_requests")
    op.drop_index("ix_group_requests_status", "group_requests")
    op.drop_table("group_requests")
    op.drop_index("ix_directory_syncs_source", "directory_syncs")
    op.drop_table("directory_syncs")
    op.drop_index("ix_scim_external_ids_value", "scim_external_ids")
    op.drop_table("scim_external_ids")
    op.drop_table("scim_deletions")
