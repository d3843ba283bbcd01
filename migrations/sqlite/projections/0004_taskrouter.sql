-- Read model `taskrouter` (projection "taskrouter"): what supervisors read about a workspace
-- without asking its actor. Open tasks with their queue (queue positions are computed from
-- these rows: priority, then age, FIFO or LIFO), workers with their activity, channels and
-- current reservations (worker assignments), and per-minute counters (cumulative statistics).
-- Closed tasks and finished reservations leave the current-state tables; the counters keep them.
CREATE TABLE tr_queues (
    sid           TEXT   PRIMARY KEY,
    workspace_sid TEXT   NOT NULL,
    friendly_name TEXT   NOT NULL,
    task_order    TEXT   NOT NULL -- FIFO | LIFO
);
CREATE TABLE tr_activities (
    sid           TEXT   PRIMARY KEY,
    workspace_sid TEXT   NOT NULL,
    friendly_name TEXT   NOT NULL,
    available     BIGINT NOT NULL -- 0 | 1
);
CREATE TABLE tr_channels (
    sid           TEXT   PRIMARY KEY,
    workspace_sid TEXT   NOT NULL,
    unique_name   TEXT   NOT NULL
);
CREATE TABLE tr_workers (
    sid               TEXT   PRIMARY KEY,
    workspace_sid     TEXT   NOT NULL,
    friendly_name     TEXT   NOT NULL,
    activity_sid      TEXT   NOT NULL,
    status_changed_ms BIGINT NOT NULL
);
CREATE INDEX tr_workers_by_workspace ON tr_workers (workspace_sid, sid);
CREATE TABLE tr_worker_channels (
    worker_sid    TEXT   NOT NULL,
    channel_sid   TEXT   NOT NULL,
    workspace_sid TEXT   NOT NULL,
    capacity      BIGINT NOT NULL,
    available     BIGINT NOT NULL,
    PRIMARY KEY (worker_sid, channel_sid)
);
CREATE INDEX tr_worker_channels_by_workspace ON tr_worker_channels (workspace_sid);
CREATE TABLE tr_tasks (
    sid           TEXT   PRIMARY KEY,
    workspace_sid TEXT   NOT NULL,
    workflow_sid  TEXT   NOT NULL,
    channel_sid   TEXT   NOT NULL,
    queue_sid     TEXT,            -- NULL until a workflow target matched
    priority      BIGINT NOT NULL,
    step_priority BIGINT,          -- the target's override
    age_ms        BIGINT NOT NULL, -- virtual start time, else creation (ms since the epoch)
    created_ms    BIGINT NOT NULL,
    entered_ms    BIGINT,          -- when it entered its current queue
    status        TEXT   NOT NULL  -- pending | reserved | assigned | wrapping
);
CREATE INDEX tr_tasks_by_queue ON tr_tasks (workspace_sid, queue_sid, status);
CREATE TABLE tr_reservations (
    sid           TEXT   PRIMARY KEY,
    workspace_sid TEXT   NOT NULL,
    task_sid      TEXT   NOT NULL,
    worker_sid    TEXT   NOT NULL,
    queue_sid     TEXT   NOT NULL,
    workflow_sid  TEXT   NOT NULL,
    channel_sid   TEXT   NOT NULL,
    status        TEXT   NOT NULL, -- pending | accepted | wrapping
    created_ms    BIGINT NOT NULL
);
CREATE INDEX tr_reservations_by_worker ON tr_reservations (worker_sid, channel_sid);
CREATE INDEX tr_reservations_by_task ON tr_reservations (task_sid);
-- Counters per workspace, scope (the workspace, a queue, a workflow or a worker), task channel
-- ('' when none applies), minute (ms since the epoch / 60000) and metric. Valued metrics
-- (waits, activity durations, in seconds) keep count, total, min and max.
CREATE TABLE tr_stats (
    workspace_sid TEXT   NOT NULL,
    scope_sid     TEXT   NOT NULL,
    channel_sid   TEXT   NOT NULL,
    minute        BIGINT NOT NULL,
    metric        TEXT   NOT NULL,
    n             BIGINT NOT NULL,
    total         BIGINT NOT NULL,
    min_value     BIGINT NOT NULL,
    max_value     BIGINT NOT NULL,
    PRIMARY KEY (workspace_sid, scope_sid, minute, metric, channel_sid)
);
-- Waits by whole second, for SplitByWaitTime (accepted reservations and canceled tasks).
CREATE TABLE tr_waits (
    workspace_sid TEXT   NOT NULL,
    scope_sid     TEXT   NOT NULL,
    channel_sid   TEXT   NOT NULL,
    minute        BIGINT NOT NULL,
    metric        TEXT   NOT NULL,
    wait_s        BIGINT NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (workspace_sid, scope_sid, minute, metric, channel_sid, wait_s)
);
