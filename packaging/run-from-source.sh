#!/usr/bin/env bash
# Builds jira-teams-bridge from this checkout and runs it in the foreground, on a Debian 12 host
# with Rust installed (rustup). Run as root from the repository root:
#
#   ./packaging/run-from-source.sh
#
# It installs the missing packages (PostgreSQL, libpq, OpenSSL headers, pkg-config), starts
# PostgreSQL, creates a PostgreSQL role named after the current OS user and the database
# jira_teams_bridge owned by it, builds the release binary and execs `serve`.
#
# Environment (each optional; environment variables win over the config file):
#   JTB__LISTEN__INTERNAL    internal listener address, default 127.0.0.1:8080
#   JTB__PATHS__STATE_DIR    state directory, default /var/lib/jira-teams-bridge
#   any other JTB__SECTION__KEY setting (see packaging/config.example.toml)
# /etc/jira-teams-bridge/config.toml is read by the binary when present; this script never
# creates it.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${repo_root}"

# shellcheck source=packaging/prepare-host.sh
. packaging/prepare-host.sh

jtb_prepare_host
jtb_ensure_cargo

locked=()
[[ -f Cargo.lock ]] && locked=(--locked)
jtb_log "cargo build --release ${locked[*]}"
cargo build --release "${locked[@]}"

export JTB__LISTEN__INTERNAL=${JTB__LISTEN__INTERNAL:-127.0.0.1:8080}
export JTB__PATHS__STATE_DIR=${JTB__PATHS__STATE_DIR:-/var/lib/jira-teams-bridge}
mkdir -p "${JTB__PATHS__STATE_DIR}"
chmod 0700 "${JTB__PATHS__STATE_DIR}"

binary=target/release/jira-teams-bridge
setup_url_cmd=${binary}
if [[ ${JTB__PATHS__STATE_DIR} != /var/lib/jira-teams-bridge ]]; then
    setup_url_cmd="JTB__PATHS__STATE_DIR=${JTB__PATHS__STATE_DIR} ${binary}"
fi

cat <<EOF

jira-teams-bridge is starting (Ctrl-C stops it).
  internal listener: ${JTB__LISTEN__INTERNAL}
  state directory:   ${JTB__PATHS__STATE_DIR}
  config file:       $([[ -f /etc/jira-teams-bridge/config.toml ]] && echo /etc/jira-teams-bridge/config.toml || echo 'none (defaults + environment)')
On first start the one-time setup URL appears in the log below (the line with "setup URL").
Print it again at any time with:
  ${setup_url_cmd} setup-url

EOF

exec "${binary}" serve
