"""Key rotation: the archive's DLP originals may have their wrapped data key replaced, and nothing else

message_versions stays append-only: UPDATE is refused except, inside a `mixun keys rotate` transaction
(PostgreSQL `SET LOCAL mixun.rekey = 'on'`; SQLite a row in rekey_permit), an UPDATE that changes
original_enc alone (the same ciphertext with its data key wrapped under the new key-encryption key).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# Every column of message_versions except original_enc: none may change, permit or not.
FIXED = ("id", "message_id", "conversation_id", "version", "kind", "sender_id", "actor_id", "text", "created_at")


def _pg_function(rekey: bool) -> str:
    allow = """
              IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'message_versions'
                 AND coalesce(current_setting('mixun.rekey', true), '') = 'on'
                 AND (to_jsonb(NEW) - 'original_enc') = (to_jsonb(OLD) - 'original_enc') THEN
                RETURN NEW;
              END IF;""" if rekey else ""
    return f"""
            CREATE OR REPLACE FUNCTION mixun_append_only() RETURNS trigger AS $$
            BEGIN
              IF TG_OP = 'DELETE' AND TG_TABLE_NAME IN ('message_versions', 'audit_log')
                 AND coalesce(current_setting('mixun.retention', true), '') = 'on' THEN
                RETURN OLD;
              END IF;{allow}
              RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
            END $$ LANGUAGE plpgsql
            """


def upgrade() -> None:
    op.create_table("rekey_permit", sa.Column("id", sa.Integer(), primary_key=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_function(rekey=True))
        return
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FIXED)
    op.execute("DROP TRIGGER IF EXISTS message_versions_no_update")
    op.execute(
        "CREATE TRIGGER message_versions_no_update BEFORE UPDATE ON message_versions "
        f"WHEN NOT EXISTS (SELECT 1 FROM rekey_permit) OR {changed} "
        "BEGIN SELECT RAISE(ABORT, 'message_versions is append-only'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_function(rekey=False))
    else:
        op.execute("DROP TRIGGER IF EXISTS message_versions_no_update")
        op.execute(
            "CREATE TRIGGER message_versions_no_update BEFORE UPDATE ON message_versions "
            "BEGIN SELECT RAISE(ABORT, 'message_versions is append-only'); END"
        )
    op.drop_table("rekey_permit")
