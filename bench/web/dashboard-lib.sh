# bench/web/dashboard-lib.sh: what bench/web/dashboard.sh and
# dashboard-callgrind.sh share (sourced, not run): a temp dir cleaned up on
# exit with every server started, and `start_server`, which serves the web
# bench's project with the dashboard on or off.
#
# The sourcing script sets `here` (bench/web), `build` and `sighost`.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sighost-dashbench.XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [ -n "${KEEP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME ENABLED [WRAPPER...]: migrates and serves a copy of the
# bench project (its database $tmp/NAME.sqlite3, synchronous normal,
# dashboard.enabled ENABLED) under WRAPPER (e.g. valgrind), and sets
# server_pid, server_port and server_token (an API token).
start_server() {
	local name=$1 enabled=$2
	shift 2
	sed -e "s|^  name: .*|  name: $tmp/$name.sqlite3|" \
		-e "s|^  - \.\./\.\./\.\./build/bench\$|  - $build/bench|" \
		-e "s|^  synchronous: [a-z]*|  synchronous: normal|" \
		"$here/project/project.yaml" > "$tmp/$name.yaml"
	printf 'dashboard:\n  enabled: %s\n' "$enabled" >> "$tmp/$name.yaml"
	"$sighost" migrate --settings "$tmp/$name.yaml" > "$tmp/$name-migrate.log" 2>&1
	server_token=$("$sighost" createtoken bench --settings "$tmp/$name.yaml" | grep -oE '[0-9a-f]{64}')
	"$@" "$sighost" serve --settings "$tmp/$name.yaml" --listen 127.0.0.1:0 --no-watch \
		> "$tmp/$name.out" 2> "$tmp/$name.log" &
	server_pid=$!
	pids+=("$server_pid")
	server_port=
	for _ in $(seq 600); do
		server_port=$(sed -n 's|^Starting development server at http://127\.0\.0\.1:\([0-9]*\)/$|\1|p' "$tmp/$name.out")
		[ -n "$server_port" ] && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "$name did not start" >&2
	cat "$tmp/$name.log" >&2
	exit 1
}
