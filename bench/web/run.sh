#!/usr/bin/env bash
# bench/web/run.sh: requests per second and p50/p99 latency of `sighost serve`
# beside Django on the same model (issue 6, Performance), in the same run.
#
# Needs (Debian 12, as root; run by hand, not by CI, so not in scripts/deps):
#   apt-get update && apt-get install -y wrk python3-django gunicorn curl
# and the build: ninja -C build (makes build/host/sighost and build/bench/bench.so).
#
# Usage: bench/web/run.sh            (env: DURATION=10 seconds per case, ROUNDS=2,
#                                     SYNC=normal or full)
#
# SYNC is SQLite's PRAGMA synchronous for both servers' databases (WAL mode):
# sighost's database.synchronous, Django's set from connection_created.
# normal: a commit does not wait for the disk (a process crash loses
# nothing; a power loss may lose the last commits); full: each commit
# waits for an fsync, which bounds the creates per second of both.
#
# Both servers serve the model Item (name text(100), qty integer, price real)
# with one post_save receiver that increments a counter: sighost from
# bench/web/project (the generic JSON API, route `model: bench.Item`, default
# thread count), Django 3.2 from bench/web/django (a plain JSON view, gunicorn
# with 2 sync workers). Both databases are SQLite files in WAL mode in a temp
# dir, seeded with 20 items and reset to those 20 before every case, so GET
# /api/items answers all 20 from either. Cases are interleaved: sighost GET,
# Django GET, sighost POST, Django POST, ROUNDS times; each one is
# `wrk -t2 -c64 -d${DURATION}s --latency` on loopback.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-$root/build}
sighost=$build/host/sighost
py=/usr/bin/python3            # Debian's, where python3-django and gunicorn live
duration=${DURATION:-10}
rounds=${ROUNDS:-2}
sync=${SYNC:-normal}
case $sync in full|normal) ;; *) echo "run.sh: SYNC must be full or normal, not '$sync'" >&2; exit 2;; esac

for need in "$sighost" "$build/bench/bench.so" "$build/bench/bench.yaml"; do
	[ -e "$need" ] || { echo "run.sh: $need is missing: run ninja -C $build" >&2; exit 1; }
done
for cmd in wrk curl; do
	command -v "$cmd" >/dev/null || { echo "run.sh: $cmd is missing (see the install line at the top)" >&2; exit 1; }
done
"$py" -c 'import django, gunicorn' 2>/dev/null \
	|| { echo "run.sh: $py lacks django or gunicorn (see the install line at the top)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sighost-webbench.XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- sighost -----------------------------------------------------------------
sed -e "s|^  name: .*|  name: $tmp/sighost.sqlite3|" \
	-e "s|^  synchronous: [a-z]*|  synchronous: $sync|" \
	-e "s|^  - \.\./\.\./\.\./build/bench\$|  - $build/bench|" \
	"$here/project/project.yaml" > "$tmp/project.yaml"
"$sighost" migrate --settings "$tmp/project.yaml" > "$tmp/sighost-migrate.log" 2>&1
# Model routes need an API token for every method (docs/web.md): every request below, to
# both servers, carries this header (Django's view ignores it), so both get the same bytes.
token=$("$sighost" createtoken bench --settings "$tmp/project.yaml")
auth="Authorization: Token $token"
"$sighost" serve --settings "$tmp/project.yaml" --listen 127.0.0.1:0 --no-watch \
	> "$tmp/sighost.out" 2> "$tmp/sighost.log" &
pids+=($!)
sighost_pid=$!
sighost_port=
for _ in $(seq 100); do
	sighost_port=$(sed -n 's|^Starting development server at http://127\.0\.0\.1:\([0-9]*\)/$|\1|p' "$tmp/sighost.out")
	[ -n "$sighost_port" ] && break
	kill -0 "$sighost_pid" 2>/dev/null || { cat "$tmp/sighost.log" >&2; exit 1; }
	sleep 0.1
done
[ -n "$sighost_port" ] || { echo "run.sh: sighost did not start" >&2; cat "$tmp/sighost.log" >&2; exit 1; }

# --- Django ------------------------------------------------------------------
export BENCH_DB=$tmp/django.sqlite3 BENCH_SYNC=$sync DJANGO_SETTINGS_MODULE=benchsite.settings PYTHONDONTWRITEBYTECODE=1
(cd "$here/django" && "$py" manage.py migrate --verbosity 0)
django_port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$py" -m gunicorn -w 2 -b "127.0.0.1:$django_port" --chdir "$here/django" \
	--error-logfile "$tmp/gunicorn.log" benchsite.wsgi:application > "$tmp/gunicorn.out" 2>&1 &
pids+=($!)
django_pid=$!
ok=
for _ in $(seq 100); do
	if curl -fs -o /dev/null "http://127.0.0.1:$django_port/api/items"; then ok=1; break; fi
	kill -0 "$django_pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$ok" ] || { echo "run.sh: Django did not start" >&2; cat "$tmp/gunicorn.log" >&2; exit 1; }

# --- the same data and requests for both ---------------------------------------
body='{"name": "widget", "qty": 3, "price": 9.5}'
cat > "$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
for port in "$sighost_port" "$django_port"; do
	for i in $(seq 20); do
		curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' -H "$auth" \
			-d "{\"name\": \"item $i\", \"qty\": $i, \"price\": $i.5}" "http://127.0.0.1:$port/api/items"
	done
	code=$(curl -sS -o "$tmp/check.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-H "$auth" -d "$body" "http://127.0.0.1:$port/api/items")
	[ "$code" = 201 ] || { echo "run.sh: POST on port $port answered $code" >&2; exit 1; }
done
# Back to the 20 seeded rows (plain SQL between cases, while no request runs).
reset_db() {
	"$py" - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
db.execute("DELETE FROM %s WHERE id > 20" % sys.argv[2])
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
PY
}
reset_db "$tmp/sighost.sqlite3" bench_item
reset_db "$tmp/django.sqlite3" benchapp_item
for port in "$sighost_port" "$django_port"; do
	n=$(curl -fsS -H "$auth" "http://127.0.0.1:$port/api/items" | "$py" -c 'import json, sys; print(len(json.load(sys.stdin)["results"]))')
	[ "$n" = 20 ] || { echo "run.sh: GET on port $port lists $n items, not 20" >&2; exit 1; }
done

# --- the cases -------------------------------------------------------------------
# wrk's latencies ("812.00us", "1.20ms", "2.01s") in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.3f", n }'
}
results=$tmp/results.tsv
: > "$results"
run_case() {   # round server port method
	local round=$1 server=$2 port=$3 method=$4 out=$tmp/wrk-$1-$2-$4.txt
	local script=()
	[ "$method" = POST ] && script=(-s "$tmp/post.lua")
	reset_db "$tmp/sighost.sqlite3" bench_item
	reset_db "$tmp/django.sqlite3" benchapp_item
	wrk -t2 -c64 -d"${duration}s" --timeout 10s --latency -H "$auth" "${script[@]}" \
		"http://127.0.0.1:$port/api/items" > "$out"
	local rps p50 p99 bad errs
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
	bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out"); bad=${bad:-0}
	errs=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$out"); errs=${errs:-0}
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$server" "$method" "$rps" "$p50" "$p99" "$bad" "$errs" >> "$results"
	printf '  round %s %-7s %-4s %10s req/s  p50 %8s ms  p99 %8s ms  non-2xx %s  socket errors %s\n' \
		"$round" "$server" "$method" "$rps" "$p50" "$p99" "$bad" "$errs" >&2
}

echo "sighost $("$sighost" --version 2>/dev/null | head -1 || true) on 127.0.0.1:$sighost_port (pid $sighost_pid);" \
	"Django $("$py" -c 'import django; print(django.get_version())') + gunicorn -w 2 on 127.0.0.1:$django_port (pid $django_pid)" >&2
echo "wrk -t2 -c64 -d${duration}s --latency, $rounds rounds; PRAGMA synchronous=$sync on both; $(nproc) CPUs; load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$rounds"); do
	run_case "$round" sighost "$sighost_port" GET
	run_case "$round" django "$django_port" GET
	run_case "$round" sighost "$sighost_port" POST
	run_case "$round" django "$django_port" POST
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# --- the table -------------------------------------------------------------------
echo
awk -F'\t' '
	{ key = $1 SUBSEP $3; rps[key, $2] = $4; p50[key, $2] = $5; p99[key, $2] = $6
	  bad[key, $2] = $7 + $8; if (!(key in seen)) { seen[key] = 1; order[n++] = key } }
	END {
		printf "| round | request | sighost req/s | Django req/s | req/s ratio | sighost p50 ms | Django p50 ms | sighost p99 ms | Django p99 ms | p99 ratio (sighost/Django) | errors (sighost/Django) |\n"
		printf "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
		for (i = 0; i < n; i++) {
			k = order[i]; split(k, kk, SUBSEP)
			s = k SUBSEP "sighost"; d = k SUBSEP "django"
			req = (kk[2] == "GET") ? "GET /api/items (20 items)" : "POST /api/items (create, 1 post_save receiver)"
			printf "| %s | %s | %.0f | %.0f | %.1fx | %.3f | %.3f | %.3f | %.3f | %.3f | %d/%d |\n", kk[1], req,
				rps[s], rps[d], (rps[d] > 0 ? rps[s] / rps[d] : 0), p50[s], p50[d], p99[s], p99[d],
				(p99[d] > 0 ? p99[s] / p99[d] : 0), bad[s], bad[d]
		}
	}' "$results"
echo
echo "errors: non-2xx responses plus wrk socket errors. Target (issue 6): req/s ratio >= 20x and sighost p99 < Django p99."
