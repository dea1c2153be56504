"""Directory search keys only for active people; unit members by a covering index

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Disabled (departed) people are never found by search: their keys go, so a search needs no join.
    op.execute("DELETE FROM user_search_keys WHERE user_id IN (SELECT id FROM users WHERE disabled)")
    op.create_index("ix_users_unit_active", "users", ["unit_id", "disabled", "id"])


def downgrade() -> None:
    op.drop_index("ix_users_unit_active", table_name="users")
