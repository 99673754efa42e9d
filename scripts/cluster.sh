#!/usr/bin/env bash
# A cluster on one machine, to try the Kafka backend: `adclick kafka-mock`
# (librdkafka's mock cluster: the Kafka protocol on loopback, records in
# memory only, not a broker for production), two nodes that take clicks and
# aggregate (node-a on 127.0.0.1:8081, node-b on :8082) and one query node
# (:8083), each on a copy of config/adclick.toml. Once all are ready it
# registers the demo ad 42 on each node and prints a signed click URL for
# each front end and a query for the query node. Ctrl-C stops everything.
#
#   ADCLICK_CLUSTER_DIR=/tmp/demo scripts/cluster.sh    where configs and data go
#                                                       (default ./cluster-demo)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build" -DADCLICK_BUILD_TESTS=OFF -DADCLICK_BUILD_BENCH=OFF
bin="$root/build/src/app/adclick"
work="${ADCLICK_CLUSTER_DIR:-$root/cluster-demo}"
mkdir -p "$work"
admin_token="demo-admin-token-change-me"
advertiser_key="demo-key-for-adv-1"

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

# The mock cluster: its first line is the bootstrap_servers line.
mkfifo "$work/mock.fifo" 2>/dev/null || true
"$bin" kafka-mock --brokers 3 --partitions 8 --replication 3 >"$work/mock.out" 2>"$work/mock.err" <"$work/mock.fifo" &
pids+=($!)
exec 3>"$work/mock.fifo"  # keeps its stdin open (it takes commands there)
for _ in $(seq 1 100); do
  grep -q '^bootstrap_servers' "$work/mock.out" 2>/dev/null && break
  sleep 0.1
done
servers_line="$(head -1 "$work/mock.out")"
[[ "$servers_line" == bootstrap_servers* ]] || { echo "cluster: kafka-mock did not start" >&2; exit 1; }

# node NAME PORT ROLES: a copy of the default config on the Kafka backend.
node() {
  local name="$1" port="$2" roles="$3" config="$work/$1.toml"
  sed -e "s|^listen = .*|listen = \"127.0.0.1:$port\"|" \
      -e "s|^data_dir = .*|data_dir = \"$work/$name-data\"|" \
      -e 's|^backend = .*|backend = "kafka"|' \
      -e "s|^topic = \"clicks\"|$servers_line\ntopic = \"clicks\"|" \
      -e "s|^roles = .*|id = \"$name\"\nroles = $roles|" \
      "$root/config/adclick.toml" >"$config"
  "$bin" serve --config "$config" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
node node-a 8081 '["front", "aggregate"]'
node node-b 8082 '["front", "aggregate"]'
node query 8083 '["query"]'

for port in 8081 8082 8083; do
  for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { echo "cluster: the node on :$port is not ready (see $work/*.log)" >&2; exit 1; }
  # The ads are each node's own state.
  curl -fs -X PUT -H "Authorization: Bearer $admin_token" \
    -d '{"advertiserId":"adv-1","url":"https://example.com/landing"}' \
    "http://127.0.0.1:$port/api/v1/ads/42" >/dev/null
done
url_a="$("$bin" sign --config "$work/node-a.toml" --ad 42 --ttl 1h --base-url http://127.0.0.1:8081)"
imp="$(sed -n 's/.*impressionId=\([^&]*\).*/\1/p' <<<"$url_a")"
url_b="http://127.0.0.1:8082/click?${url_a#*\?}"
cat <<MSG

A cluster is up (configs, data and logs in $work):
  kafka-mock      $servers_line
  node-a :8081    front + aggregate
  node-b :8082    front + aggregate
  query  :8083    query

One signed click for demo ad 42 (impression $imp), on either front end. Sent to both,
it is counted once (each 302s it; the aggregator of its partition drops the copy):
    curl -si '$url_a'
    curl -si '$url_b'

Its clicks per minute over the last hour, from the query node (within a second or two):
    curl -s -H 'Authorization: Bearer $advertiser_key' "http://127.0.0.1:8083/api/v1/ads/42/aggregates?from=\$((\$(date +%s)-3600))&to=\$((\$(date +%s)+60))"

More signed links:  $bin sign --config $work/node-a.toml --ad 42 --base-url http://127.0.0.1:8082
Stop a node (kill -9 \$(pgrep -f node-a.toml)) and the other takes its partitions over.
Ctrl-C stops everything.
MSG
wait "${pids[@]}"
