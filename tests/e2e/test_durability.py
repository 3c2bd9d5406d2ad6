"""Nothing lost: crash-safe state, reconciliation, gateway faults."""
import glob
import json
import os
import random
import subprocess
import threading
import time

import pytest

import grpc

import gwclient
import sbxtest
from sbxd import Daemon, Gateway, RpcError, unb64

RETRYABLE = {"gateway_unavailable", "deadline_exceeded", "overloaded",
             "pool_exhausted"}


def running(gw, tag="sandboxd"):
    """Our running sandboxes; asks again when a fault hits the question."""
    c = gwclient.Client(gw.target)
    try:
        for _ in range(50):
            try:
                return {s.sandbox_id for s in
                        c.call("List", tags=[tag]).sandboxes
                        if s.sandbox_status == 2}
            except grpc.RpcError:
                time.sleep(0.05)
        raise AssertionError("the gateway never answered List")
    finally:
        c.close()


def status_of(gw, sid):
    c = gwclient.Client(gw.target)
    try:
        return c.call("Get", sandbox_id=sid).sandbox_status
    finally:
        c.close()


def pool_info(d):
    return d.call("pool.list")["pools"][0]


@pytest.fixture
def gw(tmpdir_short, procs):
    return Gateway(tmpdir_short, procs)


def starts(gw):
    return gw.read_stats()["calls"].get("Start", 0)


def test_kill9_with_50_leases_and_a_pool(tmpdir_short, procs):
    # Slow starts, so the pool is still refilling when the daemon dies.
    gw = Gateway(tmpdir_short, procs, args=["--start-delay-ms", "1500"])
    conf = "[pool.w]\nwarm = 2\n"
    d = Daemon(tmpdir_short, procs, gateway=gw.target, conf_extra=conf)
    leases, errors = [], []

    def take(n):
        c = d.rpc(timeout=120)
        try:
            for _ in range(n):
                leases.append(c.call("lease.acquire", ttl=600))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        c.close()

    threads = [threading.Thread(target=take, args=(5,)) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == [] and len(leases) == 50
    sbxtest.wait_for(lambda: pool_info(d)["ready"] == 2, timeout=60,
                     what="warm")
    # Two warm claims: the pool starts two more, and we die meanwhile.
    for _ in range(2):
        leases.append(d.call("lease.acquire", pool="w", ttl=600))
    sbxtest.wait_for(lambda: pool_info(d)["starting"] == 2, what="refill")
    time.sleep(0.5)                      # the state write is coalesced
    d.proc.signal(9)
    d.proc.wait(10)
    refilling = running(gw, "sandboxd-pool:w") | creating(gw)
    refilling -= {l["sandbox_id"] for l in leases}
    assert len(refilling) == 2
    before = starts(gw)
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target, conf_extra=conf)
    back = {l["id"]: l for l in d2.call("lease.list")["leases"]}
    assert set(back) == {l["id"] for l in leases}
    for l in leases:
        assert back[l["id"]]["sandbox_id"] == l["sandbox_id"]
        assert back[l["id"]]["owner_uid"] == l["owner_uid"]
    c = d2.rpc(timeout=120)
    for l in leases:
        out = c.call("exec", lease=l["id"], argv=["hostname"])
        assert unb64(out["stdout_b64"]).strip() == l["sandbox_id"].encode()
    # the refilling starts were adopted, not stopped and started again
    sbxtest.wait_for(lambda: pool_info(d2)["ready"] == 2 and
                     pool_info(d2)["starting"] == 0, timeout=60,
                     what="pool settled")
    assert starts(gw) == before
    # nothing of ours runs that no lease or pool holds
    sbxtest.wait_for(lambda: running(gw) == {l["sandbox_id"] for l in
                                             leases} | refilling,
                     timeout=60, what="exactly leases + adopted warm")


def creating(gw):
    c = gwclient.Client(gw.target)
    try:
        return {s.sandbox_id for s in
                c.call("List", tags=["sandboxd"]).sandboxes
                if s.sandbox_status in (1, 6)}
    finally:
        c.close()


def test_flaky_gateway_loses_nothing(tmpdir_short, procs):
    gw = Gateway(tmpdir_short, procs, args=["--fault", "unavailable=0.2"])
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    ok = failed = 0
    held = []
    for _ in range(25):
        try:
            lease = d.call("lease.acquire", wait=30)
            held.append(lease)
            out = d.call("exec", lease=lease["id"], argv=["echo", "hi"])
            assert unb64(out["stdout_b64"]) == b"hi\n"
            d.call("lease.release", lease=lease["id"])
            held.remove(lease)
            ok += 1
        except RpcError as e:
            assert e.kind in RETRYABLE, e
            assert e.message
            failed += 1
    for lease in held:
        try:
            d.call("lease.release", lease=lease["id"])
        except RpcError as e:
            assert e.kind in RETRYABLE | {"not_found"}, e
    assert ok > 0
    # every sandbox is stopped in the end: the reaper retries
    sbxtest.wait_for(lambda: running(gw) == set(), timeout=120,
                     what="no sandbox left running")
    assert d.call("lease.list")["leases"] == []


def test_gateway_down_then_back(tmpdir_short, procs, gw):
    d = Daemon(tmpdir_short, procs, gateway=gw.target,
               conf_extra="[pool.w]\nwarm = 1\n",
               daemon_conf="reconcile_interval = 2s\n")
    sbxtest.wait_for(lambda: pool_info(d)["ready"] == 1, what="warm")
    c = d.rpc()
    lease = c.call("lease.acquire", ttl=600)
    gw.proc.stop(sig=9)
    t0 = time.monotonic()
    for _ in range(5):
        t1 = time.monotonic()
        with pytest.raises(RpcError) as e:
            d.call("lease.acquire", wait=20)
        assert e.value.kind == "gateway_unavailable", e.value
        assert time.monotonic() - t1 < 5     # fails fast, never waits
    assert d.call("status")["gateway"]["state"] != "ready"
    assert d.call("status")["gateway"]["down"]
    time.sleep(max(0, 30 - (time.monotonic() - t0)))
    gw.start()                      # a new gateway: it forgot everything
    sbxtest.wait_for(lambda: d.call("status")["gateway"]["state"] == "ready",
                     timeout=60, what="channels back")
    fresh = d.call("lease.acquire", wait=60)
    out = d.call("exec", lease=fresh["id"], argv=["true"])
    assert out["exit_code"] == 0
    sbxtest.wait_for(lambda: pool_info(d)["ready"] == 1, timeout=120,
                     what="pool refilled")
    # the old lease's sandbox is gone upstream: lost, and its owner told
    sbxtest.wait_for(lambda: any(m.get("method") == "lease.lost"
                                 for m in drain(c)), timeout=60,
                     what="lease.lost")
    with pytest.raises(RpcError) as e:
        d.call("lease.get", lease=lease["id"])
    assert e.value.kind == "lease_lost"
    assert d.proc.alive()


def drain(c):
    """Notifications that arrived on a connection, without blocking."""
    c.sock.settimeout(0.2)
    try:
        while True:
            c.notifications.append(c.read_msg())
    except (TimeoutError, OSError):
        pass
    c.sock.settimeout(60)
    return c.notifications


def test_corrupt_state_moved_aside_orphans_stopped(tmpdir_short, procs, gw):
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    a = d.call("lease.acquire")
    b = d.call("lease.acquire")
    time.sleep(0.5)
    d.proc.signal(9)
    d.proc.wait(10)
    state = os.path.join(d.state, "state.json")
    with open(state, "r+b") as f:
        data = f.read()
        f.seek(0)
        f.write(data[: len(data) // 2])
        f.truncate()
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target)
    assert glob.glob(state + ".corrupt-*")
    sbxtest.wait_for(lambda: "moved aside" in d2.proc.output(),
                     what="a log line about the corrupt file")
    for sid in (a["sandbox_id"], b["sandbox_id"]):
        sbxtest.wait_for(lambda: status_of(gw, sid) in (3, 4, 5),
                         what=f"orphan {sid} stopped")
    assert d2.call("lease.list")["leases"] == []


def test_power_cut_never_tears_the_state_file(tmpdir_short, procs, gw):
    state = os.path.join(tmpdir_short, "state", "state.json")
    rng = random.Random(7)
    for i in range(50):
        d = Daemon(tmpdir_short, procs, gateway=gw.target)
        stop = threading.Event()

        def churn():
            try:
                c = d.rpc(timeout=10)
                while not stop.is_set():
                    lease = c.call("lease.acquire")
                    c.call("lease.release", lease=lease["id"])
            except Exception:  # noqa: BLE001 - the daemon is killed
                pass

        t = threading.Thread(target=churn)
        t.start()
        time.sleep(rng.uniform(0.05, 0.4))
        d.proc.signal(9)
        d.proc.wait(10)
        stop.set()
        t.join(30)
        if os.path.exists(state):
            with open(state) as f:
                doc = json.load(f)      # never torn
            assert doc["version"] == 1
        assert not glob.glob(state + ".corrupt-*"), f"iteration {i}"


def test_slow_start_survives_periodic_reconcile(tmpdir_short, procs):
    # CREATING for 5 s while reconcile looks every second: five passes.
    gw = Gateway(tmpdir_short, procs, args=["--start-delay-ms", "5000"])
    d = Daemon(tmpdir_short, procs, gateway=gw.target,
               conf_extra="[pool.w]\nwarm = 1\n",
               daemon_conf="reconcile_interval = 1s\n")
    lease = d.call("lease.acquire", wait=60)
    out = d.call("exec", lease=lease["id"], argv=["true"])
    assert out["exit_code"] == 0
    sbxtest.wait_for(lambda: pool_info(d)["ready"] == 1, timeout=60,
                     what="the slow pool start ready")
    log = d.proc.output()
    assert "no lease or pool holds it" not in log
    assert "stopped by request" not in log
    assert starts(gw) == 2
    assert running(gw) >= {lease["sandbox_id"]}
    assert len(running(gw)) == 2


def test_reserved_tags_refused(tmpdir_short, procs, gw):
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    for tag in ("sandboxd", "sandboxd-req:l-xxxxxxxx", "sandboxd-instance:x",
                "sandboxdfoo"):
        with pytest.raises(RpcError) as e:
            d.call("lease.acquire", tags=["mine", tag])
        assert e.value.kind == "invalid_params"
        assert "reserved" in e.value.message and tag in e.value.message
    lease = d.call("lease.acquire", tags=["my-sandboxd"])
    assert lease["tags"] == ["my-sandboxd"]


def test_reserved_tag_in_pool_is_a_config_error(tmpdir_short, procs, gw):
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    d.proc.stop()
    with open(d.conf, "a") as f:
        f.write("[pool.w]\nwarm = 1\ntags = ok, sandboxd-req:x\n")
    r = run_once(tmpdir_short, gw)
    assert r.returncode != 0
    assert "pool w: tag sandboxd-req:x" in r.stderr
    assert "reserved" in r.stderr


def run_once(tmpdir, gw):
    """sandboxd on the test's config until it exits (it must, quickly)."""
    conf = os.path.join(tmpdir, "sandboxd.conf")
    return subprocess.run([sbxtest.binary("sandboxd"), "-c", conf],
                          capture_output=True, text=True, timeout=60)


def test_unreadable_state_refuses_to_start(tmpdir_short, procs, gw):
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    d.proc.stop()
    state = os.path.join(d.state, "state.json")
    os.unlink(state)
    os.mkdir(state)                 # exists, and read(2) fails: EISDIR
    r = run_once(tmpdir_short, gw)
    assert r.returncode == 66, r.stderr       # EX_NOINPUT
    assert "refusing to start" in r.stderr and "state.json" in r.stderr
    assert os.path.isdir(state)               # left alone
    assert not glob.glob(state + ".corrupt-*")
    # nor is a new instance id made up while state.json cannot be read
    idfile = os.path.join(d.state, "instance-id")
    os.unlink(idfile)
    r = run_once(tmpdir_short, gw)
    assert r.returncode == 66, r.stderr
    assert not os.path.exists(idfile)


def test_state_versions(tmpdir_short, procs, gw):
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    lease = d.call("lease.acquire")
    time.sleep(0.5)
    d.proc.signal(9)
    d.proc.wait(10)
    state = os.path.join(d.state, "state.json")
    with open(state) as f:
        doc = json.load(f)
    # a newer file: refused, untouched
    newer = dict(doc, version=2)
    with open(state, "w") as f:
        json.dump(newer, f)
    r = run_once(tmpdir_short, gw)
    assert r.returncode == 65, r.stderr       # EX_DATAERR
    assert "newer than this daemon" in r.stderr
    with open(state) as f:
        assert json.load(f) == newer
    # an older one (no version yet): read
    del doc["version"]
    with open(state, "w") as f:
        json.dump(doc, f)
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target)
    got = d2.call("lease.get", lease=lease["id"])
    assert got["sandbox_id"] == lease["sandbox_id"]
    time.sleep(0.5)
    with open(state) as f:
        assert json.load(f)["version"] == 1   # written back as ours


def test_torn_instance_id_recovered(tmpdir_short, procs, gw):
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    inst = d.call("status")["instance"]
    lease = d.call("lease.acquire")
    time.sleep(0.5)
    d.proc.signal(9)
    d.proc.wait(10)
    idfile = os.path.join(d.state, "instance-id")
    open(idfile, "w").close()                 # torn: empty
    stale = os.path.join(d.state, "state.json.tmp.999999")
    with open(stale, "w") as f:
        f.write("{")
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target,
                daemon_conf="reconcile_interval = 1s\n")
    assert d2.call("status")["instance"] == inst
    assert glob.glob(idfile + ".corrupt-*")
    assert "recovered from state.json" in d2.proc.output()
    with open(idfile) as f:
        assert f.read() == inst + "\n"
    assert not os.path.exists(stale)
    time.sleep(3)                             # a few passes: not an orphan
    assert d2.call("lease.get", lease=lease["id"])["state"] == "ready"
    assert status_of(gw, lease["sandbox_id"]) == 2


def test_burst_of_changes_is_few_writes(tmpdir_short, procs, gw):
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    leases = [d.call("lease.acquire") for _ in range(20)]
    time.sleep(0.5)
    w0 = d.call("status")["state_writes"]
    conns = [d.rpc() for _ in leases]
    for c, lease in zip(conns, leases):
        c.send("lease.release", {"lease": lease["id"]}, id=1)
    for c in conns:
        c.wait_reply(1)
        c.close()
    sbxtest.wait_for(lambda: d.call("lease.list")["leases"] == [],
                     what="all released")
    time.sleep(0.5)
    w1 = d.call("status")["state_writes"]
    assert 1 <= w1 - w0 <= 6, (w0, w1)


def test_lease_lost_while_down_is_found_at_start(tmpdir_short, procs, gw):
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    lease = d.call("lease.acquire")
    time.sleep(0.5)
    d.proc.signal(9)
    d.proc.wait(10)
    c = gwclient.Client(gw.target)
    c.call("Stop", sandbox_id=lease["sandbox_id"])
    c.close()
    sbxtest.wait_for(lambda: status_of(gw, lease["sandbox_id"]) != 2,
                     what="stopped upstream")
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target)
    sbxtest.wait_for(lambda: f"lease {lease['id']} lost"
                     in d2.proc.output(), what="the lease reported lost")
    with pytest.raises(RpcError) as e:
        d2.call("lease.get", lease=lease["id"])
    assert e.value.kind == "lease_lost"
    # the reason found at start-up, not a generic one
    assert f"sandbox {lease['sandbox_id']} is " in str(e.value), e.value


def test_keep_warm_on_shutdown(tmpdir_short, procs, gw):
    conf = "[pool.w]\nwarm = 2\n"
    dconf = "keep_warm_on_shutdown = yes\n"
    d = Daemon(tmpdir_short, procs, gateway=gw.target, conf_extra=conf,
               daemon_conf=dconf)
    sbxtest.wait_for(lambda: pool_info(d)["ready"] == 2, what="warm")
    warm = running(gw, "sandboxd-pool:w")
    assert len(warm) == 2
    d.proc.stop()                   # SIGTERM
    before = starts(gw)
    assert running(gw, "sandboxd-pool:w") == warm
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target, conf_extra=conf,
                daemon_conf=dconf)
    sbxtest.wait_for(lambda: pool_info(d2)["ready"] == 2, what="warm again")
    time.sleep(1)
    assert starts(gw) == before
    assert running(gw, "sandboxd-pool:w") == warm
    lease = d2.call("lease.acquire", pool="w")
    assert lease["sandbox_id"] in warm


def test_reconcile_reads_every_page(tmpdir_short, procs):
    # More strays than one List page holds (the daemon asks for 500).
    gw = Gateway(tmpdir_short, procs, args=["--isolation", "none"])
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    inst = d.call("status")["instance"]
    d.proc.stop()
    c = gwclient.Client(gw.target)
    strays = {c.call("Start", tags=["sandboxd", f"sandboxd-instance:{inst}",
                                     f"sandboxd-req:x-{i}"]).sandbox_id
              for i in range(520)}
    c.close()
    sbxtest.wait_for(lambda: len(running(gw)) == 520, timeout=120,
                     what="the strays running")
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target)
    sbxtest.wait_for(lambda: "520 orphans stopped" in d2.proc.output(),
                     timeout=120, what="every stray found")
    sbxtest.wait_for(lambda: running(gw) == set(), timeout=300,
                     what="every stray stopped")
    assert strays


def test_kept_warm_members_gone_upstream_are_replaced(tmpdir_short, procs,
                                                      gw):
    conf = "[pool.w]\nwarm = 2\n"
    dconf = "keep_warm_on_shutdown = yes\n"
    d = Daemon(tmpdir_short, procs, gateway=gw.target, conf_extra=conf,
               daemon_conf=dconf)
    sbxtest.wait_for(lambda: pool_info(d)["ready"] == 2, what="warm")
    warm = running(gw, "sandboxd-pool:w")
    d.proc.stop()                   # SIGTERM: members saved
    gw.proc.stop(sig=9)
    gw.root += "-fresh"             # a gateway that never saw them
    gw.start()
    base = len(d.proc.output())
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target, conf_extra=conf,
                daemon_conf=dconf)
    sbxtest.wait_for(lambda: len(running(gw, "sandboxd-pool:w")) == 2,
                     timeout=60, what="two new warm sandboxes")
    assert running(gw, "sandboxd-pool:w").isdisjoint(warm)
    assert d2.proc.output()[base:].count("is gone upstream: dropped") == 2
    sbxtest.wait_for(lambda: pool_info(d2)["ready"] == 2, what="ready")
    lease = d2.call("lease.acquire", pool="w")
    assert lease["sandbox_id"] not in warm
