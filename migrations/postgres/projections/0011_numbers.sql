-- Read model `numbers` (projection "numbers"): the accounts' incoming phone numbers and
-- applications, for the 2010-04-01 IncomingPhoneNumbers and Applications resources and the
-- SIP router's number directory. `phone_number` is indexed, not unique: the write model's
-- claim streams keep one account per number; on a partitioned log a new holder's row may
-- land before the old holder's deletion is applied.
CREATE TABLE incoming_phone_numbers (
    sid                    TEXT    PRIMARY KEY,
    account_sid            TEXT    NOT NULL,
    phone_number           TEXT    NOT NULL, -- E.164
    friendly_name          TEXT    NOT NULL,
    voice_application_sid  TEXT,
    sms_application_sid    TEXT,
    date_created           BIGINT  NOT NULL, -- ms since the epoch, UTC
    date_updated           BIGINT  NOT NULL,
    api_version            TEXT    NOT NULL,
    voice_url              TEXT,
    voice_method           TEXT    NOT NULL,
    voice_fallback_url     TEXT,
    voice_fallback_method  TEXT    NOT NULL,
    status_callback        TEXT,
    status_callback_method TEXT    NOT NULL,
    voice_caller_id_lookup BIGINT  NOT NULL, -- 0 or 1
    sms_url                TEXT,
    sms_method             TEXT    NOT NULL,
    sms_fallback_url       TEXT,
    sms_fallback_method    TEXT    NOT NULL
);
CREATE INDEX incoming_phone_numbers_by_number ON incoming_phone_numbers (phone_number);
CREATE INDEX incoming_phone_numbers_by_account ON incoming_phone_numbers (account_sid, sid);

CREATE TABLE applications (
    sid                    TEXT    PRIMARY KEY,
    account_sid            TEXT    NOT NULL,
    friendly_name          TEXT    NOT NULL,
    message_status_callback TEXT,
    sms_status_callback    TEXT,
    public_application_connect_enabled BIGINT NOT NULL, -- 0 or 1
    date_created           BIGINT  NOT NULL,
    date_updated           BIGINT  NOT NULL,
    api_version            TEXT    NOT NULL,
    voice_url              TEXT,
    voice_method           TEXT    NOT NULL,
    voice_fallback_url     TEXT,
    voice_fallback_method  TEXT    NOT NULL,
    status_callback        TEXT,
    status_callback_method TEXT    NOT NULL,
    voice_caller_id_lookup BIGINT  NOT NULL,
    sms_url                TEXT,
    sms_method             TEXT    NOT NULL,
    sms_fallback_url       TEXT,
    sms_fallback_method    TEXT    NOT NULL
);
CREATE INDEX applications_by_account ON applications (account_sid, sid);
