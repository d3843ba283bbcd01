//! Incoming phone numbers and applications end to end: the official Python library
//! (`tests/sdk/phone_numbers.py`) creates, lists, updates and deletes both against the real server;
//! every response is checked against Twilio's OpenAPI document (the oracle, not our encoder:
//! `tests/openapi/twilio_api_v2010_numbers.json`, extracted unchanged from twilio-oai); two
//! accounts racing for one number end with exactly one holder and Twilio's 21422 for the
//! others; another account's number is a 404 exactly as a missing one; and the SIP router's
//! number directory (`StoreDirectory`) routes the created number to its application's URLs.

use crate::{assert_twilio_error, create_account, Api, Creds, DataDir, Server};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use switchboard::voice::numbers::{NumberDirectory, StoreDirectory};
use switchboard_projections::store::ProjectionStore;

const NUMBER: &str = "+15557770100";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_and_applications_work_with_the_twilio_library_in_twilios_shape_one_account_per_number(
) {
    let dir = DataDir::new("numbers");
    let a = create_account(dir.path(), "Numbers");
    let b = create_account(dir.path(), "Other");
    let server = Server::start(dir.path());
    let out = run_sdk(&server, &a, &b);
    let field = |name: &str| {
        out.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("phone_numbers.py printed no {name}: {out}"))
            .to_string()
    };
    let (number_sid, app_sid, theirs) = (field("number"), field("application"), field("theirs"));
    let as_a = Api::new(&server, &a);
    let as_b = Api::new(&server, &b);

    // Every property of the documents, with its type, in the instance and in the lists.
    let base = format!("/2010-04-01/Accounts/{}", a.sid);
    let number = as_a
        .get_json(&format!("{base}/IncomingPhoneNumbers/{number_sid}.json"))
        .await;
    let numbers = as_a
        .get_json(&format!("{base}/IncomingPhoneNumbers.json?PageSize=1"))
        .await;
    let app = as_a
        .get_json(&format!("{base}/Applications/{app_sid}.json"))
        .await;
    let apps = as_a.get_json(&format!("{base}/Applications.json")).await;
    let doc = openapi();
    let schemas = &doc["components"]["schemas"];
    conforms(
        &doc,
        &number,
        &schemas["api.v2010.account.incoming_phone_number"],
        "number",
    );
    conforms(
        &doc,
        &app,
        &schemas["api.v2010.account.application"],
        "application",
    );
    let list_schema = |path: &str| {
        doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            .clone()
    };
    conforms(
        &doc,
        &numbers,
        &list_schema("/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json"),
        "number list",
    );
    conforms(
        &doc,
        &apps,
        &list_schema("/2010-04-01/Accounts/{AccountSid}/Applications.json"),
        "application list",
    );
    assert_eq!(number["phone_number"], NUMBER);
    assert_eq!(number["voice_application_sid"], app_sid.as_str());
    assert_eq!(
        numbers["incoming_phone_numbers"][0]["sid"],
        number_sid.as_str()
    );
    assert!(
        numbers["next_page_uri"].is_null(),
        "one number left: {numbers}"
    );

    // Tenancy: B on A's number (under A's account or its own) answers as a missing one.
    let missing_sid = format!("PN{}", "0".repeat(32));
    for path in [
        format!("{base}/IncomingPhoneNumbers/{{}}.json"),
        format!(
            "/2010-04-01/Accounts/{}/IncomingPhoneNumbers/{{}}.json",
            b.sid
        ),
    ] {
        let hidden =
            assert_twilio_error(as_b.get(&path.replace("{}", &number_sid)).await, 404, 20404).await;
        let missing = assert_twilio_error(
            as_b.get(&path.replace("{}", &missing_sid)).await,
            404,
            20404,
        )
        .await;
        assert_eq!(
            hidden["message"]
                .as_str()
                .map(|m| m.replace(&number_sid, "X")),
            missing["message"]
                .as_str()
                .map(|m| m.replace(&missing_sid, "X")),
        );
    }
    let theirs_listed = as_b
        .get_json(&format!(
            "/2010-04-01/Accounts/{}/IncomingPhoneNumbers.json",
            b.sid
        ))
        .await;
    assert_eq!(
        theirs_listed["incoming_phone_numbers"][0]["sid"],
        theirs.as_str()
    );
    assert_eq!(
        theirs_listed["incoming_phone_numbers"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    race_for_one_number(&server, &a, &b).await;
    directory_routes(dir.path(), &a, &app_sid, &number_sid).await;
    assert!(server.terminate(), "SIGTERM gives a clean exit");
}

/// Eight creates of one number at once, from two accounts, with and without the `+`: one
/// 201, every other Twilio's 400 21422, and one number in the two lists together.
async fn race_for_one_number(server: &Server, a: &Creds, b: &Creds) {
    let raced = "+15557770200";
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let creds = if i % 2 == 0 { a.clone() } else { b.clone() };
            let base = server.base.clone();
            tokio::spawn(async move {
                let api = Api::with_base(&base, Some((&creds.sid, &creds.token)));
                let number = if i % 4 < 2 { raced } else { &raced[1..] };
                let r = api
                    .post(
                        &format!(
                            "/2010-04-01/Accounts/{}/IncomingPhoneNumbers.json",
                            creds.sid
                        ),
                        &[("PhoneNumber", number)],
                    )
                    .await;
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or_default();
                (status, body)
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        let (status, body) = t.await.expect("joined");
        match status {
            201 => created += 1,
            400 => assert_eq!(body["code"], 21422, "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created, 1, "exactly one account holds {raced}");
    let mut holders = 0;
    for creds in [a, b] {
        let api = Api::new(server, creds);
        let list = api
            .get_json(&format!(
                "/2010-04-01/Accounts/{}/IncomingPhoneNumbers.json?PhoneNumber={}",
                creds.sid,
                &raced[1..]
            ))
            .await;
        holders += list["incoming_phone_numbers"]
            .as_array()
            .map_or(0, Vec::len);
    }
    assert_eq!(holders, 1);
}

/// The SIP router's directory over the server's read model: the number (called without its
/// `+`) routes to A with the application's voice fields; an unowned number to nothing.
async fn directory_routes(dir: &Path, a: &Creds, app_sid: &str, number_sid: &str) {
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.join("projections.sqlite").display()
    );
    let directory = StoreDirectory::new(ProjectionStore::connect(&url).await.expect("store"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let route = loop {
        let found = directory
            .route(&NUMBER[1..])
            .await
            .expect("the directory answers");
        if let Some(r) = found.filter(|r| r.application_sid.is_some()) {
            break r;
        }
        assert!(Instant::now() < deadline, "the number never routed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(route.account_sid.as_str(), a.sid);
    assert_eq!(route.phone_number_sid, number_sid);
    assert_eq!(route.phone_number, NUMBER);
    assert_eq!(route.application_sid.as_deref(), Some(app_sid));
    assert_eq!(
        route.voice_url.as_deref(),
        Some("https://app.example/voice"),
        "the application's, not the number's"
    );
    assert_eq!(route.voice_method, "GET");
    assert_eq!(
        route.voice_fallback_url.as_deref(),
        Some("https://app.example/fallback")
    );
    assert_eq!(
        route.status_callback.as_deref(),
        Some("https://app.example/status")
    );
    assert_eq!(directory.route("+15550000000").await, Ok(None));
}

fn run_sdk(server: &Server, a: &Creds, b: &Creds) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    let python = std::env::var("SWITCHBOARD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(dir.join("phone_numbers.py"))
        .current_dir(&dir)
        .env("SWITCHBOARD_URL", &server.base)
        .env("SWITCHBOARD_SID", &a.sid)
        .env("SWITCHBOARD_TOKEN", &a.token)
        .env("SWITCHBOARD_OTHER_SID", &b.sid)
        .env("SWITCHBOARD_OTHER_TOKEN", &b.token)
        .env("SWITCHBOARD_NUMBER", NUMBER)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "phone_numbers.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn openapi() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi/twilio_api_v2010_numbers.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("OpenAPI document"))
        .expect("OpenAPI JSON")
}

/// `schema` with a `$ref` followed.
pub(crate) fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        Some(name) => &doc["components"]["schemas"][name],
        None => schema,
    }
}

/// Every property the document lists is present with its JSON type (null only where it
/// says nullable), its enum, its SID pattern and its length; arrays' items conform to the
/// item schema; and the value has no property the document does not list.
pub(crate) fn conforms(doc: &Value, value: &Value, schema: &Value, what: &str) {
    let schema = resolve(doc, schema);
    let props = schema["properties"].as_object().expect("properties");
    assert!(!props.is_empty());
    for key in value.as_object().map(|o| o.keys()).into_iter().flatten() {
        assert!(
            props.contains_key(key),
            "{what} has {key}, which the document does not list"
        );
    }
    for (name, p) in props {
        let p = resolve(doc, p);
        let v = value
            .get(name)
            .unwrap_or_else(|| panic!("{what} lacks {name}: {value}"));
        if v.is_null() {
            // An enum by reference is not nullable in the document; none of ours are null.
            assert_eq!(
                p["nullable"], true,
                "{what}.{name} is null but not nullable"
            );
            continue;
        }
        let ty = p["type"].as_str().expect("a type");
        let ok = match ty {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "boolean" => v.is_boolean(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            other => panic!("unexpected type {other}"),
        };
        assert!(ok, "{what}.{name} should be a {ty}: {v}");
        if let Some(items) = v.as_array() {
            for item in items {
                conforms(doc, item, &p["items"], &format!("{what}.{name}[]"));
            }
        }
        if ty == "object" {
            // `capabilities`: every listed flag, a boolean.
            for (flag, f) in p["properties"].as_object().into_iter().flatten() {
                assert_eq!(f["type"], "boolean");
                assert!(v[flag].is_boolean(), "{what}.{name}.{flag}: {v}");
            }
        }
        let Some(s) = v.as_str() else { continue };
        let len = s.chars().count() as u64;
        if let Some(min) = p["minLength"].as_u64() {
            assert!(len >= min, "{what}.{name} is shorter than {min}: {s}");
        }
        if let Some(max) = p["maxLength"].as_u64() {
            assert!(len <= max, "{what}.{name} is longer than {max}: {s}");
        }
        if let Some(values) = p["enum"].as_array() {
            assert!(
                values.contains(v),
                "{what}.{name} = {s} is not in {values:?}"
            );
        }
        if let Some(pattern) = p["pattern"].as_str() {
            let letters = pattern
                .strip_prefix('^')
                .and_then(|p| p.strip_suffix("[0-9a-fA-F]{32}$"))
                .unwrap_or_else(|| panic!("a pattern this check does not know: {pattern}"));
            assert!(
                s.len() == 34
                    && s.starts_with(letters)
                    && s[2..].chars().all(|c| c.is_ascii_hexdigit()),
                "{what}.{name} = {s} does not match {pattern}"
            );
        }
        match p["format"].as_str() {
            Some("date-time-rfc-2822") => assert!(
                chrono::DateTime::parse_from_rfc2822(s).is_ok(),
                "{what}.{name} = {s} is not an RFC 2822 date"
            ),
            // The 2010-04-01 API writes its own URIs relative to the API host.
            Some("uri") if name == "uri" || name.ends_with("_page_uri") => {
                assert!(s.starts_with("/2010-04-01/"), "{what}.{name} = {s}")
            }
            Some("uri") => assert!(s.starts_with("http"), "{what}.{name} = {s} is not a URL"),
            Some("phone-number") => assert!(
                s.starts_with('+') && s[1..].chars().all(|c| c.is_ascii_digit()),
                "{what}.{name} = {s} is not E.164"
            ),
            Some("http-method") => assert!(s == "GET" || s == "POST", "{what}.{name} = {s}"),
            _ => {}
        }
    }
}
