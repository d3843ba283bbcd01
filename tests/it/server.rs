//! The real binary over HTTP: authentication, the account resource, tenancy, paging,
//! read-your-writes, errors, health, metrics and shutdown.

use crate::{account_path, assert_twilio_error, cli_output, create_account, Api, DataDir, Server};
use serde_json::Value;

const ACCOUNTS: &str = "/2010-04-01/Accounts.json";

#[tokio::test]
async fn the_account_api_authenticates_isolates_tenants_and_reads_its_own_writes() {
    let dir = DataDir::new("server");
    let acme = create_account(dir.path(), "Acme");
    let globex = create_account(dir.path(), "Globex");
    let server = Server::start(dir.path());
    let as_acme = Api::new(&server, &acme);
    let me_path = account_path(&acme.sid);

    // No credentials, a wrong token, a username that is not a SID, another tenant's token:
    // 401 with Twilio's body.
    let zeros = "0".repeat(32);
    for auth in [
        None,
        Some((acme.sid.as_str(), zeros.as_str())),
        Some(("not-a-sid", acme.token.as_str())),
        Some((acme.sid.as_str(), globex.token.as_str())),
    ] {
        let r = Api::with_auth(&server, auth).get(&me_path).await;
        assert_twilio_error(r, 401, 20003).await;
    }

    // The account in Twilio's shape.
    let me = as_acme.get_json(&me_path).await;
    assert_eq!(me["sid"], acme.sid.as_str());
    assert_eq!(me["friendly_name"], "Acme");
    assert_eq!(me["status"], "active");
    assert_eq!(me["owner_account_sid"], acme.sid.as_str());
    assert_eq!(me["uri"], me_path.as_str());
    assert!(
        me["date_created"]
            .as_str()
            .is_some_and(|d| d.ends_with("+0000")),
        "RFC 2822: {me}"
    );
    assert!(
        me.get("auth_token").is_some(),
        "every documented field is present"
    );

    // Another account's resource looks exactly like one that does not exist, and changing
    // it is refused the same way.
    let hidden =
        assert_twilio_error(as_acme.get(&account_path(&globex.sid)).await, 404, 20404).await;
    let nobody = format!("AC{zeros}");
    let missing = assert_twilio_error(as_acme.get(&account_path(&nobody)).await, 404, 20404).await;
    assert_eq!(
        hidden["message"]
            .as_str()
            .map(|m| m.replace(&globex.sid, "X")),
        missing["message"].as_str().map(|m| m.replace(&nobody, "X"))
    );
    let r = as_acme
        .post(&account_path(&globex.sid), &[("FriendlyName", "pwned")])
        .await;
    assert_twilio_error(r, 404, 20404).await;
    let as_globex = Api::new(&server, &globex);
    assert_eq!(
        as_globex.get_json(&account_path(&globex.sid)).await["friendly_name"],
        "Globex"
    );

    // A malformed SID in the path: 404 that says why.
    let body = assert_twilio_error(as_acme.get(&account_path("ACnot-hex")).await, 404, 20404).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("34 characters"),
        "{body}"
    );

    // Create a subaccount: 201, its token shown once, and it can authenticate at once.
    let r = as_acme.post(ACCOUNTS, &[("FriendlyName", "Acme EU")]).await;
    assert_eq!(r.status(), 201);
    assert!(r.headers().contains_key("switchboard-position"));
    let sub: Value = r.json().await.expect("json");
    let sub = crate::Creds {
        sid: sub["sid"].as_str().expect("sid").to_string(),
        token: sub["auth_token"]
            .as_str()
            .expect("token shown once")
            .to_string(),
    };
    let as_sub = Api::new(&server, &sub);
    let fetched = as_sub.get_json(&account_path(&sub.sid)).await;
    assert_eq!(fetched["owner_account_sid"], acme.sid.as_str());
    assert_eq!(fetched["auth_token"], Value::Null, "only a hash is stored");
    // The parent sees the subaccount; the subaccount does not see the parent.
    as_acme.get_json(&account_path(&sub.sid)).await;
    assert_twilio_error(as_sub.get(&me_path).await, 404, 20404).await;

    // Read-your-writes: a rename is visible to the very next read.
    for i in 0..20 {
        let name = format!("Acme {i}");
        assert_eq!(
            as_acme
                .post(&me_path, &[("FriendlyName", name.as_str())])
                .await
                .status(),
            200
        );
        assert_eq!(
            as_acme.get_json(&me_path).await["friendly_name"],
            name.as_str()
        );
    }

    // Bad parameters: Twilio's body, nothing changes.
    let long = "x".repeat(65);
    assert_twilio_error(
        as_acme
            .post(&me_path, &[("FriendlyName", long.as_str())])
            .await,
        400,
        20002,
    )
    .await;
    let r = as_acme
        .post(&account_path(&sub.sid), &[("Status", "dormant")])
        .await;
    assert_twilio_error(r, 400, 20001).await;
    let r = as_acme
        .post_body(&me_path, "application/json", "{not json".into())
        .await;
    assert_twilio_error(r, 400, 20001).await;
    assert_eq!(as_acme.get_json(&me_path).await["friendly_name"], "Acme 19");

    // Suspending a subaccount locks it out (403) at once.
    assert_eq!(
        as_acme
            .post(&account_path(&sub.sid), &[("Status", "suspended")])
            .await
            .status(),
        200
    );
    assert_twilio_error(as_sub.get(&account_path(&sub.sid)).await, 403, 20005).await;

    assert!(server.terminate(), "SIGTERM gives a clean exit");
}

#[tokio::test]
async fn the_account_list_pages_with_next_page_uri_until_every_account_is_seen() {
    let dir = DataDir::new("paging");
    let acme = create_account(dir.path(), "Acme");
    let other = create_account(dir.path(), "Other");
    let server = Server::start(dir.path());
    let as_acme = Api::new(&server, &acme);
    let mut created = vec![acme.sid.clone()];
    for i in 0..6 {
        let body = format!("{{\"FriendlyName\": \"sub {i}\"}}");
        let r = as_acme.post_body(ACCOUNTS, "application/json", body).await;
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.expect("json");
        created.push(v["sid"].as_str().expect("sid").to_string());
    }
    let mut seen = Vec::new();
    let mut next = Some(format!("{ACCOUNTS}?PageSize=4"));
    let mut pages = 0;
    while let Some(path) = next {
        let v = as_acme.get_json(&path).await;
        assert_eq!(v["page_size"], 4);
        for a in v["accounts"].as_array().expect("accounts") {
            seen.push(a["sid"].as_str().expect("sid").to_string());
        }
        next = v["next_page_uri"].as_str().map(str::to_string);
        pages += 1;
    }
    assert_eq!(pages, 2);
    created.sort();
    assert_eq!(
        seen, created,
        "every account once, in SID order, and no other tenant's"
    );
    assert!(!seen.contains(&other.sid));

    let v = as_acme
        .get_json(&format!("{ACCOUNTS}?FriendlyName=sub%203"))
        .await;
    assert_eq!(v["accounts"].as_array().map(Vec::len), Some(1));

    assert_twilio_error(
        as_acme.get(&format!("{ACCOUNTS}?PageSize=0")).await,
        400,
        20001,
    )
    .await;
    assert_twilio_error(
        as_acme.get(&format!("{ACCOUNTS}?PageToken=bogus")).await,
        400,
        20001,
    )
    .await;
    assert_twilio_error(as_acme.get("/v1/Nothing/Here").await, 404, 20404).await;
}

#[tokio::test]
async fn health_and_metrics_report_the_log_and_the_projections() {
    let dir = DataDir::new("health");
    let acme = create_account(dir.path(), "Acme");
    let server = Server::start(dir.path());
    let as_acme = Api::new(&server, &acme);
    assert_eq!(as_acme.post(ACCOUNTS, &[]).await.status(), 201);
    let anonymous = Api::with_auth(&server, None);
    let health = anonymous.get_json("/healthz").await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["log_head"]["0"], 2);
    let metrics = anonymous.get("/metrics").await.text().await.expect("text");
    for line in [
        "switchboard_log_appends_total 1",
        "switchboard_log_commit_seconds_count 1",
        "switchboard_projection_lag_events{projection=\"accounts\"}",
        "switchboard_http_responses_total{method=\"POST\",status=\"201\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from {metrics}");
    }
}

#[tokio::test]
async fn the_command_line_refuses_a_data_dir_a_running_server_holds() {
    let dir = DataDir::new("held");
    create_account(dir.path(), "Acme");
    let server = Server::start(dir.path());
    let out = cli_output(dir.path(), &["accounts", "create"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in use by another switchboard process"),
        "{err}"
    );
    assert!(server.terminate());
    // Once the server is gone the same command works.
    create_account(dir.path(), "Second");
}

#[tokio::test]
async fn bare_errors_from_routing_and_limits_come_back_in_twilio_shape() {
    let dir = DataDir::new("limits");
    let acme = create_account(dir.path(), "Acme");
    let server = Server::start_with(dir.path(), &["--body-limit", "2000"]);
    let as_acme = Api::new(&server, &acme);
    assert_twilio_error(as_acme.delete(ACCOUNTS).await, 405, 20004).await;
    let big = "x".repeat(5000);
    let r = as_acme
        .post(&account_path(&acme.sid), &[("FriendlyName", big.as_str())])
        .await;
    assert_twilio_error(r, 413, 20001).await;
    // Nothing changed, and the server still serves.
    assert_eq!(
        as_acme.get_json(&account_path(&acme.sid)).await["friendly_name"],
        "Acme"
    );
}
