#!/usr/bin/env bash
# The test command: installs and starts what the test suite needs (idempotently, skipping
# what is already there), then runs every check and test. `.ci/run` calls exactly this.
#
# The embedded log and read models are SQLite files the tests create themselves. PostgreSQL
# (Debian's package) is installed and started here; so will every later service (a
# Kafka-protocol broker, SIPp, ...). Nothing is installed by hand, and a test that needs a
# service fails rather than skips when it cannot reach it.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not on PATH: install Rust (rustup) first" >&2
    exit 1
fi
cargo --version
rustup component list --installed 2>/dev/null | grep -qE '^(rustfmt|clippy)' || {
    echo "installing rustfmt and clippy"
    rustup component add rustfmt clippy
}

# Root runs the installs directly (CI and these machines are root); anyone else via sudo.
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }

step "PostgreSQL (Debian's postgresql package; cluster started with pg_ctlcluster)"
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql
fi
pg_version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$pg_version main"; then
    $SUDO pg_createcluster "$pg_version" main
fi
if ! pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
    $SUDO pg_ctlcluster "$pg_version" main start
fi
pg_port=$(pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main" {print $3}')
for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$pg_port" && break
    sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$pg_port" || { echo "PostgreSQL did not start; see /var/log/postgresql/" >&2; exit 1; }
as_postgres "psql -q -v ON_ERROR_STOP=1 -p $pg_port" <<'SQL'
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'switchboard') THEN
        CREATE ROLE switchboard LOGIN CREATEDB PASSWORD 'switchboard';
    END IF;
END $$;
SQL
# Tests create (and drop) a database of their own under this server.
export SWITCHBOARD_TEST_POSTGRES="postgres://switchboard:switchboard@127.0.0.1:${pg_port}/postgres"
echo "PostgreSQL $pg_version on port $pg_port: $SWITCHBOARD_TEST_POSTGRES"

step "Python with the official Twilio helper library (PyPI: twilio), in a venv under target/"
if ! command -v python3 >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-venv
fi
venv="target/sdk-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || {
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv
        python3 -m venv "$venv"
    }
fi
"$venv/bin/python" -c "import twilio" 2>/dev/null || "$venv/bin/python" -m pip install --quiet twilio
export SWITCHBOARD_TEST_PYTHON="$PWD/$venv/bin/python"
"$SWITCHBOARD_TEST_PYTHON" -c "import twilio; print('twilio', twilio.__version__)"

step "format (cargo fmt --check)"
cargo fmt --all --check

step "lints (cargo clippy --all-targets -D warnings)"
cargo clippy --workspace --all-targets --release -- -D warnings

step "tests (cargo test --workspace)"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
# No doc tests: the crates' examples live in tests, and an empty doc-test run would be the
# runner's closing line.
cargo test --workspace --release --lib --bins --tests 2>&1 | tee "$results"
passed=$(grep -oE 'test result: [a-z]+\. [0-9]+ passed' "$results" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE '; [0-9]+ failed' "$results" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')

step "benchmark smoke run (figures are not asserted; see README for real runs)"
cargo run --release --quiet -- bench log --seconds 0.3
cargo run --release --quiet -- bench log --seconds 0.3 --appenders 1,16 --postgres "$SWITCHBOARD_TEST_POSTGRES"
cargo run --release --quiet -- bench lag --seconds 0.3 --appenders 16

echo
echo "all checks passed"
echo "tests: ${passed} passed, ${failed} failed"
