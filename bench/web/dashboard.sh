#!/usr/bin/env bash
# bench/web/dashboard.sh: what the dashboard (docs/dashboard.md) costs the
# request path: POST /api/items req/s of `sighost serve` on the web bench's
# project (bench/web/project: one post_save receiver), in three cases
# measured interleaved in the same run:
#
#   off       the dashboard disabled: sends take the untraced path
#   on        the dashboard enabled, nobody watching: the trace hook feeds the
#             per-receiver histograms; the stream costs one load per send
#   watched   the same server with one client reading the live stream
#             (curl -N on /_sighost/stream), every signal sent to it
#
# Prints each round and the ratios on/off and watched/off (the issue's
# target: watched/off > 0.90, a drop of less than 10%).
#
# Needs wrk and curl (apt-get install -y wrk curl) and the build
# (ninja -C build). Usage: bench/web/dashboard.sh   (env: DURATION=5 seconds
# per case, ROUNDS=3, BUILD=build). Both servers use synchronous: normal.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-$root/build}
sighost=$build/host/sighost
duration=${DURATION:-5}
rounds=${ROUNDS:-3}
for need in "$sighost" "$build/bench/bench.so" "$build/bench/bench.yaml"; do
	[ -e "$need" ] || { echo "dashboard.sh: $need is missing: run ninja -C $build" >&2; exit 1; }
done
for cmd in wrk curl; do
	command -v "$cmd" >/dev/null || { echo "dashboard.sh: $cmd is missing" >&2; exit 1; }
done

. "$here/dashboard-lib.sh"
start_server off false
port_off=$server_port
start_server on true
port_on=$server_port
token=$server_token

cat > "$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"name": "widget", "qty": 3, "price": 9.5}'
wrk.headers["Content-Type"] = "application/json"
LUA
results=$tmp/results.tsv
: > "$results"
run_case() {   # round case port
	local out=$tmp/wrk-$1-$2.txt
	wrk -t2 -c64 -d"${duration}s" --timeout 10s -s "$tmp/post.lua" "http://127.0.0.1:$3/api/items" > "$out"
	local rps
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	printf '%s\t%s\t%s\n' "$1" "$2" "$rps" >> "$results"
	printf '  round %s %-8s %10s req/s\n' "$1" "$2" "$rps" >&2
}
echo "wrk -t2 -c64 -d${duration}s POST /api/items, $rounds rounds; $(nproc) CPUs; load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$rounds"); do
	run_case "$round" off "$port_off"
	run_case "$round" on "$port_on"
	curl -sN -H "Authorization: Token $token" "http://127.0.0.1:$port_on/_sighost/stream" \
		> "$tmp/stream-$round.txt" &
	watcher=$!
	sleep 0.3
	run_case "$round" watched "$port_on"
	kill "$watcher" 2>/dev/null || true
	wait "$watcher" 2>/dev/null || true
	events=$(grep -c '^event: signal' "$tmp/stream-$round.txt" || true)
	dropped=$(grep -oE '"dropped":[0-9]+' "$tmp/stream-$round.txt" | tail -1 | cut -d: -f2)
	echo "  round $round watcher received $events events, dropped ${dropped:-0}" >&2
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo
awk -F'\t' '
	{ sum[$2] += $3; n[$2]++; r[$1, $2] = $3; if ($1 > rounds) rounds = $1 }
	END {
		printf "| round | off req/s | on req/s | watched req/s | on/off | watched/off |\n|---|---:|---:|---:|---:|---:|\n"
		for (i = 1; i <= rounds; i++)
			printf "| %d | %.0f | %.0f | %.0f | %.3f | %.3f |\n", i, r[i, "off"], r[i, "on"], r[i, "watched"],
				r[i, "on"] / r[i, "off"], r[i, "watched"] / r[i, "off"]
		printf "| mean | %.0f | %.0f | %.0f | %.3f | %.3f |\n", sum["off"] / n["off"], sum["on"] / n["on"],
			sum["watched"] / n["watched"], sum["on"] / sum["off"], sum["watched"] / sum["off"]
	}' "$results"
