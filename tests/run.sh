#!/usr/bin/env bash
# Runs the whole test suite (unit + integration) against a real local PostgreSQL, on a Debian 12
# host with Rust installed (rustup). Run as root from the repository root:
#
#   ./tests/run.sh [extra cargo test arguments, e.g. -- --nocapture]
#
# It installs the missing packages (PostgreSQL, build headers, Chromium and its WebDriver for the
# browser tests, Python for schemathesis, pinned in tests/schema/requirements.txt), starts PostgreSQL, makes sure the PostgreSQL role named after
# the current OS user may create databases (each test gets its own database, cloned from a
# migrated template), drops test databases left over by aborted runs and runs
# `cargo test --all-targets`. The exit status is cargo's.
#
# JTB_TEST_DATABASE_URL (default postgresql:///postgres?host=/var/run/postgresql) is where the
# test harness connects to create and drop its databases; a value already set is kept.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${repo_root}"

# shellcheck source=packaging/prepare-host.sh
. packaging/prepare-host.sh

jtb_prepare_host --createdb --no-database
jtb_ensure_cargo

# The browser tests (tests/integration/browser/) drive Debian's headless Chromium over WebDriver;
# their screenshots land in target/browser-screenshots/<test>/. The schema-driven API test
# (tests/integration/api_schema.rs) runs schemathesis from a virtualenv in target/py-tools.
JTB_PACKAGES=(chromium chromium-driver fonts-dejavu-core python3 python3-venv)
jtb_install_packages
tests/schema/install.sh

export JTB_TEST_DATABASE_URL=${JTB_TEST_DATABASE_URL:-postgresql:///postgres?host=/var/run/postgresql}

# Databases jtb_test_* belong to single tests and are dropped by them; after an aborted run they
# linger. Templates (jtb_template_*) are kept: they are reused while the migrations are unchanged.
jtb_log "dropping leftover test databases"
if ! (cd / && psql -X -q -v ON_ERROR_STOP=1 -d "${JTB_TEST_DATABASE_URL}") <<'SQL'
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', datname)
  FROM pg_database
 WHERE datname LIKE 'jtb\_test\_%'\gexec
SQL
then
    jtb_log "warning: could not drop every leftover test database; continuing"
fi

locked=()
[[ -f Cargo.lock ]] && locked=(--locked)
jtb_log "cargo test ${locked[*]} --all-targets $*"
exec cargo test "${locked[@]}" --all-targets "$@"
