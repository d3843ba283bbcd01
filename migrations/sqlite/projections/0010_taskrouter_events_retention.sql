-- Read model `taskrouter`: the Event index keeps TaskRouter's retention (30 days unless
-- `--taskrouter-events-retention-days` says otherwise). The horizon is the newest
-- `occurred_ms` the index has applied (one row, id 0); rows older than the horizon less the
-- retention are removed as each batch ends. Counted from the log's own times, not the wall
-- clock, so a rebuild at the same log position keeps exactly the same rows.
CREATE TABLE tr_events_horizon (
    id        BIGINT PRIMARY KEY, -- always 0
    newest_ms BIGINT NOT NULL
);
CREATE INDEX tr_events_by_time ON tr_events (occurred_ms);
