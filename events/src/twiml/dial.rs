//! Parsing `<Dial>` and its nouns (VOICE-NOTES §1.9): `<Number>`, `<Sip>`, `<Client>`, or a
//! phone number as plain text.
//!
//! Invariant: a parsed `Dial` has between 1 and [`MAX_DIAL_TARGETS`] targets, each with a
//! non-empty address; `<Conference>`, `<Queue>` and the other nouns are a 12200 and skipped
//! until their issues, and a `<Dial>` left with no target is skipped as a whole.

use super::attrs::{Attrs, Warnings};
use super::parse::body;
use super::program::{Dial, DialTarget, NounCallbacks, MAX_DIAL_TARGETS};
use super::xml::{Child, Document, Element};
use crate::call::StatusCallbackEvent;

/// `<Dial>` attributes Twilio has that this build does not act on yet.
const DIAL_NOT_YET: &[&str] = &[
    "record",
    "recordingStatusCallback",
    "recordingStatusCallbackMethod",
    "recordingStatusCallbackEvent",
    "recordingTrack",
    "trim",
    "ringTone",
    "sequential",
    "referUrl",
    "referMethod",
    "callReason",
    "events",
    "recordingConfigurationId",
];

/// Attributes every `<Number>`/`<Sip>`/`<Client>` may carry that are not acted on yet.
const NOUN_NOT_YET: &[&str] = &[
    "byoc",
    "machineDetection",
    "machineDetectionTimeout",
    "machineDetectionSpeechThreshold",
    "machineDetectionSpeechEndThreshold",
    "machineDetectionSilenceTimeout",
    "amdStatusCallback",
    "amdStatusCallbackMethod",
    "region",
    "clientNotificationUrl",
];

/// Nouns of `<Dial>` that later issues build.
const NOUNS_NOT_YET: &[&str] = &["Conference", "Queue", "Application", "WhatsApp", "Sim"];

pub(super) fn dial(doc: &Document, el: &Element, w: &mut Warnings) -> Option<Dial> {
    let mut a = Attrs::new(el);
    let d = Dial::default();
    let mut dial = Dial {
        action: a.text("action"),
        method: a.method(w, "method"),
        timeout_secs: a.bounded(w, "timeout", 5..=600, d.timeout_secs),
        caller_id: a.text("callerId"),
        time_limit_secs: a.bounded(w, "timeLimit", 1..=u32::MAX, d.time_limit_secs),
        hangup_on_star: a.flag(w, "hangupOnStar", false),
        answer_on_bridge: a.flag(w, "answerOnBridge", false),
        targets: Vec::new(),
    };
    a.finish(w, DIAL_NOT_YET);
    for child in &el.children {
        let target = match child {
            Child::Text(t) => {
                let number = t.trim();
                (!number.is_empty()).then(|| DialTarget::Number {
                    number: number.to_owned(),
                    send_digits: None,
                    url: None,
                    method: Default::default(),
                    callbacks: NounCallbacks::default(),
                })
            }
            Child::Element(i) => match doc.elements.get(*i) {
                Some(noun) => target(doc, noun, w),
                None => None,
            },
        };
        let Some(target) = target else { continue };
        if dial.targets.len() == MAX_DIAL_TARGETS {
            w.push(format!(
                "<Dial> has more than {MAX_DIAL_TARGETS} targets; the rest are ignored"
            ));
            break;
        }
        dial.targets.push(target);
    }
    if dial.targets.is_empty() {
        w.push("<Dial> has nothing to dial; skipped");
        return None;
    }
    Some(dial)
}

fn target(doc: &Document, noun: &Element, w: &mut Warnings) -> Option<DialTarget> {
    let mut a = Attrs::new(noun);
    let target = match noun.name.as_str() {
        "Number" => {
            let number = body(doc, noun, w);
            let t = DialTarget::Number {
                send_digits: a.dtmf(w, "sendDigits"),
                url: a.text("url"),
                method: a.method(w, "method"),
                callbacks: callbacks(&mut a, w),
                number,
            };
            matches!(&t, DialTarget::Number { number, .. } if !number.is_empty()).then_some(t)
        }
        "Sip" => {
            let uri = body(doc, noun, w);
            let scheme_ok = uri.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("sip:"))
                || uri
                    .get(..5)
                    .is_some_and(|s| s.eq_ignore_ascii_case("sips:"));
            let t = DialTarget::Sip {
                url: a.text("url"),
                method: a.method(w, "method"),
                username: a.text("username"),
                password: a.text("password"),
                callbacks: callbacks(&mut a, w),
                uri,
            };
            if !scheme_ok {
                w.push("<Sip> needs a sip: or sips: URI; skipped");
                a.finish(w, NOUN_NOT_YET);
                return None;
            }
            Some(t)
        }
        "Client" => client(doc, noun, w).map(|identity| DialTarget::Client { identity }),
        name if NOUNS_NOT_YET.contains(&name) => {
            w.push(format!("<Dial><{name}> is not supported yet; skipped"));
            return None;
        }
        name => {
            w.push(format!("<{name}> is not allowed in <Dial>; skipped"));
            return None;
        }
    };
    a.finish(w, NOUN_NOT_YET);
    if target.is_none() {
        w.push(format!("<{}> has no address; skipped", noun.name));
    }
    target
}

/// A noun's `statusCallback*` attributes; an unknown event name is a warning and skipped,
/// and no valid one leaves Twilio's default, `completed`.
fn callbacks(a: &mut Attrs, w: &mut Warnings) -> NounCallbacks {
    let url = a.text("statusCallback");
    let method = a.method(w, "statusCallbackMethod");
    let mut events = Vec::new();
    for name in a
        .get("statusCallbackEvent")
        .unwrap_or_default()
        .split([' ', ','])
        .filter(|n| !n.is_empty())
    {
        match StatusCallbackEvent::parse(&name.to_ascii_lowercase()) {
            Some(event) if !events.contains(&event) => events.push(event),
            Some(_) => {}
            None => w.push(format!(
                "statusCallbackEvent {name:?} is not an event; ignored"
            )),
        }
    }
    if events.is_empty() {
        events.push(StatusCallbackEvent::Completed);
    }
    NounCallbacks {
        url,
        method,
        events,
    }
}

/// `<Client>`: the identity as text or in `<Identity>`; `<Parameter>` is not built yet.
fn client(doc: &Document, noun: &Element, w: &mut Warnings) -> Option<String> {
    let mut identity = Document::own_text(noun).trim().to_owned();
    for child in doc.child_elements(noun) {
        match child.name.as_str() {
            "Identity" => identity = body(doc, child, w),
            "Parameter" => w.push("<Client><Parameter> is not supported yet; ignored"),
            name => w.push(format!("<{name}> is not allowed in <Client>; ignored")),
        }
    }
    if identity.chars().count() > 256 {
        w.push("a <Client> identity is at most 256 characters; skipped");
        return None;
    }
    (!identity.is_empty()).then_some(identity)
}
