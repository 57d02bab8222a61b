#!/usr/bin/env bash
# bench/web/dashboard-callgrind.sh: the dashboard's cost on the request path
# in instructions rather than seconds, for shared machines where wrk's
# req/s swing by more than the effect: `sighost serve` on the web bench's
# project runs under callgrind, and the instructions all its threads
# execute for N POST /api/items (one post_save receiver) are counted, in
# three cases (see bench/web/dashboard.sh):
#
#   off      dashboard disabled
#   on       dashboard enabled, nobody watching (the trace hook is not set)
#   watched  dashboard enabled, one client reading the live stream
#
# Prints instructions per POST and the ratios to `off`. Needs valgrind and
# curl. Usage: bench/web/dashboard-callgrind.sh   (env: N=300, BUILD=build,
# KEEP=1 keeps the callgrind files for callgrind_annotate)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-$root/build}
sighost=$build/host/sighost
n=${N:-300}
for cmd in valgrind callgrind_control curl; do
	command -v "$cmd" >/dev/null || { echo "dashboard-callgrind.sh: $cmd is missing" >&2; exit 1; }
done
. "$here/dashboard-lib.sh"

body='{"name": "widget", "qty": 3, "price": 9.5}'
# The curl config for N keep-alive POSTs on one connection.
posts() {   # port count
	local i
	for i in $(seq "$2"); do
		printf 'url = "http://127.0.0.1:%s/api/items"\nrequest = "POST"\n' "$1"
		printf 'header = "Content-Type: application/json"\ndata = "%s"\n' "${body//\"/\\\"}"
		printf 'output = /dev/null\nwrite-out = "%%{http_code}\\n"\n'
		[ "$i" -lt "$2" ] && printf 'next\n'
	done > "$tmp/posts.cfg"
	local codes
	codes=$(curl -s --config "$tmp/posts.cfg" | sort | uniq -c)
	[ "$(echo "$codes" | awk '{print $2}')" = 201 ] \
		|| { echo "dashboard-callgrind.sh: POST answered: $codes" >&2; exit 1; }
}

measure() {   # case enabled watched
	local name=$1 enabled=$2 watched=$3
	start_server "$name" "$enabled" valgrind --tool=callgrind \
		--callgrind-out-file="$tmp/$name.%p.out"
	local pid=$server_pid port=$server_port token=$server_token
	posts "$port" 20   # warm up: connections, statements, pages
	local watcher=
	if [ "$watched" = yes ]; then
		curl -sN -H "Authorization: Token $token" "http://127.0.0.1:$port/_sighost/stream" \
			> "$tmp/$name.stream" &
		watcher=$!
		sleep 2
	fi
	callgrind_control --zero "$pid" > /dev/null
	posts "$port" "$n"
	sleep 1   # the stream's waker hands the last events over
	callgrind_control --dump="$name" "$pid" > /dev/null
	[ -n "$watcher" ] && { kill "$watcher"; wait "$watcher" 2>/dev/null || true; }
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	local ir
	ir=$(cat "$tmp"/$name.*.out.* 2>/dev/null | awk '/^summary:/ {s += $2} END {print s}')
	[ -n "$ir" ] && [ "$ir" != 0 ] || { echo "$name: no callgrind dump" >&2; exit 1; }
	local events=0
	[ "$watched" = yes ] && events=$(grep -c '^event: signal' "$tmp/$name.stream" || true)
	printf '%s\t%s\t%s\n' "$name" "$ir" "$events" >> "$tmp/results.tsv"
	echo "  $name: $ir instructions for $n POSTs${watcher:+, the watcher got $events events}" >&2
}
: > "$tmp/results.tsv"
for c in ${CASES:-off on watched}; do
	case $c in
	off) measure off false no ;;
	on) measure on true no ;;
	watched) measure watched true yes ;;
	esac
done
awk -F'\t' -v n="$n" '
	{ ir[$1] = $2 }
	END {
		printf "| case | instructions per POST | ratio to off |\n|---|---:|---:|\n"
		split("off on watched", cases, " ")
		for (i = 1; i <= 3; i++)
			printf "| %s | %.0f | %.3f |\n", cases[i], ir[cases[i]] / n, ir[cases[i]] / ir["off"]
	}' "$tmp/results.tsv"
