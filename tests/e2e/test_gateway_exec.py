"""sandbox-gateway-local: Exec (buffered) inside the sandbox."""
import concurrent.futures
import os
import time
import uuid

import grpc
import pytest

from gwclient import (gateway, gateway_factory, gw, gwdir,  # noqa: F401
                      have_bwrap, wait_for)


def test_exec_output_and_exit_code(gw):
    sid = gw.start_running()
    r = gw.exec(sid, "sh", "-c", "echo out; echo err >&2; exit 7")
    assert (r.stdout, r.stderr, r.exit_code) == (b"out\n", b"err\n", 7)
    assert r.stdout_bytes_produced == 4 and not r.stdout_truncated
    r = gw.call("Exec", sandbox_id=sid, command=["echo"], args=["a", "b"])
    assert r.result.stdout == b"a b\n"


@pytest.mark.skipif(not have_bwrap(), reason="needs root and bwrap")
def test_exec_runs_inside_the_sandbox(gw):
    sid = gw.start_running(command="sh", args=["-c", "echo hi > /work/m;"
                                                     "sleep 600"])
    r = gw.exec(sid, "sh", "-c", "pwd; hostname; ps -o comm= ax; "
                "cat /work/m; touch /usr/x 2>/dev/null || echo ro")
    lines = r.stdout.decode().split("\n")
    assert lines[0] == "/work" and lines[1] == sid
    assert "sleep" in lines and "hi" in lines and "ro" in lines
    # Its own pid namespace: only the sandbox's processes are visible.
    assert len([x for x in lines if x]) < 12


def caps(status_text):
    """The capability and no_new_privs lines of a /proc/PID/status."""
    return {k: v.strip() for k, v in (line.split(":", 1) for line in
            status_text.splitlines() if line.startswith(("Cap", "NoNew")))}


# Tries to make the host writable from inside, then to write on it.
ESCAPE = ("grep -E '^(Cap|NoNewPrivs)' /proc/self/status; "
          "mount -o remount,rw,bind /var 2>&1 && echo REMOUNTED; "
          "unshare -Um mount -o remount,rw,bind /var 2>&1 && echo REMOUNTED; "
          "echo pwned > {path} 2>/dev/null && echo WROTE; true")


@pytest.mark.skipif(not have_bwrap(), reason="needs root and bwrap")
def test_sandbox_commands_have_no_capabilities(gw):
    # bwrap runs as root: without dropping capabilities a command could
    # remount the host's read-only binds and write on the host.
    main_path = f"/var/tmp/sbx-escape-{uuid.uuid4().hex}"
    exec_path = f"/var/tmp/sbx-escape-{uuid.uuid4().hex}"
    try:
        sid = gw.start_running(command="sh", args=[
            "-c", ESCAPE.format(path=main_path) + "; echo END; sleep 600"])
        r = gw.exec(sid, "sh", "-c", ESCAPE.format(path=exec_path))
        out = r.stdout.decode()
        c = caps(out)
        assert c["CapEff"] == c["CapPrm"] == c["CapInh"] == \
            c["CapAmb"] == c["CapBnd"] == "0000000000000000", c
        assert c["NoNewPrivs"] == "1"
        assert "REMOUNTED" not in out and "WROTE" not in out, out
        log = wait_for(lambda: (lambda t: t if "END" in t else None)(
            gw.log(sid).decode()), what="main command's output")
        c = caps(log)
        # The main command: none effective or permitted, and no way back
        # (no_new_privs; bwrap leaves the bounding set, which then cannot
        # give anything).
        assert c["CapEff"] == c["CapPrm"] == c["CapInh"] == \
            c["CapAmb"] == "0000000000000000", c
        assert c["NoNewPrivs"] == "1"
        assert "REMOUNTED" not in log and "WROTE" not in log, log
        assert not os.path.exists(main_path)
        assert not os.path.exists(exec_path)
        # The writable places take no setuid program and no device node.
        mounts = gw.exec(sid, "cat", "/proc/self/mountinfo").stdout.decode()
        for target in ("/work", "/tmp"):
            opts = [ln.split()[5].split(",") for ln in mounts.splitlines()
                    if ln.split()[4] == target]
            assert opts and "nosuid" in opts[-1] and "nodev" in opts[-1]
    finally:
        for p in (main_path, exec_path):
            if os.path.exists(p):
                os.unlink(p)


def test_exec_not_found_and_bad_requests(gw):
    with pytest.raises(grpc.RpcError) as e:
        gw.exec("sbx-000000000000", "true")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    sid = gw.start_running()
    with pytest.raises(grpc.RpcError) as e:
        gw.call("Exec", sandbox_id=sid, command=[])
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    r = gw.exec(sid, "/no/such/cmd")
    assert r.exit_code == -1 and b"No such file" in r.stderr


def test_exec_timeout_kills_and_answers_deadline_exceeded(gw):
    sid = gw.start_running()
    with pytest.raises(grpc.RpcError) as e:
        gw.exec(sid, "sh", "-c", "sleep 300 & sleep 300",
                max_timeout_seconds=1)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    r = gw.exec(sid, "sh", "-c", "ps -o args= ax | grep -c '^sleep 300' || true")
    assert r.stdout.strip() == b"0"


def test_exec_truncation_and_discard(gw):
    sid = gw.start_running()
    r = gw.exec(sid, "sh", "-c", "head -c 100000 /dev/zero; "
                "head -c 10 /dev/zero >&2", buffered_max_kib=4)
    assert len(r.stdout) == 4096 and r.stdout_truncated
    assert r.stdout_bytes_produced == 100000
    assert len(r.stderr) == 10 and not r.stderr_truncated
    r = gw.exec(sid, "sh", "-c", "echo gone", output_handling=3)
    assert r.stdout == b"" and r.stdout_bytes_produced == 5
    assert r.exit_code == 0


def test_64_concurrent_execs_finish(gw):
    # 64 commands of 2 s each: served one after another they would take
    # 128 s; a quarter of that (no tight bound) proves they ran together.
    n, secs = 64, 2
    sid = gw.start_running()

    def one(i):
        return gw.exec(sid, "sh", "-c", f"sleep {secs}; echo {i}",
                       timeout=n * secs)

    t = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        results = list(ex.map(one, range(n)))
    took = time.monotonic() - t
    assert [r.stdout for r in results] == [f"{i}\n".encode()
                                          for i in range(n)]
    assert took < n * secs / 4, f"{n} execs took {took:.1f} s"


def test_slow_exec_does_not_block_other_calls(gw):
    sid = gw.start_running()
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        slow = ex.submit(gw.exec, sid, "sleep", "3")
        time.sleep(0.3)
        for _ in range(5):
            gw.call("Get", sandbox_id=sid)
        assert not slow.done()
        assert slow.result().exit_code == 0


def test_client_cancel_kills_the_exec(gw):
    sid = gw.start_running()
    with pytest.raises(grpc.RpcError) as e:
        gw.call("Exec", sandbox_id=sid, timeout=1,
                command=["sh", "-c", "sleep 200"])
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    gwait = time.monotonic() + 10
    while time.monotonic() < gwait:
        r = gw.exec(sid, "sh", "-c", "ps -o args= ax | grep -c '^sleep 200'"
                    " || true")
        if r.stdout.strip() == b"0":
            break
        time.sleep(0.1)
    assert r.stdout.strip() == b"0"


def test_exec_answers_when_an_escaped_child_holds_its_output(gw):
    # The command is done once it exits; a descendant that left its process
    # group (setsid) and keeps stdout open must not hold the answer back.
    sid = gw.start_running()
    r = gw.exec(sid, "setsid", "-w", "sh", "-c",
                "echo before; sleep 600 & exit 3", timeout=20)
    assert (r.stdout, r.exit_code) == (b"before\n", 3)


NAMESPACES = ("ipc", "uts", "pid", "mnt", "net")
SHOW_NS = "; ".join(f"readlink /proc/self/ns/{n}" for n in NAMESPACES)


def namespaces(text):
    return dict(zip(NAMESPACES, text.split()))


def interfaces(text):
    """Interface names from /proc/net/dev, printed after a '--' line."""
    dev = text.split("--\n", 1)[1]
    return sorted(line.split(":")[0].strip()
                  for line in dev.splitlines()[2:] if ":" in line)


@pytest.mark.skipif(not have_bwrap(), reason="needs root and bwrap")
@pytest.mark.parametrize("egress", ["", "none"])
def test_sandbox_namespaces(gw, egress):
    # Own ipc, uts, pid and mount namespaces for the main command and every
    # Exec; the host's network unless egress is none (then only lo).
    host = {n: os.readlink(f"/proc/self/ns/{n}") for n in NAMESPACES}
    with open("/proc/net/dev") as f:
        host_ifs = interfaces("--\n" + f.read())
    sid = gw.start_running(
        command="sh", args=["-c", SHOW_NS + "; echo --; cat /proc/net/dev;"
                            " echo END; sleep 600"],
        network=gw.gw.NetworkOptions(egress_mode=egress))
    log = wait_for(lambda: (lambda t: t if "END" in t else None)(
        gw.log(sid).decode()), what="main command's output")
    main_ns = namespaces(log)
    r = gw.exec(sid, "sh", "-c", SHOW_NS + "; echo --; cat /proc/net/dev")
    out = r.stdout.decode()
    assert namespaces(out) == main_ns
    for n in ("ipc", "uts", "pid", "mnt"):
        assert main_ns[n] != host[n], n
    if egress == "none":
        assert main_ns["net"] != host["net"]
        assert interfaces(out) == interfaces(log) == ["lo"]
        assert gw.call("Get", sandbox_id=sid).applied_egress_mode == "none"
    else:
        assert main_ns["net"] == host["net"]
        assert interfaces(out) == host_ifs
