"""Warm pools shared by every local process (sandboxd + local gateway)."""
import math
import multiprocessing
import os
import socket
import subprocess
import threading
import time

import pytest

import gwclient
import sbxtest
from sbxd import Daemon, Gateway, Rpc, RpcError, b64, unb64


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


def lease_loop(sock, i, rounds, out):
    """One worker process: lease, prove it is alone in it, release."""
    try:
        c = Rpc(sock, 120)
        for _ in range(rounds):
            lease = c.call("lease.acquire", pool="w", wait=120)
            sid = lease["sandbox_id"]
            c.call("file.write", lease=lease["id"], path="owner",
                   data_b64=b64(f"{i}".encode()))
            res = c.call("exec", lease=lease["id"],
                         argv=["sh", "-c", "hostname; cat owner"])
            got = unb64(res["stdout_b64"]).decode().split()
            if got != [sid, str(i)]:
                out.put(("error", f"worker {i}: {got} for {sid}"))
            out.put(("sid", sid))
            c.call("lease.release", lease=lease["id"])
        c.close()
    except Exception as e:  # noqa: BLE001
        out.put(("error", f"worker {i}: {e!r}"))
    out.put(("done", i))


def test_sixteen_processes_never_share(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf(warm=4, max=8, max_starting=4))
    wait_ready(d, 4)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    workers = [ctx.Process(target=lease_loop, args=(d.socket, i, 3, out))
               for i in range(16)]
    for w in workers:
        w.start()
    seen, errors, done = [], [], 0
    while done < 16:
        kind, v = out.get(timeout=600)
        if kind == "sid":
            seen.append(v)
        elif kind == "error":
            errors.append(v)
        else:
            done += 1
    for w in workers:
        w.join(60)
    assert errors == []
    assert len({w.pid for w in workers}) == 16
    assert len(seen) == 48
    assert len(set(seen)) == 48, "a sandbox was handed out twice"
    wait_ready(d, 4)
    assert pool_info(d)["leased"] == 0
    d.proc.signal(15)
    assert d.proc.wait(60) == 0
    assert running_with_tag(gw, "sandboxd") == []


def gw_get(gw, sid):
    c = gwclient.Client(gw.target)
    try:
        return c.call("Get", sandbox_id=sid)
    finally:
        c.close()


def test_rotation_replaces_members_near_end_of_life(tmpdir_short, procs, gw):
    # A member is rotated out once less than 5 s of its 8 s are left.
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf(warm=1, max_lifetime="8s", min_remaining="5s"))
    wait_ready(d, 1)
    first = running_with_tag(gw, "sandboxd-pool:w")
    assert len(first) == 1
    sbxtest.wait_for(lambda: first[0] not in
                     running_with_tag(gw, "sandboxd-pool:w"),
                     timeout=30, what="first member rotated out")
    # Stopped by the daemon, not left to run out its lifetime upstream.
    g = gw_get(gw, first[0])
    assert g.status_reason == "stopped by request", g.status_reason
    sbxtest.wait_for(lambda: (lambda r: len(r) == 1 and r != first)(
        running_with_tag(gw, "sandboxd-pool:w")), what="a new member")
    wait_ready(d, 1)
    assert pool_info(d)["starts"] >= 2


def left_s(lease):
    return lease["sandbox_ends_at"] - time.time()


def test_claim_chooses_by_remaining_life(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf(warm=1, max_lifetime="20s", min_remaining="2s"))
    wait_ready(d, 1)
    [old] = running_with_tag(gw, "sandboxd-pool:w")
    time.sleep(7)                       # `old` has about 13 s left
    d.call("pool.resize", pool="w", warm=2)
    wait_ready(d, 2)
    [fresh] = [s for s in running_with_tag(gw, "sandboxd-pool:w")
               if s != old]
    # 15 s: only the fresh one can live that long.
    a = d.call("lease.acquire", pool="w", ttl=15)
    assert a["warm"] is True and a["sandbox_id"] == fresh
    assert left_s(a) >= 15
    # 5 s: both could; the one nearer its end goes first.
    b = d.call("lease.acquire", pool="w", ttl=5)
    assert b["warm"] is True and b["sandbox_id"] == old
    assert 5 <= left_s(b) < 15
    # 30 s: no member, not even a fresh one, lives that long: started cold.
    c = d.call("lease.acquire", pool="w", ttl=30)
    assert c["warm"] is False and "ttl longer" in c["notes"][0]
    assert c["sandbox_id"] not in (old, fresh) and left_s(c) >= 30


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


def test_pool_that_cannot_start_backs_off(tmpdir_short, procs, gw):
    # A real failure, not an injected one: the local gateway refuses a
    # mounted file outside the sandbox's writable directories.
    local = os.path.join(tmpdir_short, "f.txt")
    with open(local, "w") as f:
        f.write("x")
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf(warm=1, file=f"{local}:/etc/outside"))
    info = sbxtest.wait_for(
        lambda: (lambda p: p if p["start_failures"] >= 1 else None)(
            pool_info(d)), what="a failed start")
    reason = info["last_error"]
    assert "outside" in reason, reason
    # A waiter keeps its place while starts are retried, and is told the
    # reason when its own wait runs out.
    t0 = time.monotonic()
    with pytest.raises(RpcError) as e:
        d.call("lease.acquire", pool="w", wait=3)
    assert time.monotonic() - t0 >= 2.9
    assert e.value.kind == "pool_exhausted"
    assert e.value.data["retry_after_ms"] > 0
    assert "outside" in e.value.data["last_error"]
    assert "outside" in e.value.message
    # Backing off: a handful of Starts in 10 s where a hot retry loop
    # would make hundreds (1 s, 2 s, 4 s, 8 s...).
    before = start_calls(gw)
    time.sleep(10)
    assert start_calls(gw) - before <= 5
    info = pool_info(d)
    assert info["backoff_ms"] > 0 and info["ready"] == 0
    assert "outside" in d.call("status")["pools"][0]["last_error"]
    out = d.sbctl("status")
    assert out.returncode == 0, out.stderr
    line = [x for x in out.stdout.decode().splitlines()
            if x.startswith("pool w:")]
    assert line and "0/1 ready" in line[0] and "outside" in line[0], line
    # Fixing the file on SIGHUP resets the backoff: it fills at once.
    with open(d.conf) as f:
        text = f.read()
    with open(d.conf, "w") as f:
        f.write(text.replace("/etc/outside", "/work/inside.txt"))
    d.proc.signal(1)
    wait_ready(d, 1, timeout=10)


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


def ours_running(gw, instance):
    return running_with_tag(gw, f"sandboxd-instance:{instance}")


def test_shutdown_during_refill_leaves_nothing(tmpdir_short, procs):
    # SIGTERM lands while a refill's Start is in flight; Start answers
    # while the daemon still waits for the Stops of its ready members.
    # The sandbox that Start made must be stopped before the daemon exits.
    gw = Gateway(tmpdir_short, procs, args=[
        "--fault", "latency=Start:100ms", "--fault", "latency=Stop:500ms"])
    for trial in range(3):
        d = daemon_with(tmpdir_short, procs, gw, pool_conf(warm=3))
        wait_ready(d, 3)
        instance = d.call("status")["instance"]
        lease = d.call("lease.acquire", pool="w")
        d.proc.signal(15)
        assert d.proc.wait(60) == 0
        # The lease survives a restart; nothing else of ours may run.
        left = set(ours_running(gw, instance)) - {lease["sandbox_id"]}
        assert left == set(), f"trial {trial}: left running {left}"
        gw_stop(gw, lease["sandbox_id"])


def gw_stop(gw, sid):
    c = gwclient.Client(gw.target)
    try:
        c.call("Stop", sandbox_id=sid)
    finally:
        c.close()


def test_min_remaining_default_fits_the_lifetime(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf("ten", warm=0, max_lifetime="10m") +
                    pool_conf("short", warm=0, max_lifetime="8s") +
                    pool_conf("long", warm=0))
    pools = {p["name"]: p for p in d.call("pool.list")["pools"]}
    assert pools["ten"]["min_remaining_s"] == 300       # the 5m default
    assert pools["short"]["min_remaining_s"] == 4       # half of 8s
    assert pools["long"]["min_remaining_s"] == 300


def test_bad_pool_settings_refuse_to_start(tmpdir_short, procs, gw):
    conf = os.path.join(tmpdir_short, "bad.conf")
    for body, msg in [
            ("warm = auto\nwarm_min = 3\nwarm_max = 2\n",
             "pool w: warm_min (3) is larger than warm_max (2)"),
            ("secret = s:p:f:E:x\n", "more than four ':'-separated fields"),
            ("max_lifetime = 10m\nmin_remaining = 10m\n",
             "min_remaining must be shorter")]:
        with open(conf, "w") as f:
            f.write(f"[daemon]\nsocket = {tmpdir_short}/b.sock\n"
                    f"state_dir = {tmpdir_short}/bstate\n"
                    f"[gateway]\naddress = {gw.target}\n[pool.w]\n{body}")
        r = subprocess.run([sbxtest.binary("sandboxd"), "-c", conf],
                           capture_output=True, timeout=30)
        assert r.returncode != 0
        assert msg in r.stderr.decode(), r.stderr.decode()


def rewrite_conf(d, old, new):
    with open(d.conf) as f:
        text = f.read()
    assert old in text
    with open(d.conf, "w") as f:
        f.write(text.replace(old, new))


def test_reload_replaces_members_of_a_changed_spec(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, pool_conf(warm=2, env="V=old"))
    wait_ready(d, 2)
    old = set(running_with_tag(gw, "sandboxd-pool:w"))
    rewrite_conf(d, "V=old", "V=new")
    d.proc.signal(1)
    sbxtest.wait_for(lambda: not old & set(
        running_with_tag(gw, "sandboxd-pool:w")), what="old ones stopped")
    wait_ready(d, 2)
    for _ in range(2):
        lease = d.call("lease.acquire", pool="w")
        assert lease["warm"] and lease["sandbox_id"] not in old
        out = d.call("exec", lease=lease["id"], argv=["sh", "-c", "echo $V"])
        assert unb64(out["stdout_b64"]) == b"new\n"
    # A reload that changes only sizes keeps the members it has.
    wait_ready(d, 2)
    kept = set(running_with_tag(gw, "sandboxd-pool:w"))
    rewrite_conf(d, "warm = 2", "warm = 3")
    d.proc.signal(1)
    wait_ready(d, 3)
    assert kept < set(running_with_tag(gw, "sandboxd-pool:w"))


def test_reload_reverts_a_resize(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, pool_conf(warm=1))
    wait_ready(d, 1)
    d.call("pool.resize", pool="w", warm=3)
    wait_ready(d, 3)
    d.proc.signal(1)
    sbxtest.wait_for(lambda: pool_info(d)["target"] == 1, what="target 1")
    wait_ready(d, 1)
    assert pool_info(d)["warm"] == 1


def test_bad_reload_changes_nothing(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, pool_conf("a", warm=1))
    wait_ready(d, 1, "a")
    # Pool a is fine and grows; pool b is wrong: nothing is applied.
    rewrite_conf(d, "warm = 1", "warm = 2")
    with open(d.conf, "a") as f:
        f.write(pool_conf("b", warm="auto", warm_min=4, warm_max=1))
    d.proc.signal(1)
    sbxtest.wait_for(lambda: "reload refused" in d.proc.output(),
                     what="the refusal logged")
    assert "warm_min (4) is larger than warm_max (1)" in d.proc.output()
    time.sleep(1)
    assert [p["name"] for p in d.call("pool.list")["pools"]] == ["a"]
    assert pool_info(d, "a")["target"] == 1
    assert d.proc.alive()


def test_max_counts_cold_starts(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf(warm=1, max=2, max_lifetime="10m"))
    wait_ready(d, 1)
    # Per-lease env starts cold, and counts against max.
    a = d.call("lease.acquire", pool="w", env={"X": "1"})
    assert a["warm"] is False
    info = pool_info(d)
    assert info["leased"] == 1 and info["ready"] + info["starting"] <= 1
    # The pool is full (1 leased + 1 ready): the ready one gives way.
    b = d.call("lease.acquire", pool="w", env={"X": "2"})
    assert b["warm"] is False
    assert pool_info(d)["leased"] == 2
    # Past max: a cold start waits like any other request, then fails.
    for params in ({"env": {"X": "3"}}, {"ttl": 1200}):
        with pytest.raises(RpcError) as e:
            d.call("lease.acquire", pool="w", wait=0.5, **params)
        assert e.value.kind == "pool_exhausted"
        assert e.value.data["retry_after_ms"] > 0
    assert len(running_with_tag(gw, "sandboxd-pool:w")) <= 2
    # A release makes room for the one waiting.
    got = []
    t = threading.Thread(target=lambda: got.append(d.call(
        "lease.acquire", pool="w", wait=60, env={"X": "4"})))
    t.start()
    sbxtest.wait_for(lambda: pool_info(d)["waiting"] == 1, what="waiting")
    d.call("lease.release", lease=a["id"])
    t.join(60)
    assert got and got[0]["warm"] is False
    out = d.call("exec", lease=got[0]["id"], argv=["sh", "-c", "echo $X"])
    assert unb64(out["stdout_b64"]) == b"4\n"
    assert len(running_with_tag(gw, "sandboxd-pool:w")) <= 2


def test_warm_auto_grows_under_a_burst_and_shrinks(tmpdir_short, procs):
    # Cold starts take 1 s: 12 claims in a 10 s window call for
    # ceil(1.2/s × 1 s × 1.5) + 1 = 3 ready, within [warm_min, warm_max].
    gw = Gateway(tmpdir_short, procs, args=["--start-delay-ms", "1000"])
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf(warm="auto", warm_min=1, warm_max=5,
                              demand_window="10s", max_starting=8))
    wait_ready(d, 1)
    assert pool_info(d)["target"] == 1
    leases, errors = [], []

    def claim():
        try:
            leases.append(d.call("lease.acquire", pool="w", wait=60))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=claim) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and len(leases) == 12
    for lz in leases:
        d.call("lease.release", lease=lz["id"])
    # Grown past 1: 12 claims in the window, as a rate, times the
    # observed cold start, plus half again and one.
    def as_formula_says():
        info = pool_info(d)
        want = math.ceil(12 / 10 * info["cold_start_p50_ms"] / 1000 * 1.5)
        return want + 1 >= 3 and info["target"] == min(want + 1, 5)
    sbxtest.wait_for(as_formula_says, timeout=5, what="target per formula")
    sbxtest.wait_for(lambda: pool_info(d)["ready"] >= 3, timeout=30,
                     what="grown beyond one")
    assert pool_info(d)["ready"] <= 5
    # The window forgets the burst: back to warm_min, not below.
    sbxtest.wait_for(lambda: pool_info(d)["target"] == 1, timeout=60,
                     what="demand forgotten")
    wait_ready(d, 1)


def test_max_starting_bounds_a_refill(tmpdir_short, procs):
    gw = Gateway(tmpdir_short, procs, args=["--start-delay-ms", "1000"])
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf(warm=8, max_starting=2))
    most, most_creating = 0, 0
    c = gwclient.Client(gw.target)
    try:
        while pool_info(d)["ready"] < 8:
            most = max(most, pool_info(d)["starting"])
            creating = [s for s in c.call("List", tags=["sandboxd"])
                        .sandboxes if s.sandbox_status == 1]
            most_creating = max(most_creating, len(creating))
            time.sleep(0.05)
    finally:
        c.close()
    assert most == 2
    assert 1 <= most_creating <= 2


def get_calls(gw):
    return gw.read_stats()["calls"].get("Get", 0)


def test_refills_poll_on_the_pools_schedule(tmpdir_short, procs):
    """Against a 2 s start, a refill polls from the pool's 50 ms (50, 125,
    237, 405, 658, 1037, 1606 ms, then 2.5 s: 8 Gets) while a lease's cold
    start keeps the gateway's 200 ms (200, 500, 950, 1625 ms, 2.6 s: 5).
    One schedule for both could not give both counts."""
    gw = Gateway(tmpdir_short, procs, args=["--start-delay-ms", "2000"])
    d = Daemon(tmpdir_short, procs, gateway=gw.target,
               daemon_conf="reconcile_interval = 1h\n",
               conf_extra=pool_conf(warm=1))
    assert pool_info(d)["start_poll_ms"] == 50
    wait_ready(d, 1)
    before = get_calls(gw)
    held = d.call("lease.acquire", pool="w")["id"]
    sbxtest.wait_for(lambda: pool_info(d)["ready"] == 1, timeout=30,
                     what="the refill", interval=0.5)
    refill = get_calls(gw) - before
    before = get_calls(gw)
    cold = d.call("lease.acquire")
    assert not cold.get("pool")
    gets = get_calls(gw) - before
    assert refill >= 7, refill
    assert gets <= 5, gets
    for lease in (held, cold["id"]):
        d.call("lease.release", lease=lease)


def test_pool_spec_reaches_the_sandbox(tmpdir_short, procs, gw):
    local = os.path.join(tmpdir_short, "seed.txt")
    with open(local, "w") as f:
        f.write("seeded\n")
    d = daemon_with(tmpdir_short, procs, gw,
                    pool_conf(warm=1, env="PV=pool-env", tags="team-x, t2",
                              file=f"{local}:/work/etc/seed.txt",
                              egress="none", image="python:3.12", cpu="2",
                              memory="1Gi",
                              secret="vault:db:password:DB_PASS"))
    wait_ready(d, 1)
    lease = d.call("lease.acquire", pool="w")
    sid = lease["sandbox_id"]
    out = d.call("exec", lease=lease["id"],
                 argv=["sh", "-c", "cat etc/seed.txt; echo $PV"])
    assert unb64(out["stdout_b64"]) == b"seeded\npool-env\n"
    assert sid in running_with_tag(gw, "team-x")
    assert sid in running_with_tag(gw, "t2")
    assert gw_get(gw, sid).applied_egress_mode == "none"
    # Get has no field for image or resources: the gateway's records do.
    rec = gw.read_stats()["sandbox_records"][sid]
    assert rec["container_image"] == "python:3.12"
    assert rec["resources"]["cpu"] == "2"
    assert rec["resources"]["memory"] == "1Gi"
    assert rec["secret_stores"] == [{"store": "vault", "secrets": [{
        "path": "db", "field": "password", "env_var": "DB_PASS"}]}]
    if gwclient.have_bwrap():
        out = d.call("exec", lease=lease["id"],
                     argv=["sh", "-c", "tail -n +3 /proc/net/dev | "
                           "cut -d: -f1 | tr -d ' '"])
        assert unb64(out["stdout_b64"]).split() == [b"lo"]


def test_keep_warm_on_shutdown(tmpdir_short, procs, gw):
    conf = pool_conf(warm=2)
    kept = "keep_warm_on_shutdown = yes\n"
    d = Daemon(tmpdir_short, procs, gateway=gw.target, conf_extra=conf,
               daemon_conf=kept)
    wait_ready(d, 2)
    ids = set(running_with_tag(gw, "sandboxd-pool:w"))
    d.proc.signal(15)
    assert d.proc.wait(60) == 0
    assert set(running_with_tag(gw, "sandboxd-pool:w")) == ids
    before = start_calls(gw)
    d = Daemon(tmpdir_short, procs, gateway=gw.target, conf_extra=conf,
               daemon_conf=kept)
    wait_ready(d, 2)
    assert pool_info(d)["starts"] == 0 and start_calls(gw) == before
    a = d.call("lease.acquire", pool="w")
    assert a["warm"] and a["sandbox_id"] in ids
    d.call("lease.release", lease=a["id"])
    wait_ready(d, 2)
    # Without it, the warm ones are stopped at shutdown.
    d.proc.signal(15)
    assert d.proc.wait(60) == 0
    assert len(running_with_tag(gw, "sandboxd-pool:w")) == 2
    d = Daemon(tmpdir_short, procs, gateway=gw.target, conf_extra=conf)
    wait_ready(d, 2)
    d.proc.signal(15)
    assert d.proc.wait(60) == 0
    assert running_with_tag(gw, "sandboxd-pool:w") == []


def test_waiting_is_round_robin_across_clients(tmpdir_short, procs, gw):
    d = daemon_with(tmpdir_short, procs, gw, pool_conf(warm=1, max=1))
    wait_ready(d, 1)
    held = d.call("lease.acquire", pool="w")
    greedy, other = d.rpc(timeout=120), d.rpc(timeout=120)
    for i in (1, 2, 3):
        greedy.send("lease.acquire", {"pool": "w", "wait": 120}, id=i)
    sbxtest.wait_for(lambda: pool_info(d)["waiting"] == 3, what="3 waiting")
    other.send("lease.acquire", {"pool": "w", "wait": 120}, id=9)
    sbxtest.wait_for(lambda: pool_info(d)["waiting"] == 4, what="4 waiting")
    order, lease = [], held
    for _ in range(4):
        d.call("lease.release", lease=lease["id"])
        got = None
        while got is None:
            for who, c in (("greedy", greedy), ("other", other)):
                c.sock.settimeout(0.05)
                try:
                    m = c.read_msg()
                except (TimeoutError, socket.timeout):
                    continue
                assert "result" in m, m
                got = (who, m["result"])
        order.append(got[0])
        lease = got[1]
    d.call("lease.release", lease=lease["id"])
    # First come first served would give greedy its three first.
    assert order == ["greedy", "other", "greedy", "greedy"]
