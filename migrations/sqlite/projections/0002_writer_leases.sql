-- Who may write the Kafka log: one holder per name (the topic prefix), until expires_at_ms
-- (milliseconds since the epoch, by the database's clock). `epoch` counts the hand-overs.
CREATE TABLE log_writer_leases (
    name          TEXT    PRIMARY KEY,
    holder        TEXT    NOT NULL,
    epoch         BIGINT  NOT NULL,
    expires_at_ms BIGINT  NOT NULL
);
