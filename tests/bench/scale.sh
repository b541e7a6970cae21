#!/usr/bin/env bash
# The scale benchmark (issue 17): seeds a database at FACTOR × a year of a large Jira DC site and
# measures, with the real daemon (release build), the operations whose cost could grow with the
# data; prints a table operation × size with the ratio to the smallest size and writes
# target/bench/scale.md and target/bench/scale.json.
#
#   tests/bench/scale.sh [FACTOR ...]        default: 0.01 0.1
#
# Base (FACTOR 1): 50k Jira users, 20k linked accounts (user_mapping, 2 access tokens and a Teams
# setting each), 200k issue↔chat links (3 members each), 5k channel subscriptions, 10M delivered
# outbox rows (1 in 10,000 dead), 20M secret access audit rows, in 3 instances: `bigsite` (90 %
# of every table), `medsite` (9 %) and `tinysite` (1 %, the "other" instance whose webhooks are
# timed while the big one is erased); plus a blocked backlog (200 retrying deliveries with 10 due
# ones behind each). Seed SQL: tests/bench/scale/{base,outbox,audit}.sql (generate_series; the
# schema is the daemon's own, from `jira-teams-bridge migrate`).
#
# Sizes run in increasing order on one database: each size only adds the rows between the
# previous size and itself (the database's comment records the size seeded), so
# `scale.sh 0.01 0.1 1` costs one seeding of size 1. FACTOR 1 is about 20 GB.
#
# Settings (environment):
#   JTB_BENCH_DIR         results and the daemon's state dir (default target/bench)
#   JTB_BENCH_BIN         the daemon binary to measure (default: cargo build --release)
#   JTB_SCALE_DB          database name (default jtb_scale); JTB_SCALE_KEEP=1 keeps it at the end
#                         (a later run with the same or larger sizes reuses and tops it up)
#   JTB_SCALE_OLD_PAGING  1: the last page of a paged admin page is `?page=N` (N from the row
#                         count); 0: `?at=last` (keyset paging); unset: detected from the first
#                         page's links (`after=`/`before=` cursors mean keyset paging)
#   JTB_SCALE_REPS        timed repetitions of each page, after one warm-up (default 5; the
#                         median is reported); exports take JTB_SCALE_SLOW_REPS (default 3)
#   JTB_SCALE_MEM_CAP_MB  address-space cap of the CLI exports (default 6144: the issue's cap)
#   JTB_SCALE_NO_ERASE=1  skips the erase measurements (they copy the database first: at
#                         FACTOR 1 that needs twice the database's ~18 GB free)
#   JTB_SCALE_ERASE_IN_PLACE=1  the last size erases its database instead of a copy (no room
#                         for a copy; the database is dropped at the end, whatever JTB_SCALE_KEEP)
#
# Needs PostgreSQL as for tests/run.sh, wrk, curl, jq, python3 and GNU time (/usr/bin/time;
# apt-get install wrk time). Run as root from anywhere.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo=$PWD
factors=("$@")
((${#factors[@]})) || factors=(0.01 0.1)
prev=0
for f in "${factors[@]}"; do
  [[ $f =~ ^[0-9]*\.?[0-9]+$ ]] && awk -v a="$f" -v b="$prev" 'BEGIN { exit !(a > b && a <= 1) }' \
    || { echo "usage: $0 [FACTOR ...]  (increasing, each in (0, 1])" >&2; exit 2; }
  prev=$f
done
for tool in wrk curl jq python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "scale.sh: $tool is missing (apt-get install wrk curl jq time)" >&2; exit 1; }
done
export JTB_BENCH_DIR=${JTB_BENCH_DIR:-$repo/target/bench}
mkdir -p "$JTB_BENCH_DIR"
db=${JTB_SCALE_DB:-jtb_scale}
reps=${JTB_SCALE_REPS:-5}
slow_reps=${JTB_SCALE_SLOW_REPS:-3}
mem_cap=${JTB_SCALE_MEM_CAP_MB:-6144}
out=$JTB_BENCH_DIR/scale
state=$JTB_BENCH_DIR/scale-state
mkdir -p "$state"; chmod 0755 "$state"
results=$JTB_BENCH_DIR/scale.jsonl
: >"$results"
started=$(date +%s)

if [[ -z ${JTB_BENCH_BIN:-} ]]; then
  echo "building (release)..." >&2
  cargo build --release --locked -q
fi
bin=$(realpath "${JTB_BENCH_BIN:-target/release/jira-teams-bridge}")

psql_() { (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"); }
q() { psql_ -d "$1" -tA -c "$2"; }
port=18199
admin_user=scaleadmin
admin_pw='Scale-bench-Passw0rd-2026'
big=00000000-0000-4000-8000-00000000b001
export JTB__PATHS__STATE_DIR=$state JTB__LISTEN__INTERNAL=127.0.0.1:$port JTB__LOG__LEVEL=warn \
  JTB__DATABASE__POOL_MAX_SIZE=32 JTB__RETENTION__OUTBOX_DONE_DAYS=0 JTB__RETENTION__AUDIT_DAYS=0
url_of() { echo "postgresql:///$1?host=/var/run/postgresql&user=postgres"; }
cli() { JTB__DATABASE__URL="$(url_of "$1")" "$bin" "${@:2}"; }

pid=
wrk_pids=()
start_daemon() { # $1 database
  JTB__DATABASE__URL="$(url_of "$1")" "$bin" serve >>"$state/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1200); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "scale.sh: the daemon did not become ready; see $state/serve.log" >&2
  tail -20 "$state/serve.log" >&2
  exit 1
}
stop_daemon() { [[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; pid=; }
cleanup() {
  for w in "${wrk_pids[@]}"; do kill "$w" 2>/dev/null || true; done
  stop_daemon
  psql_ -c "DROP DATABASE IF EXISTS ${db}_erase WITH (FORCE)" 2>/dev/null || true
  if [[ ${JTB_SCALE_KEEP:-0} != 1 ]]; then psql_ -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" 2>/dev/null || true; fi
}
trap cleanup EXIT

# rec OP SIZE VALUE UNIT LABEL [NOTE] [RATIO]: one result
rec() {
  jq -cn --arg op "$1" --arg size "$2" --arg v "$3" --arg unit "$4" --arg lab "$5" --arg note "${6:-}" \
    --argjson ratio "${7:-true}" \
    '{op: $op, size: $size, value: ($v | tonumber? // $v), unit: $unit, label: $lab, note: $note, ratio: $ratio}' >>"$results"
}
median() { sort -g | awk '{a[NR]=$1} END { if (NR) print a[int((NR+1)/2)] }'; }

# --- the database: schema from the daemon's migrations, seeded size from its comment ----------
if [[ -z $(q postgres "SELECT 1 FROM pg_database WHERE datname = '$db'") ]]; then
  psql_ -c "CREATE DATABASE $db OWNER postgres"
fi
cli "$db" migrate >/dev/null
seeded=$(q "$db" "SELECT coalesce(substring(shobj_description(oid, 'pg_database') from 'jtb-scale seeded=([0-9.]+)'), '0') FROM pg_database WHERE datname = '$db'")
chunk=1000000
seed_table() { # file lo hi extra-vars...: rows lo..hi of one big table, in chunks
  local file=$1 lo=$2 hi=$3; shift 3
  local a b
  for ((a = lo; a <= hi; a += chunk)); do
    b=$((a + chunk - 1 < hi ? a + chunk - 1 : hi))
    psql_ -d "$db" -v lo="$a" -v hi="$b" "$@" -f - <"$repo/tests/bench/scale/$file"
  done
}
count_at() { awk -v f="$1" -v n="$2" 'BEGIN { printf "%d", f * n + 0.5 }'; }

seed() { # $1 factor: tops the database up from $seeded to $1
  local f=$1 t0 t1 rows0 rows1
  rows0=$(q "$db" "SELECT coalesce(sum(n_live_tup), 0)::bigint FROM pg_stat_user_tables")
  t0=$(date +%s.%N)
  psql_ -d "$db" -v f0="$seeded" -v f1="$f" -f - <"$repo/tests/bench/scale/base.sql"
  local users maps
  users=$(count_at "$f" 50000); maps=$(count_at "$f" 20000)
  seed_table outbox.sql $(($(count_at "$seeded" 10000000) + 1)) "$(count_at "$f" 10000000)" -v users="$users" -v maps="$maps"
  seed_table audit.sql $(($(count_at "$seeded" 20000000) + 1)) "$(count_at "$f" 20000000)" -v maps="$maps"
  t1=$(date +%s.%N)
  psql_ -d "$db" -c "VACUUM (ANALYZE)"
  psql_ -c "COMMENT ON DATABASE $db IS 'jtb-scale seeded=$f'"
  local t2; t2=$(date +%s.%N)
  rows1=$(q "$db" "SELECT sum(n_live_tup)::bigint FROM pg_stat_user_tables")
  seed_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  vacuum_secs=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }')
  seed_rows=$((rows1 - rows0))
  seeded=$f
}

# --- an admin session (setup on a fresh database, else sign-in), with curl -----------------
jar=$state/cookies
base_url=http://127.0.0.1:$port
csrf_of() { awk '$6 == "jtb_csrf" { v = $7 } END { print v }' "$jar"; }
admin_session() {
  rm -f "$jar"
  local setup code token
  setup=$(cli "$1" setup-url)
  if [[ $setup == *"token="* ]]; then
    token=${setup##*token=}
    curl -fsS -c "$jar" -b "$jar" -o /dev/null "$base_url/setup?token=$token"
    code=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{http_code}' "$base_url/setup" \
      --data-urlencode "token=$token" --data-urlencode "username=$admin_user" \
      --data-urlencode "password=$admin_pw" --data-urlencode "password_confirm=$admin_pw" \
      --data-urlencode "csrf=$(csrf_of)")
  else
    curl -fsS -c "$jar" -b "$jar" -o /dev/null "$base_url/login"
    code=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{http_code}' "$base_url/login" \
      --data-urlencode "username=$admin_user" --data-urlencode "password=$admin_pw" \
      --data-urlencode "csrf=$(csrf_of)")
  fi
  [[ $code == 303 ]] || { echo "scale.sh: admin setup/sign-in answered $code" >&2; exit 1; }
  code=$(curl -sS -b "$jar" -o /dev/null -w '%{http_code}' "$base_url/admin")
  [[ $code == 200 ]] || { echo "scale.sh: /admin answered $code after sign-in" >&2; exit 1; }
}

# http OP SIZE PATH LABEL [REPS]: first request, then the median of REPS warm ones
http() {
  local op=$1 size=$2 path=$3 label=$4 n=${5:-$reps} first times code bytes line
  line=$(curl -sS -b "$jar" -o "$state/body" -w '%{http_code} %{time_total} %{size_download}' "$base_url$path")
  read -r code first bytes <<<"$line"
  if [[ $code != 200 ]]; then
    rec "$op" "$size" "HTTP $code" "" "$label"; return
  fi
  times=$(for _ in $(seq "$n"); do
    curl -sS -b "$jar" -o /dev/null -w '%{time_total}\n' "$base_url$path"
  done | median)
  rec "$op" "$size" "$(awk -v t="$times" 'BEGIN { print t * 1000 }')" ms "$label"
  # the first request after the daemon started (the database's cache warm from seeding or the
  # previous page): where a page reads much of a table, it shows in this row
  if [[ $op == *_last ]]; then
    rec "$op.first" "$size" "$(awk -v t="$first" 'BEGIN { print t * 1000 }')" ms "$label, first request"
  fi
  if [[ $op == *export* ]]; then rec "$op.bytes" "$size" "$bytes" B "$label, bytes"; fi
}

# timed DB ARGS...: runs the CLI on DB under GNU time and an address-space cap, its stdout
# counted (not stored); sets t_secs, t_rss_mib, t_bytes, t_status
timed() {
  local tf=$state/time.txt url
  url=$(url_of "$1"); shift
  set +e
  ( ulimit -v $((mem_cap * 1024)); exec /usr/bin/time -v -o "$tf" env JTB__DATABASE__URL="$url" "$bin" "$@" 2>"$state/cmd.err" ) | wc -c >"$state/bytes"
  t_status=${PIPESTATUS[0]}
  set -e
  t_bytes=$(cat "$state/bytes")
  t_secs=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$tf")
  t_rss_mib=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$tf")
}

# the last page of a paged admin page
last_query() { # $1 rows in the table
  if [[ $old_paging == 1 ]]; then echo "page=$(( ($1 + 49) / 50 ))"; else echo "at=last"; fi
}

# one wrk load of signed webhooks in the background: $1 public id, $2 run number, $3 output
wrk_start() {
  wrk -t1 -c4 -d3600s --timeout 1800s --latency -s "$repo/tests/bench/webhook-post.lua" \
    "$base_url/webhooks/jira/$1?token=scaletoken" -- "$2" >"$3" 2>&1 &
  wrk_pids+=($!)
}
wrk_stop() { for w in "${wrk_pids[@]}"; do kill -INT "$w" 2>/dev/null || true; wait "$w" 2>/dev/null || true; done; wrk_pids=(); }
ms_of() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v } else if (v ~ /m$/) { sub(/m$/,"",v); print v*60000 } else { sub(/s$/,"",v); print v*1000 } }'; }
wrk_p99() { ms_of "$(awk '$1 == "99%" { print $2 }' "$1")"; }
wrk_max() { ms_of "$(awk '$1 == "Latency" { print $4; exit }' "$1")"; }
wrk_n() { awk '/requests in/ { print $1 }' "$1"; }
wrk_bad() { awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(/,/, ""); n += $4 + $6 + $8 } END { print n + 0 }' "$1"; }
# requests still unanswered after wrk's timeout (30 min; wrk aborts on longer ones) or when wrk stopped: not in its latencies
wrk_timeouts() { awk '/Socket errors/ { gsub(/,/, ""); n += $10 } END { print n + 0 }' "$1"; }
oom_note() { grep -qiE 'memory allocation|out of memory' "$state/cmd.err" && echo ', out of memory' || true; }

# erase under load: $1 size, $2 op, $3 label, cmd...
erase_under_load() {
  local size=$1 op=$2 label=$3; shift 3
  run_no=$((run_no + 2))
  wrk_start tinysite "$run_no" "$state/wrk-other.txt"
  wrk_start bigsite $((run_no + 1)) "$state/wrk-big.txt"
  sleep 2
  timed "$@"
  sleep 1
  wrk_stop
  if [[ $t_status != 0 ]]; then
    rec "$op" "$size" "failed (exit $t_status$(oom_note))" "" "$label" "after $t_secs s, ${mem_cap} MiB cap"
    tail -3 "$state/cmd.err" >&2
  else
    rec "$op" "$size" "$t_secs" s "$label"
    rec "$op.rss" "$size" "$t_rss_mib" MiB "$label, peak RSS"
  fi
  rec "$op.other_p99" "$size" "$(wrk_p99 "$state/wrk-other.txt")" ms "$label: other instance's webhooks, p99"
  rec "$op.other_max" "$size" "$(wrk_max "$state/wrk-other.txt")" ms "$label: other instance's webhooks, max" \
    "$(wrk_n "$state/wrk-other.txt") requests, $(wrk_bad "$state/wrk-other.txt") not 2xx, $(wrk_timeouts "$state/wrk-other.txt") timed out"
  rec "$op.big_max" "$size" "$(wrk_max "$state/wrk-big.txt")" ms "$label: the big instance's webhooks, max" \
    "$(wrk_n "$state/wrk-big.txt") requests, $(wrk_bad "$state/wrk-big.txt") not 2xx, $(wrk_timeouts "$state/wrk-big.txt") timed out"
  cp "$state/wrk-other.txt" "$out-$size-$op-other.txt"; cp "$state/wrk-big.txt" "$out-$size-$op-big.txt"
}

run_no=100
seed_lines=()
old_paging=${JTB_SCALE_OLD_PAGING:-}
for f in "${factors[@]}"; do
  echo "== size $f" >&2
  if awk -v a="$f" -v b="$seeded" 'BEGIN { exit !(a > b) }'; then
    echo "seeding from $seeded to $f..." >&2
    seed "$f"
  elif awk -v a="$f" -v b="$seeded" 'BEGIN { exit !(a < b) }'; then
    echo "scale.sh: $db already holds size $seeded > $f; drop it (or use JTB_SCALE_DB) for smaller sizes" >&2
    exit 1
  else
    seed_secs=0; vacuum_secs=0; seed_rows=0
  fi
  db_bytes=$(q "$db" "SELECT pg_database_size(current_database())")
  audit_rows=$(q "$db" "SELECT count(*) FROM secret_access_audit")
  outbox_rows=$(q "$db" "SELECT count(*) FROM outbox")
  rate=$(awk -v r="$seed_rows" -v s="$seed_secs" 'BEGIN { if (s > 0) printf "%.0f", r / s; else print 0 }')
  seed_lines+=("| $f | $seed_rows | $seed_secs s | $vacuum_secs s | $rate | $(awk -v b="$db_bytes" 'BEGIN { printf "%.2f GB", b / 1e9 }') | $outbox_rows | $audit_rows | $(uptime | sed 's/.*load average: //') |")
  rec db.size "$f" "$db_bytes" B "database size" "" false

  start_daemon "$db"
  admin_session "$db"
  if [[ -z $old_paging ]]; then
    curl -sS -b "$jar" -o "$state/body" "$base_url/admin/audit"
    if grep -qE '(after|before)=' "$state/body"; then old_paging=0; else old_paging=1; fi
    echo "paging: $([[ $old_paging == 1 ]] && echo 'page numbers (?page=N)' || echo 'keyset (?at=last)')" >&2
  fi
  http dashboard "$f" /admin "/admin dashboard"
  http outbox "$f" /admin/outbox "/admin/outbox (delivery queue)"
  http audit_first "$f" /admin/audit "/admin/audit first page"
  http audit_last "$f" "/admin/audit?$(last_query "$audit_rows")" "/admin/audit last page"
  http data_audit_last "$f" "/admin/data/secret_access_audit?$(last_query "$audit_rows")" "data inventory, audit table, last page"
  # the user exported and erased: the big instance's newest linked user, who appears only in
  # rows seeded at this size (as many as any user of a database seeded at this size at once:
  # an early user of a topped-up database is named by the rows of every earlier size too)
  read -r user_key user_mapping_id < <(q "$db" "SELECT jira_user_key || ' ' || id FROM user_mapping
    WHERE jira_instance_id = '$big' AND status = 'linked' ORDER BY created_at DESC LIMIT 1")
  http admin_export_user "$f" "/admin/users/$user_mapping_id/export" "admin Export of a user (download)" "$slow_reps"

  # CLI exports: a user of the big instance, then the whole big instance
  times=(); rss=0
  for i in $(seq "$slow_reps"); do
    timed "$db" export --user "bigsite:$user_key"
    times+=("$t_secs"); rss=$t_rss_mib
  done
  if [[ $t_status == 0 ]]; then
    rec cli_export_user "$f" "$(printf '%s\n' "${times[@]}" | median)" s "\`export --user\`"
    rec cli_export_user.bytes "$f" "$t_bytes" B "\`export --user\`, bytes"
  else
    rec cli_export_user "$f" "failed (exit $t_status)" "" "\`export --user\`"
  fi
  timed "$db" export --instance bigsite
  if [[ $t_status == 0 ]]; then
    rec cli_export_instance "$f" "$t_secs" s "\`export --instance\` (big instance)"
    rec cli_export_instance.bytes "$f" "$t_bytes" B "\`export --instance\`, bytes"
  else
    rec cli_export_instance "$f" "failed (exit $t_status$(oom_note))" "" \
      "\`export --instance\` (big instance)" "after $t_secs s, ${mem_cap} MiB cap"
  fi
  rec cli_export_instance.rss "$f" "$t_rss_mib" MiB "\`export --instance\`, peak RSS"

  # the per-event statements, EXPLAIN (ANALYZE), median of the runs; the items behind a
  # retrying head are held, as the daemon's first claim that meets them leaves them
  q "$db" "UPDATE outbox f SET held = true WHERE f.status = 'pending' AND NOT f.held \
             AND f.ordering_key IS NOT NULL AND EXISTS (SELECT 1 FROM outbox e \
             WHERE e.ordering_key = f.ordering_key AND e.status = 'pending' AND e.id < f.id)" >/dev/null
  keys=$(q "$db" "SELECT '{' || string_agg(jira_user_key, ',') || '}' FROM (SELECT jira_user_key FROM user_mapping WHERE jira_instance_id = '$big' ORDER BY jira_user_key DESC LIMIT 3) k")
  ms=$(q "$db" "SELECT '{' || string_agg(ms_user_id::text, ',') || '}' FROM (SELECT ms_user_id FROM user_mapping WHERE jira_instance_id = '$big' ORDER BY jira_user_key DESC LIMIT 3) k")
  awk '/^-- name: / { if (name) print name "\t" label "\t" sql; split(substr($0, 10), p, " \\| "); name = p[1]; label = p[2]; sql = ""; next }
       name && !/^--/ { sql = sql " " $0 } END { if (name) print name "\t" label "\t" sql }' \
    "$repo/tests/bench/scale/lookups.sql" >"$state/lookups.tsv"
  while IFS=$'\t' read -r name label sql; do
    sql=${sql%;}
    for _ in $(seq $((reps + 1))); do
      if [[ $name == outbox_claim ]]; then
        printf 'BEGIN;\nEXPLAIN (ANALYZE) %s;\nROLLBACK;\n' "$sql"
      else
        printf 'EXPLAIN (ANALYZE) %s;\n' "$sql"
      fi | psql_ -d "$db" -tA -v big="$big" -v keys="$keys" -v ms="$ms" -f - | awk '/Execution Time/ { print $3 }'
    done | tail -n +2 | median >"$state/lookup.ms"
    rec "$name" "$f" "$(cat "$state/lookup.ms")" ms "$label"
  done <"$state/lookups.tsv"
  stop_daemon

  # erase, on a copy: a user, then the big instance, each while webhooks keep coming for the big
  # and the tiny ("other") instance
  if [[ ${JTB_SCALE_NO_ERASE:-0} != 1 ]]; then
    edb=${db}_erase
    if [[ ${JTB_SCALE_ERASE_IN_PLACE:-0} == 1 && $f == "${factors[-1]}" ]]; then
      # no room for a copy: the last size erases the database itself, which is dropped after
      edb=$db
      psql_ -c "COMMENT ON DATABASE $db IS 'jtb-scale erased'"
      JTB_SCALE_KEEP=0
    else
      t0=$(date +%s.%N)
      # FILE_COPY (PostgreSQL 15+) copies the files instead of writing every page to the WAL
      strategy=$(q postgres "SELECT CASE WHEN current_setting('server_version_num')::int >= 150000 THEN 'STRATEGY FILE_COPY' END")
      psql_ -c "DROP DATABASE IF EXISTS $edb WITH (FORCE)" -c "CREATE DATABASE $edb TEMPLATE $db $strategy"
      rec erase_copy "$f" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" s \
        "(setup) copy of the database for the erases" "" false
    fi
    start_daemon "$edb"
    run_no=$((run_no + 2))
    wrk -t1 -c4 -d5s --timeout 1800s --latency -s tests/bench/webhook-post.lua \
      "$base_url/webhooks/jira/tinysite?token=scaletoken" -- "$run_no" >"$state/wrk-idle.txt" 2>&1
    rec webhook_idle_p99 "$f" "$(wrk_p99 "$state/wrk-idle.txt")" ms "other instance's webhooks, p99, no erase running" \
      "$(wrk_n "$state/wrk-idle.txt") in 5 s"
    erase_under_load "$f" erase_user "erase of a user (CLI --yes)" "$edb" erase --user "bigsite:$user_key" --yes
    erase_under_load "$f" erase_instance "erase of the big instance (CLI --yes)" "$edb" erase --instance bigsite --yes
    stop_daemon
    psql_ -c "DROP DATABASE IF EXISTS ${db}_erase WITH (FORCE)"
  fi
done

elapsed=$(( $(date +%s) - started ))
{
  echo "| size | rows added | seeding | VACUUM ANALYZE | rows/s | database | outbox rows | audit rows | load average at start |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${seed_lines[@]}"
} >"$out-seed.md"
python3 "$repo/tests/bench/scale/report.py" "$results" "$out.md" "$out.json" \
  "### Scale: operation × size (the ratio is to the smallest size)" "" \
  "Binary: $bin ($(git rev-parse --short HEAD 2>/dev/null || echo unknown)); last page via $([[ $old_paging == 1 ]] && echo '?page=N' || echo '?at=last'); each page the median of $reps warm requests after one warm-up, exports of $slow_reps; machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load average at the end $(uptime | sed 's/.*load average: //'); ${elapsed} s in all." >/dev/null
{ echo; echo "### Seeding"; echo; cat "$out-seed.md"; } >>"$out.md"
cat "$out.md"
echo "results: $out.md, $out.json" >&2
