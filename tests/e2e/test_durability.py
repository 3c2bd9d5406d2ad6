"""Nothing lost: crash-safe state, reconciliation, gateway faults."""
import glob
import json
import os
import random
import threading
import time

import pytest

import grpc

import gwclient
import sbxtest
from sbxd import Daemon, Gateway, RpcError, unb64

RETRYABLE = {"gateway_unavailable", "deadline_exceeded", "overloaded",
             "pool_exhausted", "gateway_error", "cancelled"}


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


def test_kill9_with_50_leases_and_a_pool(tmpdir_short, procs, gw):
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
    time.sleep(0.5)                      # the state write is coalesced
    d.proc.signal(9)
    d.proc.wait(10)
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
    # nothing of ours runs that no lease or pool holds
    sbxtest.wait_for(lambda: pool_info(d2)["ready"] == 2 and
                     pool_info(d2)["starting"] == 0, what="pool settled")
    sbxtest.wait_for(lambda: len(running(gw)) == 52, timeout=60,
                     what="orphans stopped")
    assert {l["sandbox_id"] for l in leases} <= running(gw)


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
    with pytest.raises(RpcError) as e:
        d.call("lease.acquire", wait=5)
    assert e.value.kind in ("gateway_unavailable", "pool_exhausted",
                            "deadline_exceeded")
    assert d.call("status")["gateway"]["state"] != "ready"
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
