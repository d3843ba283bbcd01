-- Bookkeeping shared by every projection.

-- The version of each projection's fold that built its tables; a different version in the
-- code rebuilds the projection from the log at start.
CREATE TABLE projection_versions (
    projection TEXT    PRIMARY KEY,
    version    BIGINT  NOT NULL
);

-- How far each projection has applied the log, per partition. Written in the same
-- transaction as the read-model change, so a restart never applies an event twice.
CREATE TABLE projection_checkpoints (
    projection TEXT    NOT NULL,
    partition  BIGINT  NOT NULL,
    log_offset BIGINT  NOT NULL,
    PRIMARY KEY (projection, partition)
);

-- Events a projection could not read (unknown type, newer schema, damaged row): recorded and
-- stepped over, so one bad record never stops the read models.
CREATE TABLE projection_skipped (
    projection TEXT    NOT NULL,
    partition  BIGINT  NOT NULL,
    log_offset BIGINT  NOT NULL,
    stream     TEXT,
    reason     TEXT    NOT NULL,
    PRIMARY KEY (projection, partition, log_offset)
);

-- Read model `accounts` (projection "accounts"): one row per account and subaccount.
CREATE TABLE accounts (
    sid               TEXT    PRIMARY KEY,
    owner_account_sid TEXT,
    friendly_name     TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    type              TEXT    NOT NULL,
    auth_token_hash   TEXT    NOT NULL,
    date_created      BIGINT  NOT NULL, -- ms since the epoch, UTC
    date_updated      BIGINT  NOT NULL,
    version           BIGINT  NOT NULL  -- seq of the last event folded in
);
CREATE INDEX accounts_by_owner ON accounts (owner_account_sid, sid);
