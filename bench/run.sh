#!/bin/sh
# make bench: every benchmark case of issue 10 in one run, side by side with
# its baseline, on this machine.  Starts its own sandbox-gateway-local
# (start delay 0, isolation none unless BENCH_ISOLATION says otherwise) and
# sandboxd on private sockets in a temporary directory, runs each case,
# prints one table and writes bench/results.json.  Every process started
# here is stopped on the way out, whatever happens.  Nothing asserts: a
# missed target is printed as such.
#
# Knobs (environment): BENCH_RUNS (3), BENCH_QUICK=1 (small counts, for a
# smoke run), BENCH_LEASES (1000), BENCH_ISOLATION (none), SANDBOXD_BUILD,
# BENCH_CASES (the cases to run, by name, separated by spaces or commas:
# every one of ALL_CASES by default), BENCH_KEEP=1 (keep the run's
# directory, its logs and state, for a post-mortem).
set -eu

ALL_CASES="floor proxy throughput short_task warm_lease streaming tail startup memory load"
CASES=$(echo "${BENCH_CASES:-$ALL_CASES}" | tr ',' ' ')
for c in $CASES; do
	case " $ALL_CASES " in
	*" $c "*) ;;
	*) echo "run.sh: no case \"$c\" (cases: $ALL_CASES)" >&2; exit 64 ;;
	esac
done

B=${SANDBOXD_BUILD:-$(pwd)/build}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
RUNS=${BENCH_RUNS:-3}
ISOLATION=${BENCH_ISOLATION:-none}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	FLOOR_N=500 GET_N=200 EXEC_N=50 TPUT_S=1 SHORT_N=3 WARM_N=100
	COLD_N=2 LEASES=${BENCH_LEASES:-100} STARTS=3 STREAM_MB=16
	LOAD_S=10 TAIL_MB=4
else
	FLOOR_N=5000 GET_N=2000 EXEC_N=500 TPUT_S=5 SHORT_N=10 WARM_N=1000
	COLD_N=5 LEASES=${BENCH_LEASES:-1000} STARTS=20 STREAM_MB=64
	LOAD_S=120 TAIL_MB=16
fi
LOAD_CLIENTS=${BENCH_LOAD_CLIENTS:-1000}
LOAD_WARM_S=${BENCH_LOAD_WARM_S:-300}

for bin in sandboxd sbctl sandbox-gateway-local sandbox-gateway-keeper \
    bench/rpc-bench \
    bench/grpc-bench bench/echo-server bench/startup bench/stream-bench \
    bench/tail-bench bench/load; do
	[ -x "$B/$bin" ] || { echo "run.sh: $B/$bin is not built" >&2; exit 1; }
done

dir=$(mktemp -d /tmp/sbx-bench.XXXXXX)
raw=$dir/raw
mkdir -p "$raw"
gw_pid= sd_pid= echo_pid= mem_pid=

# Stops one process (SIGTERM, then SIGKILL to its group after `secs`).
stop_proc() {
	pid=$1 secs=$2
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt $((secs * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# The daemon first (it stops its leased sandboxes at the gateway), then the
# gateway (it stops whatever is left), then the echo server.
cleanup() {
	rc=$?
	trap - EXIT INT TERM
	stop_proc "$mem_pid" 120
	stop_proc "$sd_pid" 120
	stop_proc "$gw_pid" 60
	stop_proc "$echo_pid" 5
	if [ $rc -ne 0 ]; then
		echo "run.sh: failed (exit $rc); logs:" >&2
		for f in "$dir"/*.log; do
			[ -s "$f" ] && { echo "== $f" >&2; tail -20 "$f" >&2; }
		done
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "run.sh: logs and state kept in $dir" >&2
	else
		rm -rf "$dir"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '%s\n' "-- $*" >&2; }

# Waits until `cmd...` succeeds (30 s at most).
wait_until() {
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 300 ] || { echo "run.sh: timed out: $*" >&2; return 1; }
		sleep 0.1
	done
}

# Reads one field (kB) of /proc/PID/status.
proc_kib() {
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

machine() {
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	printf '{"nproc": %s, "cpu": "%s", "kernel": "%s", "date": "%s", ' \
	    "$(nproc)" "${cpu:-unknown}" "$(uname -r)" "$(date -u +%FT%TZ)"
	printf '"loadavg_at_start": "%s", "isolation": "%s", "runs": %s}\n' \
	    "$(cut -d' ' -f1-3 /proc/loadavg)" "$ISOLATION" "$RUNS"
}

# --- processes under test -------------------------------------------------

start_gateway() {
	setsid "$B/sandbox-gateway-local" --listen "unix:$dir/gw.sock" \
	    --root "$dir/gwroot" --isolation "$ISOLATION" \
	    --start-delay-ms 0 2>"$dir/gateway.log" &
	gw_pid=$!
	wait_until grep -q "listening on" "$dir/gateway.log"
}

start_daemon() {
	cat >"$dir/sandboxd.conf" <<-CONF
	[daemon]
	socket = $dir/sd.sock
	state_dir = $dir/state
	[gateway]
	address = unix:$dir/gw.sock
	[pool.bench]
	default = yes
	warm = 32
	max_starting = 16
	CONF
	setsid "$B/sandboxd" -c "$dir/sandboxd.conf" 2>"$dir/sandboxd.log" &
	sd_pid=$!
	wait_until "$B/bench/rpc-bench" call "$dir/sd.sock" status
}

has() { "$B/bench/rpc-bench" has "$dir/sd.sock" "$1"; }

# A case needs METHOD: without it, the case says why it is not measured
# (in RAW/KEY.skip, for the table) and the caller returns.
needs() {
	has "$1" && return 0
	echo "not measured: feature missing (no $1 in this sandboxd)" \
	    >"$raw/$2.skip"
	say "$3: not measured: feature missing"
	return 1
}

# --- cases -------------------------------------------------------------------

case_floor() {
	say "floor: status vs a bare JSON echo ($RUNS × $FLOOR_N, alternating)"
	"$B/bench/rpc-bench" call "$dir/sd.sock" status >"$dir/status.json"
	setsid "$B/bench/echo-server" "$dir/echo.sock" "$dir/status.json" \
	    2>"$dir/echo.log" &
	echo_pid=$!
	wait_until "$B/bench/rpc-bench" call "$dir/echo.sock" status
	for r in $(seq "$RUNS"); do
		"$B/bench/rpc-bench" pair "$dir/echo.sock" "$dir/sd.sock" \
		    "$FLOOR_N" 500 status >"$raw/floor.$r.json"
	done
}

case_proxy() {
	say "status proxy: lease.get vs gRPC Get ($RUNS × $GET_N, alternating)"
	for r in $(seq "$RUNS"); do
		"$B/bench/grpc-bench" pair "$dir/sd.sock" "unix:$dir/gw.sock" \
		    "$GET_N" 200 get "$lease" "$sandbox" \
		    >"$raw/status proxy.$r.json"
	done
	say "exec proxy: exec true vs gRPC Exec ($RUNS × $EXEC_N, alternating)"
	for r in $(seq "$RUNS"); do
		"$B/bench/grpc-bench" pair "$dir/sd.sock" "unix:$dir/gw.sock" \
		    "$EXEC_N" 50 exec "$lease" "$sandbox" \
		    >"$raw/exec proxy.$r.json"
	done
}

case_throughput() {
	say "throughput: 32 clients exec via daemon vs direct ($RUNS × ${TPUT_S}s each)"
	for r in $(seq "$RUNS"); do
		"$B/bench/rpc-bench" tput "$dir/sd.sock" 32 "$TPUT_S" exec \
		    "{\"lease\": \"$lease\", \"argv\": [\"true\"]}" \
		    >"$raw/tput-daemon.$r.json"
		"$B/bench/grpc-bench" tput "unix:$dir/gw.sock" 32 "$TPUT_S" \
		    "$sandbox" >"$raw/tput-direct.$r.json"
	done
}

# Times `name` runs of a command SHORT_N times: hyperfine if installed, else
# a loop of date(1) stamps (which adds ~1 ms of its own to each sample).
time_cmd() {
	name=$1 r=$2
	shift 2
	if command -v hyperfine >/dev/null; then
		hyperfine -N --warmup 1 --runs "$SHORT_N" --style none \
		    --export-json "$raw/$name.$r.json" -- "$*" \
		    >/dev/null 2>>"$dir/hyperfine.log"
		return
	fi
	"$@" >/dev/null
	times=
	for i in $(seq "$SHORT_N"); do
		t0=$(date +%s%N)
		"$@" >/dev/null
		t1=$(date +%s%N)
		times="$times${times:+, }$(( (t1 - t0) / 1000 ))e-6"
	done
	echo "{\"times\": [$times], \"tool\": \"sh loop\"}" >"$raw/$name.$r.json"
}

case_short_task() {
	protoc -I "$HERE/../proto" -I /usr/include --python_out "$dir/pb" \
	    coreweave/sandbox/v1beta2/gateway.proto \
	    coreweave/sandbox/v1beta2/streaming.proto
	# With pools, "bench" is the default pool, so a plain run is warm.
	mode="(cold lease: this sandboxd has no pools)"
	if has pool.list; then
		mode="(warm: default pool)"
	fi
	say "short task: sbctl run -- true $mode vs a Python grpcio process ($RUNS × $SHORT_N)"
	for r in $(seq "$RUNS"); do
		SANDBOXD_SOCKET=$dir/sd.sock time_cmd short-sbctl "$r" \
		    "$B/sbctl" run -- true
		time_cmd short-sdk "$r" "$PY" "$HERE/sdk_task.py" "$dir/pb" \
		    "unix:$dir/gw.sock"
	done
	echo "$mode" >"$raw/short.mode"
}

case_warm_lease() {
	needs pool.list warm "warm lease" || return 0
	say "warm lease: acquire+release from a warm pool ($RUNS × $WARM_N) vs cold Start+poll ($COLD_N)"
	for r in $(seq "$RUNS"); do
		"$B/bench/rpc-bench" warm "$dir/sd.sock" "$WARM_N" 20 bench \
		    >"$raw/warm.$r.json"
	done
	"$B/bench/grpc-bench" cold "unix:$dir/gw.sock" "$COLD_N" \
	    >"$raw/cold.1.json"
}

case_streaming() {
	bytes=$((STREAM_MB * 1024 * 1024))
	needs exec.start stream "streaming" || return 0
	say "streaming: $STREAM_MB MiB of exec output via daemon vs direct StreamExec ($RUNS runs)"
	for r in $(seq "$RUNS"); do
		"$B/bench/stream-bench" "$dir/sd.sock" "$lease" "$bytes" \
		    >"$raw/stream-daemon.$r.json"
		"$B/bench/grpc-bench" stream "unix:$dir/gw.sock" "$sandbox" \
		    "$bytes" >"$raw/stream-direct.$r.json"
	done
}

# Issue 6's fan-out: 8 follow tails of one sandbox's log through the
# daemon (one shared upstream StreamLogs) against one direct StreamLogs
# reader of another sandbox running the same job.  Each job writes
# TAIL_MB of log once an exec creates its `go` file.
case_tail() {
	bytes=$((TAIL_MB * 1024 * 1024))
	needs tail.start tail "tail fan-out" || return 0
	say "tail fan-out: $TAIL_MB MiB of log to 8 tails via daemon vs one direct StreamLogs ($RUNS runs)"
	job="while [ ! -e go ]; do sleep 0.01; done; head -c $bytes /dev/zero"
	job="{\"ttl\": \"25m\", \"command\": [\"sh\", \"-c\", \"$job; exec sleep 1200\"]}"
	for r in $(seq "$RUNS"); do
		a=$("$B/bench/rpc-bench" lease "$dir/sd.sock" "$job")
		b=$("$B/bench/rpc-bench" lease "$dir/sd.sock" "$job")
		"$B/bench/tail-bench" "$dir/sd.sock" "unix:$dir/gw.sock" \
		    "$(echo "$a" | jq -r .lease)" "$(echo "$b" | jq -r .lease)" \
		    "$(echo "$b" | jq -r .sandbox_id)" "$bytes" 8 "$sd_pid" \
		    >"$raw/tail.$r.json"
		for l in "$a" "$b"; do
			"$B/bench/rpc-bench" call "$dir/sd.sock" lease.release \
			    "{\"lease\": \"$(echo "$l" | jq -r .lease)\"}" \
			    >/dev/null
		done
	done
}

case_startup() {
	say "start-up: $STARTS daemon starts to READY=1 (own NOTIFY_SOCKET)"
	cat >"$dir/startup.conf" <<-CONF
	[daemon]
	socket = $dir/su.sock
	state_dir = $dir/su-state
	[gateway]
	address = unix:$dir/gw.sock
	CONF
	"$B/bench/startup" "$B/sandboxd" "$dir/startup.conf" "$dir/su.sock" \
	    "$STARTS" >"$raw/startup.1.json"
}

# Issue 11's load: LOAD_CLIENTS connections open at once, each leasing
# from the warm pool, executing and releasing in a loop for LOAD_S seconds;
# the daemon's fds and RSS before and after.  The pool is first grown to
# one warm sandbox per client (up to LOAD_WARM_S to get there; how many
# were ready is recorded), so acquire measures the daemon rather than the
# pool refilling; exec's latency is reported on its own either way.
case_load() {
	needs pool.resize load "load" || return 0
	say "load: warming $LOAD_CLIENTS sandboxes (up to ${LOAD_WARM_S}s)"
	"$B/bench/rpc-bench" call "$dir/sd.sock" pool.resize \
	    "{\"pool\": \"bench\", \"warm\": $LOAD_CLIENTS}" >/dev/null
	end=$(($(date +%s) + LOAD_WARM_S)) ready=0
	while ready=$(pool_ready) && [ "$ready" -lt "$LOAD_CLIENTS" ] &&
	    [ "$(date +%s)" -lt "$end" ]; do
		sleep 1
	done
	echo "$ready" >"$raw/load.warm"
	say "load: $LOAD_CLIENTS clients lease/exec/release in a loop for ${LOAD_S}s ($ready warm)"
	rc=0
	"$B/bench/load" "$dir/sd.sock" "$LOAD_CLIENTS" "$LOAD_S" bench \
	    "$sd_pid" >"$raw/load.1.json" || rc=$?
	# Failed requests exit 1 with a report; anything else has none.
	[ "$rc" -le 1 ] || say "load: bench/load exited with status $rc"
	"$B/bench/rpc-bench" call "$dir/sd.sock" pool.resize \
	    '{"pool": "bench", "warm": 32}' >/dev/null
}

# Ready sandboxes in the bench pool.
pool_ready() {
	"$B/bench/rpc-bench" call "$dir/sd.sock" pool.list | $PY -c '
import json, sys
print(sum(p.get("ready", 0) for p in json.load(sys.stdin)["pools"]
          if p["name"] == "bench"))'
}

# A fresh daemon of its own (no pool, nothing run before, so freed heap
# from other cases cannot hide growth) takes LEASES real leases in two
# halves; the per-lease figure is the slope between them.
case_memory() {
	half=$((LEASES / 2))
	say "memory: per-lease RSS of a fresh sandboxd with $LEASES real leases (two halves of $half)"
	cat >"$dir/mem.conf" <<-CONF
	[daemon]
	socket = $dir/mem.sock
	state_dir = $dir/mem-state
	[gateway]
	address = unix:$dir/gw.sock
	CONF
	setsid "$B/sandboxd" -c "$dir/mem.conf" 2>"$dir/mem.log" &
	mem_pid=$!
	wait_until "$B/bench/rpc-bench" call "$dir/mem.sock" status
	"$B/bench/rpc-bench" lat "$dir/mem.sock" 100 10 status >/dev/null
	rss0=$(proc_kib "$mem_pid" VmRSS)
	"$B/bench/rpc-bench" leases "$dir/mem.sock" "$half" 32 \
	    '{"ttl": "20m"}' >"$dir/leases1.json"
	rss1=$(proc_kib "$mem_pid" VmRSS)
	"$B/bench/rpc-bench" leases "$dir/mem.sock" "$((LEASES - half))" 32 \
	    '{"ttl": "20m"}' >"$dir/leases2.json"
	rss2=$(proc_kib "$mem_pid" VmRSS)
	n1=$(jq .n "$dir/leases1.json") n2=$(jq .n "$dir/leases2.json")
	fail=$(( $(jq .failed "$dir/leases1.json") + \
	    $(jq .failed "$dir/leases2.json") ))
	per=$(awk -v a="$rss1" -v b="$rss2" -v n="$n2" \
	    'BEGIN { if (n > 0) printf "%.3f", (b - a) / n; else print "null" }')
	cat >"$raw/memory.1.json" <<-JSON
	{"idle_rss_kib": $idle_rss, "idle_anon_kib": $idle_anon,
	 "fresh_kib": $rss0, "half_kib": $rss1, "full_kib": $rss2,
	 "half": $n1, "leases": $((n1 + n2)), "failed": $fail,
	 "per_lease_kib": $per,
	 "full_anon_kib": $(proc_kib "$mem_pid" RssAnon)}
	JSON
}

# --- the run -----------------------------------------------------------------

machine >"$raw/machine.json"
mkdir -p "$dir/pb"
say "starting sandbox-gateway-local (isolation $ISOLATION) and sandboxd in $dir"
start_gateway
start_daemon
"$B/bench/rpc-bench" lat "$dir/sd.sock" 100 10 status >/dev/null
sleep 1
idle_rss=$(proc_kib "$sd_pid" VmRSS)
idle_anon=$(proc_kib "$sd_pid" RssAnon)
lease_json=$("$B/bench/rpc-bench" lease "$dir/sd.sock" '{"ttl": "25m"}')
lease=$(echo "$lease_json" | jq -r .lease)
sandbox=$(echo "$lease_json" | jq -r .sandbox_id)

# The report shows the cases run, in the order of ALL_CASES.
echo "$CASES" >"$raw/cases"
for c in $ALL_CASES; do
	case " $CASES " in
	*" $c "*) "case_$c" ;;
	esac
done

echo
"$PY" "$HERE/report.py" "$raw" "$HERE/results.json"
echo "(figures and raw summaries in bench/results.json)"
say "stopping the daemons (they stop their leased sandboxes) and the gateway"
