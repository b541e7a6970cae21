#!/usr/bin/env bash
# The benchmark suite (issue 7): release build, loopback only, every number next to a reference
# measured in the same run. Prints a markdown table per section and writes
# target/bench/results.json (and target/bench/results.md).
#
#   tests/bench/run.sh [--quick] [--ingest-only]      full run about 10 min, --quick about 3 min
#
# --ingest-only runs section 1 alone (JTB_BENCH_BIN=path benchmarks another build of the daemon,
# e.g. an older commit's, against the same pgbench reference).
#
# 1. Webhook ingestion: committed Jira events/s and p50/p99 (wrk, concurrency 1/16/64) against
#    the real daemon process, next to pgbench inserting one comparable outbox row per
#    transaction into the same database → ratio.
# 2. API relay: a page of chat messages through the appliance vs straight from the Graph double
#    vs nginx proxy_pass to the double (wrk; ignored test bench::bench_relay_overhead).
# 3. End to end: webhook 2xx → card at the Bot Connector double, fixed rate and the highest
#    sustained rate (the daemon as its own process; ignored test bench_e2e::bench_end_to_end).
# 4. Resources: start-to-ready, daemon RSS idle and under load, binary and package sizes.
#
# Needs PostgreSQL as for tests/run.sh (or packaging/prepare-host.sh), wrk, nginx (nginx-light)
# and pgbench (postgresql-contrib on some systems; Debian ships it with postgresql). Run as root
# from anywhere; JTB_TEST_DATABASE_URL as for the tests. Fixed inputs: the same events, chats
# and tenants every run; a warm-up before each measured run is not counted.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
quick=0
ingest_only=0
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    --ingest-only) ingest_only=1 ;;
    *) echo "usage: $0 [--quick] [--ingest-only]" >&2; exit 2 ;;
  esac
done
if ((quick)); then secs=3; concs=(1 16 64); else secs=10; concs=(1 16 64); fi
export JTB_TEST_DATABASE_URL=${JTB_TEST_DATABASE_URL:-postgresql:///postgres?host=/var/run/postgresql}
export JTB_BENCH_DIR=${JTB_BENCH_DIR:-$PWD/target/bench}
export JTB_BENCH_SECS=$((quick ? 3 : 8))
export JTB_BENCH_QUICK=$quick
for tool in wrk nginx curl jq; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done
pgbench=$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)
[[ -x $pgbench ]] || { echo "run.sh: pgbench is missing (it ships with postgresql)" >&2; exit 1; }
started=$(date +%s)
rm -rf "$JTB_BENCH_DIR"; mkdir -p "$JTB_BENCH_DIR"

echo "building (release)..." >&2
cargo build --release --locked -q
((ingest_only)) || cargo test --release --locked --test integration --no-run -q
bin=${JTB_BENCH_BIN:-target/release/jira-teams-bridge}

# --- 1 and 4: the daemon alone, as its own process, on a fresh database -------------------------
port=18099
db=jtb_bench
state=$(mktemp -d)
psql_() { (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"); }
psql_ -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" -c "CREATE DATABASE ${db} OWNER postgres"
url="postgresql:///${db}?host=/var/run/postgresql&user=postgres"
pid=
start_daemon() { # sets pid, and ready_ms: milliseconds from exec to /readyz 200
  local t0 t1
  t0=$(date +%s%N)
  JTB__DATABASE__URL="$url" JTB__PATHS__STATE_DIR="$state" JTB__LISTEN__INTERNAL="127.0.0.1:${port}" \
    JTB__DATABASE__POOL_MAX_SIZE=32 JTB__LOG__LEVEL=warn "$bin" serve >>"$state/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 3000); do curl -fsS -o /dev/null "http://127.0.0.1:${port}/readyz" 2>/dev/null && break; sleep 0.01; done
  t1=$(date +%s%N)
  ready_ms=$(( (t1 - t0) / 1000000 ))
}
stop_daemon() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap 'stop_daemon; cp "$state/serve.log" "$JTB_BENCH_DIR/" 2>/dev/null; rm -rf "$state"' EXIT
rss() { awk -v k="$2:" '$1==k {printf "%.1f", $2/1024}' "/proc/$1/status"; }

start_daemon   # the first start applies every migration
ready_first=$ready_ms
stop_daemon
start_daemon   # schema current: what a restart costs
ready=$ready_ms
sleep 2
idle_rss=$(rss "$pid" VmRSS)

token=benchtoken
hash=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
psql_ -d "$db" <<SQL
INSERT INTO jira_instance (id, base_url, public_id, shared_secret, shared_secret_hint, webhook_token_hash)
  VALUES ('00000000-0000-4000-8000-00000000be01', 'https://jira.example.com', 'bench22', decode(repeat('ab', 40), 'hex'), 'bench', decode('${hash}', 'hex'));
INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) VALUES
  (gen_random_uuid(), '00000000-0000-4000-8000-00000000be01', 10045, 'u', '19:aaa@thread.v2'),
  (gen_random_uuid(), '00000000-0000-4000-8000-00000000be01', 10045, 'u', '19:bbb@thread.v2');
SQL
cat >"$state/insert.sql" <<'SQL'
INSERT INTO outbox (kind, jira_instance_id, dedupe_key, payload, ordering_key) VALUES ('bench', '00000000-0000-4000-8000-00000000be01', md5(random()::text || clock_timestamp()::text), '{"chatId":"19:aaa@thread.v2","event":{"kind":"issue_updated","issue_id":10045,"issue_key":"ABC-1","summary":"Fix login","changed_fields":["status"]}}', 'conv:19:aaa@thread.v2');
SQL
chmod 0644 "$state/insert.sql"; chmod 0755 "$state"
mkdir "$state/pglog"; chown postgres "$state/pglog"

ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); printf "%.2f", v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); printf "%.2f", v } else { sub(/s$/,"",v); printf "%.2f", v*1000 } }'; }
hook="http://127.0.0.1:${port}/webhooks/jira/bench22?token=${token}"
{
  echo "| concurrency | appliance events/s | p50 ms | p99 ms | pgbench rows/s | p50/p99 pgbench ms | ratio events/pgbench |"
  echo "|---|---|---|---|---|---|---|"
} >"$JTB_BENCH_DIR/ingest.md"
echo '[]' >"$JTB_BENCH_DIR/ingest.json"
# where the work goes: database transactions and outbox updates (the delivery runner) per
# accepted event, and the daemon's own CPU time per event (utime + stime, clock ticks)
db_stats() { psql_ -d "$db" -tA -F' ' -c "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()), (SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'outbox')"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
read -r xact0 upd0 < <(db_stats)
ticks0=$(cpu_ticks)
run=0
for c in "${concs[@]}"; do
  t=$(( c < 2 ? 1 : 2 ))
  run=$((run + 1))
  wrk -t"$t" -c"$c" -d1s -s tests/bench/webhook-post.lua "$hook" -- $((run * 2)) >/dev/null # warm-up
  out=$(wrk -t"$t" -c"$c" -d"${secs}s" --latency -s tests/bench/webhook-post.lua "$hook" -- $((run * 2 + 1)))
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
  p99=$(ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  [[ -n $non2xx ]] && echo "warning: ${non2xx} non-2xx answers at concurrency ${c}" >&2
  [[ $c == "${concs[-1]}" ]] && load_rss=$(rss "$pid" VmRSS)
  # up to 3 tries: on a shared server, 64 more connections may briefly exceed max_connections
  for try in 1 2 3; do
    pgout=$(cd / && runuser -u postgres -- "$pgbench" -n -r -f "$state/insert.sql" -c "$c" -j "$t" -T "$secs" \
      --log --log-prefix="$state/pglog/pgb" "$db" 2>"$state/pgbench.err") && break
    echo "pgbench failed (try $try): $(tail -2 "$state/pgbench.err")" >&2
    rm -f "$state"/pglog/pgb.*
    [[ $try == 3 ]] && exit 1
    sleep 5
  done
  pg=$(awk '/^tps/ {printf "%.0f", $3; exit}' <<<"$pgout")
  # pgbench's per-transaction log: 3rd field is the latency in microseconds
  read -r pg50 pg99 < <(cat "$state"/pglog/pgb.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.2f %.2f\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}')
  rm -f "$state"/pglog/pgb.*
  ratio=$(awk -v a="$rps" -v b="$pg" 'BEGIN { printf "%.2f", a/b }')
  echo "| $c | $rps | $p50 | $p99 | $pg | $pg50 / $pg99 | $ratio |" >>"$JTB_BENCH_DIR/ingest.md"
  jq --argjson c "$c" --argjson rps "$rps" --argjson p50 "$p50" --argjson p99 "$p99" --argjson pg "$pg" \
     --argjson pg50 "$pg50" --argjson pg99 "$pg99" --argjson ratio "$ratio" --argjson non2xx "${non2xx:-0}" \
     '. + [{concurrency: $c, events_per_sec: $rps, p50_ms: $p50, p99_ms: $p99, non_2xx: $non2xx,
            pgbench_rows_per_sec: $pg, pgbench_p50_ms: $pg50, pgbench_p99_ms: $pg99, ratio: $ratio}]' \
     "$JTB_BENCH_DIR/ingest.json" >"$JTB_BENCH_DIR/ingest.tmp" && mv "$JTB_BENCH_DIR/ingest.tmp" "$JTB_BENCH_DIR/ingest.json"
done
committed=$(psql_ -d "$db" -tA -c "SELECT count(*) FROM outbox WHERE kind = 'chat_notification'")
hwm=$(rss "$pid" VmHWM)
ticks1=$(cpu_ticks)
sleep 1 # statistics reach pg_stat_* with a short delay
read -r xact1 upd1 < <(db_stats)
stop_daemon
pg_xacts=$(psql_ -d "$db" -tA -c "SELECT count(*) FROM outbox WHERE kind = 'bench'")
psql_ -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)"
events=$((committed / 2))
awk -v c="$committed" -v e="$events" -v x=$((xact1 - xact0)) -v p="$pg_xacts" -v u=$((upd1 - upd0)) \
    -v t=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {
  printf "\nEach accepted event commits 2 outbox rows (2 linked chats): %d rows, %d events in this run (warm-ups included).\n", c, e
  printf "Database transactions per accepted event (pgbench transactions and the delivery runner'"'"'s included): %.2f; outbox rows updated by the delivery runner per event: %.2f; daemon CPU per event: %.2f ms.\n", (x - p) / e, u / e, t * 1000 / hz / e
}' >>"$JTB_BENCH_DIR/ingest.md"
if ((ingest_only)); then cat "$JTB_BENCH_DIR/ingest.md"; exit 0; fi

# --- 2 and 3: ignored tests of the integration binary -----------------------------------------
cargo test --release --locked --test integration -q bench::bench_relay_overhead -- --ignored --exact --test-threads 1 >"$JTB_BENCH_DIR/relay.log" 2>&1 \
  || { cat "$JTB_BENCH_DIR/relay.log" >&2; exit 1; }
cargo test --release --locked --test integration -q bench_e2e::bench_end_to_end -- --ignored --exact --test-threads 1 >"$JTB_BENCH_DIR/e2e.log" 2>&1 \
  || { cat "$JTB_BENCH_DIR/e2e.log" >&2; exit 1; }

# --- 4: sizes -------------------------------------------------------------------------------------
size_mib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f", b/1048576 }'; }
bin_size=$(size_mib "$bin")
packages=""
for p in target/packages/*.deb target/packages/*.rpm; do
  [[ -f $p ]] && packages+="$(basename "$p") $(size_mib "$p") MiB; "
done
packages=${packages:-"not built (run packaging/build-packages.sh, then run.sh again)"}
{
  echo "| measure | value |"
  echo "|---|---|"
  echo "| start to ready (exec → /readyz 200), schema current | ${ready} ms |"
  echo "| start to ready, first start on an empty database (all migrations) | ${ready_first} ms |"
  echo "| daemon RSS idle (own process, VmRSS) | ${idle_rss} MiB |"
  echo "| daemon RSS at the end of ingestion at concurrency ${concs[-1]} (VmRSS / VmHWM) | ${load_rss} / ${hwm} MiB |"
  echo "| release binary (stripped) | ${bin_size} MiB |"
  echo "| packages | ${packages} |"
} >"$JTB_BENCH_DIR/resources.md"
jq -n --argjson ready "$ready" --argjson ready_first "$ready_first" --argjson idle "$idle_rss" \
  --argjson load "$load_rss" --argjson hwm "$hwm" --argjson bin "$bin_size" --arg packages "$packages" \
  '{ready_ms: $ready, ready_first_start_ms: $ready_first, idle_rss_mib: $idle, ingest_load_rss_mib: $load,
    ingest_peak_rss_mib: $hwm, binary_mib: $bin, packages: $packages}' >"$JTB_BENCH_DIR/resources.json"

elapsed=$(( $(date +%s) - started ))
{
  echo "### 1. Webhook ingestion (wrk → daemon vs pgbench, ${secs} s per run)"
  echo; cat "$JTB_BENCH_DIR/ingest.md"
  echo; echo "### 2. API relay: list chat messages (wrk, ${JTB_BENCH_SECS} s per run)"
  echo; cat "$JTB_BENCH_DIR/relay.md"
  echo; echo "### 3. End to end: webhook 2xx → card at the Bot Connector double (${JTB_BENCH_SECS} s per rate)"
  echo; cat "$JTB_BENCH_DIR/e2e.md"
  echo; echo "### 4. Resources"
  echo; cat "$JTB_BENCH_DIR/resources.md"
  echo; echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(if ((quick)); then echo "--quick"; else echo "full"; fi) run, ${elapsed} s including the build."
} | tee "$JTB_BENCH_DIR/results.md"
jq -n --slurpfile ingest "$JTB_BENCH_DIR/ingest.json" --slurpfile relay "$JTB_BENCH_DIR/relay.json" \
  --slurpfile e2e "$JTB_BENCH_DIR/e2e.json" --slurpfile res "$JTB_BENCH_DIR/resources.json" \
  --argjson quick "$quick" --argjson elapsed "$elapsed" --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  '{commit: $commit, quick: ($quick == 1), elapsed_secs: $elapsed, cores: '"$(nproc)"',
    webhook_ingestion: $ingest[0], api_relay: $relay[0], end_to_end: $e2e[0], resources: $res[0]}' \
  >"$JTB_BENCH_DIR/results.json"
echo "results: $JTB_BENCH_DIR/results.md, $JTB_BENCH_DIR/results.json" >&2
