//! Parsing a TwiML document into a [`Program`]: the root, each verb, and the nesting rules.
//!
//! Owns the document rules of VOICE-NOTES §1.1 and the nesting matrix of §1.3. Invariant: a
//! document either fails as a whole ([`ParseError`]: 12100 from [`xml::read`], 12102 for a
//! root other than `<Response>`) or yields a program of verbs the executor can run, with a
//! 12200 [`Warning`] for every element, attribute or value that was skipped or defaulted.
//! Element and attribute names are case-sensitive, as Twilio's are: `<say>` is an unknown
//! verb. The `<Dial>` nouns are in [`super::dial`].

use super::attrs::{Attrs, Warnings};
use super::dial::dial;
use super::error::{ParseError, Warning, ROOT_NOT_RESPONSE};
use super::program::{
    Gather, Pause, Play, Program, Prompt, Redirect, Reject, RejectReason, Say, Verb,
};
use super::xml::{self, Child, Document, Element};

/// A parsed document: the program to run and what was skipped or defaulted on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub program: Program,
    pub warnings: Vec<Warning>,
}

/// Twilio verbs this build does not run yet: a 12200 and skipped, the rest runs.
const NOT_YET: &[&str] = &[
    "Enqueue", "Record", "Leave", "Start", "Stop", "Connect", "Refer", "Pay", "Sms", "Message",
    "Echo", "Prompt",
];

/// SSML elements `<Say>` may contain (VOICE-NOTES §1.4); their text is spoken.
const SSML: &[&str] = &[
    "break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w",
];

/// Parse a TwiML document.
pub fn parse(text: &str) -> Result<Parsed, ParseError> {
    let doc = xml::read(text)?;
    let root = doc
        .root()
        .ok_or_else(|| ParseError::failure("no root element"))?;
    if root.name != "Response" {
        return Err(ParseError {
            code: ROOT_NOT_RESPONSE,
            message: format!("the root element is <{}>, not <Response>", root.name),
        });
    }
    let mut w = Warnings::default();
    Attrs::new(root).finish(&mut w, &[]);
    let mut verbs = Vec::new();
    for child in &root.children {
        match child {
            Child::Text(t) => stray_text(&mut w, t, "Response"),
            Child::Element(i) => {
                if let Some(el) = doc.elements.get(*i) {
                    verbs.extend(verb(&doc, el, &mut w));
                }
            }
        }
    }
    Ok(Parsed {
        program: Program { verbs },
        warnings: w.finish(),
    })
}

/// One child of `<Response>`, or `None` (with a warning) when it is skipped.
fn verb(doc: &Document, el: &Element, w: &mut Warnings) -> Option<Verb> {
    match el.name.as_str() {
        "Say" => say(doc, el, w).map(Verb::Say),
        "Play" => play(doc, el, w, false).map(Verb::Play),
        "Pause" => Some(Verb::Pause(pause(doc, el, w))),
        "Gather" => Some(Verb::Gather(gather(doc, el, w))),
        "Redirect" => redirect(doc, el, w).map(Verb::Redirect),
        "Hangup" => {
            empty(doc, el, w);
            Attrs::new(el).finish(w, &[]);
            Some(Verb::Hangup)
        }
        "Reject" => Some(Verb::Reject(reject(doc, el, w))),
        "Dial" => dial(doc, el, w).map(Verb::Dial),
        name if NOT_YET.contains(&name) => {
            w.push(format!("<{name}> is not supported yet; skipped"));
            None
        }
        name => {
            w.push(format!(
                "Invalid content was found starting with element '{name}' (verbs are \
                 case-sensitive); skipped"
            ));
            None
        }
    }
}

/// Non-blank text where only elements belong.
pub(super) fn stray_text(w: &mut Warnings, text: &str, parent: &str) {
    if !text.trim().is_empty() {
        w.push(format!("text is not allowed in <{parent}>; ignored"));
    }
}

/// Warn about any element or text inside a verb that takes none.
pub(super) fn no_children(doc: &Document, el: &Element, w: &mut Warnings) {
    for child in doc.child_elements(el) {
        w.push(format!(
            "<{}> is not allowed in <{}>; ignored",
            child.name, el.name
        ));
    }
}

/// Warn about any content at all inside a verb that takes none.
fn empty(doc: &Document, el: &Element, w: &mut Warnings) {
    no_children(doc, el, w);
    stray_text(w, &Document::own_text(el), &el.name);
}

/// The body of a text-only verb (`<Play>`, `<Redirect>`, nouns), trimmed.
pub(super) fn body(doc: &Document, el: &Element, w: &mut Warnings) -> String {
    no_children(doc, el, w);
    Document::own_text(el).trim().to_owned()
}

fn say(doc: &Document, el: &Element, w: &mut Warnings) -> Option<Say> {
    let mut a = Attrs::new(el);
    let defaults = Say::default();
    let say = Say {
        voice: a.text("voice").unwrap_or(defaults.voice),
        language: a.text("language").unwrap_or(defaults.language),
        loops: a.loops(w),
        text: spoken_text(doc, el, w),
    };
    a.finish(w, &[]);
    if say.text.is_empty() {
        w.push("<Say> has no text; skipped");
        return None;
    }
    Some(say)
}

/// The text of `<Say>` and its SSML descendants, whitespace collapsed. Walks the subtree
/// with an explicit stack (depth is bounded by [`xml::MAX_DEPTH`] anyway).
fn spoken_text(doc: &Document, el: &Element, w: &mut Warnings) -> String {
    let mut out = String::new();
    let mut stack: Vec<(&Element, usize)> = vec![(el, 0)];
    while let Some((current, next)) = stack.pop() {
        let Some(child) = current.children.get(next) else {
            continue;
        };
        stack.push((current, next + 1));
        match child {
            Child::Text(t) => {
                out.push(' ');
                out.push_str(t);
            }
            Child::Element(i) => {
                let Some(inner) = doc.elements.get(*i) else {
                    continue;
                };
                if !SSML.contains(&inner.name.as_str()) {
                    w.push(format!(
                        "<{}> is not allowed in <Say>; its text is spoken",
                        inner.name
                    ));
                }
                // A `<break>` is at least a word boundary.
                out.push(' ');
                stack.push((inner, 0));
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn play(doc: &Document, el: &Element, w: &mut Warnings, nested: bool) -> Option<Play> {
    let mut a = Attrs::new(el);
    let loops = a.loops(w);
    let mut digits = a.dtmf(w, "digits");
    a.finish(w, &[]);
    let url = Some(body(doc, el, w)).filter(|u| !u.is_empty());
    if nested && digits.is_some() {
        w.push("Attribute 'digits' is not allowed on a <Play> inside <Gather>; ignored");
        digits = None;
    }
    if url.is_some() && digits.is_some() {
        w.push("<Play> has both a URL and digits; the digits are ignored");
        digits = None;
    }
    if url.is_none() && digits.is_none() {
        w.push("<Play> has neither a URL nor digits; skipped");
        return None;
    }
    Some(Play { url, digits, loops })
}

fn pause(doc: &Document, el: &Element, w: &mut Warnings) -> Pause {
    empty(doc, el, w);
    let mut a = Attrs::new(el);
    let pause = Pause {
        length_secs: a.bounded(w, "length", 1..=u32::MAX, Pause::default().length_secs),
    };
    a.finish(w, &[]);
    pause
}

/// Gather attributes Twilio has for speech input, not built yet.
const GATHER_SPEECH: &[&str] = &[
    "language",
    "hints",
    "profanityFilter",
    "speechTimeout",
    "speechModel",
    "enhanced",
    "partialResultCallback",
    "partialResultCallbackMethod",
    "maxSpeechTime",
    "bargeIn",
    "debug",
    "actionOnEmptyResultMethod",
];

fn gather(doc: &Document, el: &Element, w: &mut Warnings) -> Gather {
    let mut a = Attrs::new(el);
    let d = Gather::default();
    let finish_on_key = match a.get("finishOnKey") {
        None => d.finish_on_key,
        Some(v) => finish_key(v).unwrap_or_else(|| {
            w.push(format!(
                "Attribute 'finishOnKey' of element 'Gather' has an invalid value {v:?}; '#' used"
            ));
            d.finish_on_key
        }),
    };
    match a.get("input").map(str::trim) {
        None | Some("dtmf") => {}
        Some(v) => w.push(format!(
            "Attribute 'input' of element 'Gather' is {v:?}: only dtmf is supported yet"
        )),
    }
    let gather = Gather {
        action: a.text("action"),
        method: a.method(w, "method"),
        timeout_secs: a.bounded(w, "timeout", 1..=u32::MAX, d.timeout_secs),
        finish_on_key,
        num_digits: a.positive_opt(w, "numDigits"),
        action_on_empty_result: a.flag(w, "actionOnEmptyResult", false),
        prompts: prompts(doc, el, w),
    };
    a.finish(w, GATHER_SPEECH);
    gather
}

/// `finishOnKey`: `''` (none) or one of `0-9 # *`.
fn finish_key(v: &str) -> Option<Option<char>> {
    let mut chars = v.chars();
    match (chars.next(), chars.next()) {
        (None, _) => Some(None),
        (Some(c), None) if c.is_ascii_digit() || c == '#' || c == '*' => Some(Some(c)),
        _ => None,
    }
}

/// The nested verbs of `<Gather>`: only Say, Play (no digits) and Pause (§1.3).
fn prompts(doc: &Document, el: &Element, w: &mut Warnings) -> Vec<Prompt> {
    let mut prompts = Vec::new();
    for child in &el.children {
        let inner = match child {
            Child::Text(t) => {
                stray_text(w, t, "Gather");
                continue;
            }
            Child::Element(i) => match doc.elements.get(*i) {
                Some(inner) => inner,
                None => continue,
            },
        };
        let prompt = match inner.name.as_str() {
            "Say" => say(doc, inner, w).map(Prompt::Say),
            "Play" => play(doc, inner, w, true).map(Prompt::Play),
            "Pause" => Some(Prompt::Pause(pause(doc, inner, w))),
            name => {
                w.push(format!("<{name}> is not allowed in <Gather>; skipped"));
                None
            }
        };
        prompts.extend(prompt);
    }
    prompts
}

fn redirect(doc: &Document, el: &Element, w: &mut Warnings) -> Option<Redirect> {
    let mut a = Attrs::new(el);
    let method = a.method(w, "method");
    a.finish(w, &[]);
    let url = body(doc, el, w);
    if url.is_empty() {
        w.push("<Redirect> has no URL; skipped");
        return None;
    }
    Some(Redirect { url, method })
}

fn reject(doc: &Document, el: &Element, w: &mut Warnings) -> Reject {
    empty(doc, el, w);
    let mut a = Attrs::new(el);
    let reason = match a.get("reason").map(str::trim) {
        None | Some("rejected") => RejectReason::Rejected,
        Some("busy") => RejectReason::Busy,
        Some(v) => {
            w.push(format!(
                "Attribute 'reason' of element 'Reject' has an invalid value {v:?}; rejected used"
            ));
            RejectReason::Rejected
        }
    };
    a.finish(w, &[]);
    Reject { reason }
}
