#!/usr/bin/env bash
# Relay overhead: one page of Teams chat messages (20 of 50) read through the appliance's API
# versus straight from the Graph double, same process, same run, release build. Prints a
# markdown table with requests/s, p50 and p99 and the appliance/direct ratios.
#
#   tests/bench/relay-overhead.sh [requests per run, default 2000]
#
# Needs PostgreSQL as for tests/run.sh (run that once, or packaging/prepare-host.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export JTB_TEST_DATABASE_URL=${JTB_TEST_DATABASE_URL:-postgresql:///postgres?host=/var/run/postgresql}
export JTB_BENCH_REQUESTS=${1:-2000}
exec cargo test --release --locked --test integration bench_relay_overhead -- --ignored --nocapture --test-threads 1
