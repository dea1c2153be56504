"""Group life and message actions: pin, mute and notice state per member; group notice, @所有人 setting
and dissolution per conversation; reactions; the items of merged forwards

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("conversation_members") as b:
        b.add_column(sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()))
        b.add_column(sa.Column("muted", sa.Boolean(), nullable=False, server_default=sa.false()))
        b.add_column(sa.Column("notice_seen", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("conversations") as b:
        b.add_column(sa.Column("notice", sa.Text(), nullable=False, server_default=""))
        b.add_column(sa.Column("notice_version", sa.Integer(), nullable=False, server_default="0"))
        b.add_column(sa.Column("notice_by", BIG, nullable=True))
        b.add_column(sa.Column("notice_at", sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column("all_may_mention_all", sa.Boolean(), nullable=False, server_default=sa.false()))
        b.add_column(sa.Column("dissolved_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "message_reactions",
        sa.Column("message_id", BIG, nullable=False),
        sa.Column("user_id", BIG, nullable=False),
        sa.Column("emoji", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", "user_id", "emoji"),
    )
    op.create_table(
        "message_bundles",
        sa.Column("message_id", BIG, nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("message_id"),
    )


def downgrade() -> None:
    op.drop_table("message_bundles")
    op.drop_table("message_reactions")
    with op.batch_alter_table("conversations") as b:
        for col in ("dissolved_at", "all_may_mention_all", "notice_at", "notice_by", "notice_version", "notice"):
            b.drop_column(col)
    with op.batch_alter_table("conversation_members") as b:
        for col in ("notice_seen", "muted", "pinned"):
            b.drop_column(col)
