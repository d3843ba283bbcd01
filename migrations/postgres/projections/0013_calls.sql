-- Read model `calls` (projection "calls"): one row per call (`CA…` stream), for the
-- 2010-04-01 Calls resource (an account's calls, newest first, filtered by To, From, Status,
-- ParentCallSid, StartTime, EndTime) and the restart path (the calls left live). A deleted
-- call's row is removed (`call.deleted`); its history stays in the log.
CREATE TABLE calls (
    sid               TEXT    PRIMARY KEY,
    account_sid       TEXT    NOT NULL,
    parent_call_sid   TEXT,
    direction         TEXT    NOT NULL, -- inbound | outbound-api | outbound-dial
    from_uri          TEXT    NOT NULL, -- as signalled
    to_uri            TEXT    NOT NULL,
    from_shown        TEXT    NOT NULL, -- as the API shows it (the number, else the URI)
    to_shown          TEXT    NOT NULL,
    status            TEXT    NOT NULL, -- Twilio's: queued | ringing | in-progress | completed | busy | no-answer | canceled | failed
    phone_number_sid  TEXT,
    application_sid   TEXT,
    created_at_ms     BIGINT  NOT NULL, -- ms since the epoch, UTC (when call.initiated was recorded; the list's order)
    updated_at_ms     BIGINT  NOT NULL,
    start_time_ms     BIGINT,           -- Twilio's start_time: arrived or dialled
    answered_at_ms    BIGINT,
    end_time_ms       BIGINT,
    duration_ms       BIGINT,           -- answer to end, once ended (0 when never answered)
    sip_code          BIGINT,           -- the SIP code that ended the call
    queue_time_ms     BIGINT  NOT NULL,
    forwarded_from    TEXT,
    caller_name       TEXT
);
CREATE INDEX calls_by_account ON calls (account_sid, created_at_ms, sid);
CREATE INDEX calls_by_status ON calls (status);
CREATE INDEX calls_by_parent ON calls (parent_call_sid);
