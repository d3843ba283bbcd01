#!/usr/bin/env bash
# The test command: installs and starts what the test suite needs (idempotently, skipping
# what is already there), then runs every check and test. `.ci/run` calls exactly this.
#
# Today the suite needs only the Rust toolchain: the embedded log and read models are SQLite
# files the tests create themselves. Services that later suites need (PostgreSQL, a
# Kafka-protocol broker, SIPp, ...) are installed and started here, never by hand, and a
# test that needs one fails rather than skips when it cannot start.
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

echo
echo "all checks passed"
echo "tests: ${passed} passed, ${failed} failed"
