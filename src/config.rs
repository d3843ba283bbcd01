//! Command-line flags, each with a matching environment variable (`SWITCHBOARD_…`). Parsed
//! once in `main`; typed structs are passed down.

use crate::log::sqlite::Durability;
use crate::taskrouter::TaskRouterLimits;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// switchboard: an event-sourced contact-center backend with a Twilio-shaped API.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (HTTP API) on the log and the read-model store.
    Serve(ServeArgs),
    /// Manage accounts: directly on the data dir, or through the running server's operator
    /// API while a server holds the log (`accounts create`).
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Inspect and rebuild read models.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Place one SIP call from a SIP engine of this command's own, run a behaviour on it
    /// once answered (echo, collect, play a WAV), and print how it ended as JSON. Its events
    /// go to the log like any call's.
    Call(CallArgs),
    /// Print the events of one topic as JSON lines (envelopes, each validated against its
    /// schema): `tail --topic switchboard.metering` is the billing consumer's view.
    Tail(TailArgs),
    /// Benchmarks that print their figures next to a baseline measured in the same run.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// Where the log and the read models live: shared by every subcommand that touches them.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory for the embedded log and read models.
    #[arg(
        long,
        env = "SWITCHBOARD_DATA_DIR",
        default_value = "./switchboard-data"
    )]
    pub data_dir: PathBuf,
    /// The event log: `sqlite://PATH` or `postgres://USER:PASSWORD@HOST:PORT/DB`.
    /// Default: `log.sqlite` in the data dir.
    #[arg(long = "log", env = "SWITCHBOARD_LOG")]
    pub log_url: Option<String>,
    /// The read-model store: `sqlite://PATH` or `postgres://…`. Default: `projections.sqlite`
    /// in the data dir.
    #[arg(long = "db", env = "SWITCHBOARD_DB")]
    pub db_url: Option<String>,
    /// Connections in the read-model store's pool. Default: 4 on SQLite (one writer at a
    /// time, so more only queue on the file lock) and 16 on PostgreSQL (writers run
    /// concurrently).
    #[arg(long, env = "SWITCHBOARD_DB_POOL_SIZE", value_parser = clap::value_parser!(u32).range(1..))]
    pub db_pool_size: Option<u32>,
    /// Which read models this process projects (names: accounts, workspaces, taskrouter;
    /// default all). Another process can run the rest against the same store.
    #[arg(long, env = "SWITCHBOARD_PROJECTIONS", value_delimiter = ',')]
    pub projections: Vec<String>,
    /// `full`: fsync every commit before acknowledging (survives power loss). `normal`:
    /// survives a process crash, may lose the last commits on power loss; several times faster.
    #[arg(
        long,
        env = "SWITCHBOARD_DURABILITY",
        value_enum,
        default_value = "full"
    )]
    pub durability: Durability,
    /// Kafka log: topics are `{prefix}.{category}`.
    #[arg(
        long,
        env = "SWITCHBOARD_KAFKA_TOPIC_PREFIX",
        default_value = "switchboard"
    )]
    pub kafka_topic_prefix: String,
    /// Kafka log: partitions of each topic created at start (fix it up front: changing it
    /// moves streams between partitions).
    #[arg(long, env = "SWITCHBOARD_KAFKA_PARTITIONS", default_value_t = 3)]
    pub kafka_partitions: i32,
    /// Kafka log: replication factor of topics created at start.
    #[arg(long, env = "SWITCHBOARD_KAFKA_REPLICATION", default_value_t = 1)]
    pub kafka_replication: i32,
    /// Kafka log: how long the writer lease (held in the `--db` store) lasts unless renewed
    /// (milliseconds); a writer that dies is replaced after at most this long.
    #[arg(long, env = "SWITCHBOARD_KAFKA_LEASE_MS", default_value_t = 10_000)]
    pub kafka_lease_ms: u64,
    /// Kafka log: how long a writer waits for a lease another writer holds before giving up
    /// (milliseconds; 0 refuses at once). A standby writer sets it high. `accounts create`
    /// never waits: a held lease sends it to the running writer.
    #[arg(long, env = "SWITCHBOARD_KAFKA_LEASE_WAIT_MS", default_value_t = 0)]
    pub kafka_lease_wait_ms: u64,
    /// Days TaskRouter's `/Events` keeps an event, counted back from the newest event the
    /// read model has applied rather than the wall clock, so a rebuild keeps the same rows
    /// (default 30: Twilio's retention). Every process projecting `taskrouter` (and a rebuild)
    /// must use the same value.
    #[arg(
        long,
        env = "SWITCHBOARD_TASKROUTER_EVENTS_RETENTION_DAYS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub taskrouter_events_retention_days: u32,
}

impl StoreArgs {
    /// `--taskrouter-events-retention-days` as a duration.
    pub fn taskrouter_events_retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.taskrouter_events_retention_days) * 24 * 3600)
    }

    /// Which log backend the flags name.
    pub fn log_backend(&self) -> anyhow::Result<LogBackend> {
        match &self.log_url {
            None => Ok(LogBackend::Sqlite(self.data_dir.join("log.sqlite"))),
            Some(url) => {
                if let Some(path) = url.strip_prefix("sqlite://").filter(|p| !p.is_empty()) {
                    Ok(LogBackend::Sqlite(PathBuf::from(path)))
                } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                    Ok(LogBackend::Postgres(url.clone()))
                } else if let Some(brokers) = url.strip_prefix("kafka://").filter(|b| !b.is_empty())
                {
                    Ok(LogBackend::Kafka(brokers.trim_end_matches('/').to_string()))
                } else {
                    anyhow::bail!(
                        "unsupported --log {url:?}: use sqlite://PATH, postgres://… or kafka://HOST:PORT[,HOST:PORT]"
                    )
                }
            }
        }
    }

    /// The read-model store's URL.
    pub fn db_url(&self) -> anyhow::Result<String> {
        std::fs::create_dir_all(&self.data_dir)?;
        Ok(match &self.db_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("projections.sqlite").display()
            ),
        })
    }
}

impl ServeArgs {
    /// The outbox store's URL (see `--outbox-db`).
    pub fn outbox_url(&self) -> anyhow::Result<String> {
        let db = self.store.db_url()?;
        Ok(match &self.outbox_db_url {
            Some(url) => url.clone(),
            None if db.starts_with("postgres") => db,
            None => format!(
                "sqlite://{}?mode=rwc",
                self.store.data_dir.join("outbox.sqlite").display()
            ),
        })
    }
}

/// A log backend and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogBackend {
    /// The embedded log, a SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database URL.
    Postgres(String),
    /// Kafka bootstrap servers, `host:port[,host:port]`.
    Kafka(String),
}

/// A component `serve` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Holds the log's writer lease and appends (one per Kafka log).
    Writer,
    /// Serves the HTTP API.
    Api,
    /// Folds the log into the read models.
    Projector,
}

/// `switchboard serve`
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Log and read-model store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Which components run in this process: `writer` (appends; with Kafka, one node holds
    /// the writer lease), `api` (HTTP API), `projector` (read models).
    #[arg(
        long,
        env = "SWITCHBOARD_ROLES",
        value_enum,
        value_delimiter = ',',
        default_value = "writer,api,projector"
    )]
    pub roles: Vec<Role>,
    /// Without the `writer` role: the base URL of the writer node's API; commands (POST,
    /// DELETE) and every TaskRouter request are forwarded there, other reads are served here.
    #[arg(long, env = "SWITCHBOARD_WRITER_URL")]
    pub writer_url: Option<String>,
    /// Address for the HTTP API (`127.0.0.1:0` picks a free port; the bound address is printed).
    #[arg(long, env = "SWITCHBOARD_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Base of every absolute URL the API emits. Default: `http://` + the bound HTTP address.
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Region recorded on every event this node appends.
    #[arg(long, env = "SWITCHBOARD_REGION", default_value = "local")]
    pub region: String,
    /// How long a read waits for the read models to reach the caller's last write before it
    /// answers from what they hold (milliseconds).
    #[arg(long, env = "SWITCHBOARD_READ_WAIT_MS", default_value_t = 2000)]
    pub read_wait_ms: u64,
    /// Longest time one HTTP request may take (seconds).
    #[arg(long, env = "SWITCHBOARD_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Largest accepted request body (bytes).
    #[arg(long, env = "SWITCHBOARD_BODY_LIMIT", default_value_t = 1 << 20)]
    pub body_limit: usize,
    /// The server key secrets are sealed under (32 random bytes, kept outside the log; every
    /// node of one deployment needs the same file). Created with mode 0600 when missing.
    /// Default: `DATA_DIR/secret.key`.
    #[arg(long, env = "SWITCHBOARD_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Keys replaced by a rotation, comma-separated: they open what they sealed, never seal.
    #[arg(
        long,
        env = "SWITCHBOARD_SECRET_KEY_PREVIOUS_FILES",
        value_delimiter = ','
    )]
    pub secret_key_previous_files: Vec<PathBuf>,
    /// The operator token file: the credential of the operator API (`/operator/v1/Accounts`,
    /// HTTP Basic `operator:TOKEN`), kept outside the log. Created (mode 0600, one random
    /// token) when missing; every line is a token it takes, the first is the one
    /// `accounts create` sends; read again on every operator request, so a rotation needs no
    /// restart. The same file on every node. Default: `DATA_DIR/operator.token`.
    #[arg(long, env = "SWITCHBOARD_OPERATOR_TOKEN_FILE")]
    pub operator_token_file: Option<PathBuf>,
    /// Longest accepted request URI, path and query (bytes); longer ones get 414. Keep it
    /// under 65534, hyper's own limit, so the answer is in Twilio's shape.
    #[arg(long, env = "SWITCHBOARD_URI_LIMIT", default_value_t = crate::http::limits::DEFAULT_URI_LIMIT)]
    pub uri_limit: usize,
    /// Webhook requests (assignment and event callbacks) in flight at once from the outbox;
    /// the rows of one workspace's event callbacks still go one at a time, in order.
    #[arg(
        long,
        env = "SWITCHBOARD_OUTBOX_CONCURRENCY",
        default_value_t = crate::app::outbox::DEFAULT_CONCURRENCY,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub outbox_concurrency: usize,
    /// Where the outbox (webhooks not yet delivered) and the process-manager runner's
    /// checkpoint live: `sqlite://PATH` or `postgres://…`. Default: the `--db` store on
    /// PostgreSQL; on SQLite `outbox.sqlite` in the data dir, a file of its own, because
    /// SQLite takes one writer per file and the read models' transactions would otherwise
    /// hold every webhook up.
    #[arg(long = "outbox-db", env = "SWITCHBOARD_OUTBOX_DB")]
    pub outbox_db_url: Option<String>,
    /// TaskRouter: the workspace actors' limits.
    #[command(flatten)]
    pub taskrouter: TaskRouterArgs,
    /// Telephony: the SIP engine's flags (boxed: they would make `ServeArgs` the one huge
    /// variant of `Command`).
    #[command(flatten)]
    pub sip: Box<SipArgs>,
}

impl ServeArgs {
    /// `--secret-key-file`, or `secret.key` in the data directory.
    pub fn secret_key_path(&self) -> PathBuf {
        self.secret_key_file
            .clone()
            .unwrap_or_else(|| self.store.data_dir.join("secret.key"))
    }

    /// `--operator-token-file`, or `operator.token` in the data directory.
    pub fn operator_token_path(&self) -> PathBuf {
        operator_token_path(&self.operator_token_file, &self.store)
    }
}

/// `file`, or `operator.token` in the store's data directory (`serve` and `accounts create`
/// agree on the default).
pub fn operator_token_path(file: &Option<PathBuf>, store: &StoreArgs) -> PathBuf {
    file.clone()
        .unwrap_or_else(|| store.data_dir.join("operator.token"))
}

/// TaskRouter's limits (`--taskrouter-…`); every default is today's value, explained on
/// [`TaskRouterLimits::DEFAULT`].
#[derive(Debug, Clone, Args)]
pub struct TaskRouterArgs {
    /// Most commands a workspace actor decides into one append (default 512: a burst is one
    /// commit, and no caller waits behind an unbounded one).
    #[arg(
        long,
        env = "SWITCHBOARD_TASKROUTER_BATCH",
        default_value_t = TaskRouterLimits::DEFAULT.batch,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub taskrouter_batch: usize,
    /// Requests queued for one workspace actor before callers wait to hand theirs over
    /// (default 4096).
    #[arg(
        long,
        env = "SWITCHBOARD_TASKROUTER_MAILBOX",
        default_value_t = TaskRouterLimits::DEFAULT.mailbox,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub taskrouter_mailbox: usize,
    /// The timers' resolution, milliseconds: the shortest gap between two timer batches of a
    /// workspace actor. Actors wake at their earliest due time (reservation and workflow
    /// timeouts, task TTLs, closed-task retention), not on a period; this only keeps a run of
    /// due times from waking one more often (default 1000, as TaskRouter's timeouts are whole
    /// seconds).
    #[arg(
        long,
        env = "SWITCHBOARD_TASKROUTER_TICK_MS",
        default_value_t = TaskRouterLimits::DEFAULT.tick.as_millis() as u64,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub taskrouter_tick_ms: u64,
    /// Seconds a completed or canceled task stays readable before `task.system-deleted`
    /// removes it and its reservations from the workspace (default 900: Twilio removes them
    /// after 15 minutes).
    #[arg(
        long,
        env = "SWITCHBOARD_TASKROUTER_CLOSED_TASK_RETENTION",
        default_value_t = TaskRouterLimits::DEFAULT.closed_task_retention.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub taskrouter_closed_task_retention: u64,
}

impl TaskRouterArgs {
    /// The limits these flags set.
    pub fn limits(&self) -> TaskRouterLimits {
        TaskRouterLimits {
            batch: self.taskrouter_batch,
            mailbox: self.taskrouter_mailbox,
            tick: Duration::from_millis(self.taskrouter_tick_ms),
            closed_task_retention: Duration::from_secs(self.taskrouter_closed_task_retention),
        }
    }
}

/// The telephony engine (`--sip-…`, `--rtp-…`, `--max-calls`, `--espeak`).
#[derive(Debug, Clone, Args)]
pub struct SipArgs {
    /// Address the SIP engine listens on, UDP and TCP on the same port (`127.0.0.1:0` picks a
    /// free port; it is printed as `switchboard sip listening on udp://… and tcp://…`). `off`
    /// runs no SIP engine.
    #[arg(long, env = "SWITCHBOARD_SIP_ADDR", default_value = "127.0.0.1:5060")]
    pub sip_addr: SipListen,
    /// The address peers must use to reach this node, written into SDP (`c=`, `o=`) and the
    /// Contact header. Default: the address `--sip-addr` is bound to (an unspecified bind
    /// address such as 0.0.0.0 needs this).
    #[arg(long, env = "SWITCHBOARD_SIP_EXTERNAL_ADDR")]
    pub sip_external_addr: Option<std::net::IpAddr>,
    /// The UDP ports RTP may use, `FIRST-LAST` inclusive. A call takes two (an even RTP port
    /// and the RTCP port above it), so the range holds at most half as many calls as ports.
    #[arg(long, env = "SWITCHBOARD_RTP_PORTS", default_value = "20000-20999")]
    pub rtp_ports: PortRange,
    /// Calls this node carries at once; the next INVITE gets `503 Service Unavailable` with
    /// `Retry-After` (as it does when the RTP port range is exhausted). Twice this many RTP
    /// ports should be in `--rtp-ports`.
    #[arg(long, env = "SWITCHBOARD_MAX_CALLS", default_value_t = 400)]
    pub max_calls: usize,
    /// The espeak-ng program `<Say>` speaks with (Debian's `espeak-ng` package).
    #[arg(long, env = "SWITCHBOARD_ESPEAK", default_value = "espeak-ng")]
    pub espeak: PathBuf,
    /// Seconds a caller is told to wait (`Retry-After`) when the node is at capacity.
    #[arg(long, env = "SWITCHBOARD_SIP_RETRY_AFTER_SECS", default_value_t = 5)]
    pub sip_retry_after_secs: u32,
    /// The operator's carrier: calls to telephone numbers (`<Dial><Number>`, `POST /Calls`
    /// with a number in `To`) go to `sip:NUMBER@` this host (`sip:HOST[:PORT][;transport=tcp]`).
    /// Without it, numbers are refused and only `sip:` targets are dialled.
    #[arg(long, env = "SWITCHBOARD_SIP_TRUNK", value_parser = crate::voice::trunk::Trunk::parse)]
    pub sip_trunk: Option<crate::voice::trunk::Trunk>,
}

/// `--sip-addr`: an address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SipListen {
    /// No SIP engine in this process.
    Off,
    /// Listen here.
    Udp(SocketAddr),
}

impl std::str::FromStr for SipListen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("off") {
            return Ok(SipListen::Off);
        }
        s.parse::<SocketAddr>()
            .map(SipListen::Udp)
            .map_err(|e| format!("{s:?} is not `off` or an ip:port address: {e}"))
    }
}

/// `--rtp-ports`: an inclusive UDP port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// The first port.
    pub first: u16,
    /// The last port (inclusive).
    pub last: u16,
}

impl std::str::FromStr for PortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("{s:?} is not FIRST-LAST (e.g. 20000-20999)"))?;
        let first: u16 = a
            .trim()
            .parse()
            .map_err(|e| format!("bad first port {a:?}: {e}"))?;
        let last: u16 = b
            .trim()
            .parse()
            .map_err(|e| format!("bad last port {b:?}: {e}"))?;
        if first == 0 || last <= first {
            return Err(format!(
                "{s:?}: the range needs 1 <= FIRST < LAST (two ports per call)"
            ));
        }
        Ok(PortRange { first, last })
    }
}

/// `switchboard call --media`: what a call the command places does once answered. Inbound
/// calls run their number's TwiML application instead (`crate::voice`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallBehaviour {
    /// Relay every received RTP packet back to where it came from.
    Echo,
    /// Play this WAV file, then hang up.
    Play(PathBuf),
    /// Record digits; keep the call up until the caller hangs up.
    Collect,
}

impl std::str::FromStr for CallBehaviour {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "echo" => Ok(CallBehaviour::Echo),
            "collect" => Ok(CallBehaviour::Collect),
            _ => {
                if let Some(path) = s.strip_prefix("play:").filter(|p| !p.is_empty()) {
                    return Ok(CallBehaviour::Play(PathBuf::from(path)));
                }
                Err(format!("{s:?} is not `echo`, `collect` or `play:PATH.wav`"))
            }
        }
    }
}

/// `switchboard call`
#[derive(Debug, Clone, Args)]
pub struct CallArgs {
    /// Whom to call: `sip:USER@HOST:PORT`.
    #[arg(long, value_parser = sip_uri)]
    pub to: String,
    /// The caller the callee sees (`From`). Default `sip:switchboard@` + the SIP address.
    #[arg(long, value_parser = sip_uri)]
    pub from: Option<String>,
    /// The account the call belongs to (`AC…`).
    #[arg(long, env = "SWITCHBOARD_SIP_ACCOUNT")]
    pub account: switchboard_events::Sid,
    /// What the call does once answered: `echo`, `collect` or `play:PATH.wav` (then hang up).
    #[arg(long, default_value = "echo")]
    pub media: CallBehaviour,
    /// Hang up after this many seconds of conversation (default: when the callee does,
    /// or when the playback is over).
    #[arg(long)]
    pub hang_up_after_secs: Option<f64>,
    /// Seconds the call may ring before it is canceled.
    #[arg(long, default_value_t = 30)]
    pub ring_timeout_secs: u64,
    /// Codecs to offer, preferred first: `pcmu`, `pcma`.
    #[arg(long, value_delimiter = ',', default_value = "pcmu,pcma")]
    pub codecs: Vec<String>,
    /// The UDP address this command's SIP engine binds (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub sip_addr: SocketAddr,
    /// The address written into SDP and Contact (default: `--sip-addr`'s).
    #[arg(long)]
    pub sip_external_addr: Option<std::net::IpAddr>,
    /// RTP ports for the call.
    #[arg(long, default_value = "21000-21999")]
    pub rtp_ports: PortRange,
    /// Log and read-model store.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// A SIP URI to call: `sip:` (or `sips:`), then `[user@]host[:port]` with a host.
pub fn sip_uri(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("sip:")
        .or_else(|| s.strip_prefix("sips:"))
        .ok_or_else(|| format!("{s:?} is not a SIP URI (sip:USER@HOST:PORT)"))?;
    let host = rest.rsplit('@').next().unwrap_or_default();
    let host = host.split([';', '?']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') || s.chars().any(char::is_whitespace) {
        return Err(format!("{s:?} has no host (sip:USER@HOST:PORT)"));
    }
    Ok(s.to_string())
}

/// `switchboard tail`
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// The topic: `{prefix}.{category}` (category: account, workspace, call, queue, media,
    /// metering). On the SQL logs, the events of that category.
    #[arg(long)]
    pub topic: String,
    /// Start at the first event instead of the end.
    #[arg(long)]
    pub from_beginning: bool,
    /// Stop once the events that were in the log at start are printed.
    #[arg(long)]
    pub exit_at_end: bool,
    /// Log and read-model store.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `switchboard accounts …`
#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Create a top-level account; prints one JSON object with `sid` and `auth_token` (shown
    /// only once). Written to the log directly, or, while a server holds the log, created
    /// through that server's operator API (`--server-url`, with the operator token).
    Create {
        /// Human name.
        #[arg(long, default_value = crate::commands::DEFAULT_ACCOUNT_NAME)]
        friendly_name: String,
        /// The server key the new token is sealed under (the same file `serve` uses; created
        /// with mode 0600 when missing). Default: `DATA_DIR/secret.key`. Not read when the
        /// account is created through a running server (that server seals it).
        #[arg(long, env = "SWITCHBOARD_SECRET_KEY_FILE")]
        secret_key_file: Option<PathBuf>,
        /// Where the server holding the log answers, when one does: the base URL of its API
        /// (any API node: commands reach the writer).
        #[arg(
            long,
            env = "SWITCHBOARD_SERVER_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        server_url: String,
        /// The operator token to send to that server. Default: the first token in
        /// `--operator-token-file`.
        #[arg(long, env = "SWITCHBOARD_OPERATOR_TOKEN", hide_env_values = true)]
        operator_token: Option<String>,
        /// The operator token file (`serve` creates it). Default: `DATA_DIR/operator.token`.
        #[arg(long, env = "SWITCHBOARD_OPERATOR_TOKEN_FILE")]
        operator_token_file: Option<PathBuf>,
        /// Log and read-model store.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List accounts as JSON lines.
    List {
        /// Log and read-model store.
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// `switchboard projections …`
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Replay the log from the start into one projection (or all), with a progress bar.
    Rebuild {
        /// Projection name; all when omitted.
        name: Option<String>,
        /// Log and read-model store.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Catch the projections up with the log, then print a digest of every read-model table
    /// (JSON); equal digests mean identical read models.
    Digest {
        /// Projection name; all when omitted.
        name: Option<String>,
        /// Log and read-model store.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print each projection's version, checkpoint, lag and skipped records (JSON).
    Status {
        /// Log and read-model store.
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// `switchboard bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Appends/s at 1, 16 and 256 concurrent appenders, durability full and normal, next to
    /// raw batched sqlx inserts of the same events; and the replay rate into a fold.
    Log {
        /// Seconds each configuration runs.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Concurrency levels to measure.
        #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
        appenders: Vec<usize>,
        /// Durabilities to measure.
        #[arg(long, value_delimiter = ',', value_enum, default_value = "full,normal")]
        durability: Vec<Durability>,
        /// Scratch directory (a temporary one when omitted).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Measure the PostgreSQL log instead, on this server (a URL whose user may create
        /// databases; each run gets a fresh one, dropped afterwards). With `--kafka`, the
        /// server holding the writer lease.
        #[arg(long)]
        postgres: Option<String>,
        /// Measure the Kafka log instead, on these brokers (fresh topics per run), next to a
        /// raw rdkafka producer sending the same records in this process.
        #[arg(long)]
        kafka: Option<String>,
    },
    /// TaskRouter under a ladder of task rates over HTTP against `serve` in a child process
    /// (embedded defaults), with workers of capacity 1 that accept and complete at once: the
    /// highest rate whose p99 from each task's scheduled time to its reservation stays under
    /// 20 ms, next to the raw log append rate measured in the same run.
    Taskrouter {
        /// Seconds of load at each rate (at least 30 for a figure worth quoting).
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
        /// The ladder of rates, tasks created per second, tried in order until one misses
        /// p99 < 20 ms (comma-separated).
        #[arg(
            long,
            alias = "rate",
            value_delimiter = ',',
            default_value = "1000,2000,3000,4000,5000,6000"
        )]
        rates: Vec<u32>,
        /// Workers, capacity 1 each.
        #[arg(long, default_value_t = 1000)]
        workers: u32,
        /// Task queues (workers and tasks spread evenly over them).
        #[arg(long, default_value_t = 20)]
        queues: u32,
        /// Concurrent HTTP clients creating tasks (each waits for its answer: enough of
        /// them that the schedule, not the pool, limits the load).
        #[arg(long, default_value_t = 256)]
        clients: u32,
        /// Read models the server projects meanwhile (default all, as in production; e.g.
        /// `accounts,workspaces` shows routing without the TaskRouter read model's load).
        #[arg(long)]
        projections: Option<String>,
    },
    /// The telephony engine under SIPp on loopback, next to SIPp's own answer-only `uas` in
    /// the same run: signalling-only calls/s, then concurrent calls with RTP playback
    /// (packets checked for loss and lateness at a receiver in this process). Prints calls,
    /// failures, calls/s, p50/p95 setup time and the responder's CPU per call.
    Sip(SipBenchArgs),
    /// SIPp callers through the whole call router at a fixed rate (INVITE → webhook → TwiML →
    /// `<Play>` of a short WAV → `<Hangup>`), the TwiML and the WAV served by a static
    /// responder in another process; next to SIPp's own `uas` (signalling only) in the same
    /// run. Prints calls/s, failures, and p50/p95/p99 from each INVITE's scheduled send time to
    /// its first RTP packet at a receiver in this process. Exits non-zero if any call failed.
    Router(RouterBenchArgs),
    /// Serves one TwiML document (any path but the WAV's) and one WAV (`/tone.wav`) on
    /// loopback, printing `static responder listening on http://…`: `bench router` runs it as
    /// a process of its own, so the application's HTTP work is not the measured process's.
    #[command(hide = true)]
    StaticResponder {
        /// The TwiML document's file.
        #[arg(long)]
        twiml: PathBuf,
        /// The WAV file.
        #[arg(long)]
        wav: PathBuf,
    },
    /// Projection lag under load: from an append's acknowledgement to the read model having
    /// it (p50, p99), with the appends/s achieved meanwhile.
    Lag {
        /// Seconds of load.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Concurrent appenders.
        #[arg(long, default_value_t = 256)]
        appenders: usize,
        /// Use this PostgreSQL server for the log and the read models (fresh databases,
        /// dropped afterwards) instead of SQLite files.
        #[arg(long)]
        postgres: Option<String>,
        /// Use a Kafka log on these brokers (fresh topics) with the read models (and the
        /// writer lease) on `--postgres`.
        #[arg(long, requires = "postgres")]
        kafka: Option<String>,
    },
}

/// `switchboard bench sip`
#[derive(Debug, Clone, Args)]
pub struct SipBenchArgs {
    /// The SIPp binary (Debian's `sip-tester`).
    #[arg(long, env = "SWITCHBOARD_TEST_SIPP", default_value = "sipp")]
    pub sipp: String,
    /// Signalling: calls per second.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
    /// Signalling: calls in all.
    #[arg(long, default_value_t = 10000)]
    pub calls: u32,
    /// Signalling: milliseconds each call stays up.
    #[arg(long, default_value_t = 1000)]
    pub call_ms: u32,
    /// Playback: calls at once.
    #[arg(long, default_value_t = 200)]
    pub concurrent: u32,
    /// Playback: seconds each call lasts.
    #[arg(long, default_value_t = 10)]
    pub audio_secs: u32,
}

/// `switchboard bench router`
#[derive(Debug, Clone, Args)]
pub struct RouterBenchArgs {
    /// The SIPp binary (Debian's `sip-tester`).
    #[arg(long, env = "SWITCHBOARD_TEST_SIPP", default_value = "sipp")]
    pub sipp: String,
    /// Calls per second SIPp starts (a fixed schedule).
    #[arg(long, default_value_t = 300)]
    pub rate: u32,
    /// Seconds of load: SIPp starts `rate × seconds` calls.
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f64,
    /// Seconds of the WAV each call plays before `<Hangup>`.
    #[arg(long, default_value_t = 1)]
    pub play_secs: u32,
    /// `--max-calls` of the switchboard child; default `rate × (play_secs + 3)`, at least 100
    /// (the calls up at once, with room for a slow second).
    #[arg(long)]
    pub max_calls: Option<usize>,
    /// `--rtp-ports` of the switchboard child (two ports per call; ports are handed out
    /// round robin, so a range much wider than the calls up at once rests each port).
    #[arg(long, default_value = "20000-39999")]
    pub rtp_ports: PortRange,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uris_need_the_scheme_and_a_host() {
        for good in [
            "sip:agent@127.0.0.1:5070",
            "sip:127.0.0.1",
            "sips:bob@example.com;transport=tls",
        ] {
            assert_eq!(sip_uri(good).as_deref(), Ok(good));
        }
        for bad in [
            "notauri",
            "sip:",
            "sip:agent@",
            "sip:agent@:5060",
            "tel:+15551234",
            "sip:a b@host",
        ] {
            assert!(sip_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_taskrouter_flags_default_to_the_engines_defaults() {
        let cli = Cli::try_parse_from(["switchboard", "serve"]).expect("serve parses");
        let Command::Serve(args) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(args.taskrouter.limits(), TaskRouterLimits::default());
        assert_eq!(args.store.db_pool_size, None);
    }

    #[test]
    fn call_behaviours_parse_and_anything_else_is_refused() {
        use std::str::FromStr;
        assert_eq!(CallBehaviour::from_str("echo"), Ok(CallBehaviour::Echo));
        assert_eq!(
            CallBehaviour::from_str("play:/tmp/a.wav"),
            Ok(CallBehaviour::Play(PathBuf::from("/tmp/a.wav")))
        );
        assert!(CallBehaviour::from_str("bridge:sip:agent@127.0.0.1:5070").is_err());
        assert!(CallBehaviour::from_str("play:").is_err());
        assert!(CallBehaviour::from_str("dance").is_err());
    }
}
