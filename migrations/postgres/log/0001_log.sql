-- The event log on PostgreSQL.
--
-- Positions are assigned by the single writer (it holds an advisory lock while it runs, see
-- src/log/postgres.rs), densely and in commit order. So a subscriber reading
-- `position > n` can never skip an event that commits later: the commit-order gap of a
-- sequence shared by concurrent writers cannot happen with one writer.
CREATE TABLE streams (
    id   BIGINT PRIMARY KEY,
    name TEXT   NOT NULL UNIQUE
);

CREATE TABLE events (
    position  BIGINT PRIMARY KEY,
    stream_id BIGINT NOT NULL, -- streams.id (no FOREIGN KEY: the writer owns both tables)
    seq       BIGINT NOT NULL,
    header    BYTEA  NOT NULL, -- packed envelope header, layout in src/log/record.rs
    data      TEXT   NOT NULL, -- the event's JSON
    -- The last line of defence for optimistic concurrency (the writer checks in memory
    -- first). PostgreSQL logs index changes as records, not whole pages, so the plain
    -- (stream, seq) order costs nothing extra here.
    UNIQUE (stream_id, seq)
);
