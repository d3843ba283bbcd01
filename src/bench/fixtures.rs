//! What the benchmarks run on: scratch directories, the sample event every log benchmark
//! appends, stream SIDs, and fresh PostgreSQL databases.
//!
//! Invariant: every run starts from nothing of a previous one (new directories, new SIDs,
//! new databases) and leaves nothing behind: a [`Scratch`] directory is removed when it is
//! dropped, also when the benchmark fails half-way; a database from [`pg_fresh`] is its
//! caller's to drop with [`pg_drop`] once done.

use sqlx::Connection;
use std::path::{Path, PathBuf};
use switchboard_events::account::{AccountStatus, AccountUpdated};
use switchboard_events::{Event, Metadata, NewEvent, Sid, SidPrefix};
use uuid::Uuid;

/// A scratch directory of its own in the system's temporary directory, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new, empty directory `switchboard-bench-{name}-{uuid}`.
    pub fn new(name: &str) -> anyhow::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("switchboard-bench-{name}-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `name` inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The event the log benchmarks append: an account rename of a fixed size (a 64-character
/// name), event `i` of `stream`.
pub fn sample_event(stream: &Sid, i: u64) -> NewEvent {
    let meta = Metadata {
        occurred_at: crate::commands::now_ms(),
        account_sid: stream.clone(),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        region: "bench".into(),
    };
    let event = Event::AccountUpdated(AccountUpdated {
        friendly_name: Some(format!("{:0>64}", format!("benchmark event number {i}"))),
        status: Some(AccountStatus::Active),
    });
    NewEvent::new(Uuid::now_v7(), &meta, &event)
}

/// `n` new account SIDs, the streams a baseline spreads its events over.
pub fn account_streams(n: usize) -> Vec<Sid> {
    (0..n)
        .map(|_| crate::commands::new_sid(SidPrefix::Account))
        .collect()
}

/// A database of its own on the benchmark's PostgreSQL server (`admin` may create
/// databases): its URL and its name, for [`pg_drop`].
pub async fn pg_fresh(admin: &str) -> anyhow::Result<(String, String)> {
    let name = format!("sb_bench_{}", Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    Ok((format!("{base}/{name}"), name))
}

/// Drops a database [`pg_fresh`] made, whoever is still connected to it.
pub async fn pg_drop(admin: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// `switchboard accounts create` (our own executable) on the data directory `data`, before a
/// server opens it: the new account as printed (`sid`, `auth_token`, …).
pub fn create_account(exe: &Path, data: &str) -> anyhow::Result<serde_json::Value> {
    let created = std::process::Command::new(exe)
        .args([
            "accounts",
            "create",
            "--friendly-name",
            "bench",
            "--data-dir",
            data,
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| anyhow::anyhow!("create the bench account: {e}"))?;
    anyhow::ensure!(
        created.status.success(),
        "switchboard accounts create failed"
    );
    Ok(serde_json::from_slice(&created.stdout)?)
}

/// `switchboard serve ARGS` (our own executable) as a child process logging to `log`, once it
/// printed a line starting with `ready` (at most 30 s): the child and the rest of that line.
pub fn spawn_serve(
    exe: &Path,
    args: &[&str],
    log: std::fs::File,
    ready: &'static str,
) -> anyhow::Result<(std::process::Child, String)> {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    spawn_child(exe, &all, log, ready)
}

/// Our own executable with `args` as a child process logging to `log`, once it printed a line
/// starting with `ready` (at most 30 s): the child and the rest of that line.
pub fn spawn_child(
    exe: &Path,
    args: &[&str],
    log: std::fs::File,
    ready: &'static str,
) -> anyhow::Result<(std::process::Child, String)> {
    use std::io::{BufRead, BufReader};
    let what = args.first().copied().unwrap_or("switchboard");
    let mut child = std::process::Command::new(exe)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| anyhow::anyhow!("start switchboard {what}: {e}"))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout from switchboard {what}"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(ready) {
                let _ = tx.send(rest.trim().to_string());
            }
        }
    });
    match rx.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok(rest) => Ok((child, rest)),
        Err(_) => {
            let _ = child.kill();
            anyhow::bail!("switchboard {what} did not print {ready:?} within 30 s (see its log)")
        }
    }
}
