"""Warm pools shared by every local process (sandboxd + local gateway)."""
import socket
import threading
import time

import pytest

import gwclient
import sbxtest
from sbxd import Daemon, Gateway, RpcError, b64, unb64


def pool_conf(name="w", **keys):
    lines = [f"[pool.{name}]"] + [f"{k} = {v}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def pool_info(d, name="w"):
    for p in d.call("pool.list")["pools"]:
        if p["name"] == name:
            return p
    raise KeyError(name)


def wait_ready(d, n, name="w", timeout=60):
    def ready():
        try:
            return pool_info(d, name)["ready"] == n
        except KeyError:  # not (yet) configured
            return False
    return sbxtest.wait_for(ready, timeout=timeout,
                            what=f"{n} ready in {name}")


def running_with_tag(gw, tag):
    c = gwclient.Client(gw.target)
    try:
        return [s.sandbox_id for s in c.call("List", tags=[tag]).sandboxes
                if s.sandbox_status == 2]
    finally:
        c.close()


def start_calls(gw):
    return gw.read_stats()["calls"].get("Start", 0)


@pytest.fixture
def gw(tmpdir_short, procs):
    return Gateway(tmpdir_short, procs)


def daemon_with(tmpdir_short, procs, gw, conf):
    return Daemon(tmpdir_short, procs, gateway=gw.target, conf_extra=conf)


def test_warm_lease_does_not_start(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf(warm=2, default="yes"))
    wait_ready(d, 2)
    before = start_calls(gw)
    a = d.call("lease.acquire")
    b = d.call("lease.acquire", pool="w")
    assert a["warm"] and b["warm"] and a["pool"] == "w"
    assert a["state"] == "ready" and a["sandbox_id"] != b["sandbox_id"]
    wait_ready(d, 2)
    # Only the two refills reached Start: the claims themselves did not.
    assert start_calls(gw) == before + 2
    out = d.call("exec", lease=a["id"], argv=["hostname"])
    assert unb64(out["stdout_b64"]).strip() == a["sandbox_id"].encode()
    info = pool_info(d)
    assert info["hits"] == 2 and info["leased"] == 2
    d.call("lease.release", lease=a["id"])
    d.call("lease.release", lease=b["id"])
    sbxtest.wait_for(lambda: pool_info(d)["leased"] == 0, what="leased 0")


def test_sixteen_workers_never_share(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf(warm=4, max=8, max_starting=4))
    wait_ready(d, 4)
    seen, errors, lock = [], [], threading.Lock()

    def worker(i):
        try:
            c = d.rpc(timeout=120)
            for _ in range(3):
                lease = c.call("lease.acquire", pool="w", wait=120)
                sid = lease["sandbox_id"]
                c.call("file.write", lease=lease["id"], path="owner",
                       data_b64=b64(f"{i}".encode()))
                out = c.call("exec", lease=lease["id"],
                             argv=["sh", "-c", "hostname; cat owner"])
                got = unb64(out["stdout_b64"]).decode().split()
                if got != [sid, str(i)]:
                    errors.append(f"worker {i}: {got} for {sid}")
                with lock:
                    seen.append(sid)
                c.call("lease.release", lease=lease["id"])
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(f"worker {i}: {e!r}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert errors == []
    assert len(seen) == 48
    assert len(set(seen)) == 48, "a sandbox was handed out twice"
    wait_ready(d, 4)
    assert pool_info(d)["leased"] == 0
    d.proc.signal(15)
    assert d.proc.wait(60) == 0
    assert running_with_tag(gw, "sandboxd") == []


def test_rotation_near_end_of_life(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf(warm=1, max_lifetime="8s", min_remaining="5s"))
    wait_ready(d, 1)
    sbxtest.wait_for(lambda: pool_info(d)["starts"] >= 3, timeout=60,
                     what="two rotations")
    # The rotated ones were stopped, not left to run out their lifetime.
    assert len(running_with_tag(gw, "sandboxd-pool:w")) <= 2
    # A lease longer than what is left in a member is not given that one.
    res = d.call("lease.acquire", pool="w", ttl=6)
    assert res["warm"] is False


def test_empty_pool_waits_times_out_and_is_fair(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, pool_conf(warm=1, max=1))
    wait_ready(d, 1)
    first = d.call("lease.acquire", pool="w")
    with pytest.raises(RpcError) as e:
        d.call("lease.acquire", pool="w", wait=0.5)
    assert e.value.kind == "pool_exhausted"
    assert e.value.data["retry_after_ms"] > 0

    order, errors = [], []

    def waiter(name, c):
        try:
            lease = c.call("lease.acquire", pool="w", wait=120)
            order.append((name, lease["id"]))
        except Exception as ex:  # noqa: BLE001
            errors.append(ex)

    cb, cc = d.rpc(timeout=120), d.rpc(timeout=120)
    tb = threading.Thread(target=waiter, args=("b", cb))
    tb.start()
    sbxtest.wait_for(lambda: pool_info(d)["waiting"] == 1, what="b waits")
    tc = threading.Thread(target=waiter, args=("c", cc))
    tc.start()
    sbxtest.wait_for(lambda: pool_info(d)["waiting"] == 2, what="c waits")
    d.call("lease.release", lease=first["id"])
    sbxtest.wait_for(lambda: len(order) == 1, timeout=60, what="b served")
    assert order[0][0] == "b"
    assert pool_info(d)["waiting"] == 1
    d.call("lease.release", lease=order[0][1])
    tb.join(60)
    tc.join(120)
    assert errors == []
    assert [n for n, _ in order] == ["b", "c"]


def test_waiter_that_leaves_loses_its_place(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, pool_conf(warm=1, max=1))
    wait_ready(d, 1)
    held = d.call("lease.acquire", pool="w")
    s = socket.socket(socket.AF_UNIX)
    s.connect(d.socket)
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"lease.acquire",'
              b'"params":{"pool":"w","wait":60}}\n')
    sbxtest.wait_for(lambda: pool_info(d)["waiting"] == 1, what="waiting")
    s.close()
    sbxtest.wait_for(lambda: pool_info(d)["waiting"] == 0, what="gone")
    d.call("lease.release", lease=held["id"])
    wait_ready(d, 1)
    assert d.call("lease.list")["leases"] == []


def test_pool_that_cannot_start_backs_off(tmpdir_short, procs):
    gw = Gateway(tmpdir_short, procs, args=["--fault", "unavailable=Start:1"])
    d = daemon_with(tmpdir_short, procs, gw, pool_conf(warm=1))
    info = sbxtest.wait_for(
        lambda: (lambda p: p if p["start_failures"] >= 1 else None)(
            pool_info(d)), what="a failed start")
    assert "injected fault" in info["last_error"]
    assert info["backoff_ms"] > 0
    st = d.call("status")
    assert "injected fault" in st["pools"][0]["last_error"]
    with pytest.raises(RpcError) as e:
        d.call("lease.acquire", pool="w", wait=1)
    assert e.value.kind in ("pool_exhausted", "gateway_unavailable")


def test_resize_up_and_down(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, pool_conf(warm=1))
    wait_ready(d, 1)
    assert d.call("pool.resize", pool="w", warm=3)["target"] == 3
    wait_ready(d, 3)
    d.call("pool.resize", pool="w", warm=0)
    wait_ready(d, 0)
    sbxtest.wait_for(lambda: running_with_tag(gw, "sandboxd-pool:w") == [],
                     what="shrunk sandboxes stopped")
    with pytest.raises(RpcError) as e:
        d.call("pool.resize", pool="w", warm=-1)
    assert e.value.kind == "invalid_params"
    with pytest.raises(RpcError) as e:
        d.call("pool.resize", pool="nope", warm=1)
    assert e.value.kind == "not_found"


def test_warm_auto_grows_and_shrinks(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf(warm="auto", warm_min=0, warm_max=4,
                              demand_window="4s"))
    assert pool_info(d)["target"] == 0 and pool_info(d)["warm"] == "auto"
    for _ in range(6):
        lease = d.call("lease.acquire", pool="w", wait=60)
        d.call("lease.release", lease=lease["id"])
    assert pool_info(d)["target"] >= 1
    sbxtest.wait_for(lambda: pool_info(d)["ready"] >= 1, what="grown")
    sbxtest.wait_for(lambda: pool_info(d)["target"] == 0, timeout=60,
                     what="demand forgotten")
    wait_ready(d, 0)


def test_env_and_files_with_a_pool(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf(warm=1, env="POOLVAR=p"))
    wait_ready(d, 1)
    res = d.call("lease.acquire", pool="w", env={"MINE": "m"})
    assert res["warm"] is False and "env" in res["notes"][0]
    out = d.call("exec", lease=res["id"],
                 argv=["sh", "-c", "echo $POOLVAR $MINE"])
    assert unb64(out["stdout_b64"]) == b"p m\n"
    res = d.call("lease.acquire", pool="w",
                 files=[{"path": "in.txt", "data_b64": b64(b"hello")}])
    assert res["warm"] is True and "files" in res["notes"][0]
    out = d.call("exec", lease=res["id"], argv=["cat", "in.txt"])
    assert unb64(out["stdout_b64"]) == b"hello"
    with pytest.raises(RpcError) as e:
        d.call("lease.acquire", pool="w", image="other:1")
    assert e.value.kind == "invalid_params"


def test_reload_adds_and_drains_pools(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, pool_conf("a", warm=1))
    wait_ready(d, 1, "a")
    with open(d.conf) as f:
        text = f.read()
    with open(d.conf, "w") as f:
        f.write(text.replace("[pool.a]", "[pool.b]"))
    d.proc.signal(1)
    wait_ready(d, 1, "b")
    sbxtest.wait_for(lambda: [p["name"] for p in
                              d.call("pool.list")["pools"]] == ["b"],
                     what="pool a drained")
    sbxtest.wait_for(lambda: running_with_tag(gw, "sandboxd-pool:a") == [],
                     what="pool a's sandboxes stopped")
