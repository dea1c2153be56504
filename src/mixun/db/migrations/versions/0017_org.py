"""People and the organisation (issue 21): account applications, HR-verified names, closed units,
departure kinds, SCIM tokens

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("units") as b:
        b.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("users") as b:
        b.alter_column("hr_verified", existing_type=sa.Boolean(), existing_nullable=False, server_default=sa.false())
        b.add_column(sa.Column("departure_reason", sa.String(32), nullable=True))
        b.add_column(sa.Column("departure_pledged", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Nothing ever verified a name with HR before this revision: the badge starts false for everyone and
    # only HR's paths (import, SCIM, the correction screen, an approved application) set it.
    op.execute("UPDATE users SET hr_verified = false")
    op.create_table(
        "account_applications",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("employee_no", sa.String(32), nullable=False),
        sa.Column("unit_id", BIG, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("position", sa.String(100), nullable=False, server_default=""),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("functions", sa.JSON(), nullable=False),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.Column("applicant_id", BIG, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("user_id", BIG, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("reject_reason", sa.String(500), nullable=False, server_default=""),
    )
    op.create_index("ix_account_applications_status", "account_applications", ["status", "id"])
    op.create_index("ix_account_applications_applicant", "account_applications", ["applicant_id", "id"])
    op.create_table(
        "scim_tokens",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("scim_tokens")
    op.drop_index("ix_account_applications_applicant", "account_applications")
    op.drop_index("ix_account_applications_status", "account_applications")
    op.drop_table("account_applications")
    with op.batch_alter_table("users") as b:
        b.drop_column("departure_pledged")
        b.drop_column("departure_reason")
        b.alter_column("hr_verified", existing_type=sa.Boolean(), existing_nullable=False, server_default=None)
    with op.batch_alter_table("units") as b:
        b.drop_column("closed_at")
