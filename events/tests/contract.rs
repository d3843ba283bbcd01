//! Contract test: every event variant serialises to JSON that its published schema accepts,
//! inside an envelope that `schemas/envelope.json` accepts. A variant without a schema file,
//! or a schema file without a variant, fails here, so every new event type arrives with its
//! schema.

use chrono::DateTime;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use switchboard_events::account::{AccountCreated, AccountStatus, AccountType, AccountUpdated};
use switchboard_events::{Event, Metadata, NewEvent, Position, RecordedEvent, Sid, SidPrefix};
use uuid::Uuid;

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

fn load(name: &str) -> serde_json::Value {
    let path = schemas_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no schema {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

/// One example of every variant. Adding a variant without adding it here fails the
/// completeness check below.
fn examples() -> Vec<Event> {
    let owner = Sid::from_u128(SidPrefix::Account, 0xfeed);
    vec![
        Event::AccountCreated(AccountCreated {
            friendly_name: "Main account".into(),
            owner_account_sid: None,
            auth_token_hash: "0f".repeat(32),
            status: AccountStatus::Active,
            account_type: AccountType::Full,
        }),
        Event::AccountCreated(AccountCreated {
            friendly_name: "Subaccount".into(),
            owner_account_sid: Some(owner),
            auth_token_hash: "a1".repeat(32),
            status: AccountStatus::Active,
            account_type: AccountType::Trial,
        }),
        Event::AccountUpdated(AccountUpdated {
            friendly_name: Some("Renamed".into()),
            status: None,
        }),
        Event::AccountUpdated(AccountUpdated {
            friendly_name: None,
            status: Some(AccountStatus::Suspended),
        }),
    ]
}

fn validate(schema: &serde_json::Value, instance: &serde_json::Value, what: &str) {
    let validator = jsonschema::validator_for(schema)
        .unwrap_or_else(|e| panic!("schema for {what} does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} is not valid: {errors:#?}\n{instance:#}"
    );
}

#[test]
fn every_event_type_has_exactly_one_schema_and_an_example() {
    let declared: BTreeSet<String> = Event::TYPES
        .iter()
        .map(|(t, v)| format!("{t}.v{v}.json"))
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(schemas_dir())
        .expect("schemas/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        // Event schemas sit at the top of schemas/; API documents live in subfolders.
        .filter(|n| n.ends_with(".json") && n != "envelope.json")
        .collect();
    let missing: Vec<_> = declared.difference(&on_disk).collect();
    assert!(
        missing.is_empty(),
        "event types without a schema file: {missing:?}"
    );
    let orphans: Vec<_> = on_disk.difference(&declared).collect();
    assert!(
        orphans.is_empty(),
        "schema files without an event type: {orphans:?}"
    );

    let exemplified: BTreeSet<&str> = examples().iter().map(Event::type_name).collect();
    let all: BTreeSet<&str> = Event::TYPES.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        exemplified, all,
        "every variant needs an example in examples()"
    );
}

#[test]
fn every_variant_serialises_to_data_its_schema_accepts_inside_a_valid_envelope() {
    let envelope_schema = load("envelope.json");
    for (i, event) in examples().into_iter().enumerate() {
        let schema = load(&format!(
            "{}.v{}.json",
            event.type_name(),
            event.schema_version()
        ));
        let data: serde_json::Value =
            serde_json::from_str(&event.data_json()).expect("data is JSON");
        validate(&schema, &data, event.type_name());

        let account = Sid::from_u128(SidPrefix::Account, 1);
        let meta = Metadata {
            occurred_at: DateTime::from_timestamp_millis(1_764_000_000_000).unwrap_or_default(),
            account_sid: account.clone(),
            correlation_id: Uuid::from_u128(10),
            causation_id: (i % 2 == 1).then(|| Uuid::from_u128(11)),
            region: "us1".into(),
        };
        let recorded = RecordedEvent {
            position: Position::embedded(i as u64 + 1),
            stream: account.to_string(),
            seq: i as u64 + 1,
            event: NewEvent::new(Uuid::from_u128(12), &meta, &event),
        };
        let envelope = recorded.decode().expect("decodes what it encoded");
        assert_eq!(envelope.event, event, "round trip through the stored form");
        let json = serde_json::to_value(&envelope).expect("serialises");
        validate(&envelope_schema, &json, "envelope");
    }
}

#[test]
fn schemas_reject_what_the_types_would_never_produce() {
    let schema = load("account.created.v1.json");
    let validator = jsonschema::validator_for(&schema).expect("compiles");
    let bad = serde_json::json!({
        "friendly_name": "", "owner_account_sid": "nope", "auth_token_hash": "xyz",
        "status": "dormant", "type": "Full"
    });
    assert!(validator.iter_errors(&bad).count() >= 4);
}

#[test]
fn the_workflow_configuration_schema_accepts_what_compiles_and_refuses_bad_shapes() {
    use switchboard_events::taskrouter::workflow::Workflow;
    let schema = load("api/workflow-configuration.json");
    let validator = jsonschema::validator_for(&schema).expect("compiles");
    let queue = Sid::from_u128(SidPrefix::TaskQueue, 7).to_string();
    let good = serde_json::json!({"task_routing": {
        "filters": [{"filter_friendly_name": "Gold", "expression": "tier == 'gold'",
                     "targets": [{"queue": queue, "priority": 5, "timeout": 30},
                                 {"expression": "task.lang IN worker.langs", "order_by": "worker.level DESC"}]}],
        "default_filter": {"queue": queue}}});
    validate(&schema, &good, "workflow configuration");
    assert!(Workflow::compile(&good.to_string()).is_ok());
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"task_routing": {"filters": [{"expression": "1==1", "targets": []}]}}),
        serde_json::json!({"task_routing": {"filters": [{"targets": [{"queue": queue}]}]}}),
        serde_json::json!({"task_routing": {"default_filter": {"queue": "WQ1", "timeout": -1}}}),
    ] {
        assert!(!validator.is_valid(&bad), "schema accepted {bad}");
        assert!(
            Workflow::compile(&bad.to_string()).is_err(),
            "compiled {bad}"
        );
    }
}
