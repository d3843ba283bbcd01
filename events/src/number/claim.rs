//! The claim stream of one E.164 number (`NC…`, its SID derived from the number by the
//! shell): who holds the number now. See the [module doc](super) for why the claim is its
//! own stream and how a stale claim is taken over.

use super::NumberError;
use crate::event::Event;
use crate::sid::Sid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `phone-number.claimed`: `phone_number_sid` holds the number from now on (its account is
/// the envelope's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumberClaimed {
    /// E.164.
    pub phone_number: String,
    /// The number resource that holds it.
    pub phone_number_sid: Sid,
}

/// `phone-number.released`: the holder let the number go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumberReleased {
    /// The number resource that held it.
    pub phone_number_sid: Sid,
}

/// A number's claim, folded from its claim stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumberClaim {
    /// The holder, while held.
    pub holder: Option<Sid>,
    /// The holder's account.
    pub account_sid: Option<Sid>,
    /// When the current claim was made.
    pub claimed_at: Option<DateTime<Utc>>,
}

/// Folds one event into a claim.
pub fn evolve(
    state: Option<NumberClaim>,
    account_sid: &Sid,
    occurred_at: DateTime<Utc>,
    event: &Event,
) -> Option<NumberClaim> {
    let mut claim = state.unwrap_or_default();
    match event {
        Event::PhoneNumberClaimed(e) => {
            claim.holder = Some(e.phone_number_sid.clone());
            claim.account_sid = Some(account_sid.clone());
            claim.claimed_at = Some(occurred_at);
        }
        Event::PhoneNumberReleased(e) if claim.holder.as_ref() == Some(&e.phone_number_sid) => {
            claim = NumberClaim::default();
        }
        _ => {}
    }
    Some(claim)
}

/// Claim a number for a number resource about to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNumber {
    /// E.164 (already checked).
    pub phone_number: String,
    /// The resource to be created.
    pub phone_number_sid: Sid,
    /// A holder the shell found stale (never created, or deleted): it may be replaced.
    pub stale_holder: Option<Sid>,
}

impl ClaimNumber {
    /// Decides against the claim stream: a live holder other than this resource refuses;
    /// this resource already holding it records nothing (a retried create).
    pub fn decide(&self, state: Option<&NumberClaim>) -> Result<Vec<Event>, NumberError> {
        match state.and_then(|c| c.holder.as_ref()) {
            Some(h) if *h == self.phone_number_sid => return Ok(vec![]),
            Some(h) if Some(h) != self.stale_holder.as_ref() => {
                return Err(NumberError::Taken(self.phone_number.clone()))
            }
            _ => {}
        }
        Ok(vec![Event::PhoneNumberClaimed(PhoneNumberClaimed {
            phone_number: self.phone_number.clone(),
            phone_number_sid: self.phone_number_sid.clone(),
        })])
    }
}

/// Release a number its resource held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseNumber {
    /// The resource letting it go.
    pub phone_number_sid: Sid,
}

impl ReleaseNumber {
    /// Records a release only when this resource holds the claim (a repeat, or a claim
    /// already taken over, records nothing).
    pub fn decide(&self, state: Option<&NumberClaim>) -> Result<Vec<Event>, NumberError> {
        if state.and_then(|c| c.holder.as_ref()) != Some(&self.phone_number_sid) {
            return Ok(vec![]);
        }
        Ok(vec![Event::PhoneNumberReleased(PhoneNumberReleased {
            phone_number_sid: self.phone_number_sid.clone(),
        })])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sid::SidPrefix;

    fn pn(n: u128) -> Sid {
        Sid::from_u128(SidPrefix::PhoneNumber, n)
    }

    fn fold(events: &[Event]) -> Option<NumberClaim> {
        let account = Sid::from_u128(SidPrefix::Account, 1);
        let at = DateTime::from_timestamp_millis(1).unwrap_or_default();
        events.iter().fold(None, |s, e| evolve(s, &account, at, e))
    }

    fn claim(n: u128, stale: Option<Sid>) -> ClaimNumber {
        ClaimNumber {
            phone_number: "+15551230000".into(),
            phone_number_sid: pn(n),
            stale_holder: stale,
        }
    }

    #[test]
    fn a_held_number_is_taken_until_released_then_free_again() {
        let mut log = claim(1, None).decide(None).expect("free");
        let held = fold(&log);
        assert_eq!(held.as_ref().and_then(|c| c.holder.clone()), Some(pn(1)));
        assert_eq!(
            claim(2, None).decide(held.as_ref()),
            Err(NumberError::Taken("+15551230000".into()))
        );
        assert_eq!(claim(1, None).decide(held.as_ref()), Ok(vec![]), "a retry");
        assert_eq!(
            ReleaseNumber {
                phone_number_sid: pn(2)
            }
            .decide(held.as_ref()),
            Ok(vec![]),
            "only the holder releases"
        );
        log.extend(
            ReleaseNumber {
                phone_number_sid: pn(1),
            }
            .decide(held.as_ref())
            .expect("released"),
        );
        let free = fold(&log);
        assert_eq!(free.as_ref().and_then(|c| c.holder.clone()), None);
        assert_eq!(claim(2, None).decide(free.as_ref()).map(|e| e.len()), Ok(1));
    }

    #[test]
    fn only_the_holder_named_stale_can_be_taken_over() {
        let held = fold(&claim(1, None).decide(None).unwrap_or_default());
        assert!(claim(2, Some(pn(3))).decide(held.as_ref()).is_err());
        assert_eq!(
            claim(2, Some(pn(1))).decide(held.as_ref()).map(|e| e.len()),
            Ok(1)
        );
    }
}
