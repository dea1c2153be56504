"""People's rules: rules versions and acceptances, announcements and receipts, function switches,
account reviews (issue 21 items 6-9)

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    when = sa.DateTime(timezone=True)
    op.create_table(
        "rules_versions",
        sa.Column("id", big, primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("published_by", big, sa.ForeignKey("users.id")),
        sa.Column("published_at", when, nullable=False),
    )
    op.create_table(
        "rules_acceptances",
        sa.Column("id", big, primary_key=True),
        sa.Column("user_id", big, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("accepted_at", when, nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("client", sa.String(300), nullable=False),
    )
    op.create_index("ix_rules_acceptances_user_version", "rules_acceptances", ["user_id", "version"])
    op.create_table(
        "announcements",
        sa.Column("id", big, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", big, sa.ForeignKey("users.id")),
        sa.Column("to_all", sa.Boolean(), nullable=False),
        sa.Column("must_confirm", sa.Boolean(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("expires_at", when),
        sa.Column("created_at", when, nullable=False),
        sa.Column("withdrawn_at", when),
        sa.Column("recipients", sa.Integer(), nullable=False),
    )
    op.create_index("ix_announcements_created_at", "announcements", ["created_at"])
    op.create_table(
        "announcement_units",
        sa.Column("announcement_id", big, sa.ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("unit_id", big, sa.ForeignKey("units.id"), primary_key=True),
    )
    op.create_table(
        "announcement_receipts",
        sa.Column("announcement_id", big, sa.ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", big, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("read_at", when),
        sa.Column("confirmed_at", when),
        sa.Column("reminded_at", when),
    )
    op.create_index("ix_announcement_receipts_user", "announcement_receipts", ["user_id", "announcement_id"])
    op.create_table(
        "announcement_files",
        sa.Column("id", big, primary_key=True),
        sa.Column("announcement_id", big, sa.ForeignKey("announcements.id", ondelete="CASCADE")),
        sa.Column("uploader_id", big, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("mime", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("blob_key", sa.String(100), nullable=False),
        sa.Column("data_key_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("scan_status", sa.String(16), nullable=False),
        sa.Column("created_at", when, nullable=False),
    )
    op.create_index("ix_announcement_files_announcement_id", "announcement_files", ["announcement_id"])
    op.create_table(
        "function_rules",
        sa.Column("id", big, primary_key=True),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("target_id", big, nullable=False),
        sa.Column("function", sa.String(32), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("limit", sa.Integer()),
        sa.Column("set_by", big, sa.ForeignKey("users.id")),
        sa.Column("set_at", when, nullable=False),
        sa.UniqueConstraint("scope", "target_id", "function", name="uq_function_rules_target"),
    )
    op.create_table(
        "account_reviews",
        sa.Column("id", big, primary_key=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("by_id", big, sa.ForeignKey("users.id")),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
    )
    op.create_index("ix_account_reviews_created_at", "account_reviews", ["created_at"])


def downgrade() -> None:
    for name in ("account_reviews", "function_rules", "announcement_files", "announcement_receipts", "announcement_units",
                 "announcements", "rules_acceptances", "rules_versions"):
        op.drop_table(name)
