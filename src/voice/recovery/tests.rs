//! Recovery's exactly-once: a live call gets one end however often recovery runs, and the
//! end says whether the call had been answered.

use super::*;
use crate::log::memory::MemoryLog;
use switchboard_events::call::{
    CallAnswered, CallDirection, CallInitiated, CallRinging, DialogRole,
};
use switchboard_events::{Event, ExpectedVersion, NewEvent, SidPrefix};

struct Fixture {
    commands: Commands,
    account: Sid,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            commands: Commands::new(Arc::new(MemoryLog::default()), "us1".into()),
            account: crate::commands::new_sid(SidPrefix::Account),
        }
    }

    /// A call stream holding `events`, the n-th recorded at `at_ms[n]`.
    async fn call(&self, events: &[(i64, Event)]) -> Sid {
        let sid = crate::commands::new_sid(SidPrefix::Call);
        for (version, (at_ms, event)) in events.iter().enumerate() {
            let mut meta = self.commands.metadata(self.account.clone(), Uuid::now_v7());
            meta.occurred_at = chrono::DateTime::from_timestamp_millis(*at_ms).expect("time");
            self.commands
                .log()
                .append(
                    sid.as_str(),
                    ExpectedVersion::after_load(version as u64),
                    vec![NewEvent::new(Uuid::now_v7(), &meta, event)],
                )
                .await
                .expect("appended");
        }
        sid
    }

    async fn ends(&self, sid: &Sid) -> Vec<CallCompleted> {
        self.commands
            .log()
            .read_stream(sid.as_str())
            .await
            .expect("read")
            .iter()
            .filter_map(|r| match r.decode().expect("decodes").event {
                Event::CallCompleted(end) => Some(end),
                _ => None,
            })
            .collect()
    }

    async fn end(&self, sid: &Sid) -> Option<Orphan> {
        end_call(&self.commands, sid, &self.account, None)
            .await
            .expect("recovery runs")
    }
}

fn initiated() -> Event {
    Event::CallInitiated(CallInitiated {
        direction: CallDirection::Inbound,
        from: "sip:alice@192.0.2.1".into(),
        to: "sip:+15550100001@192.0.2.9".into(),
        sip_call_id: "abc@192.0.2.1".into(),
        remote_addr: "192.0.2.1:5070".into(),
        parent_call_sid: None,
    })
}

fn answered() -> Event {
    Event::CallAnswered(CallAnswered {
        codec: "PCMU".into(),
        telephone_event: Some(101),
        local_rtp: "192.0.2.9:20000".into(),
        remote_rtp: "192.0.2.1:6000".into(),
    })
}

fn dialog() -> CallDialog {
    CallDialog {
        role: DialogRole::Uas,
        call_id: "abc@192.0.2.1".into(),
        local_tag: "ours".into(),
        remote_tag: "theirs".into(),
        local_uri: "sip:+15550100001@192.0.2.9".into(),
        remote_uri: "sip:alice@192.0.2.1".into(),
        remote_target: "sip:alice@192.0.2.1:5070".into(),
        route_set: vec![],
        local_cseq: 1,
        transport: "udp".into(),
        destination: "192.0.2.1:5070".into(),
    }
}

#[tokio::test]
async fn an_answered_call_is_completed_once_with_its_duration_and_dialog() {
    let f = Fixture::new();
    let sid = f
        .call(&[
            (1_000, initiated()),
            (1_500, answered()),
            (1_600, Event::CallDialogRecorded(dialog())),
            (6_500, Event::CallInstructionsFetched(fetched())),
        ])
        .await;
    let orphan = f.end(&sid).await.expect("ended");
    assert_eq!(orphan.end.status, CallEndStatus::Completed);
    assert_eq!(orphan.end.sip_code, ANSWERED_SIP_CODE);
    assert_eq!(orphan.end.duration_ms, 5_000, "answer to the last event");
    assert_eq!(orphan.dialog, Some(dialog()));
    assert_eq!(f.ends(&sid).await.len(), 1);

    // A second recovery (a restart during the first, or after it) appends nothing.
    assert_eq!(f.end(&sid).await, None);
    let ends = f.ends(&sid).await;
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].reason, REASON);
    assert_eq!(ends[0].hung_up_by, HungUpBy::Local);
}

#[tokio::test]
async fn a_call_never_answered_fails_without_a_dialog() {
    let f = Fixture::new();
    let sid = f
        .call(&[
            (1_000, initiated()),
            (1_100, Event::CallRinging(CallRinging {})),
        ])
        .await;
    let orphan = f.end(&sid).await.expect("ended");
    assert_eq!(orphan.end.status, CallEndStatus::Failed);
    assert_eq!(orphan.end.sip_code, UNANSWERED_SIP_CODE);
    assert_eq!(orphan.end.duration_ms, 0);
    assert_eq!(orphan.dialog, None);
    assert_eq!(f.ends(&sid).await.len(), 1);
}

#[tokio::test]
async fn a_call_that_ended_before_the_crash_is_left_alone() {
    let f = Fixture::new();
    let sid = f
        .call(&[
            (1_000, initiated()),
            (
                1_200,
                Event::CallCompleted(CallCompleted {
                    status: CallEndStatus::Canceled,
                    sip_code: 487,
                    hung_up_by: HungUpBy::Remote,
                    duration_ms: 0,
                    reason: "caller gave up".into(),
                }),
            ),
        ])
        .await;
    assert_eq!(f.end(&sid).await, None);
    assert_eq!(f.ends(&sid).await[0].reason, "caller gave up");
    assert_eq!(f.ends(&sid).await.len(), 1);
}

#[tokio::test]
async fn two_recoveries_at_once_append_one_end() {
    let f = Fixture::new();
    let sid = f.call(&[(1_000, initiated()), (1_500, answered())]).await;
    let (a, b) = tokio::join!(f.end(&sid), f.end(&sid));
    assert_eq!(
        usize::from(a.is_some()) + usize::from(b.is_some()),
        1,
        "exactly one recovery ends it: {a:?} {b:?}"
    );
    assert_eq!(f.ends(&sid).await.len(), 1);
}

#[tokio::test]
async fn a_call_begun_after_the_heads_is_this_process_own() {
    let f = Fixture::new();
    let old = f.call(&[(1_000, initiated())]).await;
    let heads = f.commands.log().heads().await.expect("heads");
    let new = f.call(&[(2_000, initiated())]).await;
    let end = |sid: Sid| {
        let f = &f;
        let heads = heads.clone();
        async move {
            end_call(&f.commands, &sid, &f.account, Some(&heads))
                .await
                .expect("recovery runs")
        }
    };
    assert!(
        end(old.clone()).await.is_some(),
        "the dead node's call ends"
    );
    assert_eq!(
        end(new.clone()).await,
        None,
        "a call of this process is not touched"
    );
    assert!(f.ends(&new).await.is_empty());
    // No stream at all: nothing to end, nothing written.
    let missing = crate::commands::new_sid(SidPrefix::Call);
    assert_eq!(f.end(&missing).await, None);
    assert!(f
        .commands
        .log()
        .read_stream(missing.as_str())
        .await
        .expect("read")
        .is_empty());
}

fn fetched() -> switchboard_events::call::InstructionsFetched {
    switchboard_events::call::InstructionsFetched {
        url: "http://app.example.com/voice".into(),
        method: switchboard_events::call::HttpMethod::Post,
        status_code: 200,
        content_type: Some("text/xml".into()),
        bytes: 100,
        fallback: false,
    }
}

#[tokio::test]
async fn the_log_scan_finds_the_calls_begun_and_not_ended_up_to_the_heads() {
    let f = Fixture::new();
    let live = f.call(&[(1_000, initiated()), (1_500, answered())]).await;
    let ended = f
        .call(&[
            (1_000, initiated()),
            (
                1_200,
                Event::CallCompleted(CallCompleted {
                    status: CallEndStatus::Canceled,
                    sip_code: 487,
                    hung_up_by: HungUpBy::Remote,
                    duration_ms: 0,
                    reason: "caller gave up".into(),
                }),
            ),
        ])
        .await;
    let heads = f.commands.log().heads().await.expect("heads");
    let _after = f.call(&[(2_000, initiated())]).await;
    let found = scan_live_calls(f.commands.log().as_ref(), &heads, &CancellationToken::new())
        .await
        .expect("scanned")
        .expect("not stopped");
    assert_eq!(found, vec![(live, f.account.clone())], "not {ended}");
}
