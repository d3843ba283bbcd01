#!/usr/bin/env bash
# The test command: installs and starts what the test suite needs (idempotently, skipping
# what is already there), then runs every check and test. `.ci/run` calls exactly this.
#
# The embedded log and read models are SQLite files the tests create themselves. PostgreSQL
# (Debian's package) and a Kafka-protocol broker (tansu, built from crates.io) are installed
# and started here, as are SIPp (Debian's sip-tester) and the voice tests' tshark, sox and
# espeak-ng. Nothing is installed by hand, and a test that needs a
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

step "Kafka-protocol broker (tansu 0.6.0 from crates.io, SQLite storage engine)"
# tansu 0.6.0 is the last tansu release; its SQLite engine reads mid-batch correctly (its
# memory:// engine does not) and it has no Kafka transactions (see README, "Kafka").
tansu_bin="${CARGO_HOME:-$HOME/.cargo}/bin/tansu"
tansu_crates="${CARGO_HOME:-$HOME/.cargo}/.crates2.json"
if ! { "$tansu_bin" --version 2>/dev/null | grep -qx "tansu 0.6.0" \
        && grep -q '"tansu 0.6.0 [^}]*"features":\["dynostore","libsql","postgres"\]' "$tansu_crates" 2>/dev/null; }; then
    echo "building tansu 0.6.0 with its SQLite engine (about 15 minutes on 2 cores; once)"
    # --locked: without it the postgres feature fails to compile against a newer deadpool.
    cargo install tansu@0.6.0 --locked --features dynostore,libsql,postgres
fi
tansu_dir="$PWD/target/tansu"
tansu_port="${SWITCHBOARD_TEST_KAFKA_PORT:-19092}"
mkdir -p "$tansu_dir"
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! listening "$tansu_port"; then
    (cd "$tansu_dir" && nohup "$tansu_bin" broker \
        --listener-url "tcp://127.0.0.1:$tansu_port" \
        --advertised-listener-url "tcp://127.0.0.1:$tansu_port" \
        --storage-engine sqlite://tansu.db >>tansu.log 2>&1 &)
    for _ in $(seq 1 100); do listening "$tansu_port" && break; sleep 0.2; done
    listening "$tansu_port" || {
        echo "tansu did not start on port $tansu_port:" >&2
        tail -n 20 "$tansu_dir/tansu.log" >&2
        exit 1
    }
fi
# The shared broker for the log suite; tests that kill a broker start their own from this binary.
export SWITCHBOARD_TEST_KAFKA="127.0.0.1:$tansu_port"
export SWITCHBOARD_TEST_TANSU="$tansu_bin"
echo "tansu $("$tansu_bin" --version | awk '{print $2}') on $SWITCHBOARD_TEST_KAFKA"

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
"$venv/bin/python" -c "import kafka" 2>/dev/null || "$venv/bin/python" -m pip install --quiet kafka-python
export SWITCHBOARD_TEST_PYTHON="$PWD/$venv/bin/python"
"$SWITCHBOARD_TEST_PYTHON" -c "import twilio; print('twilio', twilio.__version__)"

step "SIPp (Debian's sip-tester package: the sipp binary)"
# The telephony tests drive the SIP engine with SIPp; they fail (never skip) without it.
if ! command -v sipp >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq sip-tester
fi
sipp_bin=$(command -v sipp) || { echo "sipp is not installed (apt-get install sip-tester failed)" >&2; exit 1; }
# `sipp -v` prints its version and exits non-zero: check the text, not the status.
sipp_version=$("$sipp_bin" -v 2>&1 || true)
grep -q "SIPp v" <<<"$sipp_version" || { echo "$sipp_bin does not run: $sipp_version" >&2; exit 1; }
export SWITCHBOARD_TEST_SIPP="$sipp_bin"
echo "$(grep -o 'SIPp v[^ ,]*' <<<"$sipp_version" | head -n 1) at $SWITCHBOARD_TEST_SIPP"

step "voice test tools (Debian's tshark, sox and espeak-ng)"
# The voice tests check what a caller hears with tools the project did not write: tshark
# captures the RTP on loopback, sox decodes it, espeak-ng says the reference. They fail (never
# skip) without them.
voice_missing=""
for tool in tshark sox espeak-ng; do
    command -v "$tool" >/dev/null 2>&1 || voice_missing="$voice_missing $tool"
done
if [ -n "$voice_missing" ]; then
    # wireshark-common asks (debconf) whether users other than root may capture: answer no,
    # the tests capture as root (CI and these machines) or through sudo.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq tshark sox espeak-ng || {
        echo "could not install$voice_missing (apt-get install tshark sox espeak-ng failed)" >&2
        exit 1
    }
fi
tshark --version 2>/dev/null | head -n 1 | grep -q '^TShark' || { echo "tshark does not run" >&2; exit 1; }
tshark -D 2>/dev/null | grep -qw lo || {
    echo "tshark cannot capture on lo: run the tests as root (or let dumpcap capture: dpkg-reconfigure wireshark-common)" >&2
    exit 1
}
sox --version >/dev/null 2>&1 || { echo "sox does not run" >&2; exit 1; }
espeak-ng --version >/dev/null 2>&1 || { echo "espeak-ng does not run" >&2; exit 1; }
echo "tshark $(tshark --version 2>/dev/null | awk 'NR == 1 {print $3}'), sox $(sox --version 2>&1 | awk '{print $NF}'), espeak-ng $(espeak-ng --version | awk '{print $4}')"

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

step "fuzzing (cargo fuzz, nightly): SIP, SDP, RTP/RFC 4733, WAV, TaskRouter expressions, workflow documents, form bodies and TwiML documents, 15 s each"
# cargo-fuzz from crates.io (once); the machine's nightly toolchain builds the targets with
# libFuzzer's coverage instrumentation. New inputs go to target/fuzz-corpus, seeds stay put.
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q '^nightly' || {
    echo "the fuzz targets need the nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
}
for target in sip sdp rtp wav expression workflow form twiml; do
    mkdir -p "target/fuzz-corpus/$target"
    log="target/fuzz-$target.log"
    if (cd fuzz && cargo +nightly fuzz run --release "$target" "../target/fuzz-corpus/$target" "corpus/$target" \
            -- -max_total_time=15 -rss_limit_mb=2048 -print_final_stats=1) >"$log" 2>&1; then
        echo "fuzz target $target: $(grep -E '^Done' "$log" | tail -n 1)"
    else
        tail -n 40 "$log" >&2
        echo "fuzz target $target failed (full output: $log; the crashing input is under fuzz/artifacts/$target)" >&2
        exit 1
    fi
done

step "benchmark smoke run (figures are not asserted; see README for real runs)"
cargo run --release --quiet -- bench log --seconds 0.3
cargo run --release --quiet -- bench log --seconds 0.3 --appenders 1,16 --postgres "$SWITCHBOARD_TEST_POSTGRES"
cargo run --release --quiet -- bench lag --seconds 0.3 --appenders 16
cargo run --release --quiet -- bench log --seconds 0.3 --appenders 16 --kafka "$SWITCHBOARD_TEST_KAFKA" --postgres "$SWITCHBOARD_TEST_POSTGRES"
cargo run --release --quiet -- bench taskrouter --seconds 0.5 --rates 500 --workers 100 --queues 5
cargo run --release --quiet -- bench sip --sipp "$SWITCHBOARD_TEST_SIPP" --rate 100 --calls 200 --call-ms 500 --concurrent 20 --audio-secs 2
# The router bench exits non-zero when any call failed (or got no RTP), so this step fails too.
cargo run --release --quiet -- bench router --sipp "$SWITCHBOARD_TEST_SIPP" --rate 50 --seconds 3
cargo run --release --quiet -- bench lag --seconds 0.3 --appenders 16 --kafka "$SWITCHBOARD_TEST_KAFKA" --postgres "$SWITCHBOARD_TEST_POSTGRES"

echo
echo "all checks passed"
echo "tests: ${passed} passed, ${failed} failed"
