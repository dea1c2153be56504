"""DLP administration: policy versions, lexicon terms, hits, sanctions

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import mixun.db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = mixun.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dlp_policy_versions",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_table(
        "dlp_lexicon_terms",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("term", sa.String(200), nullable=False),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.UniqueConstraint("category", "term"),
    )
    op.create_table(
        "dlp_hits",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("detector", sa.String(32), nullable=False),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("masked", sa.String(200), nullable=False),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_index("ix_dlp_hits_user_id", "dlp_hits", ["user_id"])
    op.create_index("ix_dlp_hits_detector", "dlp_hits", ["detector"])
    op.create_index("ix_dlp_hits_created_at", "dlp_hits", ["created_at"])
    op.create_table(
        "dlp_sanctions",
        sa.Column("user_id", BigId, primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("violations", sa.Integer(), nullable=False),
        sa.Column("suspended_until", When, nullable=True),
        sa.Column("updated_at", When, nullable=False),
    )


def downgrade() -> None:
    for table in ("dlp_sanctions", "dlp_hits", "dlp_lexicon_terms", "dlp_policy_versions"):
        op.drop_table(table)
