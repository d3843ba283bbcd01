-- The embedded event log.
--
-- Streams get a compact integer id so that the index behind UNIQUE(stream_id, seq), which
-- every append updates, holds two integers per row instead of a 34-character SID: that is the
-- difference between the page cache holding the index and every insert reading and writing
-- index pages.
--
-- `position` is the rowid: assigned in commit order by the single writer, so a subscriber
-- reading `position > n` never skips an event that commits later (SQLite has one writer at a
-- time; PostgreSQL needs more care, see migrations/postgres).
CREATE TABLE streams (
    id   INTEGER PRIMARY KEY,
    name TEXT    NOT NULL UNIQUE
);

CREATE TABLE events (
    position       INTEGER PRIMARY KEY,
    stream_id      INTEGER NOT NULL, -- streams.id (no FOREIGN KEY: the writer owns both tables)
    seq            INTEGER NOT NULL,
    id             BLOB    NOT NULL,
    occurred_at    INTEGER NOT NULL, -- milliseconds since the Unix epoch, UTC
    account_sid    TEXT    NOT NULL,
    correlation_id BLOB    NOT NULL,
    causation_id   BLOB,
    region         TEXT    NOT NULL,
    type           TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    data           TEXT    NOT NULL,
    -- The last line of defence for optimistic concurrency: the writer checks expected
    -- versions in memory first, this makes a bug there a failed commit, never a fork.
    UNIQUE (stream_id, seq)
);
