"""sandboxd streaming exec and log tails, end to end against real binaries.

exec.start / exec.output / exec.exit, stdin, cancel, detach and attach,
flow control with a slow reader, and tails shared over one upstream
StreamLogs that survive a broken stream.
"""
import base64
import json
import os
import subprocess
import sys
import time

import pytest

import sbxtest
from sbxd import Daemon, Gateway, Rpc, RpcError, b64

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def gw(tmpdir_short, procs):
    return Gateway(tmpdir_short, procs)


@pytest.fixture
def daemon(tmpdir_short, procs, gw):
    return Daemon(tmpdir_short, procs, gateway=gw.target)


class Stream(Rpc):
    """A connection that also collects stream notifications."""

    def next_note(self):
        if self.notifications:
            return self.notifications.pop(0)
        m = self.read_msg()
        assert "id" not in m, f"unexpected reply {m}"
        return m

    def exec_all(self, xid):
        """(stdout, stderr, exit params) of an exec, checking offsets."""
        out, err, off = bytearray(), bytearray(), None
        while True:
            m = self.next_note()
            p = m["params"]
            if p.get("exec") != xid:
                continue
            if m["method"] == "exec.output":
                if off is not None:
                    assert p["offset"] == off, "offsets not contiguous"
                data = base64.b64decode(p["data_b64"])
                off = p["offset"] + len(data)
                (out if p["stream"] == "stdout" else err).extend(data)
            elif m["method"] == "exec.exit":
                return bytes(out), bytes(err), p

    def tail_until(self, tid, want_len):
        data, off = bytearray(), None
        while len(data) < want_len:
            m = self.next_note()
            p = m["params"]
            if p.get("tail") != tid:
                continue
            assert m["method"] == "tail.data", m
            if off is not None:
                assert p["offset"] == off
            chunk = base64.b64decode(p["data_b64"])
            off = p["offset"] + len(chunk)
            data.extend(chunk)
        return bytes(data)


def stream(d):
    return Stream(d.socket, timeout=120)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def marker_alive(marker):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    return True
        except OSError:
            pass
    return False


def test_output_arrives_before_exit(daemon):
    lease = daemon.call("lease.acquire")["id"]
    c = stream(daemon)
    r = c.call("exec.start", lease=lease, argv=[
        "sh", "-c", "echo first; while [ ! -e go ]; do sleep 0.05; done; "
        "echo second >&2; exit 3"])
    xid = r["exec"]
    assert xid.startswith("x-") and r["detached"] is False
    while True:
        m = c.next_note()
        assert m["method"] != "exec.exit", "exit before any output"
        if m["method"] == "exec.output":
            break
    p = m["params"]
    assert p["exec"] == xid and p["stream"] == "stdout"
    assert base64.b64decode(p["data_b64"]) == b"first\n"
    assert p["offset"] == 0
    # Only now may the command go on and print the rest.
    daemon.call("file.write", lease=lease, path="go", data_b64=b64(b""))
    out, err, ex = c.exec_all(xid)
    assert out == b"" and err == b"second\n"
    assert ex["exit_code"] == 3 and ex["output_bytes"] == 13
    lst = c.call("exec.list")["execs"]
    mine = [e for e in lst if e["exec"] == xid]
    assert mine and mine[0]["state"] == "exited" and mine[0]["exit_code"] == 3


def test_stdin_round_trip_50mib(daemon):
    lease = daemon.call("lease.acquire")["id"]
    c = stream(daemon)
    data = os.urandom(1 << 20) * 50
    xid = c.call("exec.start", lease=lease, argv=["cat"], stdin=True)["exec"]
    for i in range(0, len(data), 1 << 20):
        r = c.call("exec.write", exec=xid, data_b64=b64(data[i:i + (1 << 20)]))
        assert r["bytes"] == 1 << 20
    c.call("exec.close_stdin", exec=xid)
    out, err, ex = c.exec_all(xid)
    assert ex.get("exit_code") == 0, ex
    assert len(out) == len(data) and out == data
    with pytest.raises(RpcError) as e:
        c.call("exec.write", exec=xid, data_b64=b64(b"x"))
    assert e.value.kind == "invalid_state"


def test_missing_exit_frame_is_an_error(tmpdir_short, procs):
    g = Gateway(tmpdir_short, procs, args=["--fault",
                                           "break-stream=StreamExec:2"])
    d = Daemon(tmpdir_short, procs, gateway=g.target)
    lease = d.call("lease.acquire")["id"]
    c = stream(d)
    xid = c.call("exec.start", lease=lease, argv=[
        "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do echo $i; sleep 0.05; done"]
    )["exec"]
    out, err, ex = c.exec_all(xid)
    assert "exit_code" not in ex
    assert ex["error"]["data"]["kind"] in ("gateway_unavailable",
                                          "gateway_error")


def test_cancel_kills_remote_process(daemon):
    lease = daemon.call("lease.acquire")["id"]
    marker = f"{os.getpid()}{time.monotonic_ns() % 100000}"
    c = stream(daemon)
    xid = c.call("exec.start", lease=lease, argv=[
        "sh", "-c", f"echo up; exec sleep 1000.{marker}"])["exec"]
    m = c.next_note()
    while m["method"] != "exec.output":
        m = c.next_note()
    sbxtest.wait_for(lambda: marker_alive(marker), timeout=30,
                     what="remote sleep")
    assert c.call("exec.cancel", exec=xid)["cancelled"] is True
    out, err, ex = c.exec_all(xid)
    assert ex["error"]["data"]["kind"] == "cancelled"
    sbxtest.wait_for(lambda: not marker_alive(marker), timeout=30,
                     what="remote process gone")
    with pytest.raises(RpcError) as e:
        c.call("exec.cancel", exec=xid)
    assert e.value.kind == "invalid_state"


def test_client_gone_cancels_exec(daemon):
    lease = daemon.call("lease.acquire")["id"]
    marker = f"{os.getpid()}{time.monotonic_ns() % 100000 + 7}"
    c = stream(daemon)
    c.call("exec.start", lease=lease,
           argv=["sh", "-c", f"exec sleep 1000.{marker}"])
    sbxtest.wait_for(lambda: marker_alive(marker), timeout=30,
                     what="remote sleep")
    c.close()
    sbxtest.wait_for(lambda: not marker_alive(marker), timeout=30,
                     what="remote process gone")


@pytest.mark.skipif(os.environ.get("SANDBOXD_SANITIZE") == "1",
                    reason="sanitizer runtimes (ASan quarantine, TSan shadow) make RSS "
                    "meaningless; make check measures this bound")
def test_slow_reader_memory_bounded(daemon):
    lease = daemon.call("lease.acquire")["id"]
    pid = daemon.proc.pid
    total = 1 << 30
    c = stream(daemon)
    idle = rss_kib(pid)
    xid = c.call("exec.start", lease=lease,
                 argv=["head", "-c", str(total), "/dev/zero"])["exec"]
    # Not reading at all: the daemon must stop pulling from the gateway.
    peak = idle
    for _ in range(20):
        time.sleep(0.1)
        peak = max(peak, rss_kib(pid))
    got, n, off = 0, 0, 0
    while True:
        m = c.next_note()
        p = m["params"]
        if m["method"] == "exec.output":
            assert p["offset"] == off
            k = len(base64.b64decode(p["data_b64"]))
            off += k
            got += k
            n += 1
            if n % 512 == 0:
                peak = max(peak, rss_kib(pid))
                if n % 4096 == 0:
                    time.sleep(0.2)     # slow again now and then
        elif m["method"] == "exec.exit":
            assert p.get("exit_code") == 0, p
            break
    assert got == total
    assert peak - idle < 64 * 1024, f"RSS grew {peak - idle} KiB"


def test_detached_exec_survives_client_kill(daemon):
    lease = daemon.call("lease.acquire")["id"]
    script = ("i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); "
              "done; while [ ! -e go ]; do sleep 0.05; done; echo end; exit 5")
    child = subprocess.Popen([sys.executable, "-c", f"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect({daemon.socket!r})
f = s.makefile("rwb")
def call(m, **p):
    f.write(json.dumps({{"jsonrpc": "2.0", "id": 1, "method": m,
                         "params": p}}).encode() + b"\\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if r.get("id") == 1:
            return r["result"]
x = call("exec.start", lease={lease!r}, argv=["sh", "-c", {script!r}],
         detach=True)["exec"]
call("exec.attach", exec=x)
print(x, flush=True)
f.readline()
sys.stdin.read()
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    xid = child.stdout.readline().decode().strip()
    assert xid.startswith("x-")
    child.kill()
    child.wait()
    c = stream(daemon)
    e = [x for x in c.call("exec.list")["execs"] if x["exec"] == xid][0]
    assert e["detached"] is True and e["state"] == "running"
    daemon.call("file.write", lease=lease, path="go", data_b64=b64(b""))
    r = c.call("exec.attach", exec=xid, **{"from": 0})
    assert r["from"] == 0 and r["lost"] == 0
    out, err, ex = c.exec_all(xid)
    want = "".join(f"line {i}\n" for i in range(300)) + "end\n"
    assert out.decode() == want
    assert ex["exit_code"] == 5
    # A finished detached exec can still be attached, with its exit code.
    c2 = stream(daemon)
    r = c2.call("exec.attach", exec=xid, **{"from": 10})
    assert r["state"] == "exited" and r["from"] == 10
    out, err, ex = c2.exec_all(xid)
    assert out.decode() == want[10:] and ex["exit_code"] == 5


def test_ring_loss_is_reported(daemon):
    """Past the ring (exec_ring, 4Mi by default) the oldest bytes go."""
    d = daemon
    lease = d.call("lease.acquire")["id"]
    c = stream(d)
    xid = c.call("exec.start", lease=lease, detach=True,
                 argv=["head", "-c", "6000000", "/dev/zero"])["exec"]
    sbxtest.wait_for(lambda: [x for x in c.call("exec.list")["execs"]
                              if x["exec"] == xid][0]["state"] != "running",
                     timeout=60, what="exec end")
    r = c.call("exec.attach", exec=xid)
    assert r["lost"] > 0 and r["from"] == r["lost"] and r["end"] == 6000000
    out, err, ex = c.exec_all(xid)
    assert len(out) == 6000000 - r["from"] and ex["exit_code"] == 0


def job_lease(d, script):
    return d.call("lease.acquire", command=["sh", "-c", script])["id"]


LOG_SCRIPT = ("for i in $(seq 1 40); do seq $((i*1000)) $((i*1000+150)); "
              "sleep 0.01; done; sleep 300")


def expected_log():
    return "".join("".join(f"{n}\n" for n in range(i * 1000, i * 1000 + 151))
                   for i in range(1, 41)).encode()


def test_tails_share_one_upstream(daemon, gw):
    lease = job_lease(daemon, LOG_SCRIPT)
    want = expected_log()
    conns, tids = [], []
    for i in range(8):
        c = stream(daemon)
        r = c.call("tail.start", lease=lease, follow=True)
        conns.append(c)
        tids.append(r["tail"])
    # While all 8 follow, the gateway serves one StreamLogs.
    got = [c.tail_until(t, len(want)) for c, t in zip(conns, tids)]
    st = gw.read_stats()
    assert st["streams_open"].get("StreamLogs") == 1
    for g in got:
        assert g == want
    for c, t in zip(conns, tids):
        c.call("tail.stop", tail=t)
        m = c.next_note()
        assert m["method"] == "tail.end" and m["params"]["reason"] == "stopped"
    sbxtest.wait_for(lambda: gw.read_stats()["streams_open"].get(
        "StreamLogs", 0) == 0, timeout=30, what="upstream closed")


def test_tail_lines_and_one_shot(daemon):
    lease = job_lease(daemon, "printf 'a\\nb\\nc\\nd\\n'; sleep 300")
    c = stream(daemon)
    sbxtest.wait_for(lambda: True, timeout=1)
    # One-shot: the whole log, then complete.
    deadline = time.monotonic() + 30
    while True:
        t = c.call("tail.start", lease=lease)["tail"]
        data = bytearray()
        while True:
            m = c.next_note()
            if m["method"] == "tail.end":
                assert m["params"]["reason"] == "complete"
                break
            data += base64.b64decode(m["params"]["data_b64"])
        if data == b"a\nb\nc\nd\n" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert data == b"a\nb\nc\nd\n"
    t = c.call("tail.start", lease=lease, lines=2, timestamps=True)["tail"]
    m = c.next_note()
    assert m["method"] == "tail.data" and m["params"]["offset"] == 4
    assert base64.b64decode(m["params"]["data_b64"]).endswith(b"c\nd\n")
    assert m["params"]["time"] > 1e9
    # A follow joiner asking for 1 line gets it from the window.
    f1 = c.call("tail.start", lease=lease, follow=True)["tail"]
    assert c.tail_until(f1, 8) == b"a\nb\nc\nd\n"
    c2 = stream(daemon)
    f2 = c2.call("tail.start", lease=lease, follow=True, lines=1)
    assert f2["shared"] is True
    assert c2.tail_until(f2["tail"], 2) == b"d\n"


def test_tail_resumes_after_broken_stream(tmpdir_short, procs):
    g = Gateway(tmpdir_short, procs, args=["--fault",
                                           "break-stream=StreamLogs:2"])
    d = Daemon(tmpdir_short, procs, gateway=g.target)
    lease = job_lease(d, LOG_SCRIPT)
    want = expected_log()
    c = stream(d)
    t = c.call("tail.start", lease=lease, follow=True)["tail"]
    got = c.tail_until(t, len(want))
    assert got == want
    assert g.read_stats()["streams_total"]["StreamLogs"] > 2


def test_other_uid_refused(daemon, tmpdir_short):
    if os.getuid() != 0:
        pytest.skip("needs root to act as another uid")
    lease = daemon.call("lease.acquire")["id"]
    c = stream(daemon)
    xid = c.call("exec.start", lease=lease, argv=["sleep", "300"],
                 stdin=True)["exec"]
    os.chmod(tmpdir_short, 0o755)
    os.chmod(daemon.socket, 0o666)
    script = f"""
import json, socket
s = socket.socket(socket.AF_UNIX); s.connect({daemon.socket!r})
f = s.makefile("rwb")
out = {{}}
for i, (m, p) in enumerate([
        ("exec.attach", {{"exec": {xid!r}}}),
        ("exec.write", {{"exec": {xid!r}, "data_b64": "eA=="}}),
        ("exec.cancel", {{"exec": {xid!r}}}),
        ("tail.start", {{"lease": {lease!r}}}),
        ("exec.start", {{"lease": {lease!r}, "argv": ["true"]}}),
        ("exec.list", {{}})]):
    f.write(json.dumps({{"jsonrpc": "2.0", "id": i, "method": m,
                         "params": p}}).encode() + b"\\n"); f.flush()
    r = json.loads(f.readline())
    out[m] = r.get("error", {{}}).get("data", {{}}).get("kind") or r["result"]
print(json.dumps(out))
"""
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                        "--clear-groups", sys.executable, "-c", script],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for m in ("exec.attach", "exec.write", "exec.cancel", "tail.start",
              "exec.start"):
        assert out[m] == "permission_denied", (m, out)
    assert out["exec.list"] == {"execs": []}
    c.call("exec.cancel", exec=xid)
