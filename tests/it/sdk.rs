//! The official Twilio Python helper library (`pip install twilio`, installed by
//! `scripts/test.sh`), unchanged, against the real server: the scripts in `tests/sdk/` drive
//! it and exit non-zero on any mismatch.

use crate::{create_account, DataDir, Server};
use std::path::Path;
use std::process::Command;

/// Runs `tests/sdk/{script}` against `server` as the account `sid`; returns its stdout.
pub fn run_sdk_script(script: &str, server: &Server, sid: &str, token: &str) -> String {
    run_sdk_script_with(script, server, sid, token, &[])
}

/// [`run_sdk_script`] with `extra` environment variables (what the script checks).
pub fn run_sdk_script_with(
    script: &str,
    server: &Server,
    sid: &str,
    token: &str,
    extra: &[(&str, &str)],
) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    // scripts/test.sh points this at a venv holding the twilio package.
    let python = std::env::var("SWITCHBOARD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(dir.join(script))
        .current_dir(&dir)
        .env("SWITCHBOARD_URL", &server.base)
        .env("SWITCHBOARD_SID", sid)
        .env("SWITCHBOARD_TOKEN", token)
        .envs(extra.iter().copied())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {python} (scripts/test.sh installs Python and the twilio package): {e}"
            )
        });
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn the_twilio_python_library_drives_the_account_api_unchanged() {
    let dir = DataDir::new("sdk");
    let main = create_account(dir.path(), "SDK main");
    let server = Server::start(dir.path());
    run_sdk_script("accounts.py", &server, &main.sid, &main.token);
}

#[tokio::test]
async fn the_twilio_python_library_drives_taskrouter_unchanged() {
    let dir = DataDir::new("sdk-taskrouter");
    let main = create_account(dir.path(), "SDK TaskRouter");
    let server = Server::start(dir.path());
    run_sdk_script("taskrouter.py", &server, &main.sid, &main.token);
}
