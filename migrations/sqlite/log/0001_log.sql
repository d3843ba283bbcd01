-- The embedded event log.
--
-- Streams get a compact integer id so that the index behind UNIQUE(stream_id, seq), which
-- every append updates, holds small integers instead of a 34-character SID.
--
-- `position` is the rowid: assigned in commit order by the single writer, so a subscriber
-- reading `position > n` never skips an event that commits later (SQLite has one writer at a
-- time; PostgreSQL needs more care, see migrations/postgres).
--
-- `header` packs the envelope's other fields (id, occurred_at, account, correlation,
-- causation, region, type, schema version) in the binary layout documented in
-- src/log/record.rs; `data` stays readable JSON.
CREATE TABLE streams (
    id   INTEGER PRIMARY KEY,
    name TEXT    NOT NULL UNIQUE
);

CREATE TABLE events (
    position  INTEGER PRIMARY KEY,
    stream_id INTEGER NOT NULL, -- streams.id (no FOREIGN KEY: the writer owns both tables)
    seq       INTEGER NOT NULL,
    header    BLOB    NOT NULL,
    data      TEXT    NOT NULL,
    -- The last line of defence for optimistic concurrency: the writer checks expected
    -- versions in memory first; this makes a bug there a failed commit, never a fork.
    UNIQUE (stream_id, seq)
);
