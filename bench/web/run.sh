#!/usr/bin/env bash
# bench/web/run.sh: requests per second and p50/p99 latency of `sighost serve`
# beside its floor and Django on the same model, in the same run (issues 6
# and 16, Performance).
#
# Needs (Debian 12, as root; run by hand, not by CI, so not in scripts/deps):
#   apt-get update && apt-get install -y wrk python3-django gunicorn curl
# (gunicorn runs the Django cases with 2 and 5 sync workers) and the build:
# ninja -C build (makes build/host/sighost, build/bench/bench.so and
# build/bench/bench_web_floor).
#
# Usage: bench/web/run.sh    env: DURATION=10 seconds per case, ROUNDS=2,
#                            BASELINE=<another build dir> (optional: its
#                            sighost runs the "before" cases, GET and POST
#                            at full), CASES="get post" (either or both)
#
# Servers, each on its own SQLite file in WAL mode in a temp dir:
#   sighost-full, sighost-normal   sighost serve of bench/web/project (the
#                                  generic JSON API, route `model: bench.Item`,
#                                  one post_save receiver, default threads) at
#                                  database.synchronous full and normal
#   floor-full, floor-normal       bench_web_floor (bench/web/floor/floor.c):
#                                  the same two requests by a minimal
#                                  libmicrohttpd + jansson + SQLite program
#                                  with no framework, one fsync per create
#                                  at full
#   django-2w, django-5w           Django 3.2 (bench/web/django, a plain JSON
#                                  view, the same receiver) under gunicorn with
#                                  2 and 5 sync workers (5: gunicorn's
#                                  2 x cores + 1), PRAGMA synchronous=FULL
#   before-full                    BASELINE's sighost at full (when given)
# synchronous full: a commit is durable when answered (sighost shares one
# fsync between concurrent commits: group commit; the floor syncs each);
# normal: a power loss may take the last commits, a process crash nothing.
#
# Every database is seeded with 20 items and reset to those 20 before every
# case, so GET /api/items answers all 20 everywhere. Each case is
# `wrk -t2 -c64 -d${DURATION}s --latency` on loopback; the cases of a round
# are interleaved (all GETs, then all POSTs), ROUNDS times. The figures are
# the means over the rounds, and the ratios are computed from them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-$root/build}
sighost=$build/host/sighost
py=/usr/bin/python3            # Debian's, where python3-django and gunicorn live
duration=${DURATION:-10}
rounds=${ROUNDS:-2}
baseline=${BASELINE:-}
cases=${CASES:-get post}
floor=$build/bench/bench_web_floor

for need in "$sighost" "$build/bench/bench.so" "$build/bench/bench.yaml" "$floor" \
	${baseline:+"$baseline/host/sighost" "$baseline/bench/bench.so"}; do
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

# --- the servers ---------------------------------------------------------------
free_port() {
	"$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_up() {   # name pid port
	local _
	for _ in $(seq 150); do
		curl -fs -o /dev/null "http://127.0.0.1:$3/api/items" && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	echo "run.sh: $1 did not start" >&2
	cat "$tmp/$1.log" >&2
	exit 1
}
declare -A port_of table_of db_of
start_sighost() {   # name sync build
	local name=$1 sync=$2 b=$3 port
	sed -e "s|^  name: .*|  name: $tmp/$name.sqlite3|" \
		-e "s|^  synchronous: [a-z]*|  synchronous: $sync|" \
		-e "s|^  - \.\./\.\./\.\./build/bench\$|  - $b/bench|" \
		"$here/project/project.yaml" > "$tmp/$name.yaml"
	# a BASELINE build older than the connection limits knows no such key (nor the limit)
	[ "$b" = "$build" ] || sed -i '/^max_connections_per_ip:/d' "$tmp/$name.yaml"
	"$b/host/sighost" migrate --settings "$tmp/$name.yaml" > "$tmp/$name-migrate.log" 2>&1
	port=$(free_port)
	"$b/host/sighost" serve --settings "$tmp/$name.yaml" --listen "127.0.0.1:$port" --no-watch \
		> "$tmp/$name.out" 2> "$tmp/$name.log" &
	pids+=($!)
	wait_up "$name" $! "$port"
	port_of[$name]=$port table_of[$name]=bench_item db_of[$name]=$tmp/$name.sqlite3
}
start_floor() {   # name sync
	local name=$1 sync=$2 port
	sed -e "s|^  name: .*|  name: $tmp/$name.sqlite3|" \
		-e "s|^  - \.\./\.\./\.\./build/bench\$|  - $build/bench|" \
		"$here/project/project.yaml" > "$tmp/$name.yaml"
	"$sighost" migrate --settings "$tmp/$name.yaml" > "$tmp/$name-migrate.log" 2>&1   # the table
	port=$(free_port)
	"$floor" "$tmp/$name.sqlite3" "$port" "$sync" > "$tmp/$name.out" 2> "$tmp/$name.log" &
	pids+=($!)
	wait_up "$name" $! "$port"
	port_of[$name]=$port table_of[$name]=bench_item db_of[$name]=$tmp/$name.sqlite3
}
start_django() {   # name workers
	local name=$1 workers=$2 port
	export BENCH_DB=$tmp/$name.sqlite3 BENCH_SYNC=full DJANGO_SETTINGS_MODULE=benchsite.settings \
		PYTHONDONTWRITEBYTECODE=1
	(cd "$here/django" && "$py" manage.py migrate --verbosity 0)
	port=$(free_port)
	"$py" -m gunicorn -w "$workers" -b "127.0.0.1:$port" --chdir "$here/django" \
		--error-logfile "$tmp/$name.log" benchsite.wsgi:application > "$tmp/$name.out" 2>&1 &
	pids+=($!)
	wait_up "$name" $! "$port"
	port_of[$name]=$port table_of[$name]=benchapp_item db_of[$name]=$tmp/$name.sqlite3
}
servers=(sighost-full sighost-normal floor-full floor-normal django-2w django-5w)
start_sighost sighost-full full "$build"
start_sighost sighost-normal normal "$build"
start_floor floor-full full
start_floor floor-normal normal
start_django django-2w 2
start_django django-5w 5
if [ -n "$baseline" ]; then
	start_sighost before-full full "$baseline"
	servers+=(before-full)
fi

# --- the same data and requests for all ------------------------------------------
body='{"name": "widget", "qty": 3, "price": 9.5}'
cat > "$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
for name in "${servers[@]}"; do
	port=${port_of[$name]}
	for i in $(seq 20); do
		curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
			-d "{\"name\": \"item $i\", \"qty\": $i, \"price\": $i.5}" "http://127.0.0.1:$port/api/items"
	done
	code=$(curl -sS -o "$tmp/check.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-d "$body" "http://127.0.0.1:$port/api/items")
	[ "$code" = 201 ] || { echo "run.sh: POST on $name answered $code" >&2; exit 1; }
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
reset_all() {
	local name
	for name in "${servers[@]}"; do reset_db "${db_of[$name]}" "${table_of[$name]}"; done
}
reset_all
for name in "${servers[@]}"; do
	n=$(curl -fsS "http://127.0.0.1:${port_of[$name]}/api/items" | "$py" -c 'import json, sys; print(len(json.load(sys.stdin)["results"]))')
	[ "$n" = 20 ] || { echo "run.sh: GET on $name lists $n items, not 20" >&2; exit 1; }
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
run_case() {   # round server method
	local round=$1 server=$2 method=$3 out=$tmp/wrk-$1-$2-$3.txt
	local script=()
	[ "$method" = POST ] && script=(-s "$tmp/post.lua")
	reset_all
	wrk -t2 -c64 -d"${duration}s" --timeout 10s --latency "${script[@]}" \
		"http://127.0.0.1:${port_of[$server]}/api/items" > "$out"
	local rps p50 p99 bad errs
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
	bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out"); bad=${bad:-0}
	errs=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$out"); errs=${errs:-0}
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$server" "$method" "$rps" "$p50" "$p99" "$bad" "$errs" >> "$results"
	printf '  round %s %-14s %-4s %10s req/s  p50 %8s ms  p99 %8s ms  non-2xx %s  socket errors %s\n' \
		"$round" "$server" "$method" "$rps" "$p50" "$p99" "$bad" "$errs" >&2
}

echo "sighost $("$sighost" --version 2>/dev/null | head -1 || true)${baseline:+, before: $baseline};" \
	"Django $("$py" -c 'import django; print(django.get_version())') + gunicorn -w 2 and -w 5" >&2
echo "wrk -t2 -c64 -d${duration}s --latency, $rounds rounds; $(nproc) CPUs; load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
get_servers=(sighost-full sighost-normal floor-full floor-normal django-2w django-5w)
post_servers=(sighost-full sighost-normal floor-full floor-normal django-2w django-5w)
if [ -n "$baseline" ]; then get_servers+=(before-full); post_servers+=(before-full); fi
for round in $(seq "$rounds"); do
	case " $cases " in *" get "*) for name in "${get_servers[@]}"; do run_case "$round" "$name" GET; done;; esac
	case " $cases " in *" post "*) for name in "${post_servers[@]}"; do run_case "$round" "$name" POST; done;; esac
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# --- the tables ------------------------------------------------------------------
echo
awk -F'\t' '
	{ k = $2 SUBSEP $3; if (!(k in n)) order[m++] = k
	  n[k]++; rps[k] += $4; p50[k] += $5; p99[k] += $6; err[k] += $7 + $8 }
	function r(s, q) { k = s SUBSEP q; return (k in n) ? rps[k] / n[k] : 0 }
	function p(s, q) { k = s SUBSEP q; return (k in n) ? p99[k] / n[k] : 0 }
	function ratio(name, a, b, target) {
		if (a > 0 && b > 0) printf "| %s | %.2fx | %s |\n", name, a / b, target
	}
	END {
		printf "| server | request | req/s | p50 ms | p99 ms | errors |\n|---|---|---:|---:|---:|---:|\n"
		for (i = 0; i < m; i++) {
			split(order[i], kk, SUBSEP); k = order[i]
			printf "| %s | %s | %.0f | %.3f | %.3f | %d |\n", kk[1], kk[2], rps[k] / n[k],
				p50[k] / n[k], p99[k] / n[k], err[k]
		}
		printf "\n| ratio (means over the rounds) | value | target |\n|---|---:|---|\n"
		ratio("POST: sighost full / sighost normal", r("sighost-full", "POST"), r("sighost-normal", "POST"), ">= 0.7x (issue 16)")
		ratio("POST: sighost full / Django 5 workers", r("sighost-full", "POST"), r("django-5w", "POST"), ">= 15x (issue 16)")
		ratio("POST: sighost full / Django 2 workers", r("sighost-full", "POST"), r("django-2w", "POST"), "")
		ratio("POST p99: sighost full / before full", p("sighost-full", "POST"), p("before-full", "POST"), "<= 1x (issue 16)")
		ratio("POST: sighost full / before full", r("sighost-full", "POST"), r("before-full", "POST"), "")
		ratio("GET: sighost full / before full", r("sighost-full", "GET"), r("before-full", "GET"), ">= 1.3x (issue 16)")
		ratio("GET: sighost / floor (full)", r("sighost-full", "GET"), r("floor-full", "GET"), ">= 0.9x")
		ratio("GET: sighost / floor (normal)", r("sighost-normal", "GET"), r("floor-normal", "GET"), ">= 0.9x")
		ratio("POST: sighost / floor (full)", r("sighost-full", "POST"), r("floor-full", "POST"), ">= 0.9x")
		ratio("POST: sighost / floor (normal)", r("sighost-normal", "POST"), r("floor-normal", "POST"), ">= 0.9x")
		ratio("GET: sighost full / Django 5 workers", r("sighost-full", "GET"), r("django-5w", "GET"), "")
	}' "$results"
echo
echo "errors: non-2xx responses plus wrk socket errors, summed over the rounds."
