"""Personal drive and group file space: items, chunked uploads, quotas, reports, non-work types

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
DEFAULT_TYPES = [("exe", "可执行程序"), ("msi", "安装程序"), ("bat", "批处理脚本"), ("apk", "手机安装包"),
                 ("iso", "光盘镜像"), ("mp3", "音频"), ("flac", "音频"), ("mp4", "视频"), ("mkv", "视频"),
                 ("avi", "视频"), ("mov", "视频"), ("torrent", "种子文件")]


def upgrade() -> None:
    op.create_table(
        "drive_items",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("owner_id", BIG, nullable=True),
        sa.Column("conversation_id", BIG, nullable=True),
        sa.Column("parent_id", BIG, nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("mime", sa.String(100), nullable=False, server_default=""),
        sa.Column("sha256", sa.String(64), nullable=False, server_default=""),
        sa.Column("blob_key", sa.String(100), nullable=True),
        sa.Column("data_key_wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("scan_status", sa.String(16), nullable=False, server_default="clean"),
        sa.Column("uploader_id", BIG, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("last_opened_at", TS, nullable=False),
        sa.Column("flagged_at", TS, nullable=True),
        sa.Column("deleted_at", TS, nullable=True),
        sa.Column("removed_at", TS, nullable=True),
        sa.Column("removed_reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("handed_from", BIG, nullable=True),
    )
    op.create_index("ix_drive_items_owner_id", "drive_items", ["owner_id"])
    op.create_index("ix_drive_items_conversation_id", "drive_items", ["conversation_id"])
    op.create_index("ix_drive_items_parent_id", "drive_items", ["parent_id"])
    op.create_index("ix_drive_items_owner_parent", "drive_items", ["owner_id", "parent_id"])
    op.create_index("ix_drive_items_conv_parent", "drive_items", ["conversation_id", "parent_id"])
    op.create_table(
        "drive_uploads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", BIG, nullable=False),
        sa.Column("owner_id", BIG, nullable=True),
        sa.Column("conversation_id", BIG, nullable=True),
        sa.Column("parent_id", BIG, nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chunk_size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, server_default=""),
        sa.Column("data_key_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_drive_uploads_user_id", "drive_uploads", ["user_id"])
    op.create_table(
        "drive_quotas",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("user_id", BIG, nullable=True, unique=True),
        sa.Column("unit_id", BIG, nullable=True, unique=True),
        sa.Column("quota_bytes", sa.BigInteger(), nullable=False),
        sa.Column("set_by", BIG, nullable=False),
        sa.Column("set_at", TS, nullable=False),
    )
    op.create_table(
        "drive_reports",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("item_id", BIG, nullable=False),
        sa.Column("reporter_id", BIG, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("decided_by", BIG, nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_drive_reports_item_id", "drive_reports", ["item_id"])
    op.create_index("ix_drive_reports_status", "drive_reports", ["status", "id"])
    types = op.create_table(
        "drive_blocked_types",
        sa.Column("extension", sa.String(16), primary_key=True),
        sa.Column("label", sa.String(100), nullable=False, server_default=""),
        sa.Column("added_by", BIG, nullable=True),
        sa.Column("added_at", TS, nullable=False),
    )
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    op.bulk_insert(types, [{"extension": e, "label": label, "added_by": None, "added_at": now}
                           for e, label in DEFAULT_TYPES])


def downgrade() -> None:
    for name in ("drive_blocked_types", "drive_reports", "drive_quotas", "drive_uploads", "drive_items"):
        op.drop_table(name)
