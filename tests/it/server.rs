//! The real binary over HTTP: authentication, the account resource, tenancy, paging,
//! read-your-writes, errors, health, metrics and shutdown.

use crate::{assert_twilio_error, cli_output, create_account, http, DataDir, Server};
use serde_json::Value;

#[tokio::test]
async fn the_account_api_authenticates_isolates_tenants_and_reads_its_own_writes() {
    let dir = DataDir::new("server");
    let acme = create_account(dir.path(), "Acme");
    let globex = create_account(dir.path(), "Globex");
    let server = Server::start(dir.path());
    let client = http();
    let account_url = |sid: &str| server.url(&format!("/2010-04-01/Accounts/{sid}.json"));

    // No credentials, a wrong token, a username that is not a SID: 401 with Twilio's body.
    let r = client
        .get(account_url(&acme.sid))
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 401, 20003).await;
    let r = client
        .get(account_url(&acme.sid))
        .basic_auth(&acme.sid, Some("0".repeat(32)))
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 401, 20003).await;
    let r = client
        .get(account_url(&acme.sid))
        .basic_auth("not-a-sid", Some(&acme.token))
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 401, 20003).await;
    // Another tenant's token does not open this tenant.
    let r = client
        .get(account_url(&acme.sid))
        .basic_auth(&acme.sid, Some(&globex.token))
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 401, 20003).await;

    // The account in Twilio's shape.
    let r = client
        .get(account_url(&acme.sid))
        .basic_auth(&acme.sid, Some(&acme.token))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let me: Value = r.json().await.expect("json");
    assert_eq!(me["sid"], acme.sid.as_str());
    assert_eq!(me["friendly_name"], "Acme");
    assert_eq!(me["status"], "active");
    assert_eq!(me["owner_account_sid"], acme.sid.as_str());
    assert_eq!(me["uri"], format!("/2010-04-01/Accounts/{}.json", acme.sid));
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

    // Another account's resource looks exactly like one that does not exist.
    let r = client
        .get(account_url(&globex.sid))
        .basic_auth(&acme.sid, Some(&acme.token))
        .send()
        .await
        .expect("sent");
    let hidden = assert_twilio_error(r, 404, 20404).await;
    let r = client
        .get(account_url(&format!("AC{}", "0".repeat(32))))
        .basic_auth(&acme.sid, Some(&acme.token))
        .send()
        .await
        .expect("sent");
    let missing = assert_twilio_error(r, 404, 20404).await;
    assert_eq!(
        hidden["message"]
            .as_str()
            .map(|m| m.replace(&globex.sid, "X")),
        missing["message"]
            .as_str()
            .map(|m| m.replace(&"0".repeat(32), "X").replace("ACX", "X"))
    );
    // And changing it is refused the same way, leaving it unchanged.
    let r = client
        .post(account_url(&globex.sid))
        .basic_auth(&acme.sid, Some(&acme.token))
        .form(&[("FriendlyName", "pwned")])
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 404, 20404).await;

    // A malformed SID in the path: 404 that says why.
    let r = client
        .get(account_url("ACnot-hex"))
        .basic_auth(&acme.sid, Some(&acme.token))
        .send()
        .await
        .expect("sent");
    let body = assert_twilio_error(r, 404, 20404).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("34 characters"),
        "{body}"
    );

    // Create a subaccount: 201, its token shown once, and it can authenticate at once.
    let r = client
        .post(server.url("/2010-04-01/Accounts.json"))
        .basic_auth(&acme.sid, Some(&acme.token))
        .form(&[("FriendlyName", "Acme EU")])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);
    assert!(r.headers().contains_key("switchboard-position"));
    let sub: Value = r.json().await.expect("json");
    let sub_sid = sub["sid"].as_str().expect("sid").to_string();
    let sub_token = sub["auth_token"]
        .as_str()
        .expect("token shown once")
        .to_string();
    assert_eq!(sub["owner_account_sid"], acme.sid.as_str());
    let r = client
        .get(account_url(&sub_sid))
        .basic_auth(&sub_sid, Some(&sub_token))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let fetched: Value = r.json().await.expect("json");
    assert_eq!(fetched["auth_token"], Value::Null, "only a hash is stored");
    // The parent sees the subaccount; the subaccount does not see the parent.
    let r = client
        .get(account_url(&sub_sid))
        .basic_auth(&acme.sid, Some(&acme.token))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let r = client
        .get(account_url(&acme.sid))
        .basic_auth(&sub_sid, Some(&sub_token))
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 404, 20404).await;

    // Read-your-writes: a rename is visible to the very next read.
    for i in 0..20 {
        let name = format!("Acme {i}");
        let r = client
            .post(account_url(&acme.sid))
            .basic_auth(&acme.sid, Some(&acme.token))
            .form(&[("FriendlyName", name.as_str())])
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 200);
        let r = client
            .get(account_url(&acme.sid))
            .basic_auth(&acme.sid, Some(&acme.token))
            .send()
            .await
            .expect("sent");
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["friendly_name"], name.as_str());
    }

    // Bad parameters: Twilio's body, nothing changes.
    let r = client
        .post(account_url(&acme.sid))
        .basic_auth(&acme.sid, Some(&acme.token))
        .form(&[("FriendlyName", "x".repeat(65).as_str())])
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 400, 20002).await;
    let r = client
        .post(account_url(&sub_sid))
        .basic_auth(&acme.sid, Some(&acme.token))
        .form(&[("Status", "dormant")])
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 400, 20001).await;
    let r = client
        .post(account_url(&acme.sid))
        .basic_auth(&acme.sid, Some(&acme.token))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 400, 20001).await;
    let r = client
        .get(account_url(&acme.sid))
        .basic_auth(&acme.sid, Some(&acme.token))
        .send()
        .await
        .expect("sent");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["friendly_name"], "Acme 19");

    // Suspending a subaccount locks it out (403) until it is active again.
    let r = client
        .post(account_url(&sub_sid))
        .basic_auth(&acme.sid, Some(&acme.token))
        .form(&[("Status", "suspended")])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let r = client
        .get(account_url(&sub_sid))
        .basic_auth(&sub_sid, Some(&sub_token))
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 403, 20005).await;

    drop(globex);
    assert!(server.terminate(), "SIGTERM gives a clean exit");
}

#[tokio::test]
async fn the_account_list_pages_with_next_page_uri_until_every_account_is_seen() {
    let dir = DataDir::new("paging");
    let acme = create_account(dir.path(), "Acme");
    let other = create_account(dir.path(), "Other");
    let server = Server::start(dir.path());
    let client = http();
    let mut created = vec![acme.sid.clone()];
    for i in 0..6 {
        let r = client
            .post(server.url("/2010-04-01/Accounts.json"))
            .basic_auth(&acme.sid, Some(&acme.token))
            .header("content-type", "application/json")
            .body(format!("{{\"FriendlyName\": \"sub {i}\"}}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.expect("json");
        created.push(v["sid"].as_str().expect("sid").to_string());
    }
    let mut seen = Vec::new();
    let mut next = Some("/2010-04-01/Accounts.json?PageSize=4".to_string());
    let mut pages = 0;
    while let Some(path) = next {
        let r = client
            .get(server.url(&path))
            .basic_auth(&acme.sid, Some(&acme.token))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("json");
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

    let r = client
        .get(server.url("/2010-04-01/Accounts.json?FriendlyName=sub%203"))
        .basic_auth(&acme.sid, Some(&acme.token))
        .send()
        .await
        .expect("sent");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["accounts"].as_array().map(Vec::len), Some(1));

    let r = client
        .get(server.url("/2010-04-01/Accounts.json?PageSize=0"))
        .basic_auth(&acme.sid, Some(&acme.token))
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 400, 20001).await;
    let r = client
        .get(server.url("/2010-04-01/Accounts.json?PageToken=bogus"))
        .basic_auth(&acme.sid, Some(&acme.token))
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 400, 20001).await;
    let r = client
        .get(server.url("/v1/Nothing/Here"))
        .basic_auth(&acme.sid, Some(&acme.token))
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 404, 20404).await;
}

#[tokio::test]
async fn health_and_metrics_report_the_log_and_the_projections() {
    let dir = DataDir::new("health");
    let acme = create_account(dir.path(), "Acme");
    let server = Server::start(dir.path());
    let client = http();
    let r = client
        .post(server.url("/2010-04-01/Accounts.json"))
        .basic_auth(&acme.sid, Some(&acme.token))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);
    let health: Value = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["log_head"]["0"], 2);
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("switchboard_log_appends_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_log_commit_seconds_count 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_projection_lag_events{projection=\"accounts\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_http_responses_total{method=\"POST\",status=\"201\"} 1"),
        "{metrics}"
    );
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
