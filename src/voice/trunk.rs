//! The outbound SIP trunk (`--sip-trunk`): where calls to telephone numbers go. A `<Dial>`
//! `<Number>` (or plain text in `<Dial>`) and a `POST /Calls` whose `To` is a number are sent
//! to the operator's carrier as `sip:NUMBER@TRUNK`, keeping the trunk URI's parameters
//! (`;transport=tcp`); a `sip:` target goes where it says.
//!
//! The invariant: a number is only ever dialled through the configured trunk — without one it
//! is refused (Twilio's 21210-style error), never guessed into a SIP URI on some host.

use std::fmt;

/// Longest number accepted (E.164 has at most 15 digits; extensions are not dialled here).
const MAX_DIGITS: usize = 15;

/// The configured trunk: `sip:HOST[:PORT][;params]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    /// `host[:port]`.
    host: String,
    /// `;transport=tcp` and the like, as configured (may be empty).
    params: String,
}

impl Trunk {
    /// Parses `--sip-trunk` (`sip:carrier.example:5060;transport=udp`); a user part is refused
    /// (the number goes there).
    pub fn parse(uri: &str) -> Result<Trunk, String> {
        let checked = crate::config::sip_uri(uri)?;
        let rest = checked
            .strip_prefix("sip:")
            .ok_or_else(|| format!("{uri:?}: a trunk is a sip: URI"))?;
        if rest.contains('@') {
            return Err(format!(
                "{uri:?}: a trunk URI has no user part (sip:HOST[:PORT]); the number goes there"
            ));
        }
        let (host, params) = match rest.find(';') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        Ok(Trunk {
            host: host.to_string(),
            params: params.to_string(),
        })
    }

    /// The URI that dials `number` (already normalised) through this trunk.
    pub fn uri_for(&self, number: &str) -> String {
        format!("sip:{number}@{}{}", self.host, self.params)
    }
}

impl fmt::Display for Trunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sip:{}{}", self.host, self.params)
    }
}

/// `text` as a dialable number (`+` and digits, the separators people write removed), or
/// `None` when it is not one.
pub fn number(text: &str) -> Option<String> {
    let text = text.trim();
    let (plus, digits) = match text.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", text),
    };
    let mut out = String::from(plus);
    for c in digits.chars() {
        match c {
            '0'..='9' => out.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    let count = out.len() - plus.len();
    (1..=MAX_DIGITS).contains(&count).then_some(out)
}

/// Where a call to `to` goes: a `sip:`/`sips:` URI as it is, a number through `trunk`.
pub fn target(to: &str, trunk: Option<&Trunk>) -> Result<String, String> {
    let to = to.trim();
    if to.starts_with("sip:") || to.starts_with("sips:") {
        return crate::config::sip_uri(to);
    }
    let Some(number) = number(to) else {
        return Err(format!("{to:?} is neither a phone number nor a sip: URI"));
    };
    match trunk {
        Some(trunk) => Ok(trunk.uri_for(&number)),
        None => Err(format!(
            "{number} is a phone number and no outbound trunk is configured (--sip-trunk)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_go_through_the_trunk_keeping_its_parameters() {
        let trunk = Trunk::parse("sip:127.0.0.1:5070;transport=tcp").expect("a trunk");
        assert_eq!(
            target("+1 (415) 555-0100", Some(&trunk)),
            Ok("sip:+14155550100@127.0.0.1:5070;transport=tcp".into())
        );
        assert_eq!(
            target("sip:bob@example.org:5080", Some(&trunk)),
            Ok("sip:bob@example.org:5080".into())
        );
        assert_eq!(trunk.to_string(), "sip:127.0.0.1:5070;transport=tcp");
    }

    #[test]
    fn a_number_without_a_trunk_or_a_non_number_is_refused() {
        assert!(target("+14155550100", None)
            .expect_err("no trunk")
            .contains("--sip-trunk"));
        let trunk = Trunk::parse("sip:carrier.example").expect("a trunk");
        assert!(target("client:alice", Some(&trunk)).is_err());
        assert!(
            target("+1234567890123456", Some(&trunk)).is_err(),
            "16 digits"
        );
        assert!(target("", Some(&trunk)).is_err());
        assert!(Trunk::parse("sip:user@carrier.example").is_err());
        assert!(Trunk::parse("carrier.example").is_err());
    }
}
