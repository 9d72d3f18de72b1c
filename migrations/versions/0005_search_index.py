"""search_index: messages.search_text case-folded and indexed by trigrams

SQLite: an FTS5 table `messages_fts` (external content: it stores only the index, the text stays in
`messages`) with the trigram tokenizer, kept in step by triggers, so every path that writes messages
(sends, batched sends, notices, tools) keeps it without a line of its own. PostgreSQL: pg_trgm's GIN
index on the column. A later SQLite migration that rebuilds `messages` in batch mode drops the
triggers with the table and must create them again.

Revision ID: 0005_search_index
Revises: 0004_group_left_mutes
Create Date: 2026-12-03
"""
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = '0005_search_index'
down_revision = '0004_group_left_mutes'
branch_labels = None
depends_on = None

BATCH = 5000

SQLITE_UP = [
    "CREATE VIRTUAL TABLE messages_fts USING fts5(search_text, content='messages', content_rowid='id', "
    "tokenize='trigram case_sensitive 1')",
    # Rows with no text (notices, custom data, revoked) are left out of the index.
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.search_text != '' BEGIN "
    "INSERT INTO messages_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.search_text != '' BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF search_text ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, search_text) "
    "SELECT 'delete', old.id, old.search_text WHERE old.search_text != ''; "
    "INSERT INTO messages_fts(rowid, search_text) SELECT new.id, new.search_text WHERE new.search_text != ''; END",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS messages_fts_update", "DROP TRIGGER IF EXISTS messages_fts_delete",
               "DROP TRIGGER IF EXISTS messages_fts_insert", "DROP TABLE IF EXISTS messages_fts"]


def _fold(value: str) -> str:
    # The same as im.services.search.fold, written out: a migration must not change when app code does.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def _fold_existing(conn) -> None:
    """Fold the stored text in id order, a batch at a time (only rows that change are written)."""
    select = sa.text("SELECT id, search_text FROM messages WHERE id > :after AND search_text != '' "
                     "ORDER BY id LIMIT :n")
    update = sa.text("UPDATE messages SET search_text = :t WHERE id = :id")
    after = 0
    while True:
        rows = conn.execute(select, {"after": after, "n": BATCH}).all()
        if not rows:
            return
        changed = [{"id": i, "t": _fold(t)} for i, t in rows if _fold(t) != t]
        if changed:
            conn.execute(update, changed)
        after = rows[-1][0]


def upgrade():
    conn = op.get_bind()
    # Before the index exists, so the SQLite triggers do not re-index every changed row.
    _fold_existing(conn)
    if conn.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
        op.execute("INSERT INTO messages_fts(rowid, search_text) SELECT id, search_text FROM messages "
                   "WHERE search_text != ''")
    elif conn.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_messages_search_trgm ON messages USING gin (search_text gin_trgm_ops)")


def downgrade():
    # The text stays folded: search before this revision compared case-insensitively anyway.
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    elif conn.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_messages_search_trgm")
