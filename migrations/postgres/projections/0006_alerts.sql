-- Read model `alerts` (projection "alerts"): one row per Monitor alert (`alert.raised`), for
-- `GET /v1/Alerts` (an account's alerts, newest first) and `GET /v1/Alerts/{NO…}`.
CREATE TABLE alerts (
    sid               TEXT    PRIMARY KEY,
    account_sid       TEXT    NOT NULL,
    date_created      BIGINT  NOT NULL, -- ms since the epoch, UTC (when it was recorded)
    delivery_id       TEXT    NOT NULL,
    error_code        BIGINT  NOT NULL,
    log_level         TEXT    NOT NULL,
    alert_text        TEXT    NOT NULL,
    api_version       TEXT    NOT NULL,
    more_info         TEXT    NOT NULL,
    date_generated    BIGINT  NOT NULL, -- ms: when the sender gave up (the list's order)
    request_method    TEXT    NOT NULL,
    request_url       TEXT    NOT NULL,
    request_variables TEXT    NOT NULL,
    request_headers   TEXT,
    response_body     TEXT,
    response_headers  TEXT,
    resource_sid      TEXT,
    service_sid       TEXT
);
CREATE INDEX alerts_by_account ON alerts (account_sid, date_generated, sid);
