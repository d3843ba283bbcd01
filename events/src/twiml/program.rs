//! The TwiML program: what a parsed document says to do, as plain typed values.
//!
//! Owns the verb types and their defaults (VOICE-NOTES §1.4–1.11). Invariant: a `Program` only
//! holds verbs the executor can run, each with every attribute already checked and defaulted,
//! so the executor never sees a string it has to validate; URLs stay as written (relative or
//! absolute) because only the executor knows the document's URL.

use crate::call::StatusCallbackEvent;
use serde::{Deserialize, Serialize};

/// A parsed `<Response>`: its verbs in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    pub verbs: Vec<Verb>,
}

/// One verb of a `<Response>`, in the order it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verb {
    Say(Say),
    Play(Play),
    Pause(Pause),
    Gather(Gather),
    Redirect(Redirect),
    Hangup,
    Reject(Reject),
    Dial(Dial),
}

impl Verb {
    /// The element name, for messages and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Verb::Say(_) => "Say",
            Verb::Play(_) => "Play",
            Verb::Pause(_) => "Pause",
            Verb::Gather(_) => "Gather",
            Verb::Redirect(_) => "Redirect",
            Verb::Hangup => "Hangup",
            Verb::Reject(_) => "Reject",
            Verb::Dial(_) => "Dial",
        }
    }
}

/// `loop="0"` means "until hangup", which Twilio caps at 1000 iterations.
pub const LOOP_FOREVER: u32 = 1000;

/// `<Say>`: text to speech. SSML children are flattened into `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Say {
    pub text: String,
    /// `man` unless given; any value is kept as written (`Polly.Joanna`, …).
    pub voice: String,
    /// `en-US` unless given.
    pub language: String,
    /// As written: `0` means [`LOOP_FOREVER`]; the executor normalises it.
    pub loops: u32,
}

impl Default for Say {
    fn default() -> Self {
        Say {
            text: String::new(),
            voice: "man".to_owned(),
            language: "en-US".to_owned(),
            loops: 1,
        }
    }
}

/// `<Play>`: an audio URL, or DTMF digits when the body is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Play {
    /// The body, trimmed; `None` when empty.
    pub url: Option<String>,
    /// `0-9 A-D # * w W`, checked by the parser.
    pub digits: Option<String>,
    /// As written: `0` means [`LOOP_FOREVER`].
    pub loops: u32,
}

impl Default for Play {
    fn default() -> Self {
        Play {
            url: None,
            digits: None,
            loops: 1,
        }
    }
}

/// `<Pause>`: silence; as the first verb of an unanswered call it delays the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub length_secs: u32,
}

impl Default for Pause {
    fn default() -> Self {
        Pause { length_secs: 1 }
    }
}

/// `<Gather>` (DTMF only for now).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gather {
    /// `None`: the current document's URL.
    pub action: Option<String>,
    pub method: Method,
    /// Starts after the prompts finish or at the first key; also the inter-digit time.
    pub timeout_secs: u32,
    /// `None` is `finishOnKey=""`: collect until the timeout or `num_digits`.
    pub finish_on_key: Option<char>,
    /// `None`: unlimited.
    pub num_digits: Option<u32>,
    pub action_on_empty_result: bool,
    /// The nested prompts, played in order until a key is pressed.
    pub prompts: Vec<Prompt>,
}

impl Default for Gather {
    fn default() -> Self {
        Gather {
            action: None,
            method: Method::Post,
            timeout_secs: 5,
            finish_on_key: Some('#'),
            num_digits: None,
            action_on_empty_result: false,
            prompts: Vec::new(),
        }
    }
}

/// What a `<Gather>` may contain (VOICE-NOTES §1.3). A nested `<Play>` has no digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Prompt {
    Say(Say),
    Play(Play),
    Pause(Pause),
}

/// `<Redirect>`: fetch another document; later verbs are unreachable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub url: String,
    pub method: Method,
}

/// `<Reject>`: refuse the call without answering it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    pub reason: RejectReason,
}

/// `reason` of `<Reject>`: the call ends `no-answer` (rejected) or `busy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectReason {
    #[default]
    Rejected,
    Busy,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Rejected => "rejected",
            RejectReason::Busy => "busy",
        }
    }
}

/// Most targets `<Dial>` rings at once (VOICE-NOTES §1.3).
pub const MAX_DIAL_TARGETS: usize = 10;

/// `<Dial>`: parsed here, executed by the next issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dial {
    /// With it, later verbs are unreachable; without it, execution goes on after the dial.
    pub action: Option<String>,
    pub method: Method,
    pub timeout_secs: u32,
    pub caller_id: Option<String>,
    pub time_limit_secs: u32,
    pub hangup_on_star: bool,
    /// The inbound leg stays unanswered until a target answers.
    pub answer_on_bridge: bool,
    /// At most [`MAX_DIAL_TARGETS`], rung in parallel.
    pub targets: Vec<DialTarget>,
}

impl Default for Dial {
    fn default() -> Self {
        Dial {
            action: None,
            method: Method::Post,
            timeout_secs: 30,
            caller_id: None,
            time_limit_secs: 14_400,
            hangup_on_star: false,
            answer_on_bridge: false,
            targets: Vec::new(),
        }
    }
}

/// A noun of `<Dial>`; plain text in `<Dial>` is a `Number`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DialTarget {
    Number {
        number: String,
        send_digits: Option<String>,
        /// A screening document run on the called party before the bridge.
        url: Option<String>,
        method: Method,
        /// The child leg's own status callbacks.
        #[serde(default)]
        callbacks: NounCallbacks,
    },
    Sip {
        uri: String,
        url: Option<String>,
        method: Method,
        username: Option<String>,
        password: Option<String>,
        /// The child leg's own status callbacks.
        #[serde(default)]
        callbacks: NounCallbacks,
    },
    Client {
        identity: String,
    },
}

/// A noun's `statusCallback`, `statusCallbackMethod` and `statusCallbackEvent`: where the
/// child leg's status changes are sent (VOICE-NOTES §1.9). No URL, no callbacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NounCallbacks {
    pub url: Option<String>,
    pub method: Method,
    /// `initiated ringing answered completed`, space-separated; `completed` unless given.
    pub events: Vec<StatusCallbackEvent>,
}

impl Default for NounCallbacks {
    fn default() -> Self {
        NounCallbacks {
            url: None,
            method: Method::Post,
            events: vec![StatusCallbackEvent::Completed],
        }
    }
}

/// An HTTP method TwiML may name: GET or POST, POST unless given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Method {
    Get,
    #[default]
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}
