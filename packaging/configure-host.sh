#!/bin/sh
# Installed as /usr/libexec/jira-teams-bridge/configure-host and run by the package's postinst
# (deb) or %post (rpm) as root, after the system user exists:
#
#   configure-host install|upgrade
#
# 1. creates the state and config directories with their modes (tmpfiles.d snippet);
# 2. if PostgreSQL answers on the local socket, creates the role `jira-teams-bridge` and the
#    database `jira_teams_bridge` owned by it (peer authentication: no password), idempotently;
# 3. applies the database migrations as the service user;
# 4. prints the next step.
# It never fails the installation for a missing or unreachable PostgreSQL: it says what to do.
set -e

user=jira-teams-bridge
db=jira_teams_bridge
bin=/usr/bin/jira-teams-bridge
config=/etc/jira-teams-bridge/config.toml
socket_dir=/var/run/postgresql
action=${1:-install}

say() { printf 'jira-teams-bridge: %s\n' "$*"; }

systemd-tmpfiles --create /usr/lib/tmpfiles.d/jira-teams-bridge.conf

# psql as the PostgreSQL superuser over the local socket (cd /: the caller's cwd may be unreadable).
pg_admin() {
    (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -d postgres "$@")
}

database=manual
if id postgres >/dev/null 2>&1 && command -v psql >/dev/null 2>&1 \
    && pg_admin -tAc 'SELECT 1' >/dev/null 2>&1; then
    pg_admin -v role="$user" -v db="$db" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role')\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')\gexec
SQL
    owner=$(pg_admin -tAc "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '$db'")
    if [ "$owner" = "$user" ]; then
        database=local
    else
        say "database $db exists but belongs to role '$owner', not '$user'; if it is meant for this service:"
        say "  sudo -u postgres psql -c 'ALTER DATABASE $db OWNER TO \"$user\"'"
        database=foreign
    fi
else
    say "no PostgreSQL answers on $socket_dir; to use a local one, install and start it, then:"
    say "  sudo -u postgres createuser '$user'"
    say "  sudo -u postgres createdb -O '$user' $db"
    say "or point database.url (or database.url_file) in $config at your PostgreSQL."
fi

if [ "$database" = local ]; then
    if out=$(cd / && runuser -u "$user" -- "$bin" migrate 2>&1); then
        say "database $db: $out"
    else
        say "migrations did not run: $out"
        say "they run when the service starts; or run: sudo -u $user $bin migrate"
    fi
fi

if [ "$action" = upgrade ]; then
    say "upgraded; configuration, data and master key are kept (a running service is restarted)."
else
    cat <<MSG
jira-teams-bridge: installed. Configuration: $config
Next steps:
  sudo systemctl enable --now jira-teams-bridge
  sudo jira-teams-bridge setup-url      # prints the one-time setup URL
The master key is created in /var/lib/jira-teams-bridge/master-key on first start: back it up
together with the database (pg_dump $db).
MSG
fi
