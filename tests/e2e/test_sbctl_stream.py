"""sbctl's streaming commands against the scripted fake sandboxd.

Request shapes and output handling of exec (streamed, -i, -t, --detach),
attach, ps, tail, pool, budget and renew; the terminal under a real pty
(raw while running, restored after a normal end, an error and a signal,
SIGWINCH passed on as exec.resize).
"""
import base64
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from test_sbctl_cli import (HOLD, LEASE, SBCTL_TIMEOUT, XID, FakeCat,  # noqa
                            b64, err, fake, interrupt_after, lease_obj,
                            notify, ok, run, sbctl_path, stream_exec)


# --- exec, streamed ---------------------------------------------------------

def test_exec_streams_raw_bytes_in_order(fake):
    chunks = [("stdout", b"hello\n"), ("stderr", b"warn \xc3\x28\n"),
              ("stdout", b"\x00\xff binary\x80")]
    d = fake({"exec.start": stream_exec(chunks, code=7)})
    r = run(["exec", LEASE, "--", "sh", "-c", "exit 7"], sock=d.path)
    assert r.returncode == 7
    assert r.stdout == b"hello\n\x00\xff binary\x80"
    assert r.stderr == b"warn \xc3\x28\n"
    assert d.params("exec.start") == {"lease": LEASE,
                                      "argv": ["sh", "-c", "exit 7"]}


def test_exec_output_before_exit(fake):
    """The first bytes are on stdout while the command still runs."""
    def cancel(msg, conn):
        conn.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                 "result": {"exec": XID, "cancelled": True}})
                     .encode() + b"\n")
        notify(conn, "exec.exit", exec=XID, output_bytes=6, error={
            "code": -32013, "message": "cancelled",
            "data": {"kind": "cancelled"}})
    d = fake({"exec.start": stream_exec([("stdout", b"first\n")],
                                        exit=False),
              "exec.cancel": cancel})
    rc, errb = interrupt_after(d.path, ["exec", LEASE, "--", "x"],
                               b"first\n", stdin=subprocess.DEVNULL)
    assert rc == 130, errb
    assert d.methods() == ["exec.start", "exec.cancel"]


@pytest.mark.parametrize("kind,code,status", [
    ("gateway_error", -32012, 1), ("gateway_unavailable", -32006, 69),
    ("deadline_exceeded", -32008, 124), ("cancelled", -32013, 1),
    ("not_found", -32001, 4)])
def test_exit_error_form_is_never_0(fake, kind, code, status):
    error = {"code": code, "message": "stream ended without an exit status",
             "data": {"kind": kind}}
    d = fake({"exec.start": stream_exec([("stdout", b"part")], error=error)})
    r = run(["exec", LEASE, "--", "x"], sock=d.path)
    assert r.returncode == status
    assert r.stdout == b"part"
    assert r.stderr.decode() == ("sbctl: remote command: stream ended "
                                 "without an exit status\n")


def test_exit_minus_one_and_error_before_ready_are_127(fake):
    d = fake({"exec.start": stream_exec(code=-1)})
    r = run(["exec", LEASE, "--", "nosuchcmd"], sock=d.path)
    assert r.returncode == 127
    assert "could not be run" in r.stderr.decode()

    def start(msg, conn):
        conn.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                 "result": {"exec": XID, "lease": LEASE,
                                            "detached": False}}).encode()
                     + b"\n")
        notify(conn, "exec.exit", exec=XID, output_bytes=0, error={
            "code": -32012, "message": "exec: No such file or directory",
            "data": {"kind": "gateway_error"}})
    d.replies["exec.start"] = start
    r = run(["exec", LEASE, "--", "nosuchcmd"], sock=d.path)
    assert r.returncode == 127
    assert "No such file or directory" in r.stderr.decode()


def test_daemon_gone_before_exit_is_69(fake):
    def start(msg, conn):
        stream_exec([("stdout", b"x")], exit=False)(msg, conn)
        conn.shutdown(2)
    d = fake({"exec.start": start})
    r = run(["exec", LEASE, "--", "x"], sock=d.path)
    assert r.returncode == 69
    assert r.stdout == b"x"
    assert "before the command's exit status" in r.stderr.decode()


def test_notifications_of_other_execs_are_ignored(fake):
    def start(msg, conn):
        notify(conn, "lease.expiring", lease=LEASE, expires_at=1)
        stream_exec([("stdout", b"mine")], exit=False)(msg, conn)
        notify(conn, "exec.output", exec="x-otherone", stream="stdout",
               data_b64=b64(b"theirs"), offset=0)
        notify(conn, "exec.exit", exec="x-otherone", exit_code=9,
               output_bytes=6)
        notify(conn, "exec.exit", exec=XID, exit_code=3, output_bytes=4)
    d = fake({"exec.start": start})
    r = run(["exec", LEASE, "--", "x"], sock=d.path)
    assert r.returncode == 3 and r.stdout == b"mine"


def test_exec_stdin_is_forwarded_in_chunks(fake):
    cat = FakeCat()
    d = fake(cat.replies())
    data = os.urandom(1 << 20) + b"\x00end"
    r = run(["exec", "-i", "--timeout", "2m", LEASE, "--", "cat"],
            sock=d.path, stdin=data)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data and bytes(cat.data) == data
    assert d.params("exec.start") == {"lease": LEASE, "argv": ["cat"],
                                      "stdin": True, "timeout": 120}
    assert d.params("exec.close_stdin") == {"exec": XID}
    # Empty stdin: only the close.
    cat.data = bytearray()
    r = run(["exec", "-i", LEASE, "--", "cat"], sock=d.path, stdin=b"")
    assert r.returncode == 0 and r.stdout == b""


def test_exec_detach_prints_the_id(fake):
    def start(msg, conn):
        return ok({"exec": XID, "lease": LEASE, "detached": True})
    d = fake({"exec.start": start})
    r = run(["exec", "--detach", LEASE, "--", "sleep", "9"], sock=d.path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{XID}\n".encode()
    assert d.params("exec.start") == {"lease": LEASE, "detach": True,
                                      "argv": ["sleep", "9"]}
    r = run(["--json", "exec", "--detach", LEASE, "--", "x"], sock=d.path)
    assert json.loads(r.stdout) == {"exec": XID, "lease": LEASE,
                                    "detached": True}


# --- attach, ps -------------------------------------------------------------

def attach_reply(lost=0, frm=0, end=10, state="running", chunks=(),
                 code=5):
    def h(msg, conn):
        conn.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                 "result": {"exec": XID, "lease": LEASE,
                                            "state": state, "from": frm,
                                            "lost": lost, "end": end}})
                     .encode() + b"\n")
        off = frm
        for data in chunks:
            notify(conn, "exec.output", exec=XID, stream="stdout",
                   data_b64=b64(data), offset=off)
            off += len(data)
        if code is not None:
            notify(conn, "exec.exit", exec=XID, exit_code=code,
                   output_bytes=off)
    return h


def test_attach_replays_to_the_exit_code(fake):
    d = fake({"exec.attach": attach_reply(chunks=[b"line 1\n", b"end\n"])})
    r = run(["attach", XID], sock=d.path)
    assert r.returncode == 5, r.stderr
    assert r.stdout == b"line 1\nend\n" and r.stderr == b""
    assert d.params("exec.attach") == {"exec": XID}
    run(["attach", "--from", "12", XID], sock=d.path)
    assert d.params("exec.attach") == {"exec": XID, "from": 12}


def test_attach_notes_lost_bytes(fake):
    d = fake({"exec.attach": attach_reply(lost=4000, frm=4000,
                                          chunks=[b"tail\n"], code=0)})
    r = run(["attach", XID], sock=d.path)
    assert r.returncode == 0
    assert r.stdout == b"tail\n"
    assert "4000 bytes of output were lost" in r.stderr.decode()


def test_attach_ctrl_c_detaches_not_cancels(fake):
    d = fake({"exec.attach": attach_reply(chunks=[b"up\n"], code=None),
              "exec.detach": ok({"exec": XID, "detached": True})})
    rc, errb = interrupt_after(d.path, ["attach", XID], b"up\n")
    assert rc == 130, errb
    assert d.methods() == ["exec.attach", "exec.detach"]


def test_attach_unknown_exec(fake):
    d = fake({"exec.attach": err("not_found", -32001, "no exec x-nope")})
    r = run(["attach", "x-nope"], sock=d.path)
    assert r.returncode == 4
    assert r.stderr.decode() == "sbctl: no exec x-nope\n"


def execs():
    """Built per test: ages are relative to now, not to import time."""
    return [
    {"exec": "x-aaaaaaaa", "lease": LEASE, "owner_uid": 0,
     "argv": ["sh", "-c", "echo hi"], "tty": False, "detached": True,
     "state": "exited", "exit_code": 0, "started_at": time.time() - 125,
     "ended_at": time.time() - 120, "output_bytes": 3, "retained_from": 0,
     "subscribers": 0},
    {"exec": "x-bbbbbbbb", "lease": "l-other000", "owner_uid": 0,
     "argv": ["sleep", "100"], "tty": False, "detached": False,
     "state": "cancelled", "error": {"code": -32013, "message": "c",
                                     "data": {"kind": "cancelled"}},
     "started_at": time.time() - 5, "output_bytes": 0,
     "retained_from": 0, "subscribers": 0},
    ]


def test_ps_table_filter_and_json(fake):
    EXECS = execs()
    d = fake({"exec.list": ok({"execs": EXECS})})
    r = run(["ps"], sock=d.path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0].split() == ["EXEC", "LEASE", "STATE", "EXIT", "AGE",
                                "OUTPUT", "COMMAND"]
    assert lines[1].split()[:4] == ["x-aaaaaaaa", LEASE, "exited+", "0"]
    assert re.fullmatch(r"2m\d+s", lines[1].split()[4])
    assert lines[1].endswith("sh -c echo hi")
    assert lines[2].split()[:4] == ["x-bbbbbbbb", "l-other000", "cancelled",
                                    "cancelled"]
    assert d.params("exec.list") == {}
    r = run(["ps", LEASE], sock=d.path)
    assert len(r.stdout.decode().splitlines()) == 2
    r = run(["--json", "ps", "-a", LEASE], sock=d.path)
    assert json.loads(r.stdout)["execs"] == json.loads(json.dumps(EXECS[:1]))
    assert d.params("exec.list") == {"all": True}


# --- tail -------------------------------------------------------------------

TID = "t-4f9k2m0a"


def tail_reply(chunks, reason="complete", times=None, error=None):
    def h(msg, conn):
        conn.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                 "result": {"tail": TID, "lease": LEASE,
                                            "shared": False}}).encode()
                     + b"\n")
        off = 0
        for i, data in enumerate(chunks):
            p = {"tail": TID, "data_b64": b64(data), "offset": off}
            if times:
                p["time"] = times[i]
            notify(conn, "tail.data", **p)
            off += len(data)
        if reason is not None:
            e = {"tail": TID, "reason": reason}
            if error:
                e["error"] = error
            notify(conn, "tail.end", **e)
    return h


def test_tail_prints_the_log_and_sends_options(fake):
    d = fake({"tail.start": tail_reply([b"a\nb", b"\n\xff\n"])})
    r = run(["tail", LEASE], sock=d.path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"a\nb\n\xff\n"
    assert d.params("tail.start") == {"lease": LEASE}
    r = run(["tail", "-f", "-n", "20", "--since", "10m", LEASE], sock=d.path)
    assert d.params("tail.start") == {"lease": LEASE, "follow": True,
                                      "lines": 20, "since": "10m"}
    run(["tail", "--since", "@1764583200.5", LEASE], sock=d.path)
    assert d.params("tail.start")["since"] == 1764583200.5
    run(["tail", "--since", "2026-12-01T10:00", LEASE], sock=d.path,
        env={"TZ": "UTC"})
    assert d.params("tail.start")["since"] == 1796119200


def test_tail_timestamps_start_each_line(fake):
    d = fake({"tail.start": tail_reply([b"one\ntw", b"o\nthree\n"],
                                       times=[1764583200.125,
                                              1764583201.5])})
    r = run(["tail", "--timestamps", LEASE], sock=d.path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == ("2025-12-01T10:00:00.125Z one\n"
                                 "2025-12-01T10:00:00.125Z two\n"
                                 "2025-12-01T10:00:01.500Z three\n")
    assert d.params("tail.start")["timestamps"] is True


def test_tail_follow_ctrl_c_stops_and_exits_0(fake):
    def stop(msg, conn):
        conn.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                 "result": {"tail": TID, "stopped": True}})
                     .encode() + b"\n")
        notify(conn, "tail.end", tail=TID, reason="stopped")
    d = fake({"tail.start": tail_reply([b"live\n"], reason=None),
              "tail.stop": stop})
    rc, errb = interrupt_after(d.path, ["tail", "-f", LEASE], b"live\n")
    assert rc == 0, errb
    assert d.methods() == ["tail.start", "tail.stop"]
    assert d.params("tail.stop") == {"tail": TID}


def test_tail_end_reasons(fake):
    d = fake({"tail.start": tail_reply([b"x"], reason="lease_gone")})
    r = run(["tail", "-f", LEASE], sock=d.path)
    assert r.returncode == 4 and "lease is gone" in r.stderr.decode()
    d.replies["tail.start"] = tail_reply([], reason="error", error={
        "code": -32006, "message": "gateway down",
        "data": {"kind": "gateway_unavailable"}})
    r = run(["tail", "-f", LEASE], sock=d.path)
    assert r.returncode == 69
    assert r.stderr.decode() == "sbctl: tail: gateway down\n"
    d.replies["tail.start"] = err("invalid_state", -32011, "no sandbox yet")
    r = run(["tail", LEASE], sock=d.path)
    assert r.returncode == 1
    assert r.stderr.decode() == "sbctl: no sandbox yet\n"


# --- pool, budget, renew ----------------------------------------------------

POOLS = [
    {"name": "py", "default": True, "image": "python:3.12", "target": 3,
     "ready": 2, "starting": 1, "leased": 4, "waiting": 0, "max": 8,
     "claims": 8, "hits": 6, "misses": 2, "hit_rate": 0.75,
     "cold_start_p50_ms": 1250, "starts": 9, "start_failures": 0,
     "last_error": None, "backoff_ms": 0, "warm": 3, "lifetime_s": 3600},
    {"name": "gpu", "default": False, "image": "cuda", "target": 1,
     "ready": 0, "starting": 0, "leased": 0, "waiting": 2, "max": 2,
     "claims": 0, "hits": 0, "misses": 0, "hit_rate": 0.0,
     "cold_start_p50_ms": 0, "starts": 3, "start_failures": 3,
     "last_error": "image pull failed: not found", "backoff_ms": 4000,
     "warm": "auto", "lifetime_s": 3600},
]


def test_pool_table_alias_and_json(fake):
    d = fake({"pool.list": ok({"pools": POOLS})})
    r = run(["pool"], sock=d.path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0].split() == ["NAME", "READY", "STARTING", "LEASED",
                                "WAITING", "TARGET", "HIT%", "COLD-P50",
                                "LAST-ERROR"]
    assert lines[1].split() == ["py*", "2", "1", "4", "0", "3", "75",
                                "1s250ms", "-"]
    assert lines[2].split()[:8] == ["gpu", "0", "0", "0", "2", "auto(1)",
                                    "-", "-"]
    assert lines[2].endswith("image pull failed: not found")
    assert run(["pool", "ls"], sock=d.path).stdout == r.stdout
    r = run(["--json", "pool"], sock=d.path)
    assert json.loads(r.stdout) == {"pools": POOLS}


def test_pool_resize(fake):
    d = fake({"pool.resize": lambda m, c: ok(dict(POOLS[0], warm=m[
        "params"]["warm"], target=5 if m["params"]["warm"] == 5 else 2))})
    r = run(["pool", "resize", "py", "5"], sock=d.path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "pool py: warm 5, target 5\n"
    assert d.params("pool.resize") == {"pool": "py", "warm": 5}
    r = run(["--json", "pool", "resize", "py", "auto"], sock=d.path)
    assert d.params("pool.resize") == {"pool": "py", "warm": "auto"}
    assert json.loads(r.stdout)["warm"] == "auto"
    d.replies["pool.resize"] = err("permission_denied", -32002,
                                   "pool.resize is for root")
    r = run(["pool", "resize", "py", "0"], sock=d.path)
    assert r.returncode == 77


BUDGET = {"uid": 1000, "user": "alice",
          "limits": {"max_leases": 4, "max_lease_ttl_s": 86400,
                     "default_lease_ttl_s": 900, "max_lifetime_s": 3600,
                     "sandbox_seconds": 36000, "window_s": 86400,
                     "max_sandboxes": 0},
          "used": {"leases": 2, "sandbox_seconds": 1234}}


def test_budget_user_all_and_json(fake):
    d = fake({"budget.get": lambda m, c: ok(
        {"users": [BUDGET], "pool_sandbox_seconds": {"py": 77},
         "host_sandboxes": 5} if m["params"].get("all") else BUDGET)})
    r = run(["budget", "--mine"], sock=d.path)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.startswith("user alice (uid 1000)\n")
    assert "leases            2 (limit: 4)" in out
    assert "sandbox-seconds   1234 in the last 1d (limit: 36000)" in out
    assert "15m by default, at most 1d" in out
    assert "host sandboxes    no limit" in out
    assert d.params("budget.get") == {}
    r = run(["budget", "-a"], sock=d.path)
    lines = r.stdout.decode().splitlines()
    assert lines[0].split() == ["USER", "UID", "LEASES", "MAX-LEASES",
                                "SANDBOX-S", "LIMIT-S", "WINDOW"]
    assert lines[1].split() == ["alice", "1000", "2", "4", "1234", "36000",
                                "1d"]
    assert "pool py: 77 sandbox-seconds warm" in lines
    assert "host sandboxes: 5" in lines
    assert d.params("budget.get") == {"all": True}
    r = run(["--json", "budget", "-m"], sock=d.path)
    assert json.loads(r.stdout) == BUDGET
    # root sees everyone by default; others their own
    r = run(["budget"], sock=d.path)
    assert d.params("budget.get") == ({"all": True} if os.getuid() == 0
                                      else {})


def test_renew(fake):
    d = fake({"lease.renew": lambda m, c: ok(lease_obj(
        expires_at=time.time() + 3600.5))})
    r = run(["renew", "--ttl", "1h", LEASE], sock=d.path)
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(rf"{LEASE} expires in (1h|59m\d+s)\n",
                        r.stdout.decode())
    assert d.params("lease.renew") == {"lease": LEASE, "ttl": 3600}
    run(["renew", LEASE], sock=d.path)
    assert d.params("lease.renew") == {"lease": LEASE}
    r = run(["--json", "renew", LEASE], sock=d.path)
    assert json.loads(r.stdout)["id"] == LEASE
    d.replies["lease.renew"] = err("budget_exceeded", -32003, "too long",
                                   budget="max_lease_ttl", limit=86400,
                                   used=90000)
    r = run(["renew", "--ttl", "25h", LEASE], sock=d.path)
    assert r.returncode == 75
    assert "max_lease_ttl: used 90000 of 86400" in r.stderr.decode()


def test_lease_pool_option(fake):
    d = fake({"lease.acquire": ok(lease_obj(pool="py", warm=True))})
    r = run(["lease", "--pool", "py", "--bind", "none"], sock=d.path)
    assert r.returncode == 0, r.stderr
    assert d.params("lease.acquire") == {"pool": "py", "bind": "none"}


# --- -t under a real pty ------------------------------------------------------

class Pty:
    """sbctl on a pty we hold the master of."""

    def __init__(self, argv, rows=30, cols=100):
        pid, fd = pty.fork()
        if pid == 0:
            try:
                # Sized before sbctl runs: it may read the size at once.
                fcntl.ioctl(0, termios.TIOCSWINSZ,
                            struct.pack("HHHH", rows, cols, 0, 0))
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.out = b""

    def set_size(self, rows, cols):
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, cols, 0, 0))

    def attrs(self):
        return termios.tcgetattr(self.fd)

    def read_until(self, want, timeout=SBCTL_TIMEOUT):
        end = time.monotonic() + timeout
        while want not in self.out:
            left = end - time.monotonic()
            assert left > 0, f"no {want!r} in {self.out!r}"
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                assert chunk, f"EOF before {want!r}: {self.out!r}"
                self.out += chunk

    def wait(self):
        end = time.monotonic() + SBCTL_TIMEOUT
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.drain()
                return status
            self.drain(0.1)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("sbctl did not end")

    def drain(self, t=0):
        while select.select([self.fd], [], [], t)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.out += chunk

    def close(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


def is_raw(attrs):
    return not (attrs[3] & (termios.ICANON | termios.ECHO | termios.ISIG))


def tty_fake(fake, end_with):
    """exec.start that waits; exec.write 'q' ends it as end_with says."""
    state = {}

    def start(msg, conn):
        state["conn"] = conn
        stream_exec([("stdout", b"READY\r\n")], exit=False)(msg, conn)

    def write(msg, conn):
        data = base64.b64decode(msg["params"]["data_b64"])
        if b"q" in data:
            conn.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                     "result": {"exec": XID, "bytes": 1}})
                         .encode() + b"\n")
            end_with(conn)
            return None
        return ok({"exec": XID, "bytes": len(data)})
    return fake({"exec.start": start, "exec.write": write,
                 "exec.resize": ok({"exec": XID}),
                 "exec.close_stdin": ok({"exec": XID})})


def test_tty_raw_while_running_restored_after_exit(fake):
    d = tty_fake(fake, lambda c: notify(c, "exec.exit", exec=XID,
                                        exit_code=3, output_bytes=7))
    t = Pty([sbctl_path(), "--socket", d.path, "exec", "-t", LEASE, "--",
             "sh"], rows=30, cols=100)
    try:
        before = t.attrs()
        assert not is_raw(before)
        t.read_until(b"READY")
        assert is_raw(t.attrs())
        assert d.params("exec.start") == {
            "lease": LEASE, "argv": ["sh"], "tty": True, "stdin": True,
            "width": 100, "height": 30}
        # A resize travels as exec.resize.
        t.set_size(40, 120)
        os.kill(t.pid, signal.SIGWINCH)
        d.wait_request("exec.resize")
        assert d.params("exec.resize") == {"exec": XID, "width": 120,
                                           "height": 40}
        # Ctrl-C is a byte for the remote terminal, not a signal here.
        os.write(t.fd, b"\x03")
        os.write(t.fd, b"q")
        status = t.wait()
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3
        assert t.attrs() == before
        with d.cond:
            sent = b"".join(base64.b64decode(m["params"]["data_b64"])
                            for m in d.requests
                            if m["method"] == "exec.write")
        assert sent == b"\x03q"
        assert "exec.cancel" not in d.methods()
    finally:
        t.close()


def test_tty_restored_after_error_exit(fake):
    d = tty_fake(fake, lambda c: c.shutdown(2))
    t = Pty([sbctl_path(), "--socket", d.path, "exec", "-t", LEASE, "--",
             "sh"])
    try:
        before = t.attrs()
        t.read_until(b"READY")
        assert is_raw(t.attrs())
        os.write(t.fd, b"q")
        status = t.wait()
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 69
        assert b"sandboxd closed the connection" in t.out
        assert t.attrs() == before
    finally:
        t.close()


@pytest.mark.parametrize("sig,how", [(signal.SIGTERM, 143),
                                     (signal.SIGQUIT, "killed"),
                                     (signal.SIGUSR1, "killed")])
def test_tty_restored_after_signal(fake, sig, how):
    def cancel(msg, conn):
        conn.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                 "result": {"exec": XID, "cancelled": True}})
                     .encode() + b"\n")
        notify(conn, "exec.exit", exec=XID, output_bytes=0, error={
            "code": -32013, "message": "cancelled",
            "data": {"kind": "cancelled"}})
    d = tty_fake(fake, lambda c: None)
    d.replies["exec.cancel"] = cancel
    t = Pty([sbctl_path(), "--socket", d.path, "exec", "-t", LEASE, "--",
             "sh"])
    try:
        before = t.attrs()
        t.read_until(b"READY")
        assert is_raw(t.attrs())
        os.kill(t.pid, sig)
        status = t.wait()
        if how == "killed":
            # Restored, then the signal's own default action.
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == sig
        else:
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == how
            assert "exec.cancel" in d.methods()
        assert t.attrs() == before
    finally:
        t.close()
