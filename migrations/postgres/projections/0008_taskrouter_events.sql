-- Read model `taskrouter`, the Event index: one row per event of a workspace stream, so
-- `GET /v1/Workspaces/{WS}/Events` lists, filters and pages from an index instead of reading
-- the whole stream. `seq` is the event's version in its workspace stream: the list is newest
-- first by it, and a page token names the last `seq` of the page before. The SID columns are
-- what the event names and, for a reservation's or a task's events, that reservation's task,
-- worker and queue and the task's workflow, queue and channel (as the read model knew them
-- when the event arrived). The task, worker, reservation and queue filters are indexed; the
-- others (type, workflow, channel, dates) narrow a walk down the workspace's index, newest
-- first. `data` is the event's data
-- in its current schema (`event_data`).
CREATE TABLE tr_events (
    sid              TEXT   PRIMARY KEY, -- EV + the envelope id
    workspace_sid    TEXT   NOT NULL,
    seq              BIGINT NOT NULL,
    account_sid      TEXT   NOT NULL,
    event_type       TEXT   NOT NULL,
    occurred_ms      BIGINT NOT NULL,
    region           TEXT   NOT NULL,
    resource_type    TEXT   NOT NULL, -- workspace | task | reservation | worker | ...
    resource_sid     TEXT   NOT NULL,
    task_sid         TEXT,
    worker_sid       TEXT,
    reservation_sid  TEXT,
    task_queue_sid   TEXT,
    workflow_sid     TEXT,
    task_channel_sid TEXT,
    data             TEXT   NOT NULL
);
CREATE UNIQUE INDEX tr_events_by_workspace ON tr_events (workspace_sid, seq);
CREATE INDEX tr_events_by_task ON tr_events (workspace_sid, task_sid, seq);
CREATE INDEX tr_events_by_worker ON tr_events (workspace_sid, worker_sid, seq);
CREATE INDEX tr_events_by_reservation ON tr_events (workspace_sid, reservation_sid, seq);
CREATE INDEX tr_events_by_queue ON tr_events (workspace_sid, task_queue_sid, seq);
