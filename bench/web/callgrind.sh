#!/usr/bin/env bash
# bench/web/callgrind.sh: instructions (callgrind's Ir) per request of
# `sighost serve` on bench/web/project, for comparing builds on a busy
# machine where wall-clock figures drift (issue 16: GET encoding).
#
# Usage: bench/web/callgrind.sh BUILD_DIR [GET|POST] [N]   (default GET, 500)
# Serves a fresh database seeded with 20 items (synchronous: full) under
# valgrind --tool=callgrind twice, answering 100 and then 100 + N
# sequential keep-alive requests (python3's http.client), and prints
# (Ir(100 + N) - Ir(100)) / N: the start-up and shutdown cancel out.
# Needs valgrind, curl and the build's host/sighost and bench/bench.so.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:?usage: callgrind.sh BUILD_DIR [GET|POST] [N]}" && pwd)
method=${2:-GET}
n=${3:-500}
py=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sighost-callgrind.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

run() {   # requests: prints the total Ir
	local count=$1 dir port pid
	dir=$(mktemp -d "$tmp/run.XXXXXX")
	sed -e "s|^  name: .*|  name: $dir/db.sqlite3|" -e "s|^  synchronous: [a-z]*|  synchronous: full|" \
		-e "s|^  - \.\./\.\./\.\./build/bench\$|  - $build/bench|" \
		"$here/project/project.yaml" > "$dir/project.yaml"
	"$build/host/sighost" migrate --settings "$dir/project.yaml" > /dev/null
	port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$build/host/sighost" serve --settings "$dir/project.yaml" --listen "127.0.0.1:$port" --no-watch \
		> /dev/null 2>&1 &
	pid=$!
	for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/api/items" && break; sleep 0.1; done
	for i in $(seq 20); do
		curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
			-d "{\"name\": \"item $i\", \"qty\": $i, \"price\": $i.5}" "http://127.0.0.1:$port/api/items"
	done
	kill "$pid"; wait "$pid" || true
	valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$build/host/sighost" serve \
		--settings "$dir/project.yaml" --listen "127.0.0.1:$port" --no-watch > /dev/null 2>&1 &
	pid=$!
	for _ in $(seq 300); do curl -fs -o /dev/null "http://127.0.0.1:$port/api/items" && break; sleep 0.2; done
	"$py" - "$port" "$count" "$method" <<'PY'
import http.client, sys
port, n, method = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for i in range(n):
    if method == "GET":
        c.request("GET", "/api/items")
    else:
        c.request("POST", "/api/items", body='{"name": "widget", "qty": 3, "price": 9.5}',
                  headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    assert r.status in (200, 201), r.status
PY
	kill "$pid"; wait "$pid" || true
	awk '/^(summary|totals):/ {print $2; exit}' "$dir/cg.out"
}
low=$(run 100)
high=$(run $((100 + n)))
echo "$method /api/items: $(( (high - low) / n )) instructions per request ($build)"
