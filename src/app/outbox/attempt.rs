//! One attempt at one outbox row: sign, POST (or GET, the form in the query), classify what happened as a policy
//! [`Outcome`], carry out an assignment callback's instruction, and ask the policy what comes
//! next. Returns how the row changes ([`Finish`]); it never writes the outbox itself (the
//! sender applies many finishes in one transaction).
//!
//! Twilio's `tt` bounds the whole exchange with a URL, retries included: it is measured from
//! the row's first attempt at that URL (`first_attempt_at`, kept in the row so a restart does
//! not reset it), every attempt is cut to what is left of it, and a retry that would start
//! after it is a final failure ([`policy::next_within`]). A fallback URL has its own budget.
//!
//! The invariant: a row is [`Finish::Done`] only after a 2xx answer (and, for an assignment
//! callback, after its instruction was carried out or refused by the decider), or after its
//! final failure was recorded as an alert. Everything else (no token yet, the log
//! unavailable, the alert not recorded) keeps the row for a later attempt.

use super::rows::{Finish, Row};
use super::Context;
use crate::app::alerts::{self, FailedDelivery};
use crate::app::webhook::answer::{classify, describe, read_capped};
use crate::app::webhook::request::{form_encoded, header_lines, with_twilio_headers};
use crate::taskrouter::EngineError;
use chrono::Utc;
use std::time::Duration;
use switchboard_events::call::HttpMethod;
use switchboard_events::process::policy::{self, Next, Outcome, Target, WebhookKind};
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::{Metadata, Sid, SidPrefix};
use tracing::{info, warn};
use uuid::Uuid;

/// Largest answer read; a larger one is Twilio's 11750.
pub use crate::app::webhook::answer::MAX_ANSWER;

/// How long a row waits when its token cannot be had, its instruction could not be carried
/// out, or its alert could not be recorded: long enough not to spin on an outage, short
/// enough that an outage of a minute delays deliveries by about that much.
pub const RETRY_LATER: Duration = Duration::from_secs(5);

/// What an answered request carried back.
struct Answer {
    body: Vec<u8>,
    headers: String,
}

/// One attempt's request and answer, as far as they went, for the alert.
#[derive(Default)]
struct Exchange {
    /// The headers the request was sent with (`None`: no request was made).
    sent: Option<String>,
    /// The answer, if one came whole.
    answer: Option<Answer>,
}

fn later(row: &Row, last_error: String) -> Finish {
    Finish::Again {
        url_index: row.url_index,
        attempt: row.attempt,
        next_attempt_at: now() + RETRY_LATER.as_millis() as i64,
        failed_code: row.failed_code,
        last_error: Some(last_error),
        first_attempt_at: row.first_attempt_at,
    }
}

fn now() -> i64 {
    Utc::now().timestamp_millis()
}

/// Makes one attempt at `row`.
pub async fn attempt(ctx: &Context, row: Row) -> Finish {
    if let Some(code) = row.failed_code {
        let error = row.last_error.clone().unwrap_or_default();
        return raise(ctx, &row, code, error, Exchange::default()).await;
    }
    let Some(url) = row.delivery.urls.get(row.url_index as usize).cloned() else {
        // Nothing left to try (a row written with no URL): the last code stands.
        return raise(
            ctx,
            &row,
            11200,
            "no URL to deliver to".into(),
            Exchange::default(),
        )
        .await;
    };
    let target = match policy::target(row.delivery.kind, &url) {
        Ok(t) => t,
        Err(e) => return failed(ctx, &row, e.code, e.message, Exchange::default()).await,
    };
    let token = match ctx.tokens.auth_token(&row.delivery.account_sid).await {
        Ok(t) => t,
        Err(e) => {
            warn!(account_sid = %row.delivery.account_sid, cause = %e, "cannot sign a webhook yet; retrying later");
            return later(&row, e.to_string());
        }
    };
    if token.is_none() {
        ctx.warn_unsigned(&row.delivery.account_sid);
    }
    let started = row.first_attempt_at.unwrap_or_else(now);
    let limit = policy::attempt_ms(&target.policy, elapsed(started));
    let (outcome, exchange) = if limit == 0 {
        // The retry came due after the budget was spent (the sender was down or behind):
        // Twilio would not make it, so neither does this.
        (Outcome::Timeout, Exchange::default())
    } else {
        send(ctx, &row, &target, token.as_deref(), limit).await
    };
    if row.first_attempt() {
        ctx.metrics.webhook_stage("answered", row.next_attempt_at);
    }
    if let (Outcome::Delivered { .. }, Some(answer)) = (outcome, &exchange.answer) {
        if row.delivery.kind == WebhookKind::AssignmentCallback {
            if let Err(e) = instruct(ctx, &row, &answer.body).await {
                return later(&row, e);
            }
        }
    }
    let spent = elapsed(started);
    let mut error = describe(outcome, &target.url);
    let next = policy::next_within(&target.policy, row.attempt, outcome, spent);
    let retry_without_budget = policy::next(&target.policy, row.attempt, outcome);
    if let (Next::Failed { .. }, Next::Retry { .. }) = (next, retry_without_budget) {
        error.push_str(&format!(
            " (no retry: the total time tt={} ms would be spent)",
            target.policy.total_timeout_ms
        ));
    }
    match next {
        Next::Delivered => Finish::Done,
        Next::Retry { after_ms } => Finish::Again {
            url_index: row.url_index,
            attempt: row.attempt + 1,
            next_attempt_at: now() + i64::from(after_ms),
            failed_code: None,
            last_error: Some(error),
            first_attempt_at: Some(started),
        },
        Next::Failed { code } => failed(ctx, &row, code, error, exchange).await,
    }
}

/// Ms since `started` (0 if the clock went back).
fn elapsed(started: i64) -> u64 {
    u64::try_from(now() - started).unwrap_or(0)
}

/// This URL failed for good: the next URL now, or the alert after the last one.
async fn failed(ctx: &Context, row: &Row, code: u32, error: String, exchange: Exchange) -> Finish {
    if (row.url_index as usize) + 1 < row.delivery.urls.len() {
        return Finish::Again {
            url_index: row.url_index + 1,
            attempt: 0,
            next_attempt_at: now(),
            failed_code: None,
            last_error: Some(error),
            // The fallback URL's exchange, and its budget, start with its first attempt.
            first_attempt_at: None,
        };
    }
    raise(
        ctx,
        row,
        row.delivery.kind.final_code(code),
        error,
        exchange,
    )
    .await
}

/// Records the final failure as an alert; the row stays (without its order) until that works.
async fn raise(ctx: &Context, row: &Row, code: u32, error: String, exchange: Exchange) -> Finish {
    let d = &row.delivery;
    let url = d.urls.last().map(|u| bare(u)).unwrap_or_default();
    let field = |name: &str| {
        d.form
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| Sid::parse(v).ok())
    };
    let failed = FailedDelivery {
        account_sid: d.account_sid.clone(),
        error_code: code,
        alert_text: error.clone(),
        request_url: url,
        request_method: d.method.as_str().into(),
        request_variables: form_encoded(&d.form),
        request_headers: exchange.sent,
        response_body: exchange
            .answer
            .as_ref()
            .map(|a| String::from_utf8_lossy(&a.body).into_owned()),
        response_headers: exchange.answer.as_ref().map(|a| a.headers.clone()),
        resource_sid: field("ReservationSid").or_else(|| field("ResourceSid")),
        service_sid: field("WorkspaceSid"),
        occurred_at: Utc::now(),
        causation_id: row.causation_id,
        delivery_id: d.id.clone(),
    };
    match alerts::raise(ctx.log.as_ref(), failed).await {
        Ok(alert) => {
            warn!(delivery = %d.id, code, %alert, "webhook failed for good: alert recorded");
            Finish::Done
        }
        Err(e) => {
            warn!(delivery = %d.id, code, cause = %e, "webhook failed for good; the alert is not recorded yet, retrying later");
            Finish::Again {
                url_index: row.url_index,
                attempt: row.attempt,
                next_attempt_at: now() + RETRY_LATER.as_millis() as i64,
                failed_code: Some(code),
                last_error: Some(error),
                first_attempt_at: row.first_attempt_at,
            }
        }
    }
}

/// `url` with `form` appended to its query (a GET's parameters).
fn with_query(url: &str, form: &[(String, String)]) -> String {
    let query = form_encoded(form);
    if query.is_empty() {
        return url.to_string();
    }
    match url.split_once('?') {
        None => format!("{url}?{query}"),
        Some((_, q)) if q.is_empty() || q.ends_with('&') => format!("{url}{query}"),
        Some(_) => format!("{url}&{query}"),
    }
}

fn bare(url: &str) -> String {
    url.split_once('#').map_or(url, |(u, _)| u).to_string()
}

/// Sends the signed form to `target` within its policy, taking at most `limit_ms` in all
/// (what is left of `tt`); what happened, the headers sent and the answer if one came. A POST
/// carries the form in its body; a GET carries it in the query and is signed over that whole
/// URL with no body parameters, as Twilio signs a GET (VOICE-NOTES §3.1).
async fn send(
    ctx: &Context,
    row: &Row,
    target: &Target,
    token: Option<&str>,
    limit_ms: u32,
) -> (Outcome, Exchange) {
    let p = &target.policy;
    let client = ctx.client(p.connect_timeout_ms);
    let form = &row.delivery.form;
    let timeout = Duration::from_millis(u64::from(limit_ms.max(1)));
    let id = &row.delivery.id;
    let request = match row.delivery.method {
        HttpMethod::Post => {
            let request = client
                .post(&target.url)
                .timeout(timeout)
                .body(form_encoded(form));
            with_twilio_headers(request, token, &target.url, form, id)
        }
        HttpMethod::Get => {
            let url = with_query(&target.url, form);
            let request = client.get(&url).timeout(timeout);
            with_twilio_headers(request, token, &url, &[], id)
        }
    };
    // Built first so the alert can show the headers exactly as they went out (the transport
    // adds its own, Host and Content-Length, which Monitor needs no more than the receiver).
    let request = match request.build() {
        Ok(r) => r,
        Err(e) => return (classify(&e), Exchange::default()),
    };
    let mut exchange = Exchange {
        sent: Some(header_lines(request.headers())),
        answer: None,
    };
    let mut response = match client.execute(request).await {
        Ok(r) => r,
        Err(e) => return (classify(&e), exchange),
    };
    let status = response.status().as_u16();
    let headers = header_lines(response.headers());
    let body = match read_capped(&mut response).await {
        Ok(body) if body.too_large => return (Outcome::TooLarge, exchange),
        Ok(body) => body.bytes,
        Err(e) => return (classify(&e), exchange),
    };
    let outcome = if (200..300).contains(&status) {
        Outcome::Delivered { status }
    } else {
        Outcome::Status(status)
    };
    exchange.answer = Some(Answer { body, headers });
    (outcome, exchange)
}

/// Carries out an assignment callback's `accept`/`reject` through the workspace actor, caused
/// by the source event. Err: the log could not take it now (the row is tried again later; a
/// second accept of the same reservation is refused by its transition rules).
async fn instruct(ctx: &Context, row: &Row, body: &[u8]) -> Result<(), String> {
    let Some(acts_on) = &row.delivery.acts_on else {
        return Ok(());
    };
    let body: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let (status, activity) = match body["instruction"].as_str() {
        Some("accept") => ("accepted", None),
        Some("reject") => (
            "rejected",
            body["activity_sid"]
                .as_str()
                .and_then(|a| Sid::parse_as(a, SidPrefix::Activity).ok()),
        ),
        Some(other) => {
            warn!(instruction = other, reservation = %acts_on.reservation, "assignment instruction not supported here");
            return Ok(());
        }
        None => return Ok(()),
    };
    let meta = Metadata {
        occurred_at: crate::commands::now_ms(),
        account_sid: row.delivery.account_sid.clone(),
        correlation_id: Uuid::now_v7(),
        causation_id: Some(row.causation_id),
        region: "assignment-callback".into(),
    };
    let command = Command::UpdateReservation {
        sid: acts_on.reservation.clone(),
        via: acts_on.task.clone(),
        status: status.into(),
        activity_sid: activity,
        if_match: None,
    };
    match ctx
        .engine
        .execute(&acts_on.workspace, command, meta, |_, _| ())
        .await
    {
        Ok(_) => {
            info!(reservation = %acts_on.reservation, status, "assignment instruction carried out");
            Ok(())
        }
        // The decider refused (the reservation is no longer pending, …): the answer is
        // delivered and there is nothing left to do.
        Err(EngineError::Domain(e)) => {
            warn!(reservation = %acts_on.reservation, cause = %e, "assignment instruction not carried out");
            Ok(())
        }
        Err(e) => Err(format!("the instruction could not be carried out yet: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::outbox::unsigned::NoTokens;
    use crate::log::memory::MemoryLog;
    use crate::log::EventLog;
    use std::sync::Arc;
    use switchboard_events::process::Delivery;
    use switchboard_events::Position;

    /// A receiver answering every request with `status`; its base URL.
    async fn answering(status: u16) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let code = axum::http::StatusCode::from_u16(status).expect("status");
        let app = axum::Router::new().fallback(move || async move { code });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}")
    }

    fn context() -> Context {
        let log: Arc<dyn crate::log::EventLog> = Arc::new(MemoryLog::default());
        let engine = crate::taskrouter::Engine::new(log.clone());
        Context::new(log, engine, Arc::new(NoTokens), Arc::default())
    }

    /// A log that takes no append: no alert can be recorded, whatever `raise` does.
    struct Refusing(MemoryLog);

    #[async_trait::async_trait]
    impl EventLog for Refusing {
        async fn append(
            &self,
            _: &str,
            _: switchboard_events::ExpectedVersion,
            _: Vec<switchboard_events::NewEvent>,
        ) -> Result<crate::log::Appended, crate::log::AppendError> {
            Err(crate::log::AppendError::Unavailable("refused".into()))
        }
        async fn read_stream(
            &self,
            stream: &str,
        ) -> Result<Vec<switchboard_events::RecordedEvent>, crate::log::ReadError> {
            self.0.read_stream(stream).await
        }
        fn subscribe(
            &self,
            from: crate::log::Checkpoint,
        ) -> futures::stream::BoxStream<
            'static,
            Result<Vec<crate::log::LogItem>, crate::log::ReadError>,
        > {
            self.0.subscribe(from)
        }
        async fn heads(&self) -> Result<crate::log::Checkpoint, crate::log::ReadError> {
            self.0.heads().await
        }
    }

    fn row(urls: Vec<String>) -> Row {
        let source = Uuid::from_u128(5);
        let kind = WebhookKind::EventCallback;
        Row {
            delivery: Delivery {
                id: Delivery::id_for(source, kind, 0),
                kind,
                account_sid: Sid::from_u128(SidPrefix::Account, 1),
                order_key: Some(Sid::from_u128(SidPrefix::Workspace, 1)),
                urls,
                method: HttpMethod::Post,
                form: vec![("EventType".into(), "task.created".into())],
                acts_on: None,
            },
            position: Position::embedded(1),
            index: 0,
            causation_id: source,
            url_index: 0,
            attempt: 0,
            next_attempt_at: 0,
            failed_code: None,
            last_error: None,
            first_attempt_at: None,
        }
    }

    #[tokio::test]
    async fn a_2xx_is_done_and_a_refusal_moves_on_to_the_fallback_url() {
        let ctx = context();
        let (ok, refused) = (answering(204).await, answering(500).await);
        assert_eq!(attempt(&ctx, row(vec![ok.clone()])).await, Finish::Done);
        let next = attempt(&ctx, row(vec![format!("{refused}/a"), ok])).await;
        assert!(
            matches!(
                next,
                Finish::Again {
                    url_index: 1,
                    attempt: 0,
                    failed_code: None,
                    ..
                }
            ),
            "{next:?}"
        );
    }

    #[tokio::test]
    async fn a_retry_keeps_the_start_of_the_budget_and_one_due_after_it_is_not_made() {
        let log = Arc::new(MemoryLog::default());
        let engine = crate::taskrouter::Engine::new(log.clone());
        let ctx = Context::new(log.clone(), engine, Arc::new(NoTokens), Arc::default());
        let url = format!("{}/x#tt=1000&rc=5&rp=5xx", answering(500).await);
        let before = now();
        let first = attempt(&ctx, row(vec![url.clone()])).await;
        let Finish::Again {
            attempt: 1,
            first_attempt_at: Some(started),
            ..
        } = first
        else {
            panic!("a 500 under rp=5xx is retried: {first:?}");
        };
        assert!(
            started >= before,
            "the budget starts with the first attempt"
        );
        // The retry comes due after the budget (the sender was down): no request, an alert.
        let mut late = row(vec![url]);
        late.attempt = 1;
        late.first_attempt_at = Some(started - 5_000);
        assert_eq!(attempt(&ctx, late).await, Finish::Done);
        let sid = alerts::alert_sid(&row(vec![]).delivery.id);
        let stream = log.read_stream(sid.as_str()).await.expect("read");
        let envelope = stream[0].decode().expect("decodes");
        let switchboard_events::Event::AlertRaised(a) = envelope.event else {
            panic!("alert.raised");
        };
        assert_eq!(
            (a.error_code, a.response_body),
            (11200, None),
            "a timeout, not the 500 another request would have got"
        );
    }

    #[tokio::test]
    async fn a_final_failure_stays_in_the_outbox_until_its_alert_is_recorded() {
        let log: Arc<dyn EventLog> = Arc::new(Refusing(MemoryLog::default()));
        let engine = crate::taskrouter::Engine::new(log.clone());
        let ctx = Context::new(log, engine, Arc::new(NoTokens), Arc::default());
        let refused = answering(500).await;
        // No alert can be recorded (the log refuses): the row must stay, marked failed.
        let next = attempt(&ctx, row(vec![refused])).await;
        match next {
            Finish::Again {
                failed_code: Some(code),
                next_attempt_at,
                ..
            } => {
                assert_eq!(code, 11217, "a 5xx from the application is 11217");
                assert!(next_attempt_at > Utc::now().timestamp_millis());
            }
            other => panic!("expected the row kept for its alert, got {other:?}"),
        }
    }
}
