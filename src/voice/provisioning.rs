//! Numbers and applications, written: the application service that sequences the number
//! commands across their two streams (the number's `PN…` and its E.164 number's claim
//! `NC…`), so that **a number belongs to at most one account** however many creates race
//! (see `switchboard_events::number` for the rule; this module only orders the appends).
//!
//! - create: check the request (nothing is claimed for a request that would be refused),
//!   claim the number (the claim stream's expected version makes the race's loser decide
//!   again and find it taken), then create the number; should that fail, release the claim.
//! - delete: delete the number, then release the claim. A claim left behind by a writer that
//!   died between two appends is stale (its holder never created, or deleted) and is taken
//!   over by the next create ([`stale_holder`]).
//!
//! Application SIDs a request names are checked against the write model (the application's
//! stream), not a read model that may lag.

use crate::commands::{CommandError, Commands, Executed};
use crate::log::{Damaged, ReadError};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use switchboard_events::application::{self, Application, ApplicationError};
use switchboard_events::number::{self, claim, IncomingPhoneNumber, NumberError};
use switchboard_events::number::{
    ClaimNumber, CreateIncomingPhoneNumber, DeleteIncomingPhoneNumber, NumberClaim, ReleaseNumber,
    UpdateIncomingPhoneNumber,
};
use switchboard_events::{Event, Metadata, Sid, SidPrefix};

/// How old a claim whose holder was never created must be before another create may take
/// it over: far longer than the gap between a create's two appends.
pub const STALE_CLAIM: chrono::Duration = chrono::Duration::seconds(60);

/// The claim stream of an E.164 number: `NC` and the first 128 bits of a SHA-256 of the
/// number, so every writer of one number meets in one stream.
pub fn claim_sid(e164: &str) -> Sid {
    let digest = Sha256::digest(format!("switchboard phone-number claim {e164}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Sid::from_u128(SidPrefix::NumberClaim, u128::from_be_bytes(bytes))
}

/// Folds a stream of the write model without writing (`evolve` sees each event's account).
async fn load<S>(
    commands: &Commands,
    stream: &str,
    evolve: impl Fn(Option<S>, &Sid, DateTime<Utc>, &Event) -> Option<S>,
) -> Result<Option<S>, ReadError> {
    let mut state = None;
    for r in commands.log().read_stream(stream).await? {
        let e = r.decode().map_err(|e| {
            ReadError::Damaged(Damaged {
                position: r.position,
                stream: Some(r.stream.clone()),
                reason: e.to_string(),
            })
        })?;
        state = evolve(state, &e.account_sid, e.occurred_at, &e.event);
    }
    Ok(state)
}

/// A number as its stream has it.
pub async fn load_number(
    commands: &Commands,
    sid: &Sid,
) -> Result<Option<IncomingPhoneNumber>, ReadError> {
    load(commands, sid.as_str(), |s, a, at, e| {
        number::evolve(s, sid, a, at, e)
    })
    .await
}

/// An application as its stream has it.
pub async fn load_application(
    commands: &Commands,
    sid: &Sid,
) -> Result<Option<Application>, ReadError> {
    load(commands, sid.as_str(), |s, a, at, e| {
        application::evolve(s, sid, a, at, e)
    })
    .await
}

/// The applications a request names (unparseable or missing ones are left out: the decider
/// refuses them by name).
pub async fn named_applications(
    commands: &Commands,
    sids: &[Option<&str>],
) -> Result<Vec<Application>, ReadError> {
    let mut found = Vec::new();
    for raw in sids.iter().flatten() {
        if let Ok(sid) = Sid::parse_as(raw, SidPrefix::Application) {
            if let Some(app) = load_application(commands, &sid).await? {
                found.push(app);
            }
        }
    }
    Ok(found)
}

/// The holder of `claim` if it may be taken over: deleted, or never created and older than
/// [`STALE_CLAIM`].
pub async fn stale_holder(
    commands: &Commands,
    claim: &NumberClaim,
    now: DateTime<Utc>,
) -> Result<Option<Sid>, ReadError> {
    let Some(holder) = &claim.holder else {
        return Ok(None);
    };
    let stale = match load_number(commands, holder).await? {
        Some(n) => n.deleted,
        None => claim.claimed_at.is_some_and(|at| now - at > STALE_CLAIM),
    };
    Ok(stale.then(|| holder.clone()))
}

/// Creates a number (module doc). Returns where its event landed and the number.
pub async fn create_number(
    commands: &Commands,
    meta: &Metadata,
    command: &CreateIncomingPhoneNumber,
) -> Result<(Executed, IncomingPhoneNumber), CommandError<NumberError>> {
    // Refuse before claiming: a request that cannot be created must not hold the number.
    command.decide(None).map_err(CommandError::Domain)?;
    let e164 = command.e164().map_err(CommandError::Domain)?;
    let claim_stream = claim_sid(&e164);
    let current = load(commands, claim_stream.as_str(), claim::evolve)
        .await
        .map_err(CommandError::Read)?;
    let stale = match &current {
        Some(c) => stale_holder(commands, c, meta.occurred_at)
            .await
            .map_err(CommandError::Read)?,
        None => None,
    };
    let claim = ClaimNumber {
        phone_number: e164,
        phone_number_sid: command.sid.clone(),
        stale_holder: stale,
    };
    commands
        .execute_as(claim_stream.as_str(), meta, claim::evolve, |s| {
            claim.decide(s)
        })
        .await?;
    let sid = command.sid.clone();
    let created = commands
        .execute_as(
            sid.as_str(),
            meta,
            |s, a, at, e| number::evolve(s, &sid, a, at, e),
            |s| command.decide(s),
        )
        .await;
    match created {
        Ok((executed, Some(n))) => Ok((executed, n)),
        Ok((_, None)) => Err(CommandError::Domain(NumberError::NotFound(sid))),
        Err(e) => {
            // Best effort: were this to fail too, the claim is stale and taken over later.
            let release = ReleaseNumber {
                phone_number_sid: sid.clone(),
            };
            let _ = commands
                .execute_as(claim_stream.as_str(), meta, claim::evolve, |s| {
                    release.decide(s)
                })
                .await;
            Err(e)
        }
    }
}

/// Updates a number: its applications are loaded from the write model first.
pub async fn update_number(
    commands: &Commands,
    meta: &Metadata,
    command: &mut UpdateIncomingPhoneNumber,
) -> Result<(Executed, IncomingPhoneNumber), CommandError<NumberError>> {
    command.applications = named_applications(
        commands,
        &[
            command.voice_application_sid.as_deref(),
            command.sms_application_sid.as_deref(),
        ],
    )
    .await
    .map_err(CommandError::Read)?;
    let sid = command.sid.clone();
    let command = &*command;
    let (executed, after) = commands
        .execute_as(
            sid.as_str(),
            meta,
            |s, a, at, e| number::evolve(s, &sid, a, at, e),
            |s| command.decide(s),
        )
        .await?;
    let n = after.ok_or(CommandError::Domain(NumberError::NotFound(sid)))?;
    Ok((executed, n))
}

/// Deletes a number and releases its claim (module doc).
pub async fn delete_number(
    commands: &Commands,
    meta: &Metadata,
    command: &DeleteIncomingPhoneNumber,
) -> Result<Executed, CommandError<NumberError>> {
    let sid = command.sid.clone();
    let (executed, after) = commands
        .execute_as(
            sid.as_str(),
            meta,
            |s, a, at, e| number::evolve(s, &sid, a, at, e),
            |s| command.decide(s),
        )
        .await?;
    if let Some(n) = after {
        let release = ReleaseNumber {
            phone_number_sid: sid.clone(),
        };
        commands
            .execute_as(
                claim_sid(&n.phone_number).as_str(),
                meta,
                claim::evolve,
                |s| release.decide(s),
            )
            .await?;
    }
    Ok(executed)
}

/// Runs an application command on its stream.
pub async fn application_command(
    commands: &Commands,
    meta: &Metadata,
    sid: &Sid,
    decide: impl Fn(Option<&Application>) -> Result<Vec<Event>, ApplicationError>,
) -> Result<(Executed, Option<Application>), CommandError<ApplicationError>> {
    commands
        .execute_as(
            sid.as_str(),
            meta,
            |s, a, at, e| application::evolve(s, sid, a, at, e),
            decide,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::new_sid;
    use crate::log::memory::MemoryLog;
    use std::sync::Arc;
    use switchboard_events::application::SettingsChange;
    use uuid::Uuid;

    fn create(account: &Sid, number: &str) -> CreateIncomingPhoneNumber {
        CreateIncomingPhoneNumber {
            sid: new_sid(SidPrefix::PhoneNumber),
            account_sid: account.clone(),
            phone_number: number.into(),
            friendly_name: None,
            voice_application_sid: None,
            sms_application_sid: None,
            settings: SettingsChange::default(),
            applications: vec![],
        }
    }

    #[test]
    fn a_numbers_claim_stream_is_one_per_number_with_or_without_its_plus() {
        assert_eq!(claim_sid("+15551230000"), claim_sid("+15551230000"));
        assert_ne!(claim_sid("+15551230000"), claim_sid("+15551230001"));
        assert_eq!(claim_sid("+15551230000").prefix(), SidPrefix::NumberClaim);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn of_concurrent_creates_of_one_number_across_accounts_exactly_one_succeeds() {
        let commands = Commands::new(Arc::new(MemoryLog::default()), "us1".into());
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let commands = commands.clone();
                tokio::spawn(async move {
                    let account = Sid::from_u128(SidPrefix::Account, i);
                    let meta = commands.metadata(account.clone(), Uuid::now_v7());
                    // With and without the plus: the same number.
                    let raw = if i % 2 == 0 {
                        "+15551230000"
                    } else {
                        "15551230000"
                    };
                    create_number(&commands, &meta, &create(&account, raw)).await
                })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            match t.await.expect("joined") {
                Ok(_) => won += 1,
                Err(CommandError::Domain(NumberError::Taken(n))) => assert_eq!(n, "+15551230000"),
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(won, 1, "one account holds the number");
    }

    #[tokio::test]
    async fn a_deleted_number_is_free_again_and_a_stale_claim_is_taken_over() {
        let commands = Commands::new(Arc::new(MemoryLog::default()), "us1".into());
        let a = Sid::from_u128(SidPrefix::Account, 1);
        let b = Sid::from_u128(SidPrefix::Account, 2);
        let meta_a = commands.metadata(a.clone(), Uuid::now_v7());
        let meta_b = commands.metadata(b.clone(), Uuid::now_v7());
        let (_, n) = create_number(&commands, &meta_a, &create(&a, "+15550000001"))
            .await
            .expect("created");
        assert!(matches!(
            create_number(&commands, &meta_b, &create(&b, "+15550000001")).await,
            Err(CommandError::Domain(NumberError::Taken(_)))
        ));
        let delete = DeleteIncomingPhoneNumber {
            sid: n.sid.clone(),
            account_sid: a.clone(),
        };
        delete_number(&commands, &meta_a, &delete)
            .await
            .expect("deleted");
        let (_, theirs) = create_number(&commands, &meta_b, &create(&b, "+15550000001"))
            .await
            .expect("free again");
        assert_eq!(theirs.account_sid, b);

        // A claim whose holder never got created (its writer died after claiming).
        let orphan = ClaimNumber {
            phone_number: "+15550000002".into(),
            phone_number_sid: new_sid(SidPrefix::PhoneNumber),
            stale_holder: None,
        };
        let claim_stream = claim_sid("+15550000002");
        commands
            .execute_as(claim_stream.as_str(), &meta_a, claim::evolve, |s| {
                orphan.decide(s)
            })
            .await
            .expect("claimed");
        assert!(
            create_number(&commands, &meta_b, &create(&b, "+15550000002"))
                .await
                .is_err(),
            "a fresh claim is respected"
        );
        let mut later = meta_b.clone();
        later.occurred_at = meta_b.occurred_at + STALE_CLAIM + chrono::Duration::seconds(1);
        assert!(
            create_number(&commands, &later, &create(&b, "+15550000002"))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_refused_create_claims_nothing() {
        let commands = Commands::new(Arc::new(MemoryLog::default()), "us1".into());
        let a = Sid::from_u128(SidPrefix::Account, 1);
        let meta = commands.metadata(a.clone(), Uuid::now_v7());
        let mut bad = create(&a, "+15550000003");
        bad.settings.voice_method = Some("PUT".into());
        assert!(create_number(&commands, &meta, &bad).await.is_err());
        let stream = commands
            .log()
            .read_stream(claim_sid("+15550000003").as_str())
            .await
            .expect("read");
        assert!(stream.is_empty());
    }
}
