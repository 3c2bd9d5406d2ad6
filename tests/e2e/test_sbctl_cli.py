"""sbctl against a scripted fake sandboxd: what it sends, what it prints.

The fake daemon is a thread serving the control protocol on a Unix socket
in a short tmp dir.  It records every request and answers from a table of
scripted replies, so these tests prove sbctl's side of sandboxd-rpc(7)
without a real daemon: methods and params (lease options, base64, stdin),
human and --json output, raw bytes of remote output, exit statuses per
error kind, the "not running" message, run's release on a signal, and
byte-exact cp in both directions.
"""
import base64
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import threading
import time

import shutil

import pytest

import sbxtest

LEASE = "l-7k3q9x2m"
SBCTL_TIMEOUT = int(os.environ.get("SBCTL_TEST_TIMEOUT", "60"))


def sbctl_path():
    return sbxtest.binary("sbctl")


def lease_obj(lid=LEASE, **kw):
    now = time.time()
    o = {
        "id": lid, "sandbox_id": "sbx-0123abcd", "owner_uid": os.getuid(),
        "kind": "interactive", "state": "ready", "sandbox_status": "running",
        "image": "python:3.12", "pool": None, "tags": [],
        "created_at": round(now - 252.5, 3),
        "expires_at": round(now + 1500.5, 3), "ttl_s": 1800,
    }
    o.update(kw)
    return o


def b64(data):
    return base64.b64encode(data).decode()


def err(kind, code, message, **data):
    """A scripted error reply."""
    d = {"kind": kind}
    d.update(data)
    return {"error": {"code": code, "message": message, "data": d}}


def ok(result):
    return {"result": result}


HOLD = object()     # never answer this request


class FakeDaemon:
    """Serves the control socket from a table: method -> reply.

    A reply is {"result": …}, {"error": …}, HOLD, or a callable taking
    (msg, conn) that returns one of those or None after writing to conn
    itself.
    """

    def __init__(self, dirpath, replies=None):
        self.path = os.path.join(dirpath, "sd.sock")
        self.replies = dict(replies or {})
        self.requests = []
        self.cond = threading.Condition()
        self.conns = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.closed = False
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.closed:
                conn.close()
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        f = conn.makefile("rb")
        try:
            for line in f:
                msg = json.loads(line)
                with self.cond:
                    self.requests.append(msg)
                    self.cond.notify_all()
                reply = self.replies.get(msg["method"])
                if callable(reply):
                    reply = reply(msg, conn)
                if reply is None or reply is HOLD:
                    continue
                out = {"jsonrpc": "2.0", "id": msg["id"]}
                out.update(reply)
                conn.sendall(json.dumps(out).encode() + b"\n")
        except (OSError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def methods(self):
        with self.cond:
            return [m["method"] for m in self.requests]

    def params(self, method):
        """The params of the last request of `method`."""
        with self.cond:
            found = [m for m in self.requests if m["method"] == method]
        assert found, f"no {method} request; got {self.methods()}"
        return found[-1].get("params")

    def wait_request(self, method, timeout=30):
        with self.cond:
            ok_ = self.cond.wait_for(
                lambda: any(m["method"] == method for m in self.requests),
                timeout)
        assert ok_, f"no {method} request; got {self.methods()}"

    def close(self):
        # Wake the acceptor and wait for it before closing the fd: a
        # close under a thread about to accept() lets it accept on
        # whatever socket reuses the fd number in the next test.
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.acceptor.join(10)
        self.sock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def fake(tmpdir_short):
    daemons = []

    def start(replies=None):
        d = FakeDaemon(tmpdir_short, replies)
        daemons.append(d)
        return d

    yield start
    for d in daemons:
        d.close()


def run(args, sock=None, stdin=b"", env=None, timeout=SBCTL_TIMEOUT):
    argv = [sbctl_path()]
    if sock is not None:
        argv += ["--socket", sock]
    e = dict(os.environ)
    e.pop("SANDBOXD_SOCKET", None)
    if env:
        e.update(env)
    return subprocess.run(argv + args, input=stdin, capture_output=True,
                          env=e, timeout=timeout)


# --- usage, help, not running ---------------------------------------------

COMMANDS = ["status", "lease", "exec", "run", "attach", "ps", "tail", "cp",
            "reclaim", "ls", "submit", "wait", "renew", "pool", "budget",
            "help"]


def interrupt_after(sock, args, first, stdin=None):
    """sbctl ARGS until FIRST is on its stdout, then SIGINT: its exit
    status and stderr."""
    p = subprocess.Popen([sbctl_path(), "--socket", sock] + args,
                         stdin=stdin, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        assert p.stdout.read(len(first)) == first
        assert p.poll() is None
        p.send_signal(signal.SIGINT)
        _, errb = p.communicate(timeout=SBCTL_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, errb


def test_help_lists_every_command_and_exits_0():
    r = run(["--help"])
    assert r.returncode == 0
    out = r.stdout.decode()
    for c in COMMANDS:
        assert re.search(rf"^  {c}\b", out, re.M), c
    assert run(["help"]).stdout == r.stdout
    assert run(["--version"]).returncode == 0


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help_shows_its_usage(cmd):
    r = run([cmd, "--help"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith(f"usage: sbctl {cmd}")
    assert run(["help", cmd]).stdout == r.stdout


def test_lease_option_help_lists_every_lease_option():
    out = run(["run", "--help"]).stdout.decode()
    for o in ["--image IMG", "--cpu C", "--memory M", "--gpu N",
              "--gpu-type T", "--env K=V", "--tag T", "--ttl DUR",
              "--file LOCAL:REMOTE", "--secret STORE:PATH:FIELD:ENV",
              "--egress MODE", "--wait DUR"]:
        assert o in out


def test_release_is_an_alias_of_reclaim():
    assert run(["release", "--help"]).stdout.decode().startswith(
        "usage: sbctl reclaim")


@pytest.mark.parametrize("args,why", [
    ([], "no command given"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["--bogus", "status"], "unknown option --bogus"),
    (["--socket"], "needs a value"),
    (["status", "extra"], "unexpected operand 'extra'"),
    (["exec"], "missing operand"),
    (["exec", LEASE], "missing operands"),
    (["exec", LEASE, "--"], "missing command"),
    (["exec", "--timeout", "soon", LEASE, "--", "true"], "--timeout"),
    (["run"], "missing operand"),
    (["run", "--keep=1", "--", "true"], "takes no value"),
    (["lease", "--ttl", "forever"], "--ttl: 'forever'"),
    (["lease", "--env", "NOEQUALS"], "is not K=V"),
    (["lease", "--gpu", "-1"], "--gpu"),
    (["lease", "--secret", "a:b:c"], "is not STORE:PATH:FIELD:ENV"),
    (["lease", "--file", "nocolon"], "is not LOCAL:REMOTE"),
    (["lease", "--file", "/nonexistent/x:/work/x"], "/nonexistent/x"),
    (["lease", "--image"], "option --image needs a value"),
    (["lease", "-x"], "unknown option -x"),
    (["submit"], "missing operand"),
    (["cp", "a"], "missing operand"),
    (["cp", "a", "b"], "exactly one of SRC and DST"),
    (["cp", f"{LEASE}:/a", "l-bbbbbbbb:/b"], "exactly one of SRC and DST"),
    (["cp", f"{LEASE}:", "x"], "missing path"),
    (["cp", "-", f"{LEASE}:/work/"], "needs a file name"),
    (["reclaim"], "missing operand"),
    (["ls", "-a", "x"], "unexpected operand"),
    (["wait"], "missing operand"),
    (["wait", LEASE, LEASE], "unexpected operand"),
    (["help", "nosuch"], "unknown command 'nosuch'"),
    (["exec", "-t", "--buffered", LEASE, "--", "sh"], "-t needs the stream"),
    (["exec", "--detach", "-i", LEASE, "--", "sh"], "--detach does not go"),
    (["run", "--keep", "--bind", "process", "--", "true"], "--keep and"),
    (["run", "--bind", "sometimes", "--", "true"], "'sometimes' is not"),
    (["lease", "--bind", "process"], "would release the lease"),
    (["submit", "--bind", "connection", "--", "x"], "would release"),
    (["lease", "--pool", ""], "--pool: needs a non-empty value"),
    (["attach"], "missing operand"),
    (["attach", "--from", "-1", "x-aaaaaaaa"], "--from: '-1'"),
    (["ps", "a", "b"], "unexpected operand 'b'"),
    (["tail"], "missing operand"),
    (["tail", "-n", "many", LEASE], "-n: 'many'"),
    (["tail", "--since", "yesterday-ish", LEASE], "neither a duration"),
    (["renew"], "missing operand"),
    (["renew", "--ttl", "0", LEASE], "--ttl: '0'"),
    (["pool", "resize", "w"], "resize needs NAME and N or auto"),
    (["pool", "resize", "w", "lots"], "'lots' is not a number"),
    (["pool", "frob"], "unknown sub-command 'frob'"),
    (["budget", "x"], "unexpected operand"),
])
def test_usage_errors_exit_64_with_usage(args, why, tmpdir_short):
    # A socket path that does not exist: nothing may be sent anyway.
    r = run(args, sock=os.path.join(tmpdir_short, "none.sock"))
    err_ = r.stderr.decode()
    assert r.returncode == 64, err_
    assert why in err_
    assert "usage: sbctl" in err_
    assert r.stdout == b""


def test_not_running_message_and_69(tmpdir_short):
    path = os.path.join(tmpdir_short, "nope.sock")
    r = run(["status"], sock=path)
    assert r.returncode == 69
    assert r.stderr.decode() == \
        f"sbctl: sandboxd is not running (no socket at {path})\n"
    # SANDBOXD_SOCKET is where sbctl looks without --socket.
    r = run(["ls"], env={"SANDBOXD_SOCKET": path})
    assert r.returncode == 69
    assert f"no socket at {path}" in r.stderr.decode()


def test_stale_socket_is_not_running(tmpdir_short):
    path = os.path.join(tmpdir_short, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()       # the file stays, nobody listens: ECONNREFUSED
    r = run(["status"], sock=path)
    assert r.returncode == 69
    assert "sandboxd is not running" in r.stderr.decode()
    assert path in r.stderr.decode()


def test_permission_denied_socket_exits_77(tmpdir_short):
    path = os.path.join(tmpdir_short, "perm.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    os.chmod(path, 0)
    argv = [sbctl_path(), "--socket", path, "status"]
    if os.getuid() == 0:
        # Root ignores modes: ask as nobody instead.
        if shutil.which("setpriv") is None:
            pytest.skip("root without setpriv")
        argv = ["setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups"] + argv
    try:
        r = subprocess.run(argv, capture_output=True, timeout=SBCTL_TIMEOUT)
    finally:
        s.close()
    if r.returncode in (126, 127) and b"sbctl" not in r.stderr:
        pytest.skip(f"cannot run sbctl as nobody: {r.stderr!r}")
    assert r.returncode == 77, r.stderr
    assert r.stderr.decode() == (f"sbctl: permission denied on {path} "
                                 "(is your user in sandboxd's group?)\n")


# --- status, lease, submit -------------------------------------------------

STATUS = {"version": "0.1-test", "pid": 4242, "uptime_s": 252.75,
          "uid": os.getuid(),
          "gateway": {"address": "local", "state": "ready",
                      "channels": [{}, {}, {}, {}]},
          "leases": 3}


def test_status_human_and_json(fake):
    d = fake({"status": ok(STATUS)})
    r = run(["status"], sock=d.path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == ("sandboxd 0.1-test, pid 4242, up 4m12s\n"
                                 "gateway: local (ready, 4 channels)\n"
                                 "leases: 3\n")
    assert d.params("status") == {}
    r = run(["--json", "status"], sock=d.path)
    assert r.returncode == 0
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 1 and json.loads(lines[0]) == STATUS


def test_lease_sends_every_option_and_prints_the_id(fake, tmpdir_short):
    local = os.path.join(tmpdir_short, "blob")
    data = bytes(range(256)) * 3 + b"\xff\xfe\x00"
    with open(local, "wb") as f:
        f.write(data)
    d = fake({"lease.acquire": ok(lease_obj())})
    r = run(["lease", "--image", "python:3.12", "--cpu", "500m",
             "--memory", "512Mi", "--gpu", "2", "--gpu-type", "A100",
             "--env", "A=1", "--env", "B=x=y", "--env", "EMPTY=",
             "--tag", "t1", "--tag", "t2", "--ttl", "30m",
             "--file", f"{local}:/work/blob", "--secret",
             "store1:team/db:password:DB_PASS", "--egress", "none",
             "--wait", "1m30s"], sock=d.path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{LEASE}\n".encode()
    p = d.params("lease.acquire")
    assert p == {
        "image": "python:3.12", "cpu": "500m", "memory": "512Mi",
        "gpu_count": 2, "gpu_type": "A100",
        "env": {"A": "1", "B": "x=y", "EMPTY": ""},
        "tags": ["t1", "t2"], "ttl": 1800,
        "files": [{"path": "/work/blob", "data_b64": b64(data)}],
        "secrets": [{"store": "store1", "path": "team/db",
                     "field": "password", "env_var": "DB_PASS"}],
        "egress": "none", "wait": 90,
    }
    assert "command" not in p


def test_lease_without_options_and_json(fake):
    obj = lease_obj()
    d = fake({"lease.acquire": ok(obj)})
    r = run(["--json", "lease", "--ttl", "1500ms"], sock=d.path)
    assert r.returncode == 0
    assert json.loads(r.stdout) == obj
    assert d.params("lease.acquire") == {"ttl": 1.5}
    r = run(["lease"], sock=d.path)
    assert d.params("lease.acquire") == {}


def test_submit_sends_the_command(fake):
    d = fake({"lease.acquire": ok(lease_obj(kind="job"))})
    r = run(["submit", "--image", "alpine", "--", "python", "train.py",
             "--epochs", "3"], sock=d.path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{LEASE}\n".encode()
    assert d.params("lease.acquire") == {
        "image": "alpine", "command": ["python", "train.py", "--epochs", "3"]}


def test_acquire_failure_prints_message_and_maps_kind(fake):
    d = fake({"lease.acquire": err("sandbox_failed", -32014,
                                   "sandbox failed to start: image pull")})
    r = run(["lease"], sock=d.path)
    assert r.returncode == 1
    assert r.stderr.decode() == "sbctl: sandbox failed to start: image pull\n"


# --- exec -----------------------------------------------------------------

def exec_result(out=b"", errb=b"", code=0, **kw):
    r = {"exit_code": code, "stdout_b64": b64(out), "stderr_b64": b64(errb),
         "stdout_truncated": False, "stderr_truncated": False,
         "stdout_bytes": len(out), "stderr_bytes": len(errb)}
    r.update(kw)
    return r


def test_exec_raw_bytes_and_exit_code(fake):
    out = b"hello\n\xff\xfe\x00binary\x80"
    errb = b"warn \xc3\x28 not utf-8\n"
    d = fake({"exec": ok(exec_result(out, errb, 7))})
    r = run(["exec", "--buffered", LEASE, "--", "sh", "-c", "exit 7"],
            sock=d.path)
    assert r.returncode == 7
    assert r.stdout == out
    assert r.stderr == errb
    assert d.params("exec") == {"lease": LEASE,
                                "argv": ["sh", "-c", "exit 7"]}


def test_exec_without_double_dash_and_json_keeps_raw_streams(fake):
    d = fake({"exec": ok(exec_result(b"x\xff", b"", 0))})
    r = run(["--json", "exec", "--buffered", LEASE, "ls", "-l"],
            sock=d.path)
    assert r.returncode == 0
    assert r.stdout == b"x\xff"
    assert d.params("exec")["argv"] == ["ls", "-l"]


def test_exec_stdin_timeout_and_max_output(fake):
    d = fake({"exec": ok(exec_result(b"", b"", 0))})
    data = os.urandom(200000) + b"\x00\xff"
    r = run(["exec", "-i", "--timeout", "2m", "--max-output", "1Mi",
             LEASE, "--", "cat"], sock=d.path, stdin=data)
    assert r.returncode == 0, r.stderr
    p = d.params("exec")
    assert base64.b64decode(p["stdin_b64"]) == data
    assert p["timeout"] == 120
    assert p["max_output"] == 1048576
    # Without -i nothing is read or sent.
    run(["exec", "--buffered", LEASE, "--", "cat"], sock=d.path,
        stdin=b"ignored")
    assert "stdin_b64" not in d.params("exec")
    # Empty stdin with -i is an empty stdin_b64, not a missing one.
    run(["exec", "--buffered", "--stdin", LEASE, "--", "cat"], sock=d.path,
        stdin=b"")
    assert d.params("exec")["stdin_b64"] == ""


def test_exec_truncation_note(fake):
    d = fake({"exec": ok(exec_result(b"abc", b"", 0, stdout_truncated=True,
                                     stdout_bytes=99999))})
    r = run(["exec", "--buffered", LEASE, "--", "yes"], sock=d.path)
    assert r.returncode == 0
    assert r.stdout == b"abc"
    assert "remote stdout was truncated: 3 of 99999 bytes shown" in \
        r.stderr.decode()


def test_exec_could_not_run_exits_127(fake):
    d = fake({"exec": ok(exec_result(b"", b"", -1))})
    r = run(["exec", "--buffered", LEASE, "--", "nosuchcmd"], sock=d.path)
    assert r.returncode == 127
    assert "could not be run" in r.stderr.decode()


@pytest.mark.parametrize("kind,code,status", [
    ("not_found", -32001, 4),
    ("lease_expired", -32005, 4),
    ("lease_lost", -32015, 4),
    ("permission_denied", -32002, 77),
    ("unauthenticated", -32007, 77),
    ("gateway_unavailable", -32006, 69),
    ("budget_exceeded", -32003, 75),
    ("pool_exhausted", -32004, 75),
    ("overloaded", -32010, 75),
    ("deadline_exceeded", -32008, 124),
    ("sandbox_failed", -32014, 1),
    ("internal_error", -32603, 1),
    ("invalid_params", -32602, 1),
    ("too_large", -32009, 1),
])
def test_error_kinds_map_to_exit_statuses(fake, kind, code, status):
    d = fake({"exec": err(kind, code, f"the {kind} message"),
              "exec.start": err(kind, code, f"the {kind} message")})
    for mode in (["--buffered"], []):
        r = run(["exec", *mode, LEASE, "--", "true"], sock=d.path)
        assert r.returncode == status
        assert r.stderr.decode() == f"sbctl: the {kind} message\n"
        assert r.stdout == b""


def test_error_code_without_kind_still_maps(fake):
    d = fake({"exec.start": {"error": {"code": -32001, "message": "gone"}}})
    r = run(["exec", LEASE, "--", "true"], sock=d.path)
    assert r.returncode == 4
    assert r.stderr.decode() == "sbctl: gone\n"


def test_error_details_for_budget_and_pool(fake):
    d = fake({"lease.acquire": err("pool_exhausted", -32004, "pool empty",
                                   retry_after_ms=2500)})
    r = run(["lease"], sock=d.path)
    assert r.returncode == 75
    assert r.stderr.decode() == "sbctl: pool empty (retry after 2s500ms)\n"
    d.replies["lease.acquire"] = err(
        "budget_exceeded", -32003, "budget exceeded", budget="leases",
        limit=4, used=4)
    r = run(["lease"], sock=d.path)
    assert r.returncode == 75
    assert r.stderr.decode() == \
        "sbctl: budget exceeded (leases: used 4 of 4)\n"


# --- transport ------------------------------------------------------------

def test_notifications_and_other_ids_are_skipped(fake):
    def reply(msg, conn):
        conn.sendall(b'{"jsonrpc":"2.0","method":"exec.output",'
                     b'"params":{"x":1}}\n')
        conn.sendall(b'{"jsonrpc":"2.0","id":"other","result":{}}\n')
        return ok(STATUS)
    d = fake({"status": reply})
    r = run(["--json", "status"], sock=d.path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == STATUS


def test_eof_mid_response(fake):
    def reply(msg, conn):
        conn.sendall(b'{"jsonrpc":"2.0","id":')
        conn.shutdown(socket.SHUT_RDWR)
        return None
    d = fake({"status": reply})
    r = run(["status"], sock=d.path)
    assert r.returncode == 69
    assert r.stderr.decode() == "sbctl: sandboxd closed the connection\n"


def test_bad_json_from_daemon(fake):
    def reply(msg, conn):
        conn.sendall(b"this is not json\n")
        return None
    d = fake({"status": reply})
    r = run(["status"], sock=d.path)
    assert r.returncode == 1
    assert "sandboxd sent a bad message" in r.stderr.decode()


def test_line_over_16_mib_is_refused(fake):
    def reply(msg, conn):
        chunk = b"x" * (1 << 20)
        try:
            for _ in range(17):
                conn.sendall(chunk)
        except OSError:
            pass
        return None
    d = fake({"status": reply})
    r = run(["status"], sock=d.path)
    assert r.returncode == 1
    assert "longer than 16777216 bytes" in r.stderr.decode()


# --- run ------------------------------------------------------------------

XID = "x-4f9k2m0a"


def notify(conn, method, **params):
    conn.sendall(json.dumps({"jsonrpc": "2.0", "method": method,
                             "params": params}).encode() + b"\n")


def stream_exec(chunks=(), code=0, error=None, xid=XID, exit=True):
    """An exec.start handler: the reply, then output and exit notes."""
    def h(msg, conn):
        conn.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                 "result": {"exec": xid,
                                            "lease": msg["params"]["lease"],
                                            "detached": False}}).encode()
                     + b"\n")
        notify(conn, "exec.ready", exec=xid, session_id="s-1")
        off = 0
        for stream, data in chunks:
            notify(conn, "exec.output", exec=xid, stream=stream,
                   data_b64=b64(data), offset=off)
            off += len(data)
        if not exit:
            return None
        if error is not None:
            notify(conn, "exec.exit", exec=xid, error=error,
                   output_bytes=off)
        else:
            notify(conn, "exec.exit", exec=xid, exit_code=code,
                   output_bytes=off)
        return None
    return h


class FakeCat:
    """exec.start/write/close_stdin acting as `cat`: stdin comes back."""

    def __init__(self, code=0):
        self.data = bytearray()
        self.code = code

    def replies(self):
        return {"exec.start": stream_exec(exit=False),
                "exec.write": self.write, "exec.close_stdin": self.close}

    def write(self, msg, conn):
        chunk = base64.b64decode(msg["params"]["data_b64"])
        self.data += chunk
        return ok({"exec": XID, "bytes": len(chunk)})

    def close(self, msg, conn):
        conn.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                 "result": {"exec": XID}}).encode() + b"\n")
        notify(conn, "exec.output", exec=XID, stream="stdout",
               data_b64=b64(bytes(self.data)), offset=0)
        notify(conn, "exec.exit", exec=XID, exit_code=self.code,
               output_bytes=len(self.data))
        return None


RELEASED = ok({"lease": LEASE, "released": True})


def test_run_leases_execs_releases(fake):
    d = fake({"lease.acquire": ok(lease_obj()),
              "exec.start": stream_exec([("stdout", b"hello\n")]),
              "lease.release": RELEASED})
    r = run(["run", "--image", "alpine", "--", "echo", "hello"], sock=d.path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello\n"
    assert d.methods() == ["lease.acquire", "exec.start", "lease.release"]
    # run binds the lease to its own process.
    assert d.params("lease.acquire") == {"image": "alpine",
                                         "bind": "process"}
    assert d.params("exec.start") == {"lease": LEASE,
                                      "argv": ["echo", "hello"]}
    assert d.params("lease.release") == {"lease": LEASE}


def test_run_buffered_uses_exec(fake):
    d = fake({"lease.acquire": ok(lease_obj()),
              "exec": ok(exec_result(b"", b"oops\n", 7)),
              "lease.release": RELEASED})
    r = run(["run", "--buffered", "-i", "--timeout", "10s", "--", "sh",
             "-c", "exit 7"], sock=d.path, stdin=b"in\x00put")
    assert r.returncode == 7
    assert r.stderr == b"oops\n"
    assert base64.b64decode(d.params("exec")["stdin_b64"]) == b"in\x00put"
    assert d.params("exec")["timeout"] == 10
    assert d.methods() == ["lease.acquire", "exec", "lease.release"]


def test_run_exit_code_and_stdin(fake):
    cat = FakeCat(code=7)
    d = fake({"lease.acquire": ok(lease_obj()), "lease.release": RELEASED,
              **cat.replies()})
    data = os.urandom(300000) + b"in\x00put"
    r = run(["run", "-i", "--timeout", "10s", "--", "cat"], sock=d.path,
            stdin=data)
    assert r.returncode == 7, r.stderr
    assert r.stdout == data and bytes(cat.data) == data
    assert d.params("exec.start") == {"lease": LEASE, "argv": ["cat"],
                                      "stdin": True, "timeout": 10}
    # Chunks of at most 64 KiB, then EOF.
    with d.cond:
        writes = [m for m in d.requests if m["method"] == "exec.write"]
    assert len(writes) >= 5
    assert all(len(base64.b64decode(w["params"]["data_b64"])) <= 65536
               for w in writes)
    assert d.methods()[-2:] == ["exec.close_stdin", "lease.release"]


def test_run_keep_prints_id_and_does_not_release(fake):
    d = fake({"lease.acquire": ok(lease_obj()),
              "exec.start": stream_exec(),
              "lease.release": RELEASED})
    r = run(["run", "--keep", "--", "true"], sock=d.path)
    assert r.returncode == 0
    assert r.stderr.decode() == f"{LEASE}\n"
    assert "lease.release" not in d.methods()
    assert d.params("lease.acquire") == {"bind": "none"}
    r = run(["run", "--bind", "connection", "--", "true"], sock=d.path)
    assert d.params("lease.acquire") == {"bind": "connection"}


def test_run_releases_even_when_exec_fails(fake):
    d = fake({"lease.acquire": ok(lease_obj()),
              "exec.start": err("gateway_unavailable", -32006,
                                "gateway down"),
              "lease.release": RELEASED})
    r = run(["run", "--", "true"], sock=d.path)
    assert r.returncode == 69
    assert d.methods() == ["lease.acquire", "exec.start", "lease.release"]


@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130),
                                        (signal.SIGTERM, 143),
                                        (signal.SIGHUP, 129)])
def test_run_releases_on_signal(fake, sig, status):
    d = fake({"lease.acquire": ok(lease_obj()),
              "exec.start": HOLD,
              "lease.release": RELEASED})
    p = subprocess.Popen([sbctl_path(), "--socket", d.path, "run", "--",
                          "sleep", "1000"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        d.wait_request("exec.start")
        p.send_signal(sig)
        out, errb = p.communicate(timeout=SBCTL_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == status, errb
    assert d.methods() == ["lease.acquire", "exec.start", "lease.release"]
    assert d.params("lease.release") == {"lease": LEASE}


def test_run_signal_while_streaming_cancels_then_releases(fake):
    def cancel(msg, conn):
        conn.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                 "result": {"exec": XID, "cancelled": True}})
                     .encode() + b"\n")
        notify(conn, "exec.exit", exec=XID, output_bytes=3, error={
            "code": -32013, "message": "cancelled",
            "data": {"kind": "cancelled"}})
    d = fake({"lease.acquire": ok(lease_obj()),
              "exec.start": stream_exec([("stdout", b"up\n")], exit=False),
              "exec.cancel": cancel, "lease.release": RELEASED})
    rc, errb = interrupt_after(d.path, ["run", "--", "sleep", "1000"],
                               b"up\n", stdin=subprocess.DEVNULL)
    assert rc == 130, errb
    assert d.methods() == ["lease.acquire", "exec.start", "exec.cancel",
                           "lease.release"]
    assert d.params("exec.cancel") == {"exec": XID}


def test_run_signal_during_acquire_still_releases(fake):
    gate = threading.Event()

    def acquire(msg, conn):
        gate.wait(SBCTL_TIMEOUT)
        return ok(lease_obj())
    d = fake({"lease.acquire": acquire, "exec.start": stream_exec(),
              "lease.release": ok({"lease": LEASE, "released": True})})
    p = subprocess.Popen([sbctl_path(), "--socket", d.path, "run", "--",
                          "true"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        d.wait_request("lease.acquire")
        p.send_signal(signal.SIGINT)
        # The lease is not known yet: sbctl waits for it, then gives it back.
        time.sleep(0.2)
        gate.set()
        out, errb = p.communicate(timeout=SBCTL_TIMEOUT)
    finally:
        gate.set()
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, errb
    assert d.methods() == ["lease.acquire", "lease.release"]
    assert d.params("lease.acquire") == {"bind": "process"}


# --- cp -------------------------------------------------------------------

BINARY = bytes(range(256)) * 1024 + b"\x00\xff\r\n" + os.urandom(4096)


def test_cp_upload_binary_exact(fake, tmpdir_short):
    src = os.path.join(tmpdir_short, "data.bin")
    with open(src, "wb") as f:
        f.write(BINARY)
    d = fake({"file.write": lambda m, c: ok(
        {"path": m["params"]["path"],
         "bytes": len(base64.b64decode(m["params"]["data_b64"]))})})
    r = run(["cp", src, f"{LEASE}:/work/data.bin"], sock=d.path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b""
    p = d.params("file.write")
    assert p["lease"] == LEASE and p["path"] == "/work/data.bin"
    assert base64.b64decode(p["data_b64"], validate=True) == BINARY
    # A directory target takes the source's name; --json prints the result.
    r = run(["--json", "cp", src, f"{LEASE}:/work/"], sock=d.path)
    assert d.params("file.write")["path"] == "/work/data.bin"
    assert json.loads(r.stdout) == {"path": "/work/data.bin",
                                    "bytes": len(BINARY)}
    # "-" is stdin.
    r = run(["cp", "-", f"{LEASE}:/work/in"], sock=d.path, stdin=b"\x00\x01")
    assert r.returncode == 0
    assert base64.b64decode(d.params("file.write")["data_b64"]) == b"\x00\x01"


def test_cp_download_binary_exact(fake, tmpdir_short):
    d = fake({"file.read": lambda m, c: ok(
        {"path": m["params"]["path"], "data_b64": b64(BINARY),
         "bytes": len(BINARY)})})
    dst = os.path.join(tmpdir_short, "out.bin")
    r = run(["cp", f"{LEASE}:/work/out.bin", dst], sock=d.path)
    assert r.returncode == 0, r.stderr
    assert d.params("file.read") == {"lease": LEASE, "path": "/work/out.bin"}
    with open(dst, "rb") as f:
        assert f.read() == BINARY
    # Into a directory: the remote name is kept.
    sub = os.path.join(tmpdir_short, "dir")
    os.mkdir(sub)
    r = run(["--json", "cp", f"{LEASE}:/work/model.pt", sub], sock=d.path)
    assert r.returncode == 0
    with open(os.path.join(sub, "model.pt"), "rb") as f:
        assert f.read() == BINARY
    assert json.loads(r.stdout) == {"path": "/work/model.pt",
                                    "bytes": len(BINARY)}
    # "-" is stdout, raw.
    r = run(["cp", f"{LEASE}:/work/x", "-"], sock=d.path)
    assert r.returncode == 0
    assert r.stdout == BINARY


def test_cp_remote_error(fake, tmpdir_short):
    d = fake({"file.read": err("not_found", -32001,
                               "no such file in the sandbox: /nope")})
    r = run(["cp", f"{LEASE}:/nope", os.path.join(tmpdir_short, "x")],
            sock=d.path)
    assert r.returncode == 4
    assert r.stderr.decode() == "sbctl: no such file in the sandbox: /nope\n"
    assert not os.path.exists(os.path.join(tmpdir_short, "x"))


def test_cp_missing_local_file(fake, tmpdir_short):
    d = fake({})
    r = run(["cp", os.path.join(tmpdir_short, "nope"), f"{LEASE}:/w/x"],
            sock=d.path)
    assert r.returncode == 1
    assert "No such file or directory" in r.stderr.decode()
    assert d.methods() == []


# --- reclaim, ls, wait ----------------------------------------------------

def test_reclaim_each_lease_reports_failures(fake):
    def release(msg, conn):
        lid = msg["params"]["lease"]
        if lid == "l-bbbbbbbb":
            return err("not_found", -32001, f"no lease {lid}")
        return ok({"lease": lid, "released": True})
    d = fake({"lease.release": release})
    r = run(["reclaim", "l-aaaaaaaa", "l-bbbbbbbb", "l-cccccccc"],
            sock=d.path)
    assert r.returncode == 4
    assert r.stderr.decode() == "sbctl: l-bbbbbbbb: no lease l-bbbbbbbb\n"
    assert r.stdout == b""
    with d.cond:
        sent = [m["params"]["lease"] for m in d.requests]
    assert sent == ["l-aaaaaaaa", "l-bbbbbbbb", "l-cccccccc"]
    r = run(["--json", "release", "l-aaaaaaaa"], sock=d.path)
    assert r.returncode == 0
    assert json.loads(r.stdout) == {"lease": "l-aaaaaaaa", "released": True}


def test_ls_table_and_json(fake):
    me = pwd.getpwuid(os.getuid()).pw_name
    leases = [lease_obj(),
              lease_obj("l-zz9", sandbox_id=None, state="starting",
                        image=None, owner_uid=4000000000)]
    d = fake({"lease.list": ok({"leases": leases})})
    r = run(["ls"], sock=d.path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 3
    cols = ["LEASE", "SANDBOX", "STATE", "IMAGE", "AGE", "EXPIRES", "OWNER"]
    assert lines[0].split() == cols
    starts = [m.start() for m in re.finditer(r"\S+", lines[0])]
    for line in lines[1:]:
        for s in starts[1:]:
            assert line[s - 2:s] == "  " and line[s] != " ", line
    row = lines[1].split()
    assert row[:4] == [LEASE, "sbx-0123abcd", "ready", "python:3.12"]
    assert re.fullmatch(r"4m1\ds", row[4])
    assert re.fullmatch(r"2[45]m(\d+s)?", row[5])
    assert row[6] == me
    row = lines[2].split()
    assert row[:4] == ["l-zz9", "-", "starting", "-"]
    assert row[6] == "4000000000"
    assert d.params("lease.list") == {}
    run(["ls", "-a"], sock=d.path)
    assert d.params("lease.list") == {"all": True}
    r = run(["--json", "ls"], sock=d.path)
    assert json.loads(r.stdout) == {"leases": leases}


def test_ls_empty_prints_header(fake):
    d = fake({"lease.list": ok({"leases": []})})
    r = run(["ls"], sock=d.path)
    assert r.returncode == 0
    assert r.stdout.decode().split() == [
        "LEASE", "SANDBOX", "STATE", "IMAGE", "AGE", "EXPIRES", "OWNER"]


def test_wait_exit_code_and_failure_reason(fake):
    d = fake({"lease.wait": ok({"lease": LEASE, "state": "completed",
                                "exit_code": 3, "status_reason": ""})})
    r = run(["wait", "--timeout", "1h", LEASE], sock=d.path)
    assert r.returncode == 3
    assert r.stdout == b"" and r.stderr == b""
    assert d.params("lease.wait") == {"lease": LEASE, "timeout": 3600}
    d.replies["lease.wait"] = ok({"lease": LEASE, "state": "failed",
                                  "exit_code": 0,
                                  "status_reason": "OOMKilled"})
    r = run(["wait", LEASE], sock=d.path)
    assert r.returncode == 1
    assert r.stderr.decode() == f"sbctl: {LEASE} failed: OOMKilled\n"
    assert d.params("lease.wait") == {"lease": LEASE}
    res = {"lease": LEASE, "state": "failed", "exit_code": 2,
           "status_reason": "Error"}
    d.replies["lease.wait"] = ok(res)
    r = run(["--json", "wait", LEASE], sock=d.path)
    assert r.returncode == 2
    assert json.loads(r.stdout) == res
    d.replies["lease.wait"] = err("deadline_exceeded", -32008,
                                  "lease did not end within 1s")
    r = run(["wait", "--timeout", "1", LEASE], sock=d.path)
    assert r.returncode == 124
    assert d.params("lease.wait")["timeout"] == 1


# --- the man page matches the table ---------------------------------------

def test_man_page_documents_every_command():
    with open(os.path.join(sbxtest.SRC, "man", "sbctl.1")) as f:
        man = f.read()
    for c in COMMANDS:
        usage = run([c, "--help"]).stdout.decode().splitlines()[0]
        assert re.search(rf"^\.It (Xo\n\.)?Cm {c}\b", man, re.M), c
        # Every option in the usage line appears in the page.
        for opt in re.findall(r"--[a-z-]+|-[a-z]\b", usage):
            # mdoc writes --timeout as "Fl -timeout" and -i as "Fl i".
            assert re.search(rf"Fl {re.escape(opt[1:])}\b", man), (c, opt)
