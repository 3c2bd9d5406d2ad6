"""Multi-user security of the control socket, and where the API key is not.

A second, unprivileged user (created here) is refused on every method that
touches root's lease, exec or tail, and is shown nothing of them.  The
method list comes from daemon/rpc-dispatch.c, so a method added without a
case here fails the test until someone decides what it may do.  The API key
reaches the gateway and nowhere else: not a reply, a log line, the state
files, a command line, or the local gateway's environment; the daemon is
not dumpable.
"""
import json
import os
import re
import secrets
import stat
import subprocess
import time

import pytest

import sbxtest
from sbxd import Daemon, Gateway, Rpc, b64

OTHER = "sbxtest-other"


@pytest.fixture
def gw(tmpdir_short, procs):
    return Gateway(tmpdir_short, procs)


def other_ids():
    if subprocess.run(["id", OTHER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-M", "-s", "/bin/false", OTHER],
                       check=True)

    def num(flag):
        return int(subprocess.run(["id", flag, OTHER], capture_output=True,
                                  text=True, check=True).stdout)
    return num("-u"), num("-g")


def method_table():
    """Every method name in the daemon's table, in table order."""
    src = os.path.join(sbxtest.SRC, "daemon")
    with open(os.path.join(src, "rpc-dispatch.c")) as f:
        text = f.read()
    table = re.search(r"methods\[\]\s*=\s*\{(.*?)\};", text, re.S).group(1)
    symbols = re.findall(r"&(\w+)", table)
    names = {}
    for fn in os.listdir(src):
        if fn.startswith("method-") and fn.endswith(".c"):
            with open(os.path.join(src, fn)) as f:
                body = f.read()
            for sym, name in re.findall(
                    r"const struct rpc_method (\w+) = \{[^}]*?"
                    r"\.name\s*=\s*\"([^\"]+)\"", body, re.S):
                names[sym] = name
    missing = [s for s in symbols if s not in names]
    assert not missing, f"no .name found for {missing}"
    return [names[s] for s in symbols]


CLIENT = r"""
import json, socket, sys
reqs = json.load(sys.stdin)
s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(sys.argv[1])
f = s.makefile("rwb")
out = []
for i, (method, params) in enumerate(reqs, 1):
    f.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": method,
                        "params": params}).encode() + b"\n")
    f.flush()
    while True:
        m = json.loads(f.readline())
        if m.get("id") == i:
            out.append(m)
            break
print(json.dumps(out))
"""


def as_user(uid, gid, sock, reqs):
    """Sends (method, params) requests as uid/gid; returns the replies."""
    r = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}",
                        "--clear-groups", "/usr/bin/python3", "-c", CLIENT,
                        sock], input=json.dumps(reqs), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def cases(lease, xid, tid):
    """What the other user tries, method by method, on root's things.

    `deny`: each params set must be refused with permission_denied.
    `own`: methods that touch nothing of anyone else's (the reply must
    still not mention root's lease, exec or tail).
    """
    deny = {
        "lease.get": [{"lease": lease}],
        "lease.renew": [{"lease": lease, "ttl": 60}],
        "lease.release": [{"lease": lease}],
        "lease.wait": [{"lease": lease, "timeout": 1}],
        "lease.list": [{"all": True}],
        "exec": [{"lease": lease, "argv": ["true"]}],
        "exec.start": [{"lease": lease, "argv": ["true"]},
                       {"lease": lease, "argv": ["true"], "detach": True}],
        "exec.write": [{"exec": xid, "data_b64": b64(b"x")}],
        "exec.close_stdin": [{"exec": xid}],
        "exec.resize": [{"exec": xid, "width": 10, "height": 10}],
        "exec.cancel": [{"exec": xid}],
        "exec.attach": [{"exec": xid}],
        "exec.detach": [{"exec": xid}],
        "exec.list": [{"all": True}],
        "tail.start": [{"lease": lease}, {"lease": lease, "follow": True}],
        "tail.stop": [{"tail": tid}],
        "file.read": [{"lease": lease, "path": "secret.txt"}],
        "file.write": [{"lease": lease, "path": "x", "data_b64": b64(b"x")}],
        "pool.resize": [{"pool": "default", "warm": 0}],
        "budget.get": [{"all": True}],
    }
    own = {
        "status": {}, "lease.list": {}, "exec.list": {}, "budget.get": {},
        "pool.list": {}, "metrics": {}, "gateway.check": {},
        # takes a sandbox of the other user's own
        "lease.acquire": {},
    }
    return deny, own


def test_other_user_refused_on_every_method(tmpdir_short, procs, gw):
    uid, gid = other_ids()
    d = Daemon(tmpdir_short, procs, gateway=gw.target)
    # the group-of-the-socket model: access through the group, mode 0660
    os.chmod(tmpdir_short, 0o755)
    os.chown(d.socket, 0, gid)
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o660

    root = d.rpc()
    lease = root.call("lease.acquire")["id"]
    sid = root.call("lease.get", lease=lease)["sandbox_id"]
    root.call("file.write", lease=lease, path="secret.txt",
              data_b64=b64(b"root's secret"))
    xid = root.call("exec.start", lease=lease, argv=["sleep", "300"],
                    stdin=True)["exec"]
    tid = root.call("tail.start", lease=lease, follow=True)["tail"]

    deny, own = cases(lease, xid, tid)
    table = method_table()
    unknown = [m for m in table if m not in deny and m not in own]
    assert not unknown, f"methods without a security case: {unknown}"

    reqs = [(m, p) for m in table if m in deny for p in deny[m]]
    for m, reply in zip(reqs, as_user(uid, gid, d.socket, reqs)):
        assert "error" in reply, (m, reply)
        assert reply["error"]["data"]["kind"] == "permission_denied", \
            (m, reply)
        assert "secret" not in json.dumps(reply)

    reqs = [(m, own[m]) for m in table if m in own]
    replies = as_user(uid, gid, d.socket, reqs)
    for (m, _), reply in zip(reqs, replies):
        text = json.dumps(reply)
        for mine in (lease, sid, xid, tid):
            assert mine not in text, (m, mine, reply)
    got = dict((m, r) for (m, _), r in zip(reqs, replies))
    assert "result" in got["lease.acquire"], got["lease.acquire"]
    assert got["lease.list"]["result"]["leases"] != [] and all(
        lz["id"] != lease for lz in got["lease.list"]["result"]["leases"])
    assert got["exec.list"]["result"]["execs"] == []

    # root's things were untouched by all that
    assert root.call("lease.get", lease=lease)["state"] == "ready"
    assert root.call("file.read", lease=lease, path="secret.txt")
    assert any(x["exec"] == xid and x["state"] == "running"
               for x in root.call("exec.list")["execs"])
    root.call("tail.stop", tail=tid)
    root.call("exec.cancel", exec=xid)
    root.close()


def test_socket_and_dir_modes(tmpdir_short, procs, gw):
    rundir = os.path.join(tmpdir_short, "run", "sandboxd")
    sock = os.path.join(rundir, "sandboxd.sock")
    state = os.path.join(tmpdir_short, "state")
    conf = os.path.join(tmpdir_short, "c.conf")
    with open(conf, "w") as f:
        f.write(f"[daemon]\nsocket = {sock}\nstate_dir = {state}\n"
                f"[gateway]\naddress = {gw.target}\n")
    os.umask(0o000)     # the daemon must not rely on the caller's umask
    try:
        p = procs([sbxtest.binary("sandboxd"), "-c", conf], "modes.log",
                  dir=tmpdir_short)
    finally:
        os.umask(0o022)
    sbxtest.wait_for(lambda: sbxtest.unix_connectable(sock)
                     or not p.alive(), what="socket")
    assert p.alive(), p.output()
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660
    assert stat.S_IMODE(os.stat(rundir).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    p.stop()

    # a socket directory others may write to is refused
    os.chmod(rundir, 0o777)
    p = procs([sbxtest.binary("sandboxd"), "-c", conf], "modes2.log",
              dir=tmpdir_short)
    p.may_fail = True
    assert p.wait(timeout=30) != 0
    assert "writable by group or others" in p.output()


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(d))
    return kids


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def state_bytes(state_dir):
    """Every file under the state directory, concatenated."""
    out = b""
    for root, _, files in os.walk(state_dir):
        for fn in files:
            p = os.path.join(root, fn)
            if os.path.isfile(p) and not stat.S_ISSOCK(os.stat(p).st_mode):
                out += read_bytes(p)
    return out


class Recorder(Rpc):
    """An Rpc that keeps every byte the daemon sent."""

    def __init__(self, path):
        super().__init__(path)
        self.seen = b""

    def read_msg(self):
        m = super().read_msg()
        self.seen += json.dumps(m).encode() + b"\n"
        return m


def full_flow(sock):
    """A whole session: every kind of request, some failing; the bytes."""
    c = Recorder(sock)
    c.call("status")
    c.call("gateway.check")
    lease = c.call("lease.acquire")["id"]
    c.call("lease.get", lease=lease)
    c.call("lease.list")
    c.call("exec", lease=lease, argv=["sh", "-c", "env; echo hi"])
    c.call("file.write", lease=lease, path="f", data_b64=b64(b"data"))
    c.call("file.read", lease=lease, path="f")
    xid = c.call("exec.start", lease=lease, argv=["sh", "-c", "env"])["exec"]
    while not any(n["method"] == "exec.exit" for n in c.notifications):
        c.notifications.append(c.read_msg())
    c.call("exec.list")
    tid = c.call("tail.start", lease=lease)["tail"]
    c.call("lease.renew", lease=lease, ttl=120)
    c.call("budget.get")
    c.call("budget.get", all=True)
    c.call("pool.list")
    c.call("metrics")
    for bad in (b"{nope\n", b'{"jsonrpc":"2.0","id":9,"method":"x"}\n',
                b'{"jsonrpc":"2.0","id":10,"method":"exec",'
                b'"params":{"lease":"l-nope","argv":["true"]}}\n'):
        c.send_raw(bad)
        while "id" not in c.read_msg():
            pass    # tail notifications
    c.call("lease.release", lease=lease)
    del xid, tid
    c.close()
    return c.seen


@pytest.mark.parametrize("source", ["env", "credentials"])
def test_secret_scan(tmpdir_short, procs, source):
    key = "sbxkey-" + secrets.token_hex(16)
    keyfile = os.path.join(tmpdir_short, "gw-key")
    with open(keyfile, "w") as f:
        f.write(key + "\n")
    gw = Gateway(tmpdir_short, procs, args=["--api-key-file", keyfile,
                                            "--entity", "team"])
    env = dict(os.environ)
    for k in ("SANDBOXD_API_KEY", "WANDB_API_KEY", "CREDENTIALS_DIRECTORY"):
        env.pop(k, None)
    if source == "env":
        env["SANDBOXD_API_KEY"] = key
        env["WANDB_API_KEY"] = key + "-wandb"     # read too, then wiped
    else:
        creds = os.path.join(tmpdir_short, "creds")
        os.mkdir(creds, 0o700)
        with open(os.path.join(creds, "api-key"), "w") as f:
            f.write(key + "\n")
        os.chmod(os.path.join(creds, "api-key"), 0o600)
        env["CREDENTIALS_DIRECTORY"] = creds
    d = Daemon(tmpdir_short, procs, gateway=gw.target, env=env, args=["-v"],
               conf_extra="entity = team\n")
    seen = full_flow(d.socket)   # works only if the key reached the gateway
    needle = key.encode()
    assert needle not in seen
    assert needle not in read_bytes(f"/proc/{d.proc.pid}/cmdline")
    # unsetenv() alone leaves the bytes in the block /proc shows
    environ = read_bytes(f"/proc/{d.proc.pid}/environ")
    assert environ, "cannot read the daemon's environment"
    assert needle not in environ
    assert needle not in state_bytes(d.state)
    d.proc.stop()
    # what the daemon leaves behind: its log and its state directory
    assert key not in d.proc.output()
    assert needle not in state_bytes(d.state)
    assert b"sbxkey-" not in seen


def test_local_gateway_child_gets_no_key(tmpdir_short, procs):
    key = "sbxkey-" + secrets.token_hex(16)
    env = dict(os.environ, SANDBOXD_API_KEY=key, WANDB_API_KEY=key + "w")
    d = Daemon(tmpdir_short, procs, gateway="local", env=env)
    assert d.call("status") is not None
    def gateways():
        # Sanitizer runtimes may start a symbolizer child too: skip it.
        return [p for p in children_of(d.proc.pid)
                if b"sandbox-gateway-local" in
                read_bytes(f"/proc/{p}/cmdline")]

    kids = sbxtest.wait_for(gateways, timeout=30,
                            what="the local gateway child")
    needle = key.encode()
    for pid in kids:
        environ = read_bytes(f"/proc/{pid}/environ")
        assert environ, "cannot read the child's environment"
        assert needle not in environ
        assert needle not in read_bytes(f"/proc/{pid}/cmdline")
    assert needle not in read_bytes(f"/proc/{d.proc.pid}/cmdline")
    assert key not in d.proc.output()


def test_daemon_is_not_dumpable(tmpdir_short, procs):
    """Run as an ordinary user, the daemon's memory and environment are
    closed even to that same user (PR_SET_DUMPABLE 0), unlike a plain
    process of theirs."""
    uid, gid = other_ids()
    os.chmod(tmpdir_short, 0o755)
    home = os.path.join(tmpdir_short, "u")
    os.mkdir(home, 0o700)
    os.chown(home, uid, gid)
    conf = os.path.join(home, "c.conf")
    with open(conf, "w") as f:
        f.write(f"[daemon]\nsocket = {home}/s.sock\nstate_dir = {home}/st\n"
                f"[gateway]\naddress = unix:{home}/no-gateway.sock\n")
    user = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    env = {"PATH": os.environ["PATH"], "HOME": home,
           "SANDBOXD_API_KEY": "sbxkey-dumpable"}
    p = procs(user + [sbxtest.binary("sandboxd"), "-c", conf], "nd.log",
              dir=tmpdir_short, env=env)
    sbxtest.wait_for(lambda: sbxtest.unix_connectable(f"{home}/s.sock")
                     or not p.alive(), what="socket")
    assert p.alive(), p.output()
    plain = procs(user + ["sleep", "300"], "sleep.log", dir=tmpdir_short,
                  env=env)
    time.sleep(0.2)

    def cat_as_user(pid):
        return subprocess.run(user + ["cat", f"/proc/{pid}/environ"],
                              capture_output=True)
    assert cat_as_user(plain.pid).returncode == 0
    r = cat_as_user(p.pid)
    assert r.returncode != 0 and b"sbxkey" not in r.stdout
    assert b"Permission denied" in r.stderr
