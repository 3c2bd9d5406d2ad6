"""sandboxd end to end: lease, exec, copy, reclaim through sbctl and raw RPC.

Each test runs the real sandboxd against a real sandbox-gateway-local on
private sockets.
"""
import os
import threading

import pytest

import sbxtest
from sbxd import Daemon, Gateway, RpcError, b64, unb64


@pytest.fixture
def gw(tmpdir_short, procs):
    return Gateway(tmpdir_short, procs)


@pytest.fixture
def daemon(tmpdir_short, procs, gw):
    return Daemon(tmpdir_short, procs, gateway=gw.target)


def test_local_gateway_run_echo(tmpdir_short, procs):
    """gateway = local: the daemon starts its own gateway; run prints."""
    d = Daemon(tmpdir_short, procs, gateway="local")
    r = d.sbctl("run", "--", "echo", "hello")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello\n"
    st = d.call("status")
    assert st["gateway"]["address"] == "local"
    assert st["leases"] == 0


def test_run_exit_code(daemon):
    r = daemon.sbctl("run", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert r.returncode == 7
    assert r.stdout == b"out\n"
    assert r.stderr == b"err\n"
    assert daemon.call("lease.list")["leases"] == []


def test_lease_exec_stdin_release(daemon):
    r = daemon.sbctl("lease")
    assert r.returncode == 0, r.stderr
    lease = r.stdout.decode().strip()
    assert lease.startswith("l-")
    data = bytes(range(256)) * 100
    r = daemon.sbctl("exec", "-i", lease, "--", "sh", "-c", "cat; echo done",
                     input=data)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data + b"done\n"
    r = daemon.sbctl("reclaim", lease)
    assert r.returncode == 0, r.stderr
    with pytest.raises(RpcError) as e:
        daemon.call("lease.get", lease=lease)
    assert e.value.kind == "not_found"


def test_cp_roundtrip_10mib(daemon, tmpdir_short):
    lease = daemon.sbctl("lease").stdout.decode().strip()
    src = os.path.join(tmpdir_short, "src.bin")
    back = os.path.join(tmpdir_short, "back.bin")
    payload = os.urandom(10 << 20)
    with open(src, "wb") as f:
        f.write(payload)
    r = daemon.sbctl("cp", src, f"{lease}:big.bin")
    assert r.returncode == 0, r.stderr
    r = daemon.sbctl("exec", lease, "--", "sh", "-c", "wc -c < big.bin")
    assert r.stdout.strip() == str(len(payload)).encode()
    r = daemon.sbctl("cp", f"{lease}:big.bin", back)
    assert r.returncode == 0, r.stderr
    with open(back, "rb") as f:
        assert f.read() == payload
    daemon.sbctl("reclaim", lease)


def test_ttl_expiry_reclaims_sandbox(daemon, gw, pb):
    res = daemon.call("lease.acquire", ttl=1)
    sandbox = res["sandbox_id"]
    assert res["state"] == "ready"
    sbxtest.wait_for(lambda: not daemon.call("lease.list")["leases"],
                     timeout=30, what="lease expiry")
    import grpc
    import gwclient
    c = gwclient.Client(gw.target)
    try:
        info = c.call("Get", sandbox_id=sandbox)
        assert info.sandbox_status in (pb[0].SANDBOX_STATUS_COMPLETED,
                                       pb[0].SANDBOX_STATUS_FAILED,
                                       pb[0].SANDBOX_STATUS_TERMINATING)
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND


def test_parallel_clients_no_mixup(daemon):
    errors = []

    def worker(i):
        try:
            c = daemon.rpc()
            lease = c.call("lease.acquire")["id"]
            c.call("file.write", lease=lease, path="me",
                   data_b64=b64(f"worker-{i}".encode()))
            out = c.call("exec", lease=lease, argv=["cat", "me"])
            if unb64(out["stdout_b64"]) != f"worker-{i}".encode():
                errors.append(f"worker {i} saw {out}")
            c.call("lease.release", lease=lease)
            c.close()
        except Exception as e:  # noqa: BLE001 - collected for the assert
            errors.append(f"worker {i}: {e!r}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == []
    assert daemon.call("lease.list")["leases"] == []


def test_submit_and_wait(daemon):
    r = daemon.sbctl("submit", "--", "sh", "-c", "sleep 1; exit 3")
    assert r.returncode == 0, r.stderr
    lease = r.stdout.decode().strip()
    r = daemon.sbctl("wait", lease)
    assert r.returncode == 3, r.stderr
    res = daemon.call("lease.wait", lease=lease)
    assert res["exit_code"] == 3 and res["state"] == "failed"
    r = daemon.sbctl("submit", "--", "true")
    lease = r.stdout.decode().strip()
    assert daemon.sbctl("wait", lease).returncode == 0


def test_wait_timeout(daemon):
    lease = daemon.call("lease.acquire", command=["sleep", "30"])["id"]
    with pytest.raises(RpcError) as e:
        daemon.call("lease.wait", lease=lease, timeout=0.5)
    assert e.value.kind == "deadline_exceeded"
    daemon.call("lease.release", lease=lease)


def test_job_that_fails_reports_reason(daemon):
    res = daemon.call("lease.acquire", command=["sh", "-c", "exit 2"])
    w = daemon.call("lease.wait", lease=res["id"])
    assert w["state"] == "failed" and w["exit_code"] == 2


def test_other_user_is_refused(daemon, tmpdir_short):
    user = "sbxtest-other"
    if subprocess_ok(["id", user]) is False:
        if not subprocess_ok(["useradd", "-M", "-s", "/bin/false", user]):
            pytest.skip("cannot create a throwaway user")
    uid = int(os.popen(f"id -u {user}").read())
    os.chmod(tmpdir_short, 0o755)
    os.chmod(daemon.socket, 0o666)
    lease = daemon.call("lease.acquire")["id"]
    r = daemon.sbctl("exec", lease, "--", "true", user=uid)
    assert r.returncode == 77, r.stderr
    assert b"another user" in r.stderr
    r = daemon.sbctl("reclaim", lease, user=uid)
    assert r.returncode == 77
    r = daemon.sbctl("--json", "ls", user=uid)    # --json is global
    assert r.returncode == 0, r.stderr
    assert lease.encode() not in r.stdout
    # root still sees and may act on it
    assert daemon.sbctl("exec", lease, "--", "true").returncode == 0
    assert daemon.sbctl("reclaim", lease).returncode == 0


def subprocess_ok(argv):
    import subprocess
    return subprocess.run(argv, capture_output=True).returncode == 0


def test_bad_input_keeps_connection(daemon):
    c = daemon.rpc()
    c.send_raw(b'{"jsonrpc": "2.0", "id": 1, "method": \n')
    m = c.read_msg()
    assert m["error"]["code"] == -32700 and m["id"] is None
    c.send_raw(b'[1, 2]\n')
    assert c.read_msg()["error"]["code"] == -32600
    c.send_raw(b'{"jsonrpc": "1.0", "id": 2, "method": "status"}\n')
    assert c.read_msg()["error"]["code"] == -32600
    m = c.wait_reply(c.send("no.such.method"))
    assert m["error"]["code"] == -32601
    assert m["error"]["data"]["kind"] == "method_not_found"
    m = c.wait_reply(c.send("exec", {"lease": 5, "argv": "ls"}))
    assert m["error"]["code"] == -32602
    m = c.wait_reply(c.send("lease.acquire", {"ttl": "soon"}))
    assert m["error"]["code"] == -32602
    m = c.wait_reply(c.send("status", ["positional"]))
    assert m["error"]["code"] == -32602
    c.send_raw(b"\xff\xfe garbage\n")
    assert c.read_msg()["error"]["code"] == -32700
    # a line over the limit (16 MiB) is refused, and the next one works
    c.send_raw(b'{"jsonrpc":"2.0","id":9,"method":"status","params":{"x":"'
               + b"a" * (17 << 20) + b'"}}\n')
    m = c.read_msg()
    assert m["error"]["data"]["kind"] == "too_large"
    assert c.call("status")["leases"] == 0
    c.close()
    assert daemon.proc.alive()


def test_gateway_killed_mid_call(daemon, gw):
    lease = daemon.call("lease.acquire")["id"]
    c = daemon.rpc()
    rid = c.send("exec", {"lease": lease, "argv": ["sleep", "30"]})
    import time
    time.sleep(0.5)
    gw.proc.stop(sig=9)
    m = c.wait_reply(rid)
    assert m["error"]["data"]["kind"] in ("gateway_unavailable",
                                          "gateway_error", "cancelled")
    assert m["error"]["message"]
    # the daemon stays up and answers
    assert c.call("status")["leases"] == 1
    r = daemon.sbctl("exec", lease, "--", "true")
    assert r.returncode == 69, r.stderr
    assert b"gateway" in r.stderr
    assert daemon.proc.alive()


def test_sigterm_is_a_restart_leases_survive(tmpdir_short, procs, gw):
    """SIGTERM leaves leased sandboxes running; the next start has them."""
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    a = d.call("lease.acquire")
    b = d.call("lease.acquire", command=["sleep", "600"])
    d.proc.signal(15)
    assert d.proc.wait(30) == 0
    import gwclient
    c = gwclient.Client(gw.target)
    running = {s.sandbox_id for s in c.call("List", tags=["sandboxd"]).sandboxes
               if s.sandbox_status == 2}
    assert running == {a["sandbox_id"], b["sandbox_id"]}
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target)
    back = {l["id"]: l for l in d2.call("lease.list")["leases"]}
    assert set(back) == {a["id"], b["id"]}
    assert back[a["id"]]["sandbox_id"] == a["sandbox_id"]
    assert back[a["id"]]["owner_uid"] == os.geteuid()
    assert abs(back[a["id"]]["expires_at"] - a["expires_at"]) < 1
    out = d2.call("exec", lease=a["id"], argv=["echo", "still here"])
    assert unb64(out["stdout_b64"]) == b"still here\n"
    d2.call("lease.release", lease=a["id"], wait=True)
    d2.call("lease.release", lease=b["id"], wait=True)


def test_start_reply_lost_creates_one_sandbox(tmpdir_short, procs):
    """A Start whose reply is dropped: found by its tag, not started twice."""
    gw = Gateway(tmpdir_short, procs, args=["--fault", "drop-reply=Start:1"])
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    lease = d.call("lease.acquire")
    import gwclient
    c = gwclient.Client(gw.target)
    ours = [s.sandbox_id for s in c.call("List", tags=["sandboxd"],
                                          include_stopped=True).sandboxes]
    assert ours == [lease["sandbox_id"]]
    assert gw.read_stats()["calls"]["Start"] == 1
    out = d.call("exec", lease=lease["id"], argv=["true"])
    assert out["exit_code"] == 0


def local_gateway_pids(d):
    """Pids of the sandbox-gateway-local listening on this daemon's socket.

    Found by the command line sandboxd gave it (`--listen unix:SOCKET`), so
    only the gateway this test's daemon started is ever seen.
    """
    want = f"unix:{os.path.join(d.dir, 'gateway.sock')}".encode()
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(a == b"--listen" and b == want for a, b in zip(argv, argv[1:])):
            try:
                with open(f"/proc/{name}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        continue    # dead, not yet reaped
            except OSError:
                continue
            pids.append(int(name))
    return pids


@pytest.fixture
def local_gateway_reaper():
    """Kills, at the end, the local gateways of the daemons a test names."""
    daemons = []
    yield daemons.append
    for d in daemons:
        for pid in local_gateway_pids(d):
            os.kill(pid, 9)


def run_works(d):
    r = d.sbctl("run", "--", "echo", "back")
    return r.returncode == 0 and r.stdout == b"back\n"


def test_owned_local_gateway_killed_is_restarted(tmpdir_short, procs,
                                                 local_gateway_reaper):
    d = Daemon(tmpdir_short, procs, gateway="local")
    local_gateway_reaper(d)
    [pid] = local_gateway_pids(d)
    os.kill(pid, 9)
    sbxtest.wait_for(lambda: local_gateway_pids(d) not in ([], [pid]),
                     what="a new local gateway")
    sbxtest.wait_for(lambda: run_works(d), what="sbctl run to work again")
    assert d.proc.alive()


def test_reattached_local_gateway_is_supervised(tmpdir_short, procs,
                                                local_gateway_reaper):
    """SIGTERM with a lease leaves the gateway; the next daemon watches it."""
    d = Daemon(tmpdir_short, procs, gateway="local")
    local_gateway_reaper(d)
    [pid] = local_gateway_pids(d)
    lease = d.call("lease.acquire")["id"]
    d.proc.signal(15)
    assert d.proc.wait(30) == 0
    assert local_gateway_pids(d) == [pid]
    d2 = Daemon(tmpdir_short, procs, gateway="local")
    assert [l["id"] for l in d2.call("lease.list")["leases"]] == [lease]
    assert local_gateway_pids(d2) == [pid]
    os.kill(pid, 9)
    sbxtest.wait_for(lambda: local_gateway_pids(d2) not in ([], [pid]),
                     what="a new local gateway")
    sbxtest.wait_for(lambda: run_works(d2), what="sbctl run to work again")
    assert d2.proc.alive()


def test_reattached_local_gateway_stopped_when_nothing_is_left(
        tmpdir_short, procs, local_gateway_reaper):
    d = Daemon(tmpdir_short, procs, gateway="local")
    local_gateway_reaper(d)
    lease = d.call("lease.acquire")["id"]
    d.proc.signal(15)
    assert d.proc.wait(30) == 0
    [pid] = local_gateway_pids(d)
    d2 = Daemon(tmpdir_short, procs, gateway="local")
    d2.call("lease.release", lease=lease, wait=True)
    d2.proc.signal(15)
    assert d2.proc.wait(30) == 0
    assert local_gateway_pids(d2) == []
    assert not os.path.exists(os.path.join(tmpdir_short, "gateway.pid"))


def test_exec_max_output_counts_bytes_on_both_paths(daemon):
    """max_output keeps that many bytes, with stdin (stream) or without."""
    lease = daemon.call("lease.acquire")["id"]
    argv = ["sh", "-c", "cat >/dev/null; head -c 3000 /dev/zero | tr '\\0' o;"
            " head -c 2000 /dev/zero | tr '\\0' e >&2"]
    unary = daemon.call("exec", lease=lease, argv=argv, max_output=1500)
    streamed = daemon.call("exec", lease=lease, argv=argv, max_output=1500,
                           stdin_b64=b64(b"x"))
    for r in (unary, streamed):
        assert unb64(r["stdout_b64"]) == b"o" * 1500
        assert unb64(r["stderr_b64"]) == b"e" * 1500
        assert r["stdout_truncated"] and r["stderr_truncated"]
        assert r["stdout_bytes"] == 3000 and r["stderr_bytes"] == 2000
    small = daemon.call("exec", lease=lease, argv=["echo", "hi"], max_output=10)
    assert unb64(small["stdout_b64"]) == b"hi\n"
    assert not small["stdout_truncated"]
    daemon.call("lease.release", lease=lease)


def test_start_poll_is_honoured(tmpdir_short, procs):
    """start_poll = 10ms polls a 2 s start far more often than the 200 ms
    default could (200, 500, 950, 1625 ms, 2.6 s: at most 5 Gets)."""
    gw = Gateway(tmpdir_short, procs, args=["--start-delay-ms", "2000"])
    d = Daemon(tmpdir_short, procs, gateway=gw.target,
               conf_extra="start_poll = 10ms\n")
    before = gw.read_stats()["calls"].get("Get", 0)
    lease = d.call("lease.acquire")["id"]
    gets = gw.read_stats()["calls"].get("Get", 0) - before
    assert gets >= 8, gets
    d.call("lease.release", lease=lease)


def test_sigterm_finishes_replies_in_flight(tmpdir_short, procs, gw):
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    lease = d.call("lease.acquire")["id"]
    c = d.rpc()
    rid = c.send("exec", {"lease": lease, "argv": [
        "sh", "-c", "touch /work/started; sleep 2; echo finished"]})
    import glob
    sbxtest.wait_for(lambda: glob.glob(f"{gw.root}/*/work/started"),
                     what="the exec to be running")
    d.proc.signal(15)
    m = c.wait_reply(rid)
    assert unb64(m["result"]["stdout_b64"]) == b"finished\n", m
    assert m["result"]["exit_code"] == 0
    # The last answer ends the shutdown: well before the 20 s grace,
    # though this client is still connected.
    import time
    t0 = time.monotonic()
    assert d.proc.wait(30) == 0
    assert time.monotonic() - t0 < 10


def test_pipelined_replies_out_of_order(daemon):
    lease = daemon.call("lease.acquire")["id"]
    c = daemon.rpc()
    slow = c.send("exec", {"lease": lease, "argv": ["sleep", "2"]})
    fast = c.send("status")
    first, second = c.read_msg(), c.read_msg()
    assert first["id"] == fast and "leases" in first["result"]
    assert second["id"] == slow and second["result"]["exit_code"] == 0
    daemon.call("lease.release", lease=lease)


def test_lease_get_refreshes_status_from_gateway(daemon):
    """A job's main command ends: lease.get asks Get and says so."""
    res = daemon.call("lease.acquire",
                      command=["sh", "-c", "sleep 1; exit 3"])
    assert res["sandbox_status"] == "running"
    got = sbxtest.wait_for(
        lambda: (lambda l: l if l["sandbox_status"] != "running" else None)(
            daemon.call("lease.get", lease=res["id"])),
        what="lease.get to report the end")
    assert got["sandbox_status"] in ("completed", "failed"), got
    assert got["state"] == "failed" and got["exit_code"] == 3, got
    daemon.call("lease.release", lease=res["id"])


def test_acquire_sandbox_ends_while_starting(tmpdir_short, procs):
    gw = Gateway(tmpdir_short, procs, args=["--start-delay-ms", "30000"])
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    c = d.rpc()
    rid = c.send("lease.acquire", {})
    import gwclient
    g = gwclient.Client(gw.target)
    [sid] = sbxtest.wait_for(
        lambda: [s.sandbox_id for s in
                 g.call("List", tags=["sandboxd"]).sandboxes],
        what="the sandbox to be starting")
    g.call("Stop", sandbox_id=sid)
    m = c.wait_reply(rid)
    assert m["error"]["data"]["kind"] == "sandbox_failed", m
    assert "ended while starting" in m["error"]["message"]
    assert d.call("lease.list")["leases"] == []


def test_acquire_not_running_within_wait(tmpdir_short, procs):
    gw = Gateway(tmpdir_short, procs, args=["--start-delay-ms", "30000"])
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    with pytest.raises(RpcError) as e:
        d.call("lease.acquire", wait="1s")
    assert e.value.kind == "deadline_exceeded"
    assert "not running in time" in e.value.message
    assert d.call("lease.list")["leases"] == []


def test_cold_start_spec_reaches_the_sandbox(daemon, gw):
    """files, env, egress, image, resources and secret references of
    lease.acquire arrive in Start."""
    res = daemon.call("lease.acquire", env={"GREETING": "hi there"},
                      files=[{"path": "/work/conf/app.ini",
                              "data_b64": b64(b"[app]\nx = 1\n")}],
                      egress="none", cpu="1", memory="256Mi",
                      image="python:3.12", gpu_count=1, gpu_type="A100",
                      secrets=[{"store": "vault", "path": "db",
                                "field": "password",
                                "env_var": "DB_PASSWORD"}])
    lease = res["id"]
    out = daemon.call("exec", lease=lease, argv=[
        "sh", "-c", 'cat /work/conf/app.ini; echo "$GREETING"'])
    assert unb64(out["stdout_b64"]) == b"[app]\nx = 1\nhi there\n"
    import gwclient
    sb = gwclient.Client(gw.target).call("Get", sandbox_id=res["sandbox_id"])
    assert sb.applied_egress_mode == "none"
    rec = gw.read_stats()["sandbox_records"][res["sandbox_id"]]
    assert rec["container_image"] == "python:3.12"
    assert rec["resources"] == {"cpu": "1", "memory": "256Mi",
                                "gpu": {"count": 1, "type": "A100"}}
    assert rec["secret_stores"] == [{"store": "vault", "secrets": [{
        "path": "db", "field": "password", "env_var": "DB_PASSWORD"}]}]
    if "isolation bwrap" in gw.proc.output():
        out = daemon.call("exec", lease=lease, argv=[
            "sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1"])
        assert unb64(out["stdout_b64"]).split() == [b"lo"]
    daemon.call("lease.release", lease=lease)


def test_sigterm_sends_a_large_reply_whole(tmpdir_short, procs, gw):
    """A reply bigger than the socket buffer, answered as the shutdown
    ends, still reaches the client whole."""
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    lease = d.call("lease.acquire")["id"]
    c = d.rpc()
    rid = c.send("exec", {"lease": lease, "argv": [
        "sh", "-c", "touch /work/started; sleep 1; head -c 4000000 /dev/zero"]})
    import glob
    import time
    sbxtest.wait_for(lambda: glob.glob(f"{gw.root}/*/work/started"),
                     what="the exec to be running")
    d.proc.signal(15)
    time.sleep(2)       # let the answer pile up unread
    m = c.wait_reply(rid)
    assert unb64(m["result"]["stdout_b64"]) == bytes(4000000)
    assert d.proc.wait(30) == 0


def test_cold_start_file_paths_relative_like_cp(daemon, tmpdir_short):
    """--file REMOTE may be relative to the working directory, as in cp."""
    local = os.path.join(tmpdir_short, "in.txt")
    with open(local, "wb") as f:
        f.write(b"payload\n")
    r = daemon.sbctl("lease", "--file", f"{local}:rel/in.txt",
                     "--file", f"{local}:/work/abs.txt")
    assert r.returncode == 0, r.stderr
    lease = r.stdout.decode().strip()
    r = daemon.sbctl("exec", lease, "--", "sh", "-c",
                     "cat rel/in.txt /work/rel/in.txt /work/abs.txt")
    assert r.stdout == b"payload\n" * 3, r.stderr
    r = daemon.sbctl("cp", f"{lease}:rel/in.txt", os.path.join(tmpdir_short,
                                                               "back.txt"))
    assert r.returncode == 0, r.stderr
    daemon.call("lease.release", lease=lease)
    # A job's command runs at Start: its files must be mounted, absolute.
    with pytest.raises(RpcError) as e:
        daemon.call("lease.acquire", command=["cat", "x"],
                    files=[{"path": "x", "data_b64": b64(b"1")}])
    assert e.value.kind == "invalid_params"
    assert "absolute" in e.value.message


def test_exec_help_and_stdin_only_with_i(daemon):
    for cmd in ("exec", "run"):
        r = daemon.sbctl(cmd, "--help")
        assert r.returncode == 0
        for opt in (b"-i, --stdin", b"-t, --tty", b"--buffered",
                    b"--timeout DUR", b"--max-output SIZE",
                    b"piped input is not read"):
            assert opt in r.stdout, (cmd, opt)
    lease = daemon.call("lease.acquire")["id"]
    r = daemon.sbctl("exec", lease, "--", "cat", input=b"piped\n")
    assert r.returncode == 0 and r.stdout == b"", r.stderr
    r = daemon.sbctl("exec", "-i", lease, "--", "cat", input=b"piped\n")
    assert r.stdout == b"piped\n", r.stderr
    daemon.call("lease.release", lease=lease)


def test_cold_start_from_a_pool_with_files_of_both(tmpdir_short, procs, gw):
    """env makes a cold start from the pool's spec: the pool's files and
    the caller's (absolute and relative) all arrive, and the request's
    storage is freed by its own count (the merged count overran it)."""
    local = os.path.join(tmpdir_short, "pool.txt")
    with open(local, "w") as f:
        f.write("from the pool\n")
    d = Daemon(tmpdir_short, procs, gateway=gw.target, conf_extra=(
        f"[pool.w]\nwarm = 0\nfile = {local}:/work/p1.txt\n"
        f"file = {local}:/work/p2.txt\n"))
    res = d.call("lease.acquire", pool="w", env={"A": "1"},
                 files=[{"path": "/work/mine.txt", "data_b64": b64(b"m\n")},
                        {"path": "rel.txt", "data_b64": b64(b"r\n")}])
    out = d.call("exec", lease=res["id"], argv=[
        "sh", "-c", "cat p1.txt p2.txt mine.txt rel.txt; echo $A"])
    assert unb64(out["stdout_b64"]) == (b"from the pool\n" * 2 +
                                        b"m\nr\n1\n")
    d.call("lease.release", lease=res["id"])
    assert d.proc.alive()
