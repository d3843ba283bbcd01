//! Reading one element's attributes into typed values, with a 12200 warning and the default
//! for every value that does not fit (VOICE-NOTES §1.4–1.11 give the defaults).
//!
//! Invariant: every attribute of an element is either read by the verb's parser or reported
//! once as a warning ([`Attrs::finish`]); a bad value never fails the document. The warning
//! list itself is bounded ([`MAX_WARNINGS`]) so a document of a million attributes cannot
//! grow it without bound.

use super::error::Warning;
use super::program::Method;
use super::xml::Element;

/// Most warnings kept per document; the rest are counted in one closing warning.
pub const MAX_WARNINGS: usize = 100;

/// The warnings of one parse.
#[derive(Debug, Default)]
pub struct Warnings {
    list: Vec<Warning>,
    dropped: usize,
}

impl Warnings {
    pub fn push(&mut self, message: impl Into<String>) {
        if self.list.len() < MAX_WARNINGS {
            self.list.push(Warning::schema(message));
        } else {
            self.dropped += 1;
        }
    }

    pub fn finish(mut self) -> Vec<Warning> {
        if self.dropped > 0 {
            self.list.push(Warning::schema(format!(
                "{} more warnings not listed",
                self.dropped
            )));
        }
        self.list
    }
}

/// The attributes of one element, marking each one read.
pub struct Attrs<'a> {
    element: &'a Element,
    used: Vec<bool>,
}

impl<'a> Attrs<'a> {
    pub fn new(element: &'a Element) -> Self {
        Attrs {
            element,
            used: vec![false; element.attrs.len()],
        }
    }

    /// The raw value of `name` (names are case-sensitive).
    pub fn get(&mut self, name: &str) -> Option<&'a str> {
        let i = self.element.attrs.iter().position(|(k, _)| k == name)?;
        self.used[i] = true;
        Some(self.element.attrs[i].1.as_str())
    }

    /// Warn about every attribute nobody read; `not_yet` names the ones Twilio has and we
    /// do not act on yet (so the message says so rather than "not allowed").
    pub fn finish(self, w: &mut Warnings, not_yet: &[&str]) {
        let el = &self.element.name;
        for ((key, _), used) in self.element.attrs.iter().zip(self.used) {
            // Namespace declarations are XML's, not TwiML's.
            if used || key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            if not_yet.contains(&key.as_str()) {
                w.push(format!(
                    "Attribute '{key}' of element '{el}' is not supported yet; ignored"
                ));
            } else {
                w.push(format!(
                    "Attribute '{key}' is not allowed to appear in element '{el}'; ignored"
                ));
            }
        }
    }

    fn invalid(&self, w: &mut Warnings, name: &str, value: &str, default: &str) {
        w.push(format!(
            "Attribute '{name}' of element '{}' has an invalid value {value:?}; {default} used",
            self.element.name
        ));
    }

    /// A trimmed, non-empty string.
    pub fn text(&mut self, name: &str) -> Option<String> {
        let v = self.get(name)?.trim();
        (!v.is_empty()).then(|| v.to_owned())
    }

    /// `loop`: a non-negative integer, 1 unless given (0 means "until hangup").
    pub fn loops(&mut self, w: &mut Warnings) -> u32 {
        let Some(v) = self.get("loop") else { return 1 };
        v.trim().parse().unwrap_or_else(|_| {
            self.invalid(w, "loop", v, "the default 1");
            1
        })
    }

    /// A positive integer within `range`, `default` unless given.
    pub fn bounded(
        &mut self,
        w: &mut Warnings,
        name: &str,
        range: std::ops::RangeInclusive<u32>,
        default: u32,
    ) -> u32 {
        let Some(v) = self.get(name) else {
            return default;
        };
        match v.trim().parse::<u32>() {
            Ok(n) if range.contains(&n) => n,
            _ => {
                self.invalid(w, name, v, &format!("the default {default}"));
                default
            }
        }
    }

    /// A positive integer, or `None` (unlimited) unless given.
    pub fn positive_opt(&mut self, w: &mut Warnings, name: &str) -> Option<u32> {
        let v = self.get(name)?;
        match v.trim().parse::<u32>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                self.invalid(w, name, v, "no limit");
                None
            }
        }
    }

    /// `GET` or `POST` (any case), `POST` unless given.
    pub fn method(&mut self, w: &mut Warnings, name: &str) -> Method {
        let Some(v) = self.get(name) else {
            return Method::Post;
        };
        match v.trim() {
            m if m.eq_ignore_ascii_case("GET") => Method::Get,
            m if m.eq_ignore_ascii_case("POST") => Method::Post,
            _ => {
                self.invalid(w, name, v, "POST");
                Method::Post
            }
        }
    }

    /// `true` or `false` (any case), `default` unless given.
    pub fn flag(&mut self, w: &mut Warnings, name: &str, default: bool) -> bool {
        let Some(v) = self.get(name) else {
            return default;
        };
        match v.trim() {
            b if b.eq_ignore_ascii_case("true") => true,
            b if b.eq_ignore_ascii_case("false") => false,
            _ => {
                self.invalid(w, name, v, &format!("{default}"));
                default
            }
        }
    }

    /// A DTMF string (`0-9 A-D # * w W`), `None` unless given and valid.
    pub fn dtmf(&mut self, w: &mut Warnings, name: &str) -> Option<String> {
        let v = self.get(name)?.trim();
        if v.is_empty() {
            return None;
        }
        if v.chars().all(is_dtmf_or_wait) {
            Some(v.to_owned())
        } else {
            self.invalid(w, name, v, "no digits");
            None
        }
    }
}

/// A digit `<Play digits>` and `sendDigits` may send, or a wait (`w` 0.5 s, `W` 1 s).
pub fn is_dtmf_or_wait(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, 'A'..='D' | '#' | '*' | 'w' | 'W')
}
