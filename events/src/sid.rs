//! SIDs: a two-letter prefix naming the resource kind and 32 lowercase hex digits, as Twilio
//! writes them (`AC0123…`). A `Sid` can only be built by parsing or from a 128-bit value, so
//! anything holding one holds a well-formed identifier.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The kinds of resource a SID can name. The prefix is the stream category too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SidPrefix {
    /// An account (`AC`).
    Account,
    /// A TaskRouter workspace (`WS`).
    Workspace,
    /// A call (`CA`).
    Call,
    /// A voice queue (`QU`).
    Queue,
    /// A media resource (`ME`).
    Media,
    /// A TaskRouter activity (`WA`), in its workspace's stream.
    Activity,
    /// A TaskRouter task queue (`WQ`).
    TaskQueue,
    /// A TaskRouter workflow (`WW`).
    Workflow,
    /// A TaskRouter worker (`WK`).
    Worker,
    /// A TaskRouter task (`WT`).
    Task,
    /// A TaskRouter reservation (`WR`).
    Reservation,
    /// A TaskRouter task channel (`TC`).
    TaskChannel,
    /// `EV`: a TaskRouter event as the Events resource shows it.
    Event,
    /// `NO`: a Monitor alert (a delivery that failed for good), its own stream.
    Alert,
    /// `PN`: an incoming phone number, its own stream.
    PhoneNumber,
    /// `AP`: an application (a set of webhook URLs), its own stream.
    Application,
    /// `NC`: the claim stream of one E.164 number (the SID is derived from the number, so
    /// every writer of that number meets there); never shown by the API.
    NumberClaim,
}

impl SidPrefix {
    /// Every prefix, for parsing without an expected kind.
    pub const ALL: [SidPrefix; 17] = [
        SidPrefix::Account,
        SidPrefix::Workspace,
        SidPrefix::Call,
        SidPrefix::Queue,
        SidPrefix::Media,
        SidPrefix::Activity,
        SidPrefix::TaskQueue,
        SidPrefix::Workflow,
        SidPrefix::Worker,
        SidPrefix::Task,
        SidPrefix::Reservation,
        SidPrefix::TaskChannel,
        SidPrefix::Event,
        SidPrefix::Alert,
        SidPrefix::PhoneNumber,
        SidPrefix::Application,
        SidPrefix::NumberClaim,
    ];

    /// The two letters.
    pub fn as_str(self) -> &'static str {
        match self {
            SidPrefix::Account => "AC",
            SidPrefix::Workspace => "WS",
            SidPrefix::Call => "CA",
            SidPrefix::Queue => "QU",
            SidPrefix::Media => "ME",
            SidPrefix::Activity => "WA",
            SidPrefix::TaskQueue => "WQ",
            SidPrefix::Workflow => "WW",
            SidPrefix::Worker => "WK",
            SidPrefix::Task => "WT",
            SidPrefix::Reservation => "WR",
            SidPrefix::TaskChannel => "TC",
            SidPrefix::Event => "EV",
            SidPrefix::Alert => "NO",
            SidPrefix::PhoneNumber => "PN",
            SidPrefix::Application => "AP",
            SidPrefix::NumberClaim => "NC",
        }
    }

    /// The stream category this prefix maps to (one Kafka topic each, later). TaskRouter
    /// resources live in their workspace's stream.
    pub fn category(self) -> &'static str {
        match self {
            SidPrefix::Account => "account",
            SidPrefix::Workspace
            | SidPrefix::Activity
            | SidPrefix::TaskQueue
            | SidPrefix::Workflow
            | SidPrefix::Worker
            | SidPrefix::Task
            | SidPrefix::Reservation
            | SidPrefix::TaskChannel
            | SidPrefix::Event => "workspace",
            SidPrefix::Call => "call",
            SidPrefix::Queue => "queue",
            SidPrefix::Media => "media",
            // A topic of its own on Kafka (`switchboard.alert`): alerts are read by
            // monitoring, not by the actors of any other category, and Twilio keeps them for
            // 30 days, a retention the other topics do not share.
            SidPrefix::Alert => "alert",
            // On the account topic: numbers, applications and claims are an account's
            // configuration, written rarely and read by the same consumers as accounts (the
            // read models the API and the SIP router consult); their volume and retention are
            // the account stream's, not the calls'. A topic of their own would buy nothing
            // and change every position's partition numbering for nobody.
            SidPrefix::PhoneNumber | SidPrefix::Application | SidPrefix::NumberClaim => "account",
        }
    }

    fn from_letters(letters: &str) -> Option<SidPrefix> {
        SidPrefix::ALL.into_iter().find(|p| p.as_str() == letters)
    }
}

/// Why a string is not a SID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidError {
    /// Wrong total length.
    #[error("a SID is 34 characters (2-letter prefix and 32 hex digits); got {0}")]
    Length(usize),
    /// The prefix is not one this system issues, or not the one expected.
    #[error("SID prefix {found:?} is not {expected}")]
    Prefix {
        /// What the string started with.
        found: String,
        /// What was expected.
        expected: String,
    },
    /// A character after the prefix is not a lowercase hex digit.
    #[error("SID must end in 32 lowercase hex digits")]
    Digits,
}

/// A validated SID.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    prefix: SidPrefix,
    text: String,
}

impl Sid {
    /// Builds a SID from a prefix and 128 bits (ids arrive in commands; the shell draws them).
    pub fn from_u128(prefix: SidPrefix, value: u128) -> Sid {
        Sid {
            prefix,
            text: format!("{}{:032x}", prefix.as_str(), value),
        }
    }

    /// Parses any SID this system issues.
    pub fn parse(s: &str) -> Result<Sid, SidError> {
        if s.len() != 34 {
            return Err(SidError::Length(s.len()));
        }
        let letters = s.get(..2).ok_or(SidError::Digits)?;
        let prefix = SidPrefix::from_letters(letters).ok_or_else(|| SidError::Prefix {
            found: letters.to_string(),
            expected: "a known resource prefix".to_string(),
        })?;
        Self::check_digits(s)?;
        Ok(Sid {
            prefix,
            text: s.to_string(),
        })
    }

    /// Parses a SID and insists on its kind.
    pub fn parse_as(s: &str, expected: SidPrefix) -> Result<Sid, SidError> {
        if s.len() != 34 {
            return Err(SidError::Length(s.len()));
        }
        match s.get(..2) {
            Some(letters) if letters == expected.as_str() => {}
            found => {
                return Err(SidError::Prefix {
                    found: found.unwrap_or_default().to_string(),
                    expected: expected.as_str().to_string(),
                })
            }
        }
        Self::check_digits(s)?;
        Ok(Sid {
            prefix: expected,
            text: s.to_string(),
        })
    }

    fn check_digits(s: &str) -> Result<(), SidError> {
        let digits = s.as_bytes().get(2..).ok_or(SidError::Digits)?;
        if digits
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            Ok(())
        } else {
            Err(SidError::Digits)
        }
    }

    /// The kind of resource.
    pub fn prefix(&self) -> SidPrefix {
        self.prefix
    }

    /// The SID as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Sid {
    type Err = SidError;
    fn from_str(s: &str) -> Result<Sid, SidError> {
        Sid::parse(s)
    }
}

impl Serialize for Sid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Sid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Sid, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Sid::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_sid_is_its_prefix_and_32_lowercase_hex_digits() {
        let sid = Sid::from_u128(SidPrefix::Account, 0xabc);
        assert_eq!(sid.as_str(), "AC00000000000000000000000000000abc");
        assert_eq!(Sid::parse(sid.as_str()), Ok(sid.clone()));
        assert_eq!(Sid::parse_as(sid.as_str(), SidPrefix::Account), Ok(sid));
    }

    #[test]
    fn malformed_sids_are_refused_with_the_reason() {
        assert_eq!(Sid::parse("AC123"), Err(SidError::Length(5)));
        assert_eq!(
            Sid::parse("AC0000000000000000000000000000ABCD"),
            Err(SidError::Digits)
        );
        assert!(matches!(
            Sid::parse("ZZ00000000000000000000000000000abc"),
            Err(SidError::Prefix { .. })
        ));
        assert!(matches!(
            Sid::parse_as("WS00000000000000000000000000000abc", SidPrefix::Account),
            Err(SidError::Prefix { .. })
        ));
        // 34 bytes but not 34 characters: must not panic on a char boundary.
        assert!(Sid::parse("é00000000000000000000000000000000").is_err());
        assert!(Sid::parse("AC0000000000000000000000000000000é").is_err());
    }

    #[test]
    fn a_sid_round_trips_through_json_and_bad_json_is_refused() {
        let sid = Sid::from_u128(SidPrefix::Call, u128::MAX);
        let json = serde_json::to_string(&sid).unwrap_or_default();
        assert_eq!(json, format!("\"{sid}\""));
        assert_eq!(serde_json::from_str::<Sid>(&json).ok(), Some(sid));
        assert!(serde_json::from_str::<Sid>("\"CAnothex\"").is_err());
    }

    proptest! {
        #[test]
        fn every_generated_sid_parses_back(value in any::<u128>(), i in 0usize..SidPrefix::ALL.len()) {
            let sid = Sid::from_u128(SidPrefix::ALL[i], value);
            prop_assert_eq!(Sid::parse(sid.as_str()), Ok(sid));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(s in "\\PC{0,40}") {
            let _ = Sid::parse(&s);
        }
    }
}
