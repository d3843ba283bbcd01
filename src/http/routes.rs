//! The one list of what the API serves: every path with the methods its route takes.
//!
//! Invariant: this table and the routers agree exactly. The unit test below reads every
//! `.route("…", …)` in `src/http/` (routes name their full paths, by the project's style) and
//! fails on a path or method the table lacks, or one it names that no router serves; the
//! cross-tenant matrix (`tests/it/tenancy.rs`) runs over this table, so a new route is in it
//! the moment it is listed here, and that test fails until the route has a fixture.

use axum::http::Method;

/// Every route: its path (axum's syntax, captures in braces) and its methods.
pub const ROUTES: &[(&str, &[Method])] = &[
    // src/http/accounts.rs
    ("/2010-04-01/Accounts.json", &[Method::GET, Method::POST]),
    ("/2010-04-01/Accounts/{file}", &[Method::GET, Method::POST]),
    // src/http/voice/incoming_phone_numbers.rs
    (
        "/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers.json",
        &[Method::GET, Method::POST],
    ),
    (
        "/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{phone_number_file}",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    // src/http/voice/applications.rs
    (
        "/2010-04-01/Accounts/{account_sid}/Applications.json",
        &[Method::GET, Method::POST],
    ),
    (
        "/2010-04-01/Accounts/{account_sid}/Applications/{application_file}",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    // src/http/auth_tokens.rs (Accounts v1: the caller's own account only)
    ("/v1/AuthTokens/Secondary", &[Method::POST, Method::DELETE]),
    ("/v1/AuthTokens/Promote", &[Method::POST]),
    // src/http/health.rs
    ("/healthz", &[Method::GET]),
    ("/metrics", &[Method::GET]),
    // src/http/monitor/alerts.rs
    ("/v1/Alerts", &[Method::GET]),
    ("/v1/Alerts/{sid}", &[Method::GET]),
    // src/http/voice/notifications.rs
    (
        "/2010-04-01/Accounts/{account_sid}/Notifications.json",
        &[Method::GET],
    ),
    (
        "/2010-04-01/Accounts/{account_sid}/Notifications/{notification_file}",
        &[Method::GET],
    ),
    (
        "/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}/Notifications.json",
        &[Method::GET],
    ),
    (
        "/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}/Notifications/{notification_file}",
        &[Method::GET],
    ),
    // src/http/voice/calls.rs
    (
        "/2010-04-01/Accounts/{account_sid}/Calls.json",
        &[Method::GET, Method::POST],
    ),
    (
        "/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    // src/http/operator.rs (the operator token, never an account's credentials)
    ("/operator/v1/Accounts", &[Method::GET, Method::POST]),
    ("/operator/v1/Accounts/{account_sid}", &[Method::GET]),
    // src/http/supervisor.rs
    (
        "/supervisor/v1/Workspaces/{ws}/QueuePositions",
        &[Method::GET],
    ),
    (
        "/supervisor/v1/Workspaces/{ws}/WorkerAssignments",
        &[Method::GET],
    ),
    // src/http/taskrouter/activities.rs
    (
        "/v1/Workspaces/{workspace_sid}/Activities",
        &[Method::GET, Method::POST],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Activities/{activity_sid}",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    // src/http/taskrouter/events.rs
    (
        "/v1/Workspaces/{workspace_sid}/Events",
        &[Method::GET, Method::POST],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Events/{event_sid}",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    // src/http/taskrouter/mod.rs
    (
        "/v1/Workspaces/{workspace_sid}/{resource}",
        &[Method::GET, Method::POST],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/{resource}/{sid}",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/{resource}/{sid}/{sub}",
        &[Method::GET],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/{resource}/{sid}/{sub}/{sub_sid}",
        &[Method::GET, Method::POST],
    ),
    // src/http/taskrouter/reservations.rs
    (
        "/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}/Reservations",
        &[Method::GET],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}/Reservations/{reservation_sid}",
        &[Method::GET, Method::POST],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Reservations",
        &[Method::GET],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Reservations/{reservation_sid}",
        &[Method::GET, Method::POST],
    ),
    // src/http/taskrouter/task_channels.rs
    (
        "/v1/Workspaces/{workspace_sid}/TaskChannels",
        &[Method::GET, Method::POST],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/TaskChannels/{task_channel_sid}",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    // src/http/taskrouter/task_queues.rs
    (
        "/v1/Workspaces/{workspace_sid}/TaskQueues",
        &[Method::GET, Method::POST],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    // src/http/taskrouter/tasks.rs
    (
        "/v1/Workspaces/{workspace_sid}/Tasks",
        &[Method::GET, Method::POST],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    // src/http/taskrouter/worker_channels.rs
    (
        "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Channels",
        &[Method::GET],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Channels/{task_channel}",
        &[Method::GET, Method::POST],
    ),
    // src/http/taskrouter/workers.rs
    (
        "/v1/Workspaces/{workspace_sid}/Workers",
        &[Method::GET, Method::POST],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    // src/http/taskrouter/workflows.rs
    (
        "/v1/Workspaces/{workspace_sid}/Workflows",
        &[Method::GET, Method::POST],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    // src/http/taskrouter/workspaces.rs
    ("/v1/Workspaces", &[Method::GET, Method::POST]),
    (
        "/v1/Workspaces/{workspace_sid}",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    // src/http/taskrouter/statistics/routes.rs
    (
        "/v1/Workspaces/{workspace_sid}/Statistics",
        &[Method::GET, Method::POST],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/RealTimeStatistics",
        &[Method::GET, Method::POST],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/CumulativeStatistics",
        &[Method::GET, Method::POST],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Workers/Statistics",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Workers/RealTimeStatistics",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Workers/CumulativeStatistics",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Statistics",
        &[Method::GET],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/TaskQueues/Statistics",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/TaskQueues/RealTimeStatistics",
        &[Method::GET, Method::POST, Method::DELETE],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}/Statistics",
        &[Method::GET],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}/RealTimeStatistics",
        &[Method::GET],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}/CumulativeStatistics",
        &[Method::GET],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}/Statistics",
        &[Method::GET],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}/RealTimeStatistics",
        &[Method::GET],
    ),
    (
        "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}/CumulativeStatistics",
        &[Method::GET],
    ),
];

/// Every `(method, path)` pair of [`ROUTES`].
pub fn all() -> impl Iterator<Item = (Method, &'static str)> {
    ROUTES
        .iter()
        .flat_map(|(path, methods)| methods.iter().map(move |m| (m.clone(), *path)))
}

#[cfg(test)]
mod tests;
