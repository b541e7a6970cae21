#!/usr/bin/env bash
# Webhook-to-card latency and sustained notifications (issue 5): Jira events at a steady rate to
# issues linked to 20 Teams chats, from the webhook's 2xx to the card's arrival at the Bot
# Connector double (HTTPS), then a burst; release build, same process. Prints a markdown table
# with p50/p99, cards per second and resident memory, with a reference measured in the same
# run (the same card posted straight to the double) and the ratios.
#
#   tests/bench/notify-latency.sh [events per second, default 50] [events, default 1000]
#
# Needs PostgreSQL as for tests/run.sh (run that once, or packaging/prepare-host.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export JTB_TEST_DATABASE_URL=${JTB_TEST_DATABASE_URL:-postgresql:///postgres?host=/var/run/postgresql}
export JTB_BENCH_RATE=${1:-50}
export JTB_BENCH_EVENTS=${2:-1000}
exec cargo test --release --locked --test integration bench_notification_latency -- --ignored --nocapture --test-threads 1
