#!/usr/bin/env bash
# Prepares a Debian 12 host to build and run jira-teams-bridge from source: installs the
# missing build/run packages, starts the local PostgreSQL cluster and creates a PostgreSQL role
# named after the current OS user plus the database `jira_teams_bridge` owned by it, so the
# default database URL (peer authentication over /var/run/postgresql) works.
#
# Everything is idempotent: a second run installs nothing and changes nothing.
#
# Run it:     sudo ./packaging/prepare-host.sh [--createdb] [--no-database]
#   --createdb      also give the role CREATEDB (the tests create a database per test)
#   --no-database   do not create the jira_teams_bridge database
# Or source it and call the jtb_* functions (packaging/run-from-source.sh, tests/run.sh).
#
# Environment: JTB_DB_NAME (default jira_teams_bridge), JTB_DB_ROLE (default: `id -un`).
#
# apt never starts services on these hosts and systemd need not be PID 1, so PostgreSQL is
# started with pg_ctlcluster directly.

JTB_PACKAGES=(postgresql postgresql-client libpq-dev libssl-dev pkg-config ca-certificates)
JTB_PG_SOCKET_DIR=/var/run/postgresql

jtb_log() { printf '==> %s\n' "$*" >&2; }
jtb_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

jtb_require_root() {
    [[ ${EUID} -eq 0 ]] || jtb_die "run this as root (it installs packages and administers PostgreSQL)"
}

# Installs whichever of JTB_PACKAGES are not installed yet; does nothing (no apt-get update)
# when all are present.
jtb_install_packages() {
    local pkg status missing=()
    for pkg in "${JTB_PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "${pkg}" 2>/dev/null || true)
        [[ ${status} == installed ]] || missing+=("${pkg}")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        jtb_log "packages: all present"
        return 0
    fi
    jtb_require_root
    jtb_log "packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Runs psql as the postgres superuser over the local socket, reading SQL from stdin.
# Extra arguments (e.g. -v name=value) go to psql.
jtb_psql_admin() {
    # cd / so psql does not complain about an unreadable working directory (/root).
    (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 \
        -h "${JTB_PG_SOCKET_DIR}" -d postgres "$@")
}

# Starts the local PostgreSQL cluster unless it already answers, then waits until it does.
jtb_start_postgres() {
    if pg_isready -q -h "${JTB_PG_SOCKET_DIR}"; then
        jtb_log "postgresql: running"
        return 0
    fi
    jtb_require_root
    local version
    version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null \
        | sort -V | tail -n 1)
    jtb_log "postgresql: starting ${version:+cluster ${version}/main}"
    if [[ -z ${version} ]] \
        || ! pg_ctlcluster --skip-systemctl-redirect "${version}" main start; then
        service postgresql start || jtb_die "could not start PostgreSQL"
    fi
    local i
    for ((i = 0; i < 60; i++)); do
        if pg_isready -q -h "${JTB_PG_SOCKET_DIR}"; then
            jtb_log "postgresql: ready"
            return 0
        fi
        sleep 0.5
    done
    jtb_die "PostgreSQL did not become ready on ${JTB_PG_SOCKET_DIR} within 30 s"
}

# Creates the LOGIN role named after the OS user (or JTB_DB_ROLE) if missing.
# With argument `createdb`, also grants CREATEDB.
jtb_ensure_role() {
    jtb_require_root
    local role=${JTB_DB_ROLE:-$(id -un)}
    local createdb=false
    [[ ${1:-} == createdb ]] && createdb=true
    jtb_log "postgresql: role ${role}${1:+ (${1})}"
    jtb_psql_admin -v role="${role}" -v createdb="${createdb}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role')\gexec
SELECT format('ALTER ROLE %I LOGIN', :'role')
 WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role' AND NOT rolcanlogin)\gexec
SELECT format('ALTER ROLE %I CREATEDB', :'role')
 WHERE :'createdb'::boolean
   AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role' AND NOT rolcreatedb)\gexec
SQL
}

# Creates the database (JTB_DB_NAME, default jira_teams_bridge) owned by the role if missing.
jtb_ensure_database() {
    jtb_require_root
    local role=${JTB_DB_ROLE:-$(id -un)}
    local db=${JTB_DB_NAME:-jira_teams_bridge}
    jtb_log "postgresql: database ${db} owned by ${role}"
    jtb_psql_admin -v role="${role}" -v db="${db}" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')\gexec
SQL
}

# Finds cargo, sourcing ~/.cargo/env when it is not on PATH yet.
jtb_ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [[ -f ${HOME}/.cargo/env ]]; then
        # shellcheck source=/dev/null
        . "${HOME}/.cargo/env"
    fi
    command -v cargo >/dev/null 2>&1 || jtb_die "cargo not found; install Rust with rustup first"
}

# All of the above: packages, PostgreSQL running, role, database.
# Options: --createdb, --no-database.
jtb_prepare_host() {
    local createdb='' database=true arg
    for arg in "$@"; do
        case ${arg} in
            --createdb) createdb=createdb ;;
            --no-database) database=false ;;
            *) jtb_die "prepare-host: unknown option ${arg}" ;;
        esac
    done
    jtb_require_root
    jtb_install_packages
    jtb_start_postgres
    jtb_ensure_role ${createdb:+"${createdb}"}
    if [[ ${database} == true ]]; then
        jtb_ensure_database
    fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    jtb_prepare_host "$@"
fi
