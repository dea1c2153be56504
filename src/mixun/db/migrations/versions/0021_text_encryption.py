"""Message text encryption: the search index rebuilt over keyed hashes; plain texts may be sealed

The archive's postings held character bigrams; they now hold keyed hashes of them (docs/keys.md), so
the old postings are dropped and every version waits for the indexer again (searches index what is
still waiting first). message_versions stays append-only, with one more exception inside a
`mixun keys rotate` / `mixun keys encrypt-existing` transaction (the rekey permit of 0020): an UPDATE
that replaces a plain text by a sealed one (``\\x1fm1...``), every other column unchanged but
original_enc. A sealed text is never changed and a plain one never written.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

FIXED = ("id", "message_id", "conversation_id", "version", "kind", "sender_id", "actor_id", "created_at")
SEALED = "chr(31) || 'm1'"


def _pg_function(sealing: bool) -> str:
    if sealing:
        # Nested, and the texts read through jsonb: PL/pgSQL does not short-circuit AND, and NEW.text
        # does not exist in audit_log (the same function guards it).
        allow = f"""
              IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'message_versions'
                 AND coalesce(current_setting('mixun.rekey', true), '') = 'on' THEN
                IF (to_jsonb(NEW) - 'original_enc' - 'text') = (to_jsonb(OLD) - 'original_enc' - 'text')
                   AND ((to_jsonb(NEW)->>'text') IS NOT DISTINCT FROM (to_jsonb(OLD)->>'text')
                        OR (left(to_jsonb(OLD)->>'text', 3) <> {SEALED}
                            AND left(to_jsonb(NEW)->>'text', 3) = {SEALED})) THEN
                  RETURN NEW;
                END IF;
              END IF;"""
    else:
        allow = """
              IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'message_versions'
                 AND coalesce(current_setting('mixun.rekey', true), '') = 'on'
                 AND (to_jsonb(NEW) - 'original_enc') = (to_jsonb(OLD) - 'original_enc') THEN
                RETURN NEW;
              END IF;"""
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


def _sqlite_trigger(sealing: bool) -> str:
    fixed = FIXED if sealing else (*FIXED, "text")
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in fixed)
    if sealing:
        sealed = "char(31) || 'm1'"
        changed += (f" OR (NEW.text IS NOT OLD.text AND (substr(OLD.text, 1, 3) = {sealed} "
                    f"OR substr(NEW.text, 1, 3) IS NOT {sealed}))")
    return ("CREATE TRIGGER message_versions_no_update BEFORE UPDATE ON message_versions "
            f"WHEN NOT EXISTS (SELECT 1 FROM rekey_permit) OR {changed} "
            "BEGIN SELECT RAISE(ABORT, 'message_versions is append-only'); END")


def _reindex() -> None:
    op.execute("DELETE FROM archive_search_terms")
    op.execute("INSERT INTO archive_pending_versions (version_id) SELECT id FROM message_versions "
               "WHERE id NOT IN (SELECT version_id FROM archive_pending_versions)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_function(sealing=True))
    else:
        op.execute("DROP TRIGGER IF EXISTS message_versions_no_update")
        op.execute(_sqlite_trigger(sealing=True))
    _reindex()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_function(sealing=False))
    else:
        op.execute("DROP TRIGGER IF EXISTS message_versions_no_update")
        op.execute(_sqlite_trigger(sealing=False))
    _reindex()  # the index is rebuilt by whichever code runs next
