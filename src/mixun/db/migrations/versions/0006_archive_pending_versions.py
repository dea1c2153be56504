"""Versions wait for the search index in a table filled by a trigger, not behind an id watermark

Revision ID: 0006
Revises: 0005

On PostgreSQL a version's id is drawn when it is inserted, not when its transaction commits: a watermark
over ids skipped a version whose transaction committed after a later-numbered one had been indexed, and
that version was never found by archive search. Now a trigger records every new version in
archive_pending_versions, in the transaction that writes it; indexing drains that table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_pending_versions",
        sa.Column("version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["message_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # One INSERT per statement (a batch of sends writes its versions in one statement).
        op.execute("""
            CREATE FUNCTION archive_pending_versions_add() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO archive_pending_versions (version_id) SELECT id FROM new_versions;
                RETURN NULL;
            END $$""")
        op.execute("""
            CREATE TRIGGER message_versions_pending AFTER INSERT ON message_versions
            REFERENCING NEW TABLE AS new_versions FOR EACH STATEMENT
            EXECUTE FUNCTION archive_pending_versions_add()""")
    else:
        op.execute("""
            CREATE TRIGGER message_versions_pending AFTER INSERT ON message_versions
            BEGIN
                INSERT INTO archive_pending_versions (version_id) VALUES (NEW.id);
            END""")
    # What the old watermark had not reached yet is pending now.
    op.execute("""
        INSERT INTO archive_pending_versions (version_id)
        SELECT id FROM message_versions
        WHERE id > COALESCE((SELECT last_version_id FROM archive_search_state WHERE id = 1), 0)""")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS message_versions_pending" +
               (" ON message_versions" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS archive_pending_versions_add()")
    op.drop_table("archive_pending_versions")
