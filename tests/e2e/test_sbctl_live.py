"""sbctl's streaming and pool/budget commands end to end: the real sbctl
against the real sandboxd and sandbox-gateway-local.

Output before the end, 50 MiB of stdin byte-exact, -t on a real pty
(raw mode, the remote `stty size` following a resize, the terminal
restored), Ctrl-C killing the remote command, --detach and attach after
the first watcher was SIGKILLed, tail -f, pool/resize/budget/renew, and a
SIGKILLed `sbctl run` giving its lease back.
"""
import os
import re
import signal
import json
import subprocess
import time

import pytest

import sbxtest
from sbxd import Daemon, Gateway, b64
from test_daemon_stream import marker_alive
from test_sbctl_stream import Pty, is_raw

TIMEOUT = 120


@pytest.fixture
def gw(tmpdir_short, procs):
    return Gateway(tmpdir_short, procs)


@pytest.fixture
def daemon(tmpdir_short, procs, gw):
    return Daemon(tmpdir_short, procs, gateway=gw.target,
                  conf_extra="[pool.w]\nwarm = 1\n")


def popen(d, *args, **kw):
    e = dict(os.environ)
    e["SANDBOXD_SOCKET"] = d.socket
    return subprocess.Popen([sbxtest.binary("sbctl"), *args], env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **kw)


def finish(p):
    try:
        return p.communicate(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def lease(d):
    r = d.sbctl("lease")
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().strip()


def go(d, lid, name="go"):
    d.call("file.write", lease=lid, path=name, data_b64=b64(b""))


def read_exactly(f, want):
    got = b""
    while len(got) < len(want):
        chunk = f.read1(len(want) - len(got))
        assert chunk, f"EOF after {got!r}"
        got += chunk
    assert got == want


def test_output_arrives_before_the_command_ends(daemon):
    lid = lease(daemon)
    p = popen(daemon, "exec", lid, "--", "sh", "-c",
              "echo first; while [ ! -e go ]; do sleep 0.05; done; "
              "echo second >&2; echo third; exit 6",
              stdin=subprocess.DEVNULL)
    # The command is still waiting for `go`: these bytes came streamed.
    read_exactly(p.stdout, b"first\n")
    assert p.poll() is None
    go(daemon, lid)
    out, err = finish(p)
    assert p.returncode == 6, err
    assert out == b"third\n" and err == b"second\n"


def test_stdin_50mib_through_cat_byte_exact(daemon, tmpdir_short):
    lid = lease(daemon)
    data = os.urandom(50 << 20)
    r = daemon.sbctl("exec", "-i", lid, "--", "cat", input=data,
                     timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(r.stdout) == len(data) and r.stdout == data


def test_tty_on_a_real_pty(daemon):
    lid = lease(daemon)
    t = Pty([sbxtest.binary("sbctl"), "--socket", daemon.socket, "exec",
             "-t", lid, "--", "sh", "-c",
             "stty size; echo READY; while read a; do stty size; done; "
             "echo BYE"], rows=30, cols=100)
    try:
        before = t.attrs()
        t.read_until(b"READY")
        assert b"30 100" in t.out
        assert is_raw(t.attrs())
        # A resize of our pty reaches the remote terminal.
        t.set_size(40, 120)
        os.kill(t.pid, signal.SIGWINCH)
        end = time.monotonic() + TIMEOUT
        while b"40 120" not in t.out:
            assert time.monotonic() < end, t.out
            os.write(t.fd, b"\r")
            t.drain(0.2)
        # Ctrl-D ends `read` on the remote terminal.
        os.write(t.fd, b"\x04")
        status = t.wait()
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, t.out
        assert b"BYE" in t.out
        assert t.attrs() == before
    finally:
        t.close()


def test_ctrl_c_cancels_the_remote_command(daemon):
    lid = lease(daemon)
    marker = f"{os.getpid()}{time.monotonic_ns() % 100000 + 11}"
    p = popen(daemon, "exec", lid, "--", "sh", "-c",
              f"echo up; exec sleep 1000.{marker}", stdin=subprocess.DEVNULL)
    try:
        read_exactly(p.stdout, b"up\n")
        sbxtest.wait_for(lambda: marker_alive(marker), timeout=TIMEOUT,
                         what="remote sleep")
        p.send_signal(signal.SIGINT)
    finally:
        out, err = finish(p)
    assert p.returncode == 130, err
    sbxtest.wait_for(lambda: not marker_alive(marker), timeout=TIMEOUT,
                     what="remote process gone")
    r = daemon.sbctl("ps", lid)
    assert re.search(r"\scancelled\s", r.stdout.decode()), r.stdout


def test_detach_then_attach_after_sigkill(daemon):
    lid = lease(daemon)
    script = ("i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); "
              "done; while [ ! -e go ]; do sleep 0.05; done; echo end; "
              "exit 5")
    r = daemon.sbctl("exec", "--detach", lid, "--", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    xid = r.stdout.decode().strip()
    assert re.fullmatch(r"x-[a-z0-9]{8}", xid)
    # A first watcher, killed outright mid-stream.
    p = popen(daemon, "attach", xid)
    read_exactly(p.stdout, b"line 0\n")
    p.kill()
    finish(p)
    r = daemon.sbctl("ps", lid)
    row = [ln for ln in r.stdout.decode().splitlines() if xid in ln]
    assert row and row[0].split()[2] == "running+", r.stdout
    go(daemon, lid)
    want = "".join(f"line {i}\n" for i in range(300)) + "end\n"
    r = daemon.sbctl("attach", xid)
    assert r.returncode == 5, r.stderr
    assert r.stdout.decode() == want and r.stderr == b""
    # Again, from an offset, after the end.
    r = daemon.sbctl("attach", "--from", "7", xid)
    assert r.returncode == 5 and r.stdout.decode() == want[7:]


def test_tail_follow_sees_lines_appended(daemon):
    r = daemon.sbctl("submit", "--", "sh", "-c",
                     "echo one; while [ ! -e /tmp/go ]; do sleep 0.05; "
                     "done; echo two; sleep 300")
    assert r.returncode == 0, r.stderr
    job = r.stdout.decode().strip()
    p = popen(daemon, "tail", "-f", job)
    try:
        read_exactly(p.stdout, b"one\n")
        daemon.call("exec", lease=job, argv=["touch", "/tmp/go"])
        read_exactly(p.stdout, b"two\n")
        p.send_signal(signal.SIGINT)
    finally:
        out, err = finish(p)
    assert p.returncode == 0, err
    r = daemon.sbctl("tail", "-n", "1", job)
    assert r.returncode == 0 and r.stdout == b"two\n"
    daemon.sbctl("reclaim", job)


def test_pool_resize_budget_renew(daemon):
    sbxtest.wait_for(lambda: daemon.call("pool.list")["pools"][0]["ready"]
                     == 1, timeout=TIMEOUT, what="pool w ready")
    r = daemon.sbctl("pool")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0].split()[:3] == ["NAME", "READY", "STARTING"]
    assert lines[1].split()[:2] == ["w", "1"]
    r = daemon.sbctl("pool", "resize", "w", "2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "pool w: warm 2, target 2\n"
    sbxtest.wait_for(lambda: daemon.call("pool.list")["pools"][0]["ready"]
                     == 2, timeout=TIMEOUT, what="pool w at 2")
    r = daemon.sbctl("--json", "lease", "--pool", "w", "--ttl", "5m")
    assert r.returncode == 0, r.stderr
    lobj = json.loads(r.stdout)
    assert lobj["pool"] == "w" and lobj["warm"] is True
    r = daemon.sbctl("budget", "--mine")
    assert r.returncode == 0, r.stderr
    assert re.search(r"leases\s+1 \(limit", r.stdout.decode()), r.stdout
    r = daemon.sbctl("renew", "--ttl", "20m", lobj["id"])
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(rf"{lobj['id']} expires in (20m|19m\d+s)\n",
                        r.stdout.decode())
    left = daemon.call("lease.get", lease=lobj["id"])["expires_at"] - \
        time.time()
    assert 15 * 60 < left <= 20 * 60
    r = daemon.sbctl("pool", "resize", "w", "auto")
    assert r.returncode == 0, r.stderr
    assert daemon.call("pool.list")["pools"][0]["warm"] == "auto"


def test_killed_run_gives_its_lease_back(daemon):
    p = popen(daemon, "run", "--", "sh", "-c", "echo up; sleep 1000",
              stdin=subprocess.DEVNULL)
    try:
        read_exactly(p.stdout, b"up\n")
        leases = daemon.call("lease.list")["leases"]
        assert len(leases) == 1 and leases[0]["bind"] == "process"
        p.kill()
    finally:
        finish(p)
    sbxtest.wait_for(lambda: daemon.call("lease.list")["leases"] == [],
                     timeout=TIMEOUT, what="lease released")
