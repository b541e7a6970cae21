#!/usr/bin/env bash
# Package test: builds the .deb and .rpm (packaging/build-packages.sh: one release build), checks
# the .deb with lintian, installs it on this host with dpkg, checks the system user, files, modes,
# the local database and the unit, runs the INSTALLED binary with the INSTALLED config against the
# local PostgreSQL until /readyz answers 200, reinstalls it (upgrade keeps config and key), purges
# it and checks what is left (the database and the master key stay); then checks the .rpm with
# rpmlint (warnings fail, as lintian's do) and its metadata, file list, file modes and
# scriptlets. Prints package sizes and install-to-ready time.
#
# Run as root on Debian 12 from the repository root (CI: .ci/run):
#   ./tests/packaging/deb-install.sh [DEB RPM]
# With DEB and RPM (already built packages, e.g. from another job) it tests those instead of
# building.
# The package must not be installed already. What this test creates and the package
# deliberately keeps (database, role, system user, master key) is removed at the end when it did
# not exist before the test.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "${repo_root}"

# shellcheck source=packaging/prepare-host.sh
. packaging/prepare-host.sh
jtb_require_root

pkg=jira-teams-bridge
user=jira-teams-bridge
db=jira_teams_bridge
state_dir=/var/lib/jira-teams-bridge
config=/etc/jira-teams-bridge/config.toml
bin=/usr/bin/jira-teams-bridge
unit=/usr/lib/systemd/system/jira-teams-bridge.service

failures=0
pass() { printf '  ok: %s\n' "$*"; }
fail() {
    printf '  FAIL: %s\n' "$*" >&2
    failures=$((failures + 1))
}
check() { # check DESCRIPTION COMMAND...: records a failure instead of stopping
    local what=$1
    shift
    if "$@"; then pass "${what}"; else fail "${what}"; fi
}
expect_eq() { # expect_eq DESCRIPTION ACTUAL EXPECTED
    if [[ $2 == "$3" ]]; then pass "$1: $2"; else fail "$1: got '$2', expected '$3'"; fi
}
stat_of() { stat -c '%a %U:%G' "$1" 2>/dev/null || echo missing; }
psql_admin_value() { jtb_psql_admin -tAc "$1"; }
db_exists() { [[ $(psql_admin_value "SELECT count(*) FROM pg_database WHERE datname = '${db}'") == 1 ]]; }
role_exists() { [[ $(psql_admin_value "SELECT count(*) FROM pg_roles WHERE rolname = '${user}'") == 1 ]]; }

JTB_PACKAGES=(lintian rpm rpmlint curl systemd)
jtb_install_packages
jtb_start_postgres

if dpkg-query -W -f='${db:Status-Status}' "${pkg}" 2>/dev/null | grep -q .; then
    status=$(dpkg-query -W -f='${db:Status-Status}' "${pkg}")
    [[ ${status} == not-installed ]] || jtb_die "${pkg} is installed (${status}); purge it first: dpkg --purge ${pkg}"
fi
had_db=false had_role=false had_user=false had_state=false
db_exists && had_db=true
role_exists && had_role=true
id -u "${user}" >/dev/null 2>&1 && had_user=true
[[ -e ${state_dir} ]] && had_state=true

server_pid=''
work=$(mktemp -d)
cleanup() {
    local rc=$?
    if [[ -n ${server_pid} ]] && kill -0 "${server_pid}" 2>/dev/null; then
        kill "${server_pid}" 2>/dev/null || true
        wait "${server_pid}" 2>/dev/null || true
    fi
    if dpkg-query -W -f='${db:Status-Status}' "${pkg}" 2>/dev/null | grep -qv not-installed; then
        dpkg --purge "${pkg}" >/dev/null 2>&1 || true
    fi
    [[ ${had_db} == true ]] || jtb_psql_admin -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" || true
    [[ ${had_role} == true ]] || jtb_psql_admin -c "DROP ROLE IF EXISTS \"${user}\"" || true
    [[ ${had_state} == true ]] || rm -rf "${state_dir}"
    [[ ${had_user} == true ]] || userdel "${user}" 2>/dev/null || true
    rm -rf "${work}"
    exit "${rc}"
}
trap cleanup EXIT

if [[ $# -eq 2 ]]; then
    built=("$1" "$2")
else
    jtb_log "building the packages"
    mapfile -t built < <(./packaging/build-packages.sh)
fi
deb=$(printf '%s\n' "${built[@]}" | grep '\.deb$')
rpm_file=$(printf '%s\n' "${built[@]}" | grep '\.rpm$')
[[ -f ${deb} && -f ${rpm_file} ]] || jtb_die "build-packages.sh did not produce a .deb and an .rpm"
deb_kib=$(du -k "${deb}" | cut -f1)
rpm_kib=$(du -k "${rpm_file}" | cut -f1)

jtb_log "lintian $(basename "${deb}")"
# Errors and warnings fail; the package's overrides carry the justified exceptions.
if lintian --fail-on error,warning --tag-display-limit 0 "${deb}" >"${work}/lintian" 2>&1; then
    pass "lintian: no errors or warnings"
else
    cat "${work}/lintian" >&2
    fail "lintian"
fi
sed 's/^/    /' "${work}/lintian"

jtb_log "dpkg-deb -I: control fields"
control=$(dpkg-deb -f "${deb}" Depends Recommends)
printf '%s\n' "${control}" | sed 's/^/    /'
check "Depends has libpq5 and libssl3 (computed from the binary)" \
    grep -q 'libpq5.*libssl3\|libssl3.*libpq5' <<<"${control}"
check "Recommends: postgresql" grep -qx 'Recommends: postgresql' <<<"${control}"

jtb_log "dpkg -i"
install_started=$(date +%s.%N)
dpkg -i "${deb}" >"${work}/install.log" 2>&1 || { cat "${work}/install.log" >&2; jtb_die "dpkg -i failed"; }
installed_at=$(date +%s.%N)
sed 's/^/    /' "${work}/install.log"
check "postinst prints the next steps" grep -q 'systemctl enable --now jira-teams-bridge' "${work}/install.log"
check "postinst applied the migrations" grep -Eq "applied [0-9]+ migration" "${work}/install.log"

jtb_log "system user, files and modes"
check "system user ${user} exists" id -u "${user}" >/dev/null
uid=$(id -u "${user}")
check "${user} is a system user (uid ${uid} < 1000)" test "${uid}" -lt 1000
expect_eq "login shell" "$(getent passwd "${user}" | cut -d: -f7)" /usr/sbin/nologin
expect_eq "${bin}" "$(stat_of "${bin}")" "755 root:root"
expect_eq "${config}" "$(stat_of "${config}")" "640 root:${user}"
expect_eq /etc/jira-teams-bridge "$(stat_of /etc/jira-teams-bridge)" "750 root:${user}"
expect_eq "${state_dir}" "$(stat_of "${state_dir}")" "700 ${user}:${user}"
expect_eq "${unit}" "$(stat_of "${unit}")" "644 root:root"
expect_eq "sysusers.d" "$(stat_of /usr/lib/sysusers.d/jira-teams-bridge.conf)" "644 root:root"
expect_eq "tmpfiles.d" "$(stat_of /usr/lib/tmpfiles.d/jira-teams-bridge.conf)" "644 root:root"
check "copyright file" test -f /usr/share/doc/jira-teams-bridge/copyright
check "${config} is a conffile" grep -q "^ ${config} " <(dpkg-query -W -f='${Conffiles}\n' "${pkg}")
check "the service is not enabled by the package" \
    test ! -e /etc/systemd/system/multi-user.target.wants/jira-teams-bridge.service
check "installed config is valid" runuser -u "${user}" -- "${bin}" check-config >/dev/null

jtb_log "local database"
check "role ${user} exists" role_exists
expect_eq "owner of database ${db}" "$(psql_admin_value "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '${db}'")" "${user}"
migrate_out=$(cd / && runuser -u "${user}" -- "${bin}" migrate)
check "schema is migrated (${migrate_out})" grep -q '^applied 0 migration' <<<"${migrate_out}"

jtb_log "systemd-analyze verify / security (installed unit)"
if systemd-analyze verify "${unit}" >"${work}/verify" 2>&1; then
    pass "systemd-analyze verify"
else
    cat "${work}/verify" >&2
    fail "systemd-analyze verify"
fi
security=$(systemd-analyze security --offline=true --threshold=15 "${unit}" 2>&1 | tail -n 1) \
    && pass "systemd-analyze security: ${security}" || fail "systemd-analyze security: ${security}"

jtb_log "run the installed binary as ${user} with the installed config"
if [[ $(ps -p 1 -o comm=) == systemd ]]; then
    jtb_log "(systemd is PID 1, but the service is started directly so the test does not enable it)"
fi
port=''
for candidate in $(shuf -i 20000-40000 -n 20); do
    if ! ss -Htln "sport = :${candidate}" | grep -q .; then port=${candidate}; break; fi
done
[[ -n ${port} ]] || jtb_die "no free port found"
# setpriv execs (runuser would fork and stand between the test and the daemon's exit status).
(cd / && exec setpriv --reuid="${user}" --regid="${user}" --init-groups \
    env JTB__LISTEN__INTERNAL="127.0.0.1:${port}" "${bin}" serve) >"${work}/serve.log" 2>&1 &
server_pid=$!
start_started=$(date +%s.%N)
ready=false
for ((i = 0; i < 600; i++)); do
    code=$(curl -s -o "${work}/readyz" -w '%{http_code}' "http://127.0.0.1:${port}/readyz" || true)
    if [[ ${code} == 200 ]]; then ready=true; break; fi
    kill -0 "${server_pid}" 2>/dev/null || break
    sleep 0.1
done
ready_at=$(date +%s.%N)
# dpkg -i (postinst with migrations) plus first start until ready; the checks in between excluded.
install_secs=$(awk -v a="${install_started}" -v b="${installed_at}" 'BEGIN { printf "%.1f", b - a }')
start_secs=$(awk -v a="${start_started}" -v b="${ready_at}" 'BEGIN { printf "%.1f", b - a }')
install_to_ready=$(awk -v a="${install_secs}" -v b="${start_secs}" 'BEGIN { printf "%.1f", a + b }')
if [[ ${ready} == true ]]; then
    pass "/readyz 200 $(head -c 200 "${work}/readyz")"
else
    sed 's/^/    /' "${work}/serve.log" >&2
    fail "/readyz did not answer 200 within 60 s (last: ${code:-none})"
fi
expect_eq "master key" "$(stat_of "${state_dir}/master-key")" "600 ${user}:${user}"
setup_url=$(cd / && runuser -u "${user}" -- "${bin}" setup-url 2>&1 || true)
check "setup-url as ${user} prints the setup URL (${setup_url})" grep -q "/setup?token=" <<<"${setup_url}"
# as the admin types it: root re-runs the command as the service user (peer auth, file owners)
setup_url_root=$(cd / && "${bin}" setup-url 2>&1 || true)
check "setup-url as root prints the same setup URL" test "${setup_url_root}" = "${setup_url}"
kill -TERM "${server_pid}"
if wait "${server_pid}"; then pass "SIGTERM: clean exit"; else fail "SIGTERM: exit status $?"; fi
check "the daemon logged its stop" grep -q 'stopped' "${work}/serve.log"
server_pid=''

jtb_log "upgrade (reinstall): the changed config and the master key are kept"
echo '# changed by the administrator' >>"${config}"
key_before=$(sha256sum "${state_dir}/master-key" | cut -d' ' -f1)
dpkg -i "${deb}" >"${work}/upgrade.log" 2>&1 || { cat "${work}/upgrade.log" >&2; fail "dpkg -i (upgrade)"; }
check "config change kept" grep -q '^# changed by the administrator' "${config}"
expect_eq "config mode after upgrade" "$(stat_of "${config}")" "640 root:${user}"
expect_eq "master key after upgrade" "$(sha256sum "${state_dir}/master-key" | cut -d' ' -f1)" "${key_before}"

jtb_log "dpkg --purge"
dpkg --purge "${pkg}" >"${work}/purge.log" 2>&1 || { cat "${work}/purge.log" >&2; jtb_die "dpkg --purge failed"; }
sed 's/^/    /' "${work}/purge.log"
check "binary removed" test ! -e "${bin}"
check "unit removed" test ! -e "${unit}"
check "/etc/jira-teams-bridge removed" test ! -e /etc/jira-teams-bridge
expect_eq "left in ${state_dir}" "$(ls -A "${state_dir}" 2>/dev/null | tr '\n' ' ')" "master-key "
check "database ${db} kept" db_exists
check "role ${user} kept" role_exists
check "purge says how to drop the database" grep -q "dropdb ${db}" "${work}/purge.log"
check "no stat overrides left" bash -c "! dpkg-statoverride --list | grep -q jira-teams-bridge"

jtb_log "rpm $(basename "${rpm_file}")"
rpm -qip "${rpm_file}" | sed 's/^/    /'
# As lintian for the .deb: --strict turns every warning into an error; the justified
# exceptions live in the package's rpmlintrc.
if rpmlint --strict --rpmlintrc packaging/rpm/jira-teams-bridge.rpmlintrc "${rpm_file}" \
    >"${work}/rpmlint" 2>&1; then
    pass "rpmlint: no errors or warnings"
else
    cat "${work}/rpmlint" >&2
    fail "rpmlint"
fi
sed 's/^/    /' "${work}/rpmlint"
rpm -qlp "${rpm_file}" >"${work}/rpm-files"
for path in "${bin}" "${config}" "${unit}" /usr/lib/sysusers.d/jira-teams-bridge.conf \
    /usr/lib/tmpfiles.d/jira-teams-bridge.conf /usr/libexec/jira-teams-bridge/configure-host \
    /usr/share/licenses/jira-teams-bridge/LICENSE; do
    check "rpm contains ${path}" grep -qx "${path}" "${work}/rpm-files"
done
expect_eq "rpm config file" \
    "$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' "${rpm_file}" | grep " ${config}$")" \
    "-rw-r----- root:${user} ${config}"
check "rpm marks the config %config(noreplace)" grep -qx "${config}" <(rpm -qcp "${rpm_file}")
rpm -qp --requires "${rpm_file}" >"${work}/rpm-requires"
check "rpm requires libpq.so.5 (computed)" grep -q '^libpq.so.5' "${work}/rpm-requires"
check "rpm provides the group its config file needs" grep -qx 'group(jira-teams-bridge)' <(rpm -qp --provides "${rpm_file}")
check "rpm recommends postgresql-server" grep -q postgresql-server <(rpm -qp --recommends "${rpm_file}")
rpm -qp --scripts "${rpm_file}" >"${work}/rpm-scripts"
check "rpm %pre creates the user" grep -q 'systemd-sysusers' "${work}/rpm-scripts"
check "rpm %post configures the host" grep -q 'configure-host install' "${work}/rpm-scripts"
check "rpm %preun stops the service on erase" grep -q 'disable --now jira-teams-bridge' "${work}/rpm-scripts"
check "rpm %postun restarts it on upgrade" grep -q 'try-restart jira-teams-bridge' "${work}/rpm-scripts"
for script in pre-install post-install pre-uninstall post-uninstall; do
    check "sh -n packaging/rpm/${script}.sh" sh -n "packaging/rpm/${script}.sh"
done

printf '\npackage sizes: %s %s KiB, %s %s KiB\n' "$(basename "${deb}")" "${deb_kib}" \
    "$(basename "${rpm_file}")" "${rpm_kib}"
printf 'install-to-ready: %s s (dpkg -i with postinst and migrations %s s + start until /readyz 200 %s s)\n' \
    "${install_to_ready}" "${install_secs}" "${start_secs}"
if [[ ${failures} -gt 0 ]]; then
    jtb_die "${failures} package check(s) failed"
fi
echo "package checks passed"
