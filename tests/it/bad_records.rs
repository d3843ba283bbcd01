//! Records the running build cannot read: an event type written by a newer version, and a
//! damaged row. The server keeps serving, the read models step over them (and say so), and
//! no other event is lost; a TaskRouter workspace holding one answers a clear error naming
//! its position while every other workspace keeps working.

use crate::{account_path, assert_twilio_error, cli, create_account, Api, DataDir, Server};
use serde_json::Value;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};
use switchboard_events::{Metadata, NewEvent, Sid};
use uuid::Uuid;

/// Writes a row straight into the log file (the server must be stopped), on `stream` (created
/// when missing) at the stream's next seq.
async fn append_raw(dir: &std::path::Path, stream: &str, header: Vec<u8>, data: &str) {
    let mut conn = SqliteConnection::connect_with(
        &SqliteConnectOptions::new().filename(dir.join("log.sqlite")),
    )
    .await
    .expect("open log");
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM streams WHERE name = ?1")
        .bind(stream)
        .fetch_optional(&mut conn)
        .await
        .expect("lookup");
    let stream_id = match existing {
        Some(id) => id,
        None => {
            let id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM streams")
                .fetch_one(&mut conn)
                .await
                .expect("next id");
            sqlx::query("INSERT INTO streams (id, name) VALUES (?1, ?2)")
                .bind(id)
                .bind(stream)
                .execute(&mut conn)
                .await
                .expect("stream");
            id
        }
    };
    let (position, seq): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COALESCE(MAX(position), 0) + 1 FROM events), \
                (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE stream_id = ?1)",
    )
    .bind(stream_id)
    .fetch_one(&mut conn)
    .await
    .expect("heads");
    sqlx::query(
        "INSERT INTO events (position, stream_id, seq, header, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(position)
    .bind(stream_id)
    .bind(seq)
    .bind(header)
    .bind(data)
    .execute(&mut conn)
    .await
    .expect("event");
    conn.close().await.expect("close");
}

/// The metadata of an event of `account` written now.
fn metadata(account: &str) -> Metadata {
    Metadata {
        occurred_at: switchboard::commands::now_ms(),
        account_sid: Sid::parse(account).expect("sid"),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        region: "test".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_types_and_damaged_rows_are_stepped_over_and_reported() {
    let dir = DataDir::new("bad");
    let acme = create_account(dir.path(), "Acme");

    // An event type from the future, well formed otherwise, on its own stream.
    let future_stream = switchboard::commands::new_sid(switchboard_events::SidPrefix::Account);
    let meta = metadata(&acme.sid);
    let mut future = NewEvent::new(
        Uuid::now_v7(),
        &meta,
        &switchboard_events::Event::AccountUpdated(switchboard_events::account::AccountUpdated {
            friendly_name: Some("x".into()),
            status: None,
        }),
    );
    future.event_type = "account.teleported".into();
    let header = switchboard::log::record::encode_header(&future).expect("header");
    append_raw(
        dir.path(),
        future_stream.as_str(),
        header,
        "{\"to\": \"mars\"}",
    )
    .await;
    // A damaged row in the caller's own account stream: the header is garbage.
    append_raw(dir.path(), &acme.sid, vec![0xde, 0xad], "{}").await;

    let server = Server::start(dir.path());
    let as_acme = Api::new(&server, &acme);
    // Still serving: the account from before the bad records, and new writes after them.
    as_acme.get_json(&account_path(&acme.sid)).await;
    let r = as_acme
        .post(
            "/2010-04-01/Accounts.json",
            &[("FriendlyName", "after the bad records")],
        )
        .await;
    assert_eq!(r.status(), 201);
    let sub: Value = r.json().await.expect("json");
    // The event after the bad records reached the read model.
    as_acme
        .get_json(&account_path(sub["sid"].as_str().expect("sid")))
        .await;
    let anonymous = Api::with_auth(&server, None);
    let health = anonymous.get_json("/healthz").await;
    assert_eq!(health["log_head"]["0"], 4);
    assert_eq!(health["projections"]["accounts"]["checkpoint"]["0"], 4);
    let metrics = anonymous.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("switchboard_projection_skipped_records_total{projection=\"accounts\"} 2"),
        "{metrics}"
    );

    // Nothing can decide on a damaged stream: a clear 500 naming the problem, nothing written.
    let r = as_acme
        .post(&account_path(&acme.sid), &[("FriendlyName", "renamed")])
        .await;
    let body = assert_twilio_error(r, 500, 20500).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("log position 0:3"),
        "{body}"
    );
    assert_eq!(
        anonymous.get_json("/healthz").await["log_head"]["0"],
        4,
        "the refused command wrote nothing"
    );
    assert!(server.terminate());

    let status: Value =
        serde_json::from_str(cli(dir.path(), &["projections", "status"]).trim()).expect("json");
    let skipped = status["projections"]["accounts"]["skipped"]
        .as_array()
        .expect("skipped")
        .clone();
    assert_eq!(skipped.len(), 2, "{status}");
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("account.teleported"),
        "{status}"
    );
    assert!(
        skipped[1]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("header"),
        "{status}"
    );
    assert_eq!(skipped[1]["stream"], acme.sid.as_str());
}

/// Creates a workspace through the API and returns its SID.
async fn create_workspace(api: &Api, name: &str) -> String {
    let r = api.post("/v1/Workspaces", &[("FriendlyName", name)]).await;
    assert_eq!(r.status(), 201, "create workspace {name}");
    let body: Value = r.json().await.expect("json");
    body["sid"].as_str().expect("sid").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_holding_an_undecodable_event_names_its_position_and_no_other_is_touched() {
    let dir = DataDir::new("bad-ws");
    let acme = create_account(dir.path(), "Acme");
    let server = Server::start(dir.path());
    let as_acme = Api::new(&server, &acme);
    let broken = create_workspace(&as_acme, "Broken").await;
    let healthy = create_workspace(&as_acme, "Healthy").await;
    assert!(server.terminate());

    // An event of this workspace written by a newer build: a schema version this one lacks.
    let meta = metadata(&acme.sid);
    let mut future = NewEvent::new(
        Uuid::now_v7(),
        &meta,
        &switchboard_events::Event::WorkspaceUpdated(
            switchboard_events::taskrouter::events::WorkspaceUpdated {
                friendly_name: Some("from the future".into()),
                ..Default::default()
            },
        ),
    );
    future.schema_version = 99;
    let header = switchboard::log::record::encode_header(&future).expect("header");
    append_raw(dir.path(), &broken, header, &future.data).await;

    // The server starts (its workspace actors are warmed at start) and serves.
    let server = Server::start(dir.path());
    let as_acme = Api::new(&server, &acme);
    let anonymous = Api::with_auth(&server, None);
    let head = anonymous.get_json("/healthz").await["log_head"]["0"].clone();
    let position = format!("log position 0:{head}");

    // The broken workspace: a read and a command each answer a clear 500 naming the record.
    for r in [
        as_acme.get(&format!("/v1/Workspaces/{broken}")).await,
        as_acme
            .post(
                &format!("/v1/Workspaces/{broken}"),
                &[("FriendlyName", "renamed")],
            )
            .await,
    ] {
        let body = assert_twilio_error(r, 500, 20500).await;
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(&position), "{body}");
        assert!(message.contains("schema version 99"), "{body}");
    }
    assert_eq!(
        anonymous.get_json("/healthz").await["log_head"]["0"],
        head,
        "the refused command wrote nothing"
    );

    // Every other workspace keeps working, reads and writes.
    let ws = as_acme.get_json(&format!("/v1/Workspaces/{healthy}")).await;
    assert_eq!(ws["friendly_name"], "Healthy");
    let r = as_acme
        .post(
            &format!("/v1/Workspaces/{healthy}/Activities"),
            &[("FriendlyName", "Lunch"), ("Available", "false")],
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = as_acme
        .post(
            &format!("/v1/Workspaces/{healthy}"),
            &[("FriendlyName", "Still healthy")],
        )
        .await;
    assert_eq!(r.status(), 200);
    // And so does the rest of the server.
    as_acme.get_json(&account_path(&acme.sid)).await;
    // Asking again meets the same answer (a new actor tries the load again).
    let r = as_acme.get(&format!("/v1/Workspaces/{broken}")).await;
    assert_twilio_error(r, 500, 20500).await;
    assert!(server.terminate());
}
