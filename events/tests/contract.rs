//! Contract test: every event variant serialises to JSON that its published schema accepts,
//! inside an envelope that `schemas/envelope.json` accepts. A variant without a schema file,
//! or a schema file without a variant, fails here, so every new event type arrives with its
//! schema. Every older version keeps its file, and a literal event in each older shape must
//! match its old schema and decode through the upcasters to the current struct.

use chrono::DateTime;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use switchboard_events::account::{
    AccountCreated, AccountStatus, AccountType, AccountUpdated, AuthTokenPromoted,
    SecondaryAuthTokenCreated, SecondaryAuthTokenDeleted,
};
use switchboard_events::alert::{more_info, AlertRaised, LogLevel};
use switchboard_events::call::{
    CallAnswered, CallCompleted, CallDeleted, CallDialog, CallDirection, CallEndStatus,
    CallInitiated, CallRinging, CallRouted, DialogRole, DtmfMethod, DtmfReceived, HttpMethod,
    HungUpBy, InstructionsFetched, MediaPlayed, NotificationLevel, NotificationRaised,
    StatusCallbackEvent,
};
use switchboard_events::taskrouter::events::*;
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
    let mut events = vec![
        Event::AccountCreated(AccountCreated {
            friendly_name: "Main account".into(),
            owner_account_sid: None,
            auth_token_hash: "0f".repeat(32),
            auth_token_sealed: Some("v1.0a1b2c3d.q83vEjRWeJq83vEjRWeJq83vEjRWeJq8".into()),
            status: AccountStatus::Active,
            account_type: AccountType::Full,
        }),
        Event::AccountCreated(AccountCreated {
            friendly_name: "Subaccount".into(),
            owner_account_sid: Some(owner),
            auth_token_hash: "a1".repeat(32),
            auth_token_sealed: None,
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
        Event::SecondaryAuthTokenCreated(SecondaryAuthTokenCreated {
            auth_token_hash: "b2".repeat(32),
            auth_token_sealed: "v1.0a1b2c3d.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBka".into(),
        }),
        Event::SecondaryAuthTokenDeleted(SecondaryAuthTokenDeleted {}),
        Event::AuthTokenPromoted(AuthTokenPromoted {
            auth_token_hash: "b2".repeat(32),
        }),
    ];
    events.extend(taskrouter_examples());
    events.extend(call_examples());
    events.extend(call_router_examples());
    events.extend(alert_examples());
    events.extend(number_examples());
    events
}

/// The call router's events: every optional field both present and absent.
fn call_router_examples() -> Vec<Event> {
    let pn = format!("PN{}", "0a".repeat(16));
    let ap = format!("AP{}", "0b".repeat(16));
    vec![
        Event::CallRouted(CallRouted {
            phone_number_sid: Some(pn),
            application_sid: Some(ap),
            voice_url: "https://app.example/voice".into(),
            voice_method: HttpMethod::Post,
            voice_fallback_url: Some("https://app.example/fallback".into()),
            voice_fallback_method: HttpMethod::Get,
            status_callback: Some("https://app.example/status".into()),
            status_callback_method: HttpMethod::Post,
            status_callback_events: vec![
                StatusCallbackEvent::Initiated,
                StatusCallbackEvent::Ringing,
                StatusCallbackEvent::Answered,
                StatusCallbackEvent::Completed,
            ],
            twiml: None,
        }),
        Event::CallRouted(CallRouted {
            phone_number_sid: None,
            application_sid: None,
            voice_url: "https://app.example/voice".into(),
            voice_method: HttpMethod::Get,
            voice_fallback_url: None,
            voice_fallback_method: HttpMethod::Post,
            status_callback: None,
            status_callback_method: HttpMethod::Post,
            status_callback_events: Vec::new(),
            twiml: Some("<Response><Say>Hello</Say></Response>".into()),
        }),
        Event::CallDialogRecorded(CallDialog {
            role: DialogRole::Uas,
            call_id: "a84b4c76e66710@pc33.example.com".into(),
            local_tag: "1928301774".into(),
            remote_tag: "a6c85cf".into(),
            local_uri: "sip:+15550100001@switchboard.example".into(),
            remote_uri: "sip:alice@pc33.example.com".into(),
            remote_target: "sip:alice@192.0.2.4:5060".into(),
            route_set: vec!["<sip:p1.example.com;lr>".into()],
            local_cseq: 0,
            transport: "udp".into(),
            destination: "192.0.2.4:5060".into(),
        }),
        Event::CallInstructionsFetched(InstructionsFetched {
            url: "https://app.example/voice".into(),
            method: HttpMethod::Post,
            status_code: 200,
            content_type: Some("text/xml; charset=utf-8".into()),
            bytes: 120,
            fallback: false,
        }),
        Event::CallInstructionsFetched(InstructionsFetched {
            url: "https://app.example/fallback".into(),
            method: HttpMethod::Get,
            status_code: 500,
            content_type: None,
            bytes: 0,
            fallback: true,
        }),
        Event::CallNotificationRaised(NotificationRaised {
            notification_sid: Sid::from_u128(SidPrefix::Alert, 0xabc),
            error_code: 12100,
            log_level: NotificationLevel::Error,
            message_text: "Document parse failure".into(),
            request_url: "https://app.example/voice".into(),
            request_method: Some(HttpMethod::Post),
            request_variables: "CallSid=CA00&CallStatus=ringing".into(),
            response_headers: Some("Content-Type: text/xml".into()),
            response_body: Some("<Response><Say>".into()),
        }),
        Event::CallNotificationRaised(NotificationRaised {
            notification_sid: Sid::from_u128(SidPrefix::Alert, 0xabd),
            error_code: 12200,
            log_level: NotificationLevel::Warning,
            message_text: "Enqueue is not supported yet".into(),
            request_url: String::new(),
            request_method: None,
            request_variables: String::new(),
            response_headers: None,
            response_body: None,
        }),
    ]
}

/// Numbers, claims and applications: every field set, and the bare defaults; updates that
/// set, change and clear.
fn number_examples() -> Vec<Event> {
    use switchboard_events::application::{
        ApplicationCreated, ApplicationDeleted, ApplicationUpdated, Settings, SettingsChange,
    };
    use switchboard_events::number::{
        IncomingPhoneNumberCreated, IncomingPhoneNumberDeleted, IncomingPhoneNumberUpdated,
        PhoneNumberClaimed, PhoneNumberReleased,
    };
    let app = Sid::from_u128(SidPrefix::Application, 0xa);
    let number = Sid::from_u128(SidPrefix::PhoneNumber, 0xb);
    let full = Settings {
        voice_url: Some("https://app.example/voice".into()),
        voice_method: "GET".into(),
        voice_fallback_url: Some("https://app.example/fallback".into()),
        status_callback: Some("http://app.example/status".into()),
        voice_caller_id_lookup: true,
        sms_url: Some("https://app.example/sms".into()),
        sms_fallback_url: Some("https://app.example/sms-fallback".into()),
        ..Settings::default()
    };
    vec![
        Event::IncomingPhoneNumberCreated(IncomingPhoneNumberCreated {
            phone_number: "+15551230000".into(),
            friendly_name: "(555) 123-0000".into(),
            voice_application_sid: Some(app.clone()),
            sms_application_sid: Some(app.clone()),
            settings: full.clone(),
        }),
        Event::IncomingPhoneNumberCreated(IncomingPhoneNumberCreated {
            phone_number: "+442071838750".into(),
            friendly_name: String::new(),
            voice_application_sid: None,
            sms_application_sid: None,
            settings: Settings::default(),
        }),
        Event::IncomingPhoneNumberUpdated(IncomingPhoneNumberUpdated {
            friendly_name: Some("Support".into()),
            voice_application_sid: Some(String::new()),
            sms_application_sid: Some(app.to_string()),
            settings: SettingsChange {
                voice_url: Some(String::new()),
                voice_method: Some("POST".into()),
                api_version: Some("2008-08-01".into()),
                ..SettingsChange::default()
            },
        }),
        Event::IncomingPhoneNumberDeleted(IncomingPhoneNumberDeleted {
            phone_number: "+15551230000".into(),
        }),
        Event::PhoneNumberClaimed(PhoneNumberClaimed {
            phone_number: "+15551230000".into(),
            phone_number_sid: number.clone(),
        }),
        Event::PhoneNumberReleased(PhoneNumberReleased {
            phone_number_sid: number,
        }),
        Event::ApplicationCreated(ApplicationCreated {
            friendly_name: "IVR".into(),
            settings: full,
            message_status_callback: Some("https://app.example/msg".into()),
            sms_status_callback: None,
            public_application_connect_enabled: true,
        }),
        Event::ApplicationUpdated(ApplicationUpdated {
            friendly_name: None,
            settings: SettingsChange {
                status_callback: Some("https://app.example/s2".into()),
                voice_caller_id_lookup: Some(false),
                ..SettingsChange::default()
            },
            message_status_callback: Some(String::new()),
            sms_status_callback: None,
            public_application_connect_enabled: None,
        }),
        Event::ApplicationDeleted(ApplicationDeleted {}),
    ]
}

/// An alert with every optional field, and one with none.
fn alert_examples() -> Vec<Event> {
    let full = AlertRaised {
        delivery_id: "WS00000000000000000000000000000001:17:event_callback".into(),
        error_code: 11217,
        log_level: LogLevel::Error,
        alert_text: "HTTP 503 from https://app.example/events".into(),
        api_version: "v1".into(),
        more_info: more_info(11217),
        date_generated: DateTime::from_timestamp_millis(1_764_000_000_000).unwrap_or_default(),
        request_method: "POST".into(),
        request_url: "https://app.example/events".into(),
        request_variables: "EventType=task.created&TaskSid=WT01".into(),
        request_headers: Some("Content-Type: application/x-www-form-urlencoded".into()),
        response_body: Some("<h1>Service Unavailable</h1>".into()),
        response_headers: Some("Content-Type: text/html".into()),
        resource_sid: Some(Sid::from_u128(SidPrefix::Task, 1)),
        service_sid: Some(Sid::from_u128(SidPrefix::Workspace, 1)),
    };
    let bare = AlertRaised {
        delivery_id: "d".into(),
        error_code: 11205,
        api_version: String::new(),
        request_method: "GET".into(),
        request_headers: None,
        response_body: None,
        response_headers: None,
        resource_sid: None,
        service_sid: None,
        ..full.clone()
    };
    vec![Event::AlertRaised(full), Event::AlertRaised(bare)]
}

/// Examples of the call stream's events: both directions, every end status, both DTMF
/// methods, telephone-event present and absent.
fn call_examples() -> Vec<Event> {
    let mut events = vec![
        Event::CallInitiated(CallInitiated {
            direction: CallDirection::Inbound,
            from: "sip:alice@127.0.0.1:5061".into(),
            to: "sip:service@127.0.0.1:5060".into(),
            sip_call_id: "1-2345@127.0.0.1".into(),
            remote_addr: "127.0.0.1:5061".into(),
            parent_call_sid: None,
        }),
        Event::CallInitiated(CallInitiated {
            direction: CallDirection::OutboundApi,
            from: "sip:switchboard@127.0.0.1".into(),
            to: "sip:bob@127.0.0.1:5070".into(),
            sip_call_id: "a84b4c76e66710".into(),
            remote_addr: "127.0.0.1:5070".into(),
            parent_call_sid: None,
        }),
        Event::CallInitiated(CallInitiated {
            direction: CallDirection::OutboundDial,
            from: "sip:alice@127.0.0.1:5061".into(),
            to: "sip:agent@127.0.0.1:5080".into(),
            sip_call_id: "b2-leg@127.0.0.1".into(),
            remote_addr: "127.0.0.1:5080".into(),
            parent_call_sid: Some("CA0123456789abcdef0123456789abcdef".into()),
        }),
        Event::CallRinging(CallRinging {}),
        Event::CallAnswered(CallAnswered {
            codec: "PCMU".into(),
            telephone_event: Some(101),
            local_rtp: "127.0.0.1:20000".into(),
            remote_rtp: "127.0.0.1:6000".into(),
        }),
        Event::CallAnswered(CallAnswered {
            codec: "PCMA".into(),
            telephone_event: None,
            local_rtp: "203.0.113.7:20002".into(),
            remote_rtp: "[::1]:6000".into(),
        }),
        Event::DtmfReceived(DtmfReceived {
            digit: "5".into(),
            method: DtmfMethod::Rfc4733,
        }),
        Event::DtmfReceived(DtmfReceived {
            digit: "#".into(),
            method: DtmfMethod::SipInfo,
        }),
        Event::MediaPlayed(MediaPlayed {
            source: "/var/lib/switchboard/welcome.wav".into(),
            packets: 150,
            duration_ms: 3000,
            completed: true,
        }),
    ];
    for (status, sip_code, hung_up_by, duration_ms) in [
        (CallEndStatus::Completed, 200, HungUpBy::Remote, 61_020),
        (CallEndStatus::Busy, 503, HungUpBy::Local, 0),
        (CallEndStatus::NoAnswer, 408, HungUpBy::Local, 0),
        (CallEndStatus::Canceled, 487, HungUpBy::Remote, 0),
        (CallEndStatus::Failed, 488, HungUpBy::Local, 0),
    ] {
        events.push(Event::CallCompleted(CallCompleted {
            status,
            sip_code,
            hung_up_by,
            duration_ms,
            reason: "example".into(),
        }));
    }
    events.push(Event::CallDeleted(CallDeleted {}));
    events
}

/// Examples of the workspace stream's events: every optional field both present and absent,
/// nullable fields both set and null.
fn taskrouter_examples() -> Vec<Event> {
    let activity = |n| Sid::from_u128(SidPrefix::Activity, n);
    let channel = |n| Sid::from_u128(SidPrefix::TaskChannel, n);
    let worker = |n| Sid::from_u128(SidPrefix::Worker, n);
    let queue = |n| Sid::from_u128(SidPrefix::TaskQueue, n);
    let workflow = |n| Sid::from_u128(SidPrefix::Workflow, n);
    let task = |n| Sid::from_u128(SidPrefix::Task, n);
    let reservation = |n| Sid::from_u128(SidPrefix::Reservation, n);
    let configuration = format!(
        r#"{{"task_routing": {{"filters": [{{"filter_friendly_name": "Gold", "expression": "tier == 'gold'", "targets": [{{"queue": "{}", "priority": 5, "timeout": 30}}]}}], "default_filter": {{"queue": "{}"}}}}}}"#,
        queue(1),
        queue(2)
    );
    let routing = RoutingDecision {
        filter: "Gold".into(),
        target_index: 0,
        ordering: "longest idle".into(),
        eligible: 3,
    };
    vec![
        Event::WorkspaceCreated(WorkspaceCreated {
            friendly_name: "Support".into(),
            event_callback_url: Some("https://example.com/taskrouter/events".into()),
            events_filter: Some("task.created,reservation.accepted".into()),
            multi_task_enabled: true,
            prioritize_queue_order: QueueOrder::Fifo,
        }),
        Event::WorkspaceCreated(WorkspaceCreated {
            friendly_name: "Sales".into(),
            event_callback_url: None,
            events_filter: None,
            multi_task_enabled: false,
            prioritize_queue_order: QueueOrder::Lifo,
        }),
        Event::WorkspaceUpdated(WorkspaceUpdated {
            friendly_name: Some("Support (EMEA)".into()),
            event_callback_url: Some(String::new()),
            events_filter: Some("task.canceled".into()),
            multi_task_enabled: Some(false),
            prioritize_queue_order: Some(QueueOrder::Lifo),
            default_activity_sid: Some(activity(1)),
            timeout_activity_sid: Some(activity(2)),
        }),
        Event::WorkspaceUpdated(WorkspaceUpdated {
            friendly_name: Some("Support".into()),
            ..WorkspaceUpdated::default()
        }),
        Event::WorkspaceDeleted(WorkspaceDeleted {}),
        Event::ActivityCreated(ActivityCreated {
            sid: activity(1),
            friendly_name: "Available".into(),
            available: true,
        }),
        Event::ActivityCreated(ActivityCreated {
            sid: activity(2),
            friendly_name: "Offline".into(),
            available: false,
        }),
        Event::ActivityUpdated(ActivityUpdated {
            sid: activity(2),
            friendly_name: "Away".into(),
        }),
        Event::ActivityDeleted(ResourceRef { sid: activity(2) }),
        Event::TaskChannelCreated(TaskChannelCreated {
            sid: channel(1),
            unique_name: "voice".into(),
            friendly_name: "Voice".into(),
            channel_optimized_routing: false,
        }),
        Event::TaskChannelUpdated(TaskChannelUpdated {
            sid: channel(1),
            friendly_name: Some("Voice calls".into()),
            channel_optimized_routing: Some(true),
        }),
        Event::TaskChannelUpdated(TaskChannelUpdated {
            sid: channel(1),
            friendly_name: None,
            channel_optimized_routing: Some(false),
        }),
        Event::TaskChannelDeleted(ResourceRef { sid: channel(1) }),
        Event::WorkerCreated(WorkerCreated {
            sid: worker(1),
            friendly_name: "Alice".into(),
            attributes: r#"{"languages": ["en", "fr"], "tier": "gold"}"#.into(),
            activity_sid: activity(2),
        }),
        Event::WorkerRenamed(WorkerRenamed {
            sid: worker(1),
            friendly_name: "Alice B.".into(),
        }),
        Event::WorkerActivityUpdated(WorkerActivityUpdated {
            sid: worker(1),
            activity_sid: activity(1),
        }),
        Event::WorkerAttributesUpdated(WorkerAttributesUpdated {
            sid: worker(1),
            attributes: r#"{"languages": ["en"]}"#.into(),
        }),
        Event::WorkerCapacityUpdated(WorkerCapacityUpdated {
            sid: worker(1),
            task_channel_sid: channel(1),
            capacity: 0,
            previous_capacity: Some(1),
        }),
        Event::WorkerCapacityUpdated(WorkerCapacityUpdated {
            sid: worker(1),
            task_channel_sid: channel(2),
            capacity: 50,
            previous_capacity: None,
        }),
        Event::WorkerChannelAvailabilityUpdated(WorkerChannelAvailabilityUpdated {
            sid: worker(1),
            task_channel_sid: channel(1),
            available: false,
        }),
        Event::WorkerDeleted(ResourceRef { sid: worker(1) }),
        Event::TaskQueueCreated(TaskQueueCreated {
            sid: queue(1),
            friendly_name: "Gold support".into(),
            target_workers: "tier == 'gold'".into(),
            task_order: QueueOrder::Fifo,
            max_reserved_workers: 1,
            reservation_activity_sid: None,
            assignment_activity_sid: None,
        }),
        Event::TaskQueueCreated(TaskQueueCreated {
            sid: queue(2),
            friendly_name: "Everyone".into(),
            target_workers: "1 == 1".into(),
            task_order: QueueOrder::Lifo,
            max_reserved_workers: 50,
            reservation_activity_sid: Some(activity(3)),
            assignment_activity_sid: Some(activity(4)),
        }),
        Event::TaskQueueUpdated(TaskQueueUpdated {
            sid: queue(1),
            friendly_name: Some("Gold".into()),
            target_workers: Some("tier IN ['gold', 'platinum']".into()),
            task_order: Some(QueueOrder::Lifo),
            max_reserved_workers: Some(5),
            reservation_activity_sid: Some(activity(3)),
            assignment_activity_sid: Some(activity(4)),
        }),
        Event::TaskQueueUpdated(TaskQueueUpdated {
            sid: queue(1),
            friendly_name: None,
            target_workers: None,
            task_order: None,
            max_reserved_workers: Some(2),
            reservation_activity_sid: None,
            assignment_activity_sid: None,
        }),
        Event::TaskQueueDeleted(ResourceRef { sid: queue(2) }),
        Event::WorkflowCreated(WorkflowCreated {
            sid: workflow(1),
            friendly_name: "Support routing".into(),
            configuration: configuration.clone(),
            assignment_callback_url: Some("https://example.com/assign".into()),
            fallback_assignment_callback_url: Some("https://fallback.example.com/assign".into()),
            task_reservation_timeout: 120,
        }),
        Event::WorkflowCreated(WorkflowCreated {
            sid: workflow(2),
            friendly_name: "Default".into(),
            configuration: configuration.clone(),
            assignment_callback_url: None,
            fallback_assignment_callback_url: None,
            task_reservation_timeout: 86_400,
        }),
        Event::WorkflowUpdated(WorkflowUpdated {
            sid: workflow(1),
            friendly_name: Some("Support".into()),
            configuration: Some(configuration),
            assignment_callback_url: Some(String::new()),
            fallback_assignment_callback_url: Some(String::new()),
            task_reservation_timeout: Some(1),
        }),
        Event::WorkflowUpdated(WorkflowUpdated {
            sid: workflow(1),
            friendly_name: None,
            configuration: None,
            assignment_callback_url: None,
            fallback_assignment_callback_url: None,
            task_reservation_timeout: Some(60),
        }),
        Event::WorkflowDeleted(ResourceRef { sid: workflow(2) }),
        Event::TaskCreated(TaskCreated {
            sid: task(1),
            attributes: r#"{"tier": "gold", "lang": "fr"}"#.into(),
            priority: 10,
            timeout: 86_400,
            task_channel_sid: channel(1),
            workflow_sid: workflow(1),
            virtual_start_time: None,
        }),
        Event::TaskCreated(TaskCreated {
            sid: task(2),
            attributes: "{}".into(),
            priority: 2_147_483_647,
            timeout: 1_209_600,
            task_channel_sid: channel(1),
            workflow_sid: workflow(1),
            virtual_start_time: DateTime::from_timestamp_millis(1_763_990_000_000),
        }),
        Event::TaskUpdated(TaskUpdated {
            sid: task(1),
            attributes: Some(r#"{"tier": "platinum"}"#.into()),
            priority: Some(0),
        }),
        Event::TaskUpdated(TaskUpdated {
            sid: task(1),
            attributes: None,
            priority: Some(20),
        }),
        Event::TargetMatched(TargetMatched {
            task_sid: task(1),
            workflow_sid: workflow(1),
            filter_index: Some(0),
            filter_name: "Gold".into(),
            target_index: 0,
            task_queue_sid: queue(1),
            priority: Some(5),
            timeout: Some(30),
        }),
        Event::TargetMatched(TargetMatched {
            task_sid: task(2),
            workflow_sid: workflow(1),
            filter_index: None,
            filter_name: "default".into(),
            target_index: 0,
            task_queue_sid: queue(2),
            priority: None,
            timeout: None,
        }),
        Event::WorkflowTimeout(WorkflowTimeout {
            task_sid: task(2),
            workflow_sid: workflow(1),
        }),
        Event::TaskCanceled(TaskClosed {
            sid: task(2),
            reason: "Task TTL Exceeded".into(),
        }),
        Event::WorkflowEntered(WorkflowEntered {
            task_sid: task(1),
            workflow_sid: workflow(1),
        }),
        Event::WorkflowSkipped(WorkflowSkipped {
            task_sid: task(1),
            workflow_sid: workflow(1),
            filter_name: "default".into(),
            target_index: 0,
            task_queue_sid: queue(1),
        }),
        Event::TaskQueueEntered(TaskInQueue {
            task_sid: task(1),
            task_queue_sid: queue(1),
        }),
        Event::TaskQueueTimeout(TaskInQueue {
            task_sid: task(1),
            task_queue_sid: queue(1),
        }),
        Event::TaskQueueMoved(TaskQueueMoved {
            task_sid: task(1),
            task_queue_sid: queue(1),
            to_task_queue_sid: queue(2),
        }),
        Event::TaskQueueExpressionUpdated(TaskQueueExpressionUpdated {
            sid: queue(1),
            target_workers: "languages HAS 'en'".into(),
        }),
        Event::TaskWrapup(TaskClosed {
            sid: task(1),
            reason: "call ended".into(),
        }),
        Event::TaskCompleted(TaskClosed {
            sid: task(1),
            reason: "resolved".into(),
        }),
        Event::TaskDeleted(ResourceRef { sid: task(1) }),
        Event::TaskSystemDeleted(ResourceRef { sid: task(2) }),
        Event::ReservationCreated(ReservationCreated {
            sid: reservation(1),
            task_sid: task(1),
            worker_sid: worker(1),
            task_queue_sid: queue(1),
            routing,
        }),
        Event::ReservationAccepted(ResourceRef {
            sid: reservation(1),
        }),
        Event::ReservationRejected(ReservationRejected {
            sid: reservation(2),
            activity_sid: Some(activity(2)),
        }),
        Event::ReservationRejected(ReservationRejected {
            sid: reservation(3),
            activity_sid: None,
        }),
        Event::ReservationTimeout(ResourceRef {
            sid: reservation(4),
        }),
        Event::ReservationRescinded(ResourceRef {
            sid: reservation(5),
        }),
        Event::ReservationCanceled(ResourceRef {
            sid: reservation(6),
        }),
        Event::ReservationWrapup(ResourceRef {
            sid: reservation(1),
        }),
        Event::ReservationCompleted(ResourceRef {
            sid: reservation(1),
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
    // Every version ever published stays on disk beside the current one: events in the log
    // were written in it, and consumers validate them against it.
    let declared: BTreeSet<String> = Event::TYPES
        .iter()
        .flat_map(|(t, v)| (1..=*v).map(move |v| format!("{t}.v{v}.json")))
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
    // A plain token where the sealed one belongs is refused: the log never holds it.
    let v2 = jsonschema::validator_for(&load("account.created.v2.json")).expect("compiles");
    let plain = serde_json::json!({
        "friendly_name": "A", "owner_account_sid": null, "auth_token_hash": "0f".repeat(32),
        "auth_token_sealed": "0123456789abcdef0123456789abcdef", "status": "active", "type": "Full"
    });
    assert!(!v2.is_valid(&plain));
}

#[test]
fn the_alert_schema_rejects_methods_levels_and_codes_twilio_never_writes() {
    let schema = load("alert.raised.v1.json");
    let validator = jsonschema::validator_for(&schema).expect("compiles");
    let Some(Event::AlertRaised(good)) = alert_examples().into_iter().next() else {
        panic!("an alert example");
    };
    let mut bad = serde_json::to_value(&good).expect("serialises");
    bad["request_method"] = "DELETE".into();
    bad["log_level"] = "fatal".into();
    bad["error_code"] = 42.into();
    bad["service_sid"] = "not-a-sid".into();
    assert_eq!(validator.iter_errors(&bad).count(), 4, "{bad}");
}

#[test]
fn taskrouter_schemas_reject_wrong_prefixes_ranges_and_missing_fields() {
    let reject = |name: &str, bad: serde_json::Value| {
        let schema = load(&format!("{name}.v1.json"));
        let validator = jsonschema::validator_for(&schema).expect("compiles");
        assert!(!validator.is_valid(&bad), "{name} accepted {bad}");
    };
    let worker = Sid::from_u128(SidPrefix::Worker, 1).to_string();
    let task = Sid::from_u128(SidPrefix::Task, 1).to_string();
    let channel = Sid::from_u128(SidPrefix::TaskChannel, 1).to_string();
    let workflow = Sid::from_u128(SidPrefix::Workflow, 1).to_string();
    // A shared payload (ResourceRef, TaskClosed) is checked against its type's own prefix.
    reject("task.deleted", serde_json::json!({ "sid": worker }));
    reject("task.system-deleted", serde_json::json!({ "sid": worker }));
    reject("reservation.accepted", serde_json::json!({ "sid": task }));
    reject(
        "task.completed",
        serde_json::json!({ "sid": worker, "reason": "done" }),
    );
    reject("workspace.deleted", serde_json::json!({ "sid": worker }));
    reject(
        "worker.capacity.update",
        serde_json::json!({"sid": worker, "task_channel_sid": channel, "capacity": 51}),
    );
    reject(
        "task.created",
        serde_json::json!({"sid": task, "attributes": "{}", "priority": -1, "timeout": 60,
                           "task_channel_sid": channel, "workflow_sid": workflow}),
    );
    reject(
        "task.created",
        serde_json::json!({"sid": task, "attributes": "{}", "priority": 1, "timeout": 1_209_601,
                           "task_channel_sid": channel, "workflow_sid": workflow}),
    );
    // Nullable fields are always present: null, not missing.
    reject(
        "workspace.created",
        serde_json::json!({"friendly_name": "W", "multi_task_enabled": true,
                           "prioritize_queue_order": "FIFO"}),
    );
    reject(
        "workspace.created",
        serde_json::json!({"friendly_name": "W", "event_callback_url": null, "events_filter": null,
                           "multi_task_enabled": true, "prioritize_queue_order": "RANDOM"}),
    );
    // Skipped optionals are absent, never null.
    reject(
        "reservation.rejected",
        serde_json::json!({"sid": Sid::from_u128(SidPrefix::Reservation, 1).to_string(),
                           "activity_sid": null}),
    );
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

/// Events as older builds wrote them: the literal stored text, its type and version, and the
/// current struct it must decode to through the upcasters. Every version below the current
/// one of a type needs a row here (checked below), so an upcaster always has a test.
fn old_shapes() -> Vec<(&'static str, u32, &'static str, Event)> {
    vec![
        (
            "worker.capacity.update",
            1,
            r#"{"sid":"WK000000000000000000000000000000a1","task_channel_sid":"TC000000000000000000000000000000b2","capacity":3}"#,
            Event::WorkerCapacityUpdated(WorkerCapacityUpdated {
                sid: Sid::parse("WK000000000000000000000000000000a1").expect("sid"),
                task_channel_sid: Sid::parse("TC000000000000000000000000000000b2").expect("sid"),
                capacity: 3,
                previous_capacity: None,
            }),
        ),
        (
            "account.created",
            1,
            r#"{"friendly_name":"Before sealing","owner_account_sid":null,"auth_token_hash":"0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f","status":"active","type":"Full"}"#,
            Event::AccountCreated(AccountCreated {
                friendly_name: "Before sealing".into(),
                owner_account_sid: None,
                auth_token_hash: "0f".repeat(32),
                auth_token_sealed: None,
                status: AccountStatus::Active,
                account_type: AccountType::Full,
            }),
        ),
        (
            "call.routed",
            1,
            r#"{"phone_number_sid":null,"application_sid":null,"voice_url":"https://app.example/voice","voice_method":"POST","voice_fallback_url":null,"voice_fallback_method":"POST","status_callback":"https://app.example/status","status_callback_method":"POST"}"#,
            Event::CallRouted(CallRouted {
                phone_number_sid: None,
                application_sid: None,
                voice_url: "https://app.example/voice".into(),
                voice_method: HttpMethod::Post,
                voice_fallback_url: None,
                voice_fallback_method: HttpMethod::Post,
                status_callback: Some("https://app.example/status".into()),
                status_callback_method: HttpMethod::Post,
                status_callback_events: vec![StatusCallbackEvent::Completed],
                twiml: None,
            }),
        ),
    ]
}

#[test]
fn events_written_in_an_old_shape_match_their_old_schema_and_decode_to_the_current_struct() {
    for (event_type, version, text, expected) in old_shapes() {
        let data: serde_json::Value = serde_json::from_str(text).expect("JSON");
        validate(
            &load(&format!("{event_type}.v{version}.json")),
            &data,
            &format!("{event_type} v{version}"),
        );
        let decoded = Event::decode(event_type, version, text)
            .unwrap_or_else(|e| panic!("{event_type} v{version} does not decode: {e}"));
        assert_eq!(decoded, expected, "{event_type} v{version}");
        // Lifted, it is a valid current event: what consumers of the envelope see.
        let current: serde_json::Value =
            serde_json::from_str(&decoded.data_json()).expect("data is JSON");
        validate(
            &load(&format!("{event_type}.v{}.json", decoded.schema_version())),
            &current,
            &format!("{event_type} lifted from v{version}"),
        );
    }
    // The old text is refused by the current schema: the version bump was needed.
    for (event_type, _, text, e) in &old_shapes() {
        let current = load(&format!("{event_type}.v{}.json", e.schema_version()));
        let validator = jsonschema::validator_for(&current).expect("compiles");
        assert!(
            !validator.is_valid(&serde_json::from_str(text).expect("JSON")),
            "{event_type}"
        );
    }

    let covered: BTreeSet<(String, u32)> = old_shapes()
        .iter()
        .map(|(t, v, _, _)| (t.to_string(), *v))
        .collect();
    for (t, current) in Event::TYPES {
        for v in 1..*current {
            assert!(
                covered.contains(&(t.to_string(), v)),
                "{t} v{v} needs a literal old-shape example in old_shapes()"
            );
        }
    }
}

#[test]
fn a_stored_old_event_decodes_through_the_envelope_with_the_current_version() {
    let (event_type, version, text, expected) = old_shapes().remove(0);
    let account = Sid::from_u128(SidPrefix::Account, 1);
    let meta = Metadata {
        occurred_at: DateTime::from_timestamp_millis(1_764_000_000_000).unwrap_or_default(),
        account_sid: account.clone(),
        correlation_id: Uuid::from_u128(10),
        causation_id: None,
        region: "us1".into(),
    };
    let mut stored = NewEvent::new(Uuid::from_u128(12), &meta, &expected);
    stored.event_type = event_type.into();
    stored.schema_version = version;
    stored.data = text.into();
    let recorded = RecordedEvent {
        position: Position::embedded(1),
        stream: account.to_string(),
        seq: 1,
        event: stored,
    };
    let envelope = recorded.decode().expect("decodes");
    assert_eq!(envelope.event, expected);
    assert_eq!(envelope.schema_version, 2);
    validate(
        &load("envelope.json"),
        &serde_json::to_value(&envelope).expect("serialises"),
        "envelope",
    );
}
