-- The embedded event log.
--
-- Streams get a compact integer id so that the unique index on (stream, seq), which every
-- append updates, holds small integers instead of a 34-character SID.
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
    data      TEXT    NOT NULL
);

-- UNIQUE(stream, seq): the last line of defence for optimistic concurrency. The writer checks
-- expected versions in memory first; this index makes a bug there a failed commit, never a
-- fork.
--
-- Its key leads with the block of 64 seqs an event falls in (seq >> 6). Two rows collide on
-- (seq >> 6, stream_id, seq) exactly when they collide on (stream_id, seq), so it forbids
-- the same thing; but where a (stream_id, seq) index puts every stream's newest entry on a
-- page of its own, so that a commit of one event to each of 256 busy streams rewrites 256
-- index pages into the WAL, this order keeps the newest entries of streams that move
-- together on a few shared pages. A stream is read block by block (a recursive query in
-- src/log/sqlite.rs), one index seek per 64 events.
CREATE UNIQUE INDEX events_stream_seq ON events (seq >> 6, stream_id, seq);
