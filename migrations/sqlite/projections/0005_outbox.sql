-- The outbox: requests to applications that process managers produced, written in the same
-- transaction as the runner's checkpoint, and removed only once delivered (or once their
-- final failure is recorded as an alert). At least once across crashes.
CREATE TABLE outbox (
    id              TEXT    PRIMARY KEY, -- source event id : kind : index (deterministic)
    kind            TEXT    NOT NULL,    -- assignment_callback | event_callback
    account_sid     TEXT    NOT NULL,
    order_key       TEXT,                -- rows of one key go out one at a time, in order
    log_partition   BIGINT  NOT NULL,    -- where the source event sits: the order within a key
    log_offset      BIGINT  NOT NULL,
    idx             BIGINT  NOT NULL,    -- the row's index among its event's deliveries
    causation_id    TEXT    NOT NULL,    -- the source event's id
    urls            TEXT    NOT NULL,    -- JSON array, as configured (primary, fallback)
    form            TEXT    NOT NULL,    -- JSON array of [name, value]
    acts_on         TEXT,                -- JSON {workspace, reservation, task}: assignment callbacks
    url_index       BIGINT  NOT NULL DEFAULT 0, -- the URL being tried
    attempt         BIGINT  NOT NULL DEFAULT 0, -- attempts made on it
    next_attempt_at BIGINT  NOT NULL,    -- ms since the epoch, UTC
    failed_code     BIGINT,              -- every URL failed: waiting for its alert to be recorded
    last_error      TEXT,
    last_url        TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at);
CREATE INDEX outbox_by_key ON outbox (order_key, log_partition, log_offset, idx);

-- How far each process-manager runner has read the log, per partition; moved in the
-- transaction that writes the outbox rows it produced.
CREATE TABLE process_checkpoints (
    runner     TEXT    NOT NULL,
    partition  BIGINT  NOT NULL,
    log_offset BIGINT  NOT NULL,
    PRIMARY KEY (runner, partition)
);
