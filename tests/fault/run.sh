#!/usr/bin/env bash
# The fault-injection suite (issue 7): runs the fault tests of the integration binary
# (tests/integration/fault/, also part of the normal `cargo test`) one at a time and prints what
# each fault did as a markdown table: items accepted, delivered, lost (must be 0) and duplicated
# (with the bound each test enforces). The exit status is cargo's: non-zero when any test fails.
#
#   tests/fault/run.sh [extra cargo test arguments]
#
# Needs what tests/run.sh needs (PostgreSQL 15 with its server binaries in
# /usr/lib/postgresql/15/bin, for the private cluster the restart test breaks), and root: the
# state-dir test mounts tmpfs file systems in a private mount namespace (`unshare -m`) and the
# restart test runs initdb/pg_ctl as the `postgres` OS user. The system cluster is never touched.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export JTB_TEST_DATABASE_URL=${JTB_TEST_DATABASE_URL:-postgresql:///postgres?host=/var/run/postgresql}

log=$(mktemp)
trap 'rm -f "${log}"' EXIT
started=${SECONDS}
status=0
cargo test --locked --test integration "$@" fault:: -- --nocapture --test-threads=1 2>&1 \
    | tee "${log}" || status=$?

echo
echo "| fault | accepted | delivered | lost | duplicates | bound on duplicates, notes |"
echo "|---|---:|---:|---:|---:|---|"
# a test's line follows cargo's `test name ... ` on the same line
grep -ao 'FAULT-SUMMARY|.*' "${log}" | while IFS='|' read -r _ fault accepted delivered lost dups bound; do
    echo "| ${fault} | ${accepted} | ${delivered} | ${lost} | ${dups} | ${bound} |"
done
echo
echo "fault suite: $((SECONDS - started)) s; $(grep -a '^test result:' "${log}" | tail -1)"
exit "${status}"
