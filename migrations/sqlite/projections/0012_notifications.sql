-- Read model `notifications` (projection "notifications"): one row per call notification
-- (`call.notification.raised`), for `GET /2010-04-01/Accounts/{AC}/Notifications.json` (an
-- account's, newest first), `/Calls/{CA}/Notifications.json` (one call's) and each instance.
CREATE TABLE notifications (
    sid               TEXT    PRIMARY KEY,
    account_sid       TEXT    NOT NULL,
    call_sid          TEXT    NOT NULL,
    message_date      BIGINT  NOT NULL, -- ms since the epoch, UTC (when it was recorded; the list's order)
    error_code        BIGINT  NOT NULL,
    log_level         TEXT    NOT NULL, -- error | warning (Twilio's log 0 | 1)
    message_text      TEXT    NOT NULL,
    request_url       TEXT    NOT NULL,
    request_method    TEXT,
    request_variables TEXT    NOT NULL,
    response_headers  TEXT,
    response_body     TEXT
);
CREATE INDEX notifications_by_account ON notifications (account_sid, message_date, sid);
CREATE INDEX notifications_by_call ON notifications (account_sid, call_sid, message_date, sid);
