#!/bin/sh
# make demo: the main job, end to end, on this machine and offline.
# Starts sandboxd with its embedded local gateway (sandboxes are local
# bubblewrap-isolated process trees), leases a sandbox, runs commands in
# it, copies a file through it, and gives it back.  Everything lives in a
# temporary directory that is removed at the end.
set -eu
B=${B:-$(pwd)/build}
dir=$(mktemp -d /tmp/sandboxd-demo.XXXXXX)
sock=$dir/sandboxd.sock
export SANDBOXD_SOCKET=$sock

cat > "$dir/sandboxd.conf" <<CONF
[daemon]
socket = $sock
state_dir = $dir/state
[gateway]
address = local
# a realistic cold start, as the real service has
local_start_delay = 1500ms
# two sandboxes kept warm: a lease from here is answered from memory
[pool.demo]
warm = 2
CONF

cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

# Says what went wrong, shows the daemon's log, and fails the demo.
die() {
	echo "make demo: $*" >&2
	sed 's/^/  /' "$dir/sandboxd.log" >&2
	exit 1
}

"$B/sandboxd" -c "$dir/sandboxd.conf" 2>"$dir/sandboxd.log" &
pid=$!
i=0
until "$B/sbctl" status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
		die "sandboxd did not start:"
	fi
	sleep 0.05
done

step sbctl status
"$B/sbctl" status
step "time sbctl run -- true          # cold: start a sandbox, wait for RUNNING"
t0=$(date +%s%N); "$B/sbctl" run -- true; t1=$(date +%s%N)
echo "$(( (t1 - t0) / 1000000 )) ms"
# The warm time means something only once the pool is full.
i=0
until "$B/sbctl" --json pool | grep -q '"ready":2[,}]'; do
	i=$((i + 1))
	if [ $i -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
		"$B/sbctl" pool >&2 || true
		die "pool demo did not get its 2 sandboxes ready within 30 s"
	fi
	sleep 0.05
done
step "time sbctl run --pool demo -- true   # warm: claimed from the pool"
t0=$(date +%s%N); "$B/sbctl" run --pool demo -- true; t1=$(date +%s%N)
echo "$(( (t1 - t0) / 1000000 )) ms"
step sbctl pool
"$B/sbctl" pool
step sbctl run -- sh -c '"echo hello from \$(hostname); id -u"'
"$B/sbctl" run -- sh -c 'echo hello from $(hostname); id -u'
step 'lease=$(sbctl lease --ttl 5m)'
lease=$("$B/sbctl" lease --ttl 5m)
echo "$lease"
step "echo 'print(6 * 7)' | sbctl cp - $lease:answer.py"
echo 'print(6 * 7)' | "$B/sbctl" cp - "$lease:answer.py"
step "sbctl exec --buffered $lease -- sh -c 'cat answer.py; ls -l'   # one reply"
"$B/sbctl" exec --buffered "$lease" -- sh -c 'cat answer.py; ls -l'
step "sbctl exec $lease -- sh -c 'for i in 1 2 3; do echo tick \$i; sleep 0.4; done'   # streamed as it happens"
"$B/sbctl" exec "$lease" -- sh -c 'for i in 1 2 3; do echo tick $i; sleep 0.4; done'
step sbctl ls
"$B/sbctl" ls
step "sbctl reclaim $lease"
"$B/sbctl" reclaim "$lease"
step 'job=$(sbctl submit -- sh -c "sleep 1; exit 3"); sbctl wait $job'
job=$("$B/sbctl" submit -- sh -c 'sleep 1; exit 3')
set +e
"$B/sbctl" wait "$job"
echo "exit status $?"
set -e
"$B/sbctl" reclaim "$job" >/dev/null 2>&1 || true
printf '\nThe daemon log is below. With no lease left, sandboxd stops its\nwarm sandboxes and its local gateway on exit.\n'
kill "$pid"
wait "$pid" || true
pid=
sed 's/^/  /' "$dir/sandboxd.log"
