"""Gateway outages: fail fast, log once per change, recover without help."""
import os
import socket
import threading
import time

import pytest

import sbxtest
from sbxd import Daemon, Gateway, RpcError, unb64
from test_durability import running, status_of


def pool_info(d):
    return d.call("pool.list")["pools"][0]


def count(d, text):
    return d.proc.output().count(text)


class BlackHole:
    """A TCP listener that accepts connections and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                self.conns.append(self.sock.accept()[0])
            except (TimeoutError, OSError):
                pass

    def close(self):
        self.stop = True
        self.t.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def blackhole():
    b = BlackHole()
    yield b
    b.close()


def test_black_holed_gateway_fails_fast(tmpdir_short, procs, blackhole):
    d = Daemon(tmpdir_short, procs, gateway=f"127.0.0.1:{blackhole.port}",
               conf_extra="tls = no\ncall_timeout = 3s\n")
    # The first failure has to be learnt: a reconcile List times out.
    sbxtest.wait_for(lambda: d.call("status")["gateway"]["down"],
                     timeout=60, what="the gateway known down")
    for _ in range(3):
        t0 = time.monotonic()
        with pytest.raises(RpcError) as e:
            d.call("lease.acquire", wait=10)
        took = time.monotonic() - t0
        assert e.value.kind == "gateway_unavailable", e.value
        assert "unreachable" in e.value.message
        assert took < 5, f"lease.acquire took {took:.1f} s"
    assert count(d, "requests fail at once") == 1
    assert d.proc.alive()


def test_outage_fails_fast_logs_once_and_recovers(tmpdir_short, procs):
    gw = Gateway(tmpdir_short, procs)
    d = Daemon(tmpdir_short, procs, gateway=gw.target,
               conf_extra="[pool.w]\nwarm = 1\n",
               daemon_conf="reconcile_interval = 1s\n")
    sbxtest.wait_for(lambda: pool_info(d)["ready"] == 1, what="warm")
    short = d.call("lease.acquire", ttl=2)
    gw.proc.stop(sig=9)
    sbxtest.wait_for(lambda: d.call("status")["gateway"]["down"],
                     what="the gateway known down")
    # Requests fail at once, and only as gateway_unavailable.
    for _ in range(10):
        t0 = time.monotonic()
        with pytest.raises(RpcError) as e:
            d.call("lease.acquire", wait=10)
        assert e.value.kind == "gateway_unavailable", e.value
        assert time.monotonic() - t0 < 5
    # The short lease expires meanwhile: its Stop is retried, not dropped.
    sbxtest.wait_for(lambda: "stopping sandbox " + short["sandbox_id"]
                     in d.proc.output(), timeout=30,
                     what="a failed Stop for the expired lease")
    time.sleep(5)                   # pools, reaper, reconcile all retry
    out = d.proc.output()
    assert out.count("requests fail at once") == 1
    assert out.count("starts failing") <= 1
    assert out.count("pass failed") <= 1
    assert out.count("stopping sandbox " + short["sandbox_id"]) == 1
    assert out.count("state not saved") == 0
    gw.start()
    sbxtest.wait_for(lambda: "is reachable again" in d.proc.output(),
                     timeout=60, what="the gateway back")
    assert d.proc.output().count("is reachable again") == 1
    sbxtest.wait_for(lambda: f"sandbox {short['sandbox_id']} stopped"
                     in d.proc.output(), timeout=60,
                     what="the expired lease's sandbox stopped")
    lease = d.call("lease.acquire", pool="w", wait=60)
    out = d.call("exec", lease=lease["id"], argv=["echo", "ok"])
    assert unb64(out["stdout_b64"]) == b"ok\n"
    sbxtest.wait_for(lambda: pool_info(d)["ready"] == 1, timeout=60,
                     what="pool refilled")


def test_vanished_warm_member_is_replaced(tmpdir_short, procs):
    gw = Gateway(tmpdir_short, procs)
    d = Daemon(tmpdir_short, procs, gateway=gw.target,
               conf_extra="[pool.w]\nwarm = 1\n",
               daemon_conf="reconcile_interval = 1s\n")
    sbxtest.wait_for(lambda: pool_info(d)["ready"] == 1, what="warm")
    old = running(gw)
    assert len(old) == 1
    gw.proc.stop(sig=9)
    gw.root += "-fresh"             # a gateway that never saw them
    gw.start()
    sbxtest.wait_for(lambda: len(running(gw)) == 1, timeout=60,
                     what="a new warm sandbox")
    assert running(gw).isdisjoint(old)
    assert "is gone upstream: dropped" in d.proc.output()
    sbxtest.wait_for(lambda: pool_info(d)["ready"] == 1, what="ready")
    lease = d.call("lease.acquire", pool="w")
    assert lease["sandbox_id"] not in old
    out = d.call("exec", lease=lease["id"], argv=["true"])
    assert out["exit_code"] == 0


def test_first_reconcile_failure_is_retried(tmpdir_short, procs):
    faults = os.path.join(tmpdir_short, "faults")
    open(faults, "w").close()
    gw = Gateway(tmpdir_short, procs, args=["--fault-file", faults])
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    lease = d.call("lease.acquire")
    time.sleep(0.5)
    d.proc.signal(9)
    d.proc.wait(10)
    os.unlink(os.path.join(d.state, "state.json"))   # a crash before it
    with open(faults, "w") as f:
        f.write("unavailable=List:1\n")
    gw.proc.signal(10)
    time.sleep(0.3)
    base = len(d.proc.output())     # both write sandboxd.log

    def log():
        return d2.proc.output()[base:]
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target,
                daemon_conf="reconcile_interval = 1s\n")
    sbxtest.wait_for(lambda: "the first pass failed" in log(),
                     what="the failed first pass reported")
    time.sleep(3)
    out = log()
    assert "orphans stopped" not in out         # no totals claimed
    assert out.count("pass failed") == 1        # logged once
    assert status_of(gw, lease["sandbox_id"]) == 2  # nothing acted on yet
    assert d2.call("status")["version"]         # but it serves
    with open(faults, "w") as f:
        f.write("")
    gw.proc.signal(10)
    sbxtest.wait_for(lambda: status_of(gw, lease["sandbox_id"]) != 2,
                     timeout=30, what="the orphan stopped once it works")
    assert "listing works again" in log()
    assert "1 orphans stopped" in log()
