"""Directory search: covering index, bytewise key order on PostgreSQL

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # A prefix range (key >= q AND key < q || U+10FFFF) needs code-point order, not the locale's.
        op.execute('ALTER TABLE user_search_keys ALTER COLUMN key TYPE VARCHAR(200) COLLATE "C"')
    op.create_index("ix_user_search_keys_covering", "user_search_keys", ["key", "rank", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_user_search_keys_covering", table_name="user_search_keys")
