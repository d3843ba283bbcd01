//! The published event schemas, built into the binary, for consumers that check what they
//! read (`switchboard tail`).

use jsonschema::Validator as Compiled;
use std::collections::HashMap;

/// Every schema under `schemas/` (not the API documents): file name and text.
pub const FILES: &[(&str, &str)] = &[
    ("envelope.json", include_str!("../schemas/envelope.json")),
    (
        "account.created.v1.json",
        include_str!("../schemas/account.created.v1.json"),
    ),
    (
        "account.updated.v1.json",
        include_str!("../schemas/account.updated.v1.json"),
    ),
    (
        "account.created.v2.json",
        include_str!("../schemas/account.created.v2.json"),
    ),
    (
        "account.secondary-auth-token.created.v1.json",
        include_str!("../schemas/account.secondary-auth-token.created.v1.json"),
    ),
    (
        "account.secondary-auth-token.deleted.v1.json",
        include_str!("../schemas/account.secondary-auth-token.deleted.v1.json"),
    ),
    (
        "account.auth-token.promoted.v1.json",
        include_str!("../schemas/account.auth-token.promoted.v1.json"),
    ),
    (
        "workspace.created.v1.json",
        include_str!("../schemas/workspace.created.v1.json"),
    ),
    (
        "workspace.updated.v1.json",
        include_str!("../schemas/workspace.updated.v1.json"),
    ),
    (
        "workspace.deleted.v1.json",
        include_str!("../schemas/workspace.deleted.v1.json"),
    ),
    (
        "activity.created.v1.json",
        include_str!("../schemas/activity.created.v1.json"),
    ),
    (
        "activity.updated.v1.json",
        include_str!("../schemas/activity.updated.v1.json"),
    ),
    (
        "activity.deleted.v1.json",
        include_str!("../schemas/activity.deleted.v1.json"),
    ),
    (
        "task-channel.created.v1.json",
        include_str!("../schemas/task-channel.created.v1.json"),
    ),
    (
        "task-channel.updated.v1.json",
        include_str!("../schemas/task-channel.updated.v1.json"),
    ),
    (
        "task-channel.deleted.v1.json",
        include_str!("../schemas/task-channel.deleted.v1.json"),
    ),
    (
        "worker.created.v1.json",
        include_str!("../schemas/worker.created.v1.json"),
    ),
    (
        "worker.updated.v1.json",
        include_str!("../schemas/worker.updated.v1.json"),
    ),
    (
        "worker.activity.update.v1.json",
        include_str!("../schemas/worker.activity.update.v1.json"),
    ),
    (
        "worker.attributes.update.v1.json",
        include_str!("../schemas/worker.attributes.update.v1.json"),
    ),
    (
        "worker.capacity.update.v1.json",
        include_str!("../schemas/worker.capacity.update.v1.json"),
    ),
    (
        "worker.capacity.update.v2.json",
        include_str!("../schemas/worker.capacity.update.v2.json"),
    ),
    (
        "worker.channel.availability.update.v1.json",
        include_str!("../schemas/worker.channel.availability.update.v1.json"),
    ),
    (
        "worker.deleted.v1.json",
        include_str!("../schemas/worker.deleted.v1.json"),
    ),
    (
        "task-queue.created.v1.json",
        include_str!("../schemas/task-queue.created.v1.json"),
    ),
    (
        "task-queue.updated.v1.json",
        include_str!("../schemas/task-queue.updated.v1.json"),
    ),
    (
        "task-queue.deleted.v1.json",
        include_str!("../schemas/task-queue.deleted.v1.json"),
    ),
    (
        "workflow.created.v1.json",
        include_str!("../schemas/workflow.created.v1.json"),
    ),
    (
        "workflow.updated.v1.json",
        include_str!("../schemas/workflow.updated.v1.json"),
    ),
    (
        "workflow.deleted.v1.json",
        include_str!("../schemas/workflow.deleted.v1.json"),
    ),
    (
        "task.created.v1.json",
        include_str!("../schemas/task.created.v1.json"),
    ),
    (
        "task.updated.v1.json",
        include_str!("../schemas/task.updated.v1.json"),
    ),
    (
        "workflow.target-matched.v1.json",
        include_str!("../schemas/workflow.target-matched.v1.json"),
    ),
    (
        "workflow.timeout.v1.json",
        include_str!("../schemas/workflow.timeout.v1.json"),
    ),
    (
        "workflow.entered.v1.json",
        include_str!("../schemas/workflow.entered.v1.json"),
    ),
    (
        "workflow.skipped.v1.json",
        include_str!("../schemas/workflow.skipped.v1.json"),
    ),
    (
        "task-queue.entered.v1.json",
        include_str!("../schemas/task-queue.entered.v1.json"),
    ),
    (
        "task-queue.timeout.v1.json",
        include_str!("../schemas/task-queue.timeout.v1.json"),
    ),
    (
        "task-queue.moved.v1.json",
        include_str!("../schemas/task-queue.moved.v1.json"),
    ),
    (
        "task-queue.expression.updated.v1.json",
        include_str!("../schemas/task-queue.expression.updated.v1.json"),
    ),
    (
        "task.canceled.v1.json",
        include_str!("../schemas/task.canceled.v1.json"),
    ),
    (
        "task.wrapup.v1.json",
        include_str!("../schemas/task.wrapup.v1.json"),
    ),
    (
        "task.completed.v1.json",
        include_str!("../schemas/task.completed.v1.json"),
    ),
    (
        "task.deleted.v1.json",
        include_str!("../schemas/task.deleted.v1.json"),
    ),
    (
        "task.system-deleted.v1.json",
        include_str!("../schemas/task.system-deleted.v1.json"),
    ),
    (
        "reservation.created.v1.json",
        include_str!("../schemas/reservation.created.v1.json"),
    ),
    (
        "reservation.accepted.v1.json",
        include_str!("../schemas/reservation.accepted.v1.json"),
    ),
    (
        "reservation.rejected.v1.json",
        include_str!("../schemas/reservation.rejected.v1.json"),
    ),
    (
        "reservation.timeout.v1.json",
        include_str!("../schemas/reservation.timeout.v1.json"),
    ),
    (
        "reservation.rescinded.v1.json",
        include_str!("../schemas/reservation.rescinded.v1.json"),
    ),
    (
        "reservation.canceled.v1.json",
        include_str!("../schemas/reservation.canceled.v1.json"),
    ),
    (
        "reservation.wrapup.v1.json",
        include_str!("../schemas/reservation.wrapup.v1.json"),
    ),
    (
        "reservation.completed.v1.json",
        include_str!("../schemas/reservation.completed.v1.json"),
    ),
    (
        "call.initiated.v1.json",
        include_str!("../schemas/call.initiated.v1.json"),
    ),
    (
        "call.ringing.v1.json",
        include_str!("../schemas/call.ringing.v1.json"),
    ),
    (
        "call.answered.v1.json",
        include_str!("../schemas/call.answered.v1.json"),
    ),
    (
        "call.completed.v1.json",
        include_str!("../schemas/call.completed.v1.json"),
    ),
    (
        "dtmf.received.v1.json",
        include_str!("../schemas/dtmf.received.v1.json"),
    ),
    (
        "media.played.v1.json",
        include_str!("../schemas/media.played.v1.json"),
    ),
    (
        "alert.raised.v1.json",
        include_str!("../schemas/alert.raised.v1.json"),
    ),
    (
        "call.routed.v1.json",
        include_str!("../schemas/call.routed.v1.json"),
    ),
    (
        "call.routed.v2.json",
        include_str!("../schemas/call.routed.v2.json"),
    ),
    (
        "call.dialog.recorded.v1.json",
        include_str!("../schemas/call.dialog.recorded.v1.json"),
    ),
    (
        "call.instructions.fetched.v1.json",
        include_str!("../schemas/call.instructions.fetched.v1.json"),
    ),
    (
        "call.notification.raised.v1.json",
        include_str!("../schemas/call.notification.raised.v1.json"),
    ),
    (
        "incoming-phone-number.created.v1.json",
        include_str!("../schemas/incoming-phone-number.created.v1.json"),
    ),
    (
        "incoming-phone-number.updated.v1.json",
        include_str!("../schemas/incoming-phone-number.updated.v1.json"),
    ),
    (
        "incoming-phone-number.deleted.v1.json",
        include_str!("../schemas/incoming-phone-number.deleted.v1.json"),
    ),
    (
        "phone-number.claimed.v1.json",
        include_str!("../schemas/phone-number.claimed.v1.json"),
    ),
    (
        "phone-number.released.v1.json",
        include_str!("../schemas/phone-number.released.v1.json"),
    ),
    (
        "application.created.v1.json",
        include_str!("../schemas/application.created.v1.json"),
    ),
    (
        "application.updated.v1.json",
        include_str!("../schemas/application.updated.v1.json"),
    ),
    (
        "application.deleted.v1.json",
        include_str!("../schemas/application.deleted.v1.json"),
    ),
];

/// The envelope schema and one per event type and version, compiled.
pub struct Validator {
    envelope: Compiled,
    data: HashMap<String, Compiled>,
}

impl Validator {
    /// Compiles every schema.
    pub fn new() -> anyhow::Result<Validator> {
        let mut envelope = None;
        let mut data = HashMap::new();
        for (name, text) in FILES {
            let schema: serde_json::Value = serde_json::from_str(text)?;
            let compiled = jsonschema::validator_for(&schema)
                .map_err(|e| anyhow::anyhow!("schema {name} does not compile: {e}"))?;
            match name.strip_suffix(".json") {
                Some("envelope") => envelope = Some(compiled),
                Some(stem) => {
                    data.insert(stem.to_string(), compiled);
                }
                None => {}
            }
        }
        Ok(Validator {
            envelope: envelope.ok_or_else(|| anyhow::anyhow!("no envelope schema"))?,
            data,
        })
    }

    /// Checks an envelope (as published) and its `data`; says what is wrong.
    pub fn check(&self, envelope: &serde_json::Value) -> Result<(), String> {
        let errors: Vec<String> = self
            .envelope
            .iter_errors(envelope)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        if !errors.is_empty() {
            return Err(errors.join("; "));
        }
        let key = format!(
            "{}.v{}",
            envelope["type"].as_str().unwrap_or_default(),
            envelope["schema_version"].as_u64().unwrap_or_default()
        );
        let schema = self
            .data
            .get(&key)
            .ok_or_else(|| format!("no schema {key}.json"))?;
        let errors: Vec<String> = schema
            .iter_errors(&envelope["data"])
            .map(|e| format!("{e} at data{}", e.instance_path))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_file_is_built_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("schemas/")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        on_disk.sort();
        let mut built_in: Vec<String> = FILES.iter().map(|(n, _)| n.to_string()).collect();
        built_in.sort();
        assert_eq!(on_disk, built_in, "add new schema files to src/schemas.rs");
        assert!(Validator::new().is_ok());
    }

    #[test]
    fn a_bad_envelope_or_bad_data_is_refused_with_a_reason() {
        let v = Validator::new().expect("compiles");
        let good = serde_json::json!({
            "id": "0190a0a0-0000-7000-8000-000000000000",
            "stream": "AC0123456789abcdef0123456789abcdef",
            "seq": 1, "position": {"partition": 0, "offset": 1},
            "occurred_at": "2026-01-01T00:00:00Z",
            "account_sid": "AC0123456789abcdef0123456789abcdef",
            "correlation_id": "0190a0a0-0000-7000-8000-000000000001",
            "causation_id": null, "region": "us1",
            "type": "account.updated", "schema_version": 1,
            "data": {"friendly_name": "x"}
        });
        assert_eq!(v.check(&good), Ok(()));
        let mut no_seq = good.clone();
        no_seq["seq"] = serde_json::json!(0);
        assert!(v.check(&no_seq).is_err());
        let mut bad_data = good.clone();
        bad_data["data"] = serde_json::json!({"friendly_name": 12});
        assert!(v.check(&bad_data).is_err());
        let mut unknown = good;
        unknown["type"] = serde_json::json!("account.teleported");
        assert!(v
            .check(&unknown)
            .expect_err("unknown type")
            .contains("no schema"));
    }
}
