-- Read model `workspaces` (projection "workspaces"): one row per TaskRouter workspace, for the
-- account's workspace list and for loading workspaces with timers at start.
CREATE TABLE workspaces (
    sid          TEXT    PRIMARY KEY,
    account_sid  TEXT    NOT NULL,
    friendly_name TEXT   NOT NULL,
    date_created BIGINT  NOT NULL, -- ms since the epoch, UTC
    date_updated BIGINT  NOT NULL
);
CREATE INDEX workspaces_by_account ON workspaces (account_sid, sid);
