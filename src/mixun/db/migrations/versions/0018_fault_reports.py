"""Fault reports with a 24-hour clock, and their replies (issue 22 item 7)

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fault_reports",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("reporter_id", BIG, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("location", sa.String(200), nullable=False, server_default=""),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("assignee_id", BIG, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("escalated_at", TS, nullable=True),
        sa.Column("file_name", sa.String(255), nullable=True),
        sa.Column("file_mime", sa.String(100), nullable=True),
        sa.Column("file_size", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("file_enc", sa.LargeBinary(), nullable=True),
    )
    op.create_index("ix_fault_reports_reporter_id", "fault_reports", ["reporter_id"])
    op.create_index("ix_fault_reports_status_due", "fault_reports", ["status", "due_at"])
    op.create_table(
        "fault_replies",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("report_id", BIG, sa.ForeignKey("fault_reports.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author_id", BIG, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_fault_replies_report_id", "fault_replies", ["report_id"])


def downgrade() -> None:
    op.drop_table("fault_replies")
    op.drop_table("fault_reports")
