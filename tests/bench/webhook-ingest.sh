#!/usr/bin/env bash
# Webhook ingestion benchmark: committed Jira events/s and latency through the real server
# (release build, loopback, wrk), next to pgbench inserting one comparable outbox row per
# transaction into the same database in the same run. Prints a markdown table with ratios.
#
#   tests/bench/webhook-ingest.sh [seconds per run, default 10]
#
# Needs: PostgreSQL running (tests/run.sh or packaging/prepare-host.sh set it up), wrk and
# pgbench (apt-get install wrk; pgbench ships with postgresql). Run as root from the repo root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
secs=${1:-10}
port=18099
db=jtb_bench
state=$(mktemp -d)
pgbench=$(ls /usr/lib/postgresql/*/bin/pgbench | tail -1)
psql_() { (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"); }

cargo build --release --locked -q
psql_ -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" -c "CREATE DATABASE ${db} OWNER postgres"
url="postgresql:///${db}?host=/var/run/postgresql&user=postgres"
JTB__DATABASE__URL="$url" JTB__PATHS__STATE_DIR="$state" JTB__LISTEN__INTERNAL="127.0.0.1:${port}" \
  JTB__DATABASE__POOL_MAX_SIZE=32 JTB__LOG__LEVEL=warn target/release/jira-teams-bridge serve >"$state/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$state"' EXIT
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

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
INSERT INTO outbox (kind, jira_instance_id, dedupe_key, payload) VALUES ('bench', '00000000-0000-4000-8000-00000000be01', md5(random()::text || clock_timestamp()::text), '{"chatId":"19:aaa@thread.v2","event":{"kind":"issue_updated","issue_id":10045,"issue_key":"ABC-1","summary":"Fix login","changed_fields":["status"]}}');
SQL
chmod 0644 "$state/insert.sql"; chmod 0755 "$state"

echo "| concurrency | appliance events/s | p50 ms | p99 ms | pgbench rows/s | ratio events/pgbench |"
echo "|---|---|---|---|---|---|"
for c in 1 16 64; do
  t=$(( c < 2 ? 1 : 2 ))
  out=$(wrk -t"$t" -c"$c" -d"${secs}s" --latency -s tests/bench/webhook-post.lua "http://127.0.0.1:${port}/webhooks/jira/bench22?token=${token}")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  [[ -n $non2xx ]] && echo "warning: ${non2xx} non-2xx answers at concurrency ${c}" >&2
  pg=$(cd / && runuser -u postgres -- "$pgbench" -n -f "$state/insert.sql" -c "$c" -j "$t" -T "$secs" "$db" 2>/dev/null | awk '/^tps/ {print $3; exit}')
  ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); printf "%.2f", v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); printf "%.2f", v } else { sub(/s$/,"",v); printf "%.2f", v*1000 } }'; }
  ratio=$(awk -v a="$rps" -v b="$pg" 'BEGIN { printf "%.2f", a/b }')
  echo "| $c | $rps | $(ms "$p50") | $(ms "$p99") | $pg | $ratio |"
done
committed=$(psql_ -d "$db" -tA -c "SELECT count(*) FROM outbox WHERE kind = 'chat_notification'")
echo
echo "outbox rows committed by the appliance: ${committed} (2 per accepted event)"
