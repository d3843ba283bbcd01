//! The subcommands besides `serve`: accounts and projections, working directly on the data
//! dir (the log refuses a second writer while a server holds it; `accounts create` then goes
//! through that server's operator API, [`crate::operator::client`]).

use crate::commands::{new_sid, Commands};
use crate::config::{operator_token_path, AccountsCommand, ProjectionsCommand};
use crate::http::accounts::account_json;
use crate::operator::client::{self, NewAccount};
use crate::projector::Projector;
use crate::server::{open, Opened};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::sync::Arc;
use switchboard_events::{Sid, SidPrefix};
use switchboard_projections::{accounts, Projection};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// `switchboard accounts …`
pub async fn accounts(cmd: AccountsCommand) -> anyhow::Result<()> {
    match cmd {
        AccountsCommand::Create {
            friendly_name,
            secret_key_file,
            server_url,
            operator_token,
            operator_token_file,
            mut store,
        } => {
            // Not a standby: a held Kafka lease means a writer runs, so go through it at once
            // rather than wait `--kafka-lease-wait-ms` (which the writer's own environment,
            // where this may run, sets high).
            store.kafka_lease_wait_ms = 0;
            let created = match open(&store, true).await {
                Ok(opened) => {
                    let key_path =
                        secret_key_file.unwrap_or_else(|| store.data_dir.join("secret.key"));
                    create_directly(opened, &key_path, friendly_name).await?
                }
                // A server holds the log: it creates the account (see `operator::client`).
                Err(refusal) if client::held_by_a_server(&refusal) => {
                    let file = operator_token_path(&operator_token_file, &store);
                    let through_server = async {
                        let token = client::operator_token(operator_token, &file)?;
                        client::create_account(&server_url, &token, &friendly_name).await
                    };
                    through_server.await.map_err(|why| {
                        anyhow::anyhow!(
                            "{refusal:#}; creating the account through that server's operator \
                             API (--server-url {server_url}) failed too: {why:#}"
                        )
                    })?
                }
                Err(e) => return Err(e),
            };
            println!("{}", created.to_json());
            Ok(())
        }
        AccountsCommand::List { store } => {
            let opened = open(&store, false).await?;
            catch_up(&opened, None, false).await?;
            let mut conn = opened.store.pool().acquire().await?;
            for row in accounts::list_all(&mut conn).await? {
                println!("{}", account_json(&row.account, None));
            }
            drop(conn);
            opened.close().await;
            Ok(())
        }
    }
}

/// `accounts create` on a log no server holds: the account is written here, its token
/// sealed under the key at `key_path`.
async fn create_directly(
    opened: Opened,
    key_path: &std::path::Path,
    friendly_name: String,
) -> anyhow::Result<NewAccount> {
    // The key before anything is written: no account is made whose token cannot be sealed.
    let keyring = match crate::secrets::Keyring::load(key_path, &[]) {
        Ok((keyring, _)) => keyring,
        Err(e) => {
            opened.close().await;
            return Err(e.into());
        }
    };
    let sid = new_sid(SidPrefix::Account);
    let commands = Commands::new(opened.log.clone(), "local".into());
    let meta = commands.metadata(sid.clone(), Uuid::now_v7());
    let created = match commands
        .create_account(&keyring, sid, &meta, friendly_name, None)
        .await
    {
        Ok(created) => catch_up(&opened, None, false).await.map(|()| created),
        Err(e) => Err(anyhow::anyhow!("cannot create the account: {e}")),
    };
    opened.close().await;
    let created = created?;
    Ok(NewAccount {
        sid: created.account.sid.to_string(),
        auth_token: created.auth_token,
        friendly_name: created.account.friendly_name,
        status: created.account.status.as_str().to_string(),
    })
}

fn selected(projector: &Projector, name: Option<&str>) -> anyhow::Result<Vec<Arc<dyn Projection>>> {
    let all = projector.projections().to_vec();
    match name {
        None => Ok(all),
        Some(n) => {
            let found: Vec<_> = all.into_iter().filter(|p| p.name() == n).collect();
            if found.is_empty() {
                let names: Vec<_> = projector.projections().iter().map(|p| p.name()).collect();
                anyhow::bail!("no projection named {n:?}; there are: {}", names.join(", "));
            }
            Ok(found)
        }
    }
}

/// Applies the log up to its current head to the named projections (all when `None`),
/// with a progress bar when `show`.
async fn catch_up(opened: &Opened, name: Option<&str>, show: bool) -> anyhow::Result<()> {
    let heads = opened.log.heads().await?;
    let total: u64 = heads.values().sum();
    for projection in selected(&opened.projector, name)? {
        let bar = if show {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:>12} [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(projection.name());
            bar
        } else {
            ProgressBar::hidden()
        };
        opened
            .projector
            .run(
                projection.clone(),
                Some(heads.clone()),
                CancellationToken::new(),
                |cp| {
                    bar.set_position(cp.values().sum());
                },
            )
            .await;
        bar.finish();
    }
    Ok(())
}

/// `switchboard projections …`
pub async fn projections(cmd: ProjectionsCommand) -> anyhow::Result<()> {
    match cmd {
        ProjectionsCommand::Rebuild { name, store } => {
            let opened = open(&store, false).await?;
            for p in selected(&opened.projector, name.as_deref())? {
                opened.store.reset(p.as_ref()).await?;
            }
            let started = std::time::Instant::now();
            catch_up(&opened, name.as_deref(), true).await?;
            eprintln!("rebuilt in {:.2?}", started.elapsed());
            opened.close().await;
            Ok(())
        }
        ProjectionsCommand::Digest { name, store } => {
            let opened = open(&store, false).await?;
            catch_up(&opened, name.as_deref(), false).await?;
            let mut out = serde_json::Map::new();
            for p in selected(&opened.projector, name.as_deref())? {
                out.insert(
                    p.name().to_string(),
                    json!(opened.store.digest(p.as_ref()).await?),
                );
            }
            println!("{}", serde_json::Value::Object(out));
            opened.close().await;
            Ok(())
        }
        ProjectionsCommand::Status { store } => {
            let opened = open(&store, false).await?;
            let heads = opened.log.heads().await?;
            let mut out = serde_json::Map::new();
            for p in opened.projector.projections() {
                let skipped: Vec<_> = opened
                    .store
                    .skipped(p.name())
                    .await?
                    .into_iter()
                    .map(|(pos, stream, reason)| json!({"position": pos.to_string(), "stream": stream, "reason": reason}))
                    .collect();
                out.insert(
                    p.name().to_string(),
                    json!({
                        "version": p.version(),
                        "checkpoint": opened.store.checkpoint(p.name()).await?,
                        "skipped": skipped,
                    }),
                );
            }
            println!("{}", json!({"log_head": heads, "projections": out}));
            opened.close().await;
            Ok(())
        }
    }
}

/// `switchboard tail`: the events of one topic (category) as JSON lines, each checked
/// against `schemas/envelope.json` and its type's schema; a record that fails is reported on
/// stderr and the command exits non-zero at the end.
pub async fn tail(args: crate::config::TailArgs) -> anyhow::Result<()> {
    use futures::StreamExt;
    use std::io::Write;
    let category = args
        .topic
        .strip_prefix(&format!("{}.", args.store.kafka_topic_prefix))
        .unwrap_or(&args.topic)
        .to_string();
    if !crate::log::kafka::CATEGORIES.contains(&category.as_str()) {
        anyhow::bail!(
            "no topic {:?}: topics are {}.{{{}}}",
            args.topic,
            args.store.kafka_topic_prefix,
            crate::log::kafka::CATEGORIES.join(",")
        );
    }
    let opened = open(&args.store, false).await?;
    let heads = opened.log.heads().await?;
    let from = if args.from_beginning {
        Default::default()
    } else {
        heads.clone()
    };
    let validator = crate::schemas::Validator::new()?;
    let mut seen = from.clone();
    let mut invalid = 0usize;
    let mut sub = opened.log.subscribe(from);
    let stdout = std::io::stdout();
    loop {
        if args.exit_at_end && crate::projector::caught_up(&seen, &heads) {
            break;
        }
        let Some(batch) = sub.next().await else { break };
        let mut out = stdout.lock();
        for item in batch? {
            match item {
                Ok(event) => {
                    seen.insert(event.position.partition, event.position.offset);
                    let in_category =
                        Sid::parse(&event.stream).is_ok_and(|s| s.prefix().category() == category);
                    if !in_category {
                        continue;
                    }
                    let json = match event.decode() {
                        Ok(envelope) => serde_json::to_value(&envelope)?,
                        Err(e) => {
                            invalid += 1;
                            eprintln!("event at {} cannot be read: {e}", event.position);
                            continue;
                        }
                    };
                    if let Err(e) = validator.check(&json) {
                        invalid += 1;
                        eprintln!("event at {} does not match its schema: {e}", event.position);
                    }
                    writeln!(out, "{json}")?;
                }
                Err(damaged) => {
                    seen.insert(damaged.position.partition, damaged.position.offset);
                    eprintln!("{damaged}");
                }
            }
        }
        out.flush()?;
    }
    opened.close().await;
    if invalid > 0 {
        anyhow::bail!("{invalid} events did not match their schemas");
    }
    Ok(())
}

/// `switchboard call`: places one call from a SIP engine of its own (see [`crate::sip`]),
/// prints `{call_sid, answered, status, sip_code, reason}` and fails unless the callee
/// answered and the call completed.
pub async fn call(args: crate::config::CallArgs) -> anyhow::Result<()> {
    use crate::sip::{outbound::DialRequest, SipConfig, SipEngine};
    use switchboard_telephony::g711::Law;
    let codecs = args
        .codecs
        .iter()
        .map(|c| {
            Law::from_encoding_name(c)
                .or(match c.to_ascii_lowercase().as_str() {
                    "ulaw" => Some(Law::Ulaw),
                    "alaw" => Some(Law::Alaw),
                    _ => None,
                })
                .with_context(|| format!("--codecs: {c:?} is not pcmu or pcma"))
        })
        .collect::<anyhow::Result<Vec<Law>>>()?;
    if codecs.is_empty() {
        anyhow::bail!("--codecs needs at least one of pcmu, pcma");
    }
    let opened = open(&args.store, true).await?;
    let commands = Commands::new(opened.log.clone(), "local".into());
    let engine = SipEngine::start(
        SipConfig {
            listen: args.sip_addr,
            external: args.sip_external_addr,
            rtp_ports: args.rtp_ports,
            max_calls: 1,
            retry_after_secs: 5,
        },
        commands,
        // Nothing is meant to call this engine: it owns no number, so an INVITE gets 404.
        std::sync::Arc::new(crate::voice::Voice {
            directory: std::sync::Arc::new(crate::voice::numbers::MemoryDirectory::new()),
            fetcher: std::sync::Arc::new(crate::voice::fetch::Fetcher::new(
                crate::voice::fetch::Fetcher::client(),
                std::sync::Arc::new(crate::app::outbox::unsigned::NoTokens),
            )),
            resolver: std::sync::Arc::new(crate::media::resolver::LocalResolver::new(
                reqwest::Client::new(),
                "espeak-ng".into(),
            )),
            trunk: None,
        }),
    )
    .await?;
    let from = args.from.clone().unwrap_or_else(|| {
        format!(
            "sip:switchboard@{}",
            args.sip_external_addr.unwrap_or(engine.local_addr.ip())
        )
    });
    let request = DialRequest {
        to: args.to.clone(),
        from,
        account: args.account.clone(),
        ring_timeout: std::time::Duration::from_secs(args.ring_timeout_secs),
        codecs,
        parent: None,
    };
    let hang_up_after = args
        .hang_up_after_secs
        .map(std::time::Duration::from_secs_f64);
    let placed = tokio::select! {
        placed = engine.place(request, &args.media, hang_up_after) => Some(placed),
        _ = tokio::signal::ctrl_c() => None,
    };
    // On Ctrl-C the engine's stop hangs the call up and records its end.
    engine.stop().await;
    opened.close().await;
    let Some(placed) = placed else {
        anyhow::bail!("interrupted: the call was hung up");
    };
    let placed = placed?;
    println!(
        "{}",
        json!({
            "call_sid": placed.call_sid,
            "answered": placed.answered,
            "status": placed.status,
            "sip_code": placed.sip_code,
            "reason": placed.reason,
        })
    );
    if !placed.answered {
        anyhow::bail!("the call was not answered: {}", placed.reason);
    }
    Ok(())
}
