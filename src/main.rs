//! `switchboard`: parse the command line, set up tracing, hand over to the subcommand.

use clap::Parser;
use switchboard::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // rsipstack logs every SIP datagram at info: keep it to warnings by default.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rsipstack=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => switchboard::server::serve(args).await,
        Command::Accounts(cmd) => switchboard::cli::accounts(cmd).await,
        Command::Projections(cmd) => switchboard::cli::projections(cmd).await,
        Command::Tail(args) => switchboard::cli::tail(args).await,
        Command::Call(args) => switchboard::cli::call(args).await,
        Command::Bench(cmd) => switchboard::bench::run(cmd).await,
    }
}
