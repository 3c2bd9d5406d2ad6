"""Per-daemon and per-connection limits of the control socket.

Each limit trips with `overloaded` (-32010) and a message naming it (the
line limit with `too_large`), and the daemon stays healthy afterwards:
max_clients, max_clients_per_uid, max_inflight, max_streams, max_line,
idle_timeout, line_timeout (slow loris), write_timeout (a client that does
not read), and accept backing off on EMFILE.
"""
import json
import os
import socket
import subprocess
import threading
import time

import pytest

import sbxtest
from sbxd import Daemon, Gateway, Rpc, RpcError

OTHER = "sbxtest-other"


@pytest.fixture
def gw(tmpdir_short, procs):
    return Gateway(tmpdir_short, procs)


def daemon_with(tmpdir_short, procs, gw, conf):
    return Daemon(tmpdir_short, procs, gateway=gw.target, daemon_conf=conf)


def assert_overloaded(msg, limit):
    """`msg` is an overloaded error whose message names `limit`."""
    assert "error" in msg, msg
    e = msg["error"]
    assert e["code"] == -32010, e
    assert e["data"]["kind"] == "overloaded", e
    assert limit in e["message"], e


def healthy(d):
    assert d.proc.alive(), d.proc.output()
    assert d.call("status") is not None


def status_ok(d, clients=None):
    """True when a fresh connection is taken and answers status (seeing
    `clients` connections, its own included, when given)."""
    try:
        st = d.call("status")
        return clients is None or st["clients"] == clients
    except (OSError, EOFError, RpcError, AssertionError):
        return False    # AssertionError: refused with an id-less error


def read_until_eof(c, timeout=30):
    """Every message until the daemon closes the connection."""
    c.sock.settimeout(timeout)
    msgs = []
    while True:
        try:
            msgs.append(c.read_msg())
        except (EOFError, ConnectionResetError):
            return msgs


def other_uid():
    if subprocess.run(["id", OTHER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-M", "-s", "/bin/false", OTHER],
                       check=True)
    return int(subprocess.run(["id", "-u", OTHER], capture_output=True,
                              text=True, check=True).stdout)


def test_max_clients(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, "max_clients = 3\n")
    # earlier probes' connections may not be reaped yet: count from zero
    sbxtest.wait_for(lambda: status_ok(d, clients=1), timeout=10,
                     what="no other clients")
    held = [d.rpc() for _ in range(3)]
    for c in held:
        assert c.call("status") is not None
    extra = d.rpc()
    msgs = read_until_eof(extra)
    assert len(msgs) == 1, msgs
    assert_overloaded(msgs[0], "max_clients")
    held.pop().close()
    sbxtest.wait_for(lambda: status_ok(d), timeout=10, what="a freed slot")
    for c in held:
        assert c.call("status") is not None
        c.close()
    healthy(d)


def test_max_clients_per_uid(tmpdir_short, procs, gw):
    uid = other_uid()
    d = daemon_with(tmpdir_short, procs, gw, "max_clients_per_uid = 2\n")
    os.chmod(tmpdir_short, 0o755)
    os.chmod(d.socket, 0o666)
    # Another user: two connections, the third refused at once.
    script = f"""
import json, socket
out = []
socks = []
for i in range(3):
    s = socket.socket(socket.AF_UNIX); s.settimeout(20)
    s.connect({d.socket!r}); socks.append(s)
for s in socks:
    try:
        s.sendall(b'{{"jsonrpc":"2.0","id":1,"method":"status"}}\\n')
    except BrokenPipeError:
        pass    # refused and closed already; its error is still there
for s in socks:
    buf = b""
    while b"\\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    out.append(json.loads(buf.split(b"\\n")[0]) if buf else None)
print(json.dumps(out))
"""
    r = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}",
                        "--clear-groups", "/usr/bin/python3", "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [("result" in m) for m in out[:2]] == [True, True], out
    assert_overloaded(out[2], "max_clients_per_uid")
    # root is not capped per uid
    held = [d.rpc() for _ in range(4)]
    for c in held:
        assert c.call("status") is not None
        c.close()
    healthy(d)


def test_max_inflight(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, "max_inflight = 2\n")
    lease = d.call("lease.acquire")["id"]
    c = d.rpc()
    slow = [c.send("exec", {"lease": lease, "argv": ["sleep", "2"]})
            for _ in range(2)]
    third = c.send("exec", {"lease": lease, "argv": ["true"]})
    got = {}
    while len(got) < 3:
        m = c.read_msg()
        got[m["id"]] = m
        if len(got) == 1:
            # the request past the limit is answered first, at once
            assert m["id"] == third, m
    assert_overloaded(got[third], "max_inflight")
    for i in slow:
        assert got[i]["result"]["exit_code"] == 0, got[i]
    # the connection stays, and with nothing in flight it takes work again
    assert c.call("exec", lease=lease, argv=["true"])["exit_code"] == 0
    c.close()
    healthy(d)


def start_sleep(c, lease, **kw):
    return c.call("exec.start", lease=lease, argv=["sleep", "300"], **kw)


def test_max_streams(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, "max_streams = 2\n")
    lease = d.call("lease.acquire")["id"]
    c = d.rpc()
    x1 = start_sleep(c, lease)["exec"]
    tail = c.call("tail.start", lease=lease, follow=True)["tail"]
    for method, params in (("exec.start", {"lease": lease,
                                           "argv": ["true"]}),
                           ("tail.start", {"lease": lease})):
        m = c.wait_reply(c.send(method, params))
        assert_overloaded(m, "max_streams")
    # a detached exec subscribes nobody: allowed, but attaching is not
    x3 = start_sleep(c, lease, detach=True)["exec"]
    assert_overloaded(c.wait_reply(c.send("exec.attach", {"exec": x3})),
                      "max_streams")
    # another connection has its own count
    c2 = d.rpc()
    assert c2.call("exec.attach", exec=x3)["exec"] == x3
    # ending a stream frees its place
    c.call("tail.stop", tail=tail)
    x4 = start_sleep(c, lease)["exec"]
    c.call("exec.cancel", exec=x1)
    sbxtest.wait_for(lambda: any(
        n["method"] == "exec.exit" and n["params"]["exec"] == x1
        for n in drain_notes(c)), timeout=30, what="exec.exit of x1")
    x5 = start_sleep(c, lease)["exec"]
    for x in (x3, x4, x5):
        c.call("exec.cancel", exec=x)
    c.close()
    c2.close()
    healthy(d)


def drain_notes(c):
    """Notifications seen so far, reading what has arrived."""
    c.sock.settimeout(0.2)
    try:
        while True:
            c.notifications.append(c.read_msg())
    except (socket.timeout, TimeoutError):
        pass
    finally:
        c.sock.settimeout(60)
    return c.notifications


def test_max_line(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, "max_line = 2Ki\n")
    c = d.rpc()
    big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status",
                      "params": {"pad": "x" * 4096}}).encode() + b"\n"
    c.send_raw(big)
    m = c.read_msg()
    assert m["error"]["data"]["kind"] == "too_large", m
    assert "2048" in m["error"]["message"], m
    # like overloaded, it names the limit: the key and its value
    assert m["error"]["data"]["key"] == "max_line", m
    assert m["error"]["data"]["limit"] == 2048, m
    assert c.call("status") is not None
    c.close()
    healthy(d)


def test_idle_timeout(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw,
                    "idle_timeout = 2s\n")
    lease = d.call("lease.acquire")["id"]
    quiet = d.rpc()
    partial = d.rpc()
    partial.send_raw(b'{"jsonrpc": "2.0", "id"')
    keepalive = d.rpc()
    pinger = threading.Thread(target=ping, args=(keepalive, 6))
    pinger.start()
    waiting = d.rpc()
    wid = waiting.send("exec", {"lease": lease, "argv": ["sleep", "5"]})
    streaming = d.rpc()
    xid = start_sleep(streaming, lease)["exec"]
    start = time.monotonic()

    for c in (quiet, partial):
        msgs = read_until_eof(c)
        assert len(msgs) == 1, msgs
        assert_overloaded(msgs[0], "idle_timeout")
    # blank lines are keep-alives; a request in flight or a stream open
    # is not idleness
    pinger.join()
    assert time.monotonic() - start > 3
    assert keepalive.call("status") is not None
    m = waiting.wait_reply(wid)
    assert m["result"]["exit_code"] == 0, m
    assert streaming.call("exec.list")["execs"]
    # once the reply is out, the waiting connection is idle like any other
    msgs = read_until_eof(waiting)
    assert_overloaded(msgs[-1], "idle_timeout")
    streaming.call("exec.cancel", exec=xid)
    for c in (keepalive, streaming):
        c.close()
    healthy(d)


def ping(c, seconds):
    """Blank lines (keep-alives) every half second for `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        c.send_raw(b"\n")
        time.sleep(0.5)


def test_slow_loris(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, "line_timeout = 2s\n")
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status",
                       "params": {}}).encode()
    loris = d.rpc()
    loris.sock.settimeout(30)
    sent = 0
    closed = False
    # One byte every 0.1 s: the idle clock never runs out, the line's does.
    while sent < len(line):
        try:
            loris.send_raw(line[sent:sent + 1])
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        sent += 1
        time.sleep(0.1)
    assert closed or sent == len(line)
    if not closed:
        loris.send_raw(b"\n")   # may still be accepted by the kernel
    msgs = read_until_eof(loris)
    assert msgs, "no reason given"
    assert_overloaded(msgs[0], "line_timeout")
    assert not any("result" in m for m in msgs), msgs
    # a client that stops mid-line is closed too
    stuck = d.rpc()
    stuck.send_raw(line[:10])
    msgs = read_until_eof(stuck)
    assert_overloaded(msgs[0], "line_timeout")
    # while a normal client, even one with pauses between lines, is fine
    c = d.rpc()
    for _ in range(3):
        assert c.call("status") is not None
        time.sleep(1)
    c.close()
    healthy(d)


def test_write_timeout(tmpdir_short, procs, gw):
    """A client that sends requests and never reads the replies is closed
    once its queued output stops moving for write_timeout, even though
    output pending counts as busy for idle_timeout."""
    d = daemon_with(tmpdir_short, procs, gw,
                    "idle_timeout = 2s\nwrite_timeout = 2s\n")
    deaf = d.rpc()
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status"})
    start = time.monotonic()
    try:
        # past 8 MiB of queued replies the daemon stops reading: this
        # send then blocks until the daemon closes the connection
        deaf.send_raw((line + "\n").encode() * 20000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    # the clock runs out before the client reads a byte
    sbxtest.wait_for(lambda: "replies not read for write_timeout" in
                     d.proc.output(), timeout=20, what="the log line")
    msgs = read_until_eof(deaf)
    assert len(msgs) < 20000, "every reply came: nothing was held up"
    assert time.monotonic() - start < 30
    # a client that reads, however slowly, keeps its connection
    c = d.rpc()
    for _ in range(3):
        assert c.call("status") is not None
        time.sleep(1)
    c.close()
    healthy(d)


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_emfile_backoff(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, "")
    pid = d.proc.pid
    healthy(d)
    with open(f"/proc/{pid}/limits") as f:
        soft, hard = next(ln.split()[3:5] for ln in f
                          if ln.startswith("Max open files"))
    limit = fd_count(pid) + 3       # the soft limit; the hard one stays
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={limit}:{hard}"],
                   check=True)
    conns = []
    try:
        for _ in range(8):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(1)
            s.connect(d.socket)     # the backlog takes what accept can't
            conns.append(s)
        sbxtest.wait_for(lambda: "Too many open files" in d.proc.output(),
                         timeout=20, what="EMFILE in the log")
        time.sleep(3)
        # backing off: about one try a second, not a busy loop
        tries = d.proc.output().count("accept: Too many open files")
        assert 1 <= tries <= 10, tries
        assert d.proc.alive()
    finally:
        for s in conns:
            s.close()
        subprocess.run(["prlimit", f"--pid={pid}",
                        f"--nofile={soft}:{hard}"], check=True)
    # the listener comes back once fds are free again
    sbxtest.wait_for(lambda: status_ok(d), timeout=20,
                     what="accepting again")
    c = d.rpc()
    assert c.call("status") is not None
    c.close()
    healthy(d)
