"""message search: a full-text index over message bodies

Revision ID: 0011_message_search
Revises: 0008_ambiguous_sends
Create Date: 2026-12-02 16:00:00

SQLite: an FTS5 table over message.body whose content stays in the message table
(external content), kept in step by triggers, so every writer (group commit, erasure,
retention, a bulk UPDATE) updates it without knowing it exists. PostgreSQL: a GIN
index on the body's tsvector ('simple': no stemming, no stop words, any language).
Neither is in the models (SQLModel cannot describe them): smsproxy.migrate says which
names the model comparison leaves alone.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_message_search"
down_revision: str | None = "0010_notes_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# unicode61 splits on anything that is not a letter or a digit, as proxy/search.py does
# with the query. A prefix query ("arriv"*) reads one ready doclist when its length has
# a prefix index, else merges every matching word's: at a million messages a common
# word's merge took 30-50 ms, the index 0.3 ms. Searches need no positions (no phrase
# queries; snippets are cut in Python): detail=none keeps the index small all the same
# (22 MB for a million texts, against 44 MB with positions and no prefix indexes).
SQLITE_UPGRADE = [
    """
    CREATE VIRTUAL TABLE message_search USING fts5(
        body, content='message', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3 4 5 6 7 8', detail=none
    )
    """,
    """
    CREATE TRIGGER message_search_insert AFTER INSERT ON message BEGIN
        INSERT INTO message_search(rowid, body) VALUES (new.id, new.body);
    END
    """,
    # An external-content FTS5 table forgets a row by being told its old text.
    """
    CREATE TRIGGER message_search_delete AFTER DELETE ON message BEGIN
        INSERT INTO message_search(message_search, rowid, body)
        VALUES ('delete', old.id, old.body);
    END
    """,
    """
    CREATE TRIGGER message_search_update AFTER UPDATE OF body ON message BEGIN
        INSERT INTO message_search(message_search, rowid, body)
        VALUES ('delete', old.id, old.body);
        INSERT INTO message_search(rowid, body) VALUES (new.id, new.body);
    END
    """,
    "INSERT INTO message_search(message_search) VALUES ('rebuild')",
]
SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS message_search_update",
    "DROP TRIGGER IF EXISTS message_search_delete",
    "DROP TRIGGER IF EXISTS message_search_insert",
    "DROP TABLE IF EXISTS message_search",
]
POSTGRES_UPGRADE = [
    "CREATE INDEX ix_message_body_search ON message USING gin (to_tsvector('simple', body))",
]
POSTGRES_DOWNGRADE = ["DROP INDEX IF EXISTS ix_message_body_search"]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_UPGRADE if sqlite else POSTGRES_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DOWNGRADE if sqlite else POSTGRES_DOWNGRADE:
        op.execute(statement)
