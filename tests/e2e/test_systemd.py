"""sandboxd as a systemd service: units, sd_notify, watchdog, socket
activation, credentials, and `sbctl doctor`.

The daemon runs for real (against a real sandbox-gateway-local) with the
environment systemd would give it: NOTIFY_SOCKET on a datagram socket the
test owns, WATCHDOG_USEC/WATCHDOG_PID, LISTEN_FDS/LISTEN_PID with a socket
the test made as fd 3, CREDENTIALS_DIRECTORY.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

import sbxtest
from sbxd import Gateway, Rpc, RpcError

UNITS = os.path.join(sbxtest.SRC, "systemd")


def clean_env(home, **extra):
    """The test's environment without systemd's or any key's variables."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SANDBOXD_", "WANDB_", "CWSANDBOX_",
                                "NOTIFY_", "WATCHDOG_", "LISTEN_"))
           and k != "CREDENTIALS_DIRECTORY"}
    env["HOME"] = home
    env.update(extra)
    return env


def write_conf(d, gateway, socket_path=None, extra=""):
    conf = os.path.join(d, "sandboxd.conf")
    with open(conf, "w") as f:
        f.write(f"[daemon]\nsocket = {socket_path or d + '/sandboxd.sock'}\n"
                f"state_dir = {d}/state\n"
                f"[gateway]\naddress = {gateway}\nlocal_root = {d}/gwroot\n"
                f"{extra}")
    return conf


class FdProc(sbxtest.Proc):
    """sbxtest.Proc that also passes file descriptors to the child."""

    def __init__(self, argv, logpath, env, pass_fds):
        self.argv = argv
        self.logpath = logpath
        self.log = open(logpath, "ab")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                  stdout=self.log, stderr=subprocess.STDOUT,
                                  env=env, start_new_session=True,
                                  pass_fds=pass_fds)
        self.pid = self.p.pid


def start(d, procs, gateway, env, wrapper=(), pass_fds=None, extra="",
          args=()):
    """sandboxd -c CONF under an optional wrapper; returns (proc, socket).

    With pass_fds the caller stops the process (procs cannot pass fds).
    `extra` is config text after [gateway] ([pool.x]); `args` more flags.
    """
    conf = write_conf(d, gateway, extra=extra)
    argv = [*wrapper, sbxtest.binary("sandboxd"), "-c", conf, *args]
    if pass_fds is not None:
        p = FdProc(argv, os.path.join(d, "sandboxd.log"), env, pass_fds)
    else:
        p = procs(argv, "sandboxd.log", env=env, dir=d)
    return p, os.path.join(d, "sandboxd.sock")


def wait_socket(p, sock):
    sbxtest.wait_for(lambda: sbxtest.unix_connectable(sock)
                     or not p.alive(), timeout=30, what="sandboxd socket")
    assert p.alive(), p.output()


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, d):
        self.path = os.path.join(d, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []
        self.times = []  # time.monotonic() each message arrived

    def close(self):
        self.sock.close()

    def _read(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        fields = dict(line.split("=", 1) for line in
                      data.decode().split("\n") if "=" in line)
        self.messages.append(fields)
        self.times.append(time.monotonic())
        return True

    def wait(self, pred, timeout=30, what="notification", after=0):
        """The first message from index `after` on that satisfies pred."""
        deadline = time.monotonic() + timeout
        i = after
        while True:
            while i < len(self.messages):
                if pred(self.messages[i]):
                    return i, self.messages[i]
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what} in {self.messages}")
            self._read(left)


@pytest.fixture
def gw(tmpdir_short, procs):
    return Gateway(tmpdir_short, procs)


@pytest.fixture
def notify(tmpdir_short):
    n = NotifySocket(tmpdir_short)
    yield n
    n.close()


# --- units -------------------------------------------------------------------

def analyze():
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed (apt-get install "
                    "systemd)")
    return path


def units_copy(d):
    """The units with ExecStart pointing at the built binary."""
    u = os.path.join(d, "units")
    os.makedirs(os.path.join(u, "sandboxd.service.d"))
    with open(os.path.join(UNITS, "sandboxd.service")) as f:
        text = f.read()
    assert "ExecStart=/usr/local/sbin/sandboxd " in text
    with open(os.path.join(u, "sandboxd.service"), "w") as f:
        f.write(text.replace("/usr/local/sbin/sandboxd",
                             sbxtest.binary("sandboxd")))
    shutil.copy(os.path.join(UNITS, "sandboxd.socket"), u)
    return u


def test_units_verify(tmpdir_short):
    """systemd-analyze verify: no errors and no ignored lines, drop-in too."""
    sa = analyze()
    u = units_copy(tmpdir_short)
    shutil.copy(os.path.join(UNITS, "sandboxd-local-gateway.conf"),
                os.path.join(u, "sandboxd.service.d", "local-gateway.conf"))
    r = subprocess.run([sa, "verify", "--man=no",
                        os.path.join(u, "sandboxd.service"),
                        os.path.join(u, "sandboxd.socket")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for bad in ("Unknown", "ignoring", "Failed", "rror"):
        assert bad not in r.stderr, r.stderr


def test_security_exposure_at_most_2(tmpdir_short):
    """The hardened unit scores ≤ 2.0 in systemd-analyze security."""
    sa = analyze()
    u = units_copy(tmpdir_short)
    r = subprocess.run([sa, "security", "--offline=yes", "--no-pager",
                        os.path.join(u, "sandboxd.service")],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for sandboxd.service: "
                  r"([0-9.]+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout
    # The figure recorded in the unit's header is the one measured.
    with open(os.path.join(UNITS, "sandboxd.service")) as f:
        assert f"exposure: {m.group(1)} " in f.read()


def test_local_gateway_dropin_exposure_recorded(tmpdir_short):
    """With the gateway = local drop-in the unit scores what the README
    says (it relaxes the hardening; the figure must not drift)."""
    sa = analyze()
    u = units_copy(tmpdir_short)
    shutil.copy(os.path.join(UNITS, "sandboxd-local-gateway.conf"),
                os.path.join(u, "sandboxd.service.d", "local-gateway.conf"))
    r = subprocess.run([sa, "security", "--offline=yes", "--no-pager",
                        os.path.join(u, "sandboxd.service")],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for sandboxd.service: "
                  r"([0-9.]+)", r.stdout)
    assert m, r.stdout + r.stderr
    with open(os.path.join(sbxtest.SRC, "README.md")) as f:
        readme = f.read()
    assert re.search(r"drop-in[^*]*scores \*\*" + re.escape(m.group(1)) +
                     r"\*\*", readme), m.group(1)


def test_missing_key_file_does_not_fail_the_unit():
    """LoadCredential= alone fails the unit (243/CREDENTIALS) when
    /etc/sandboxd/api-key is missing: a SetCredential= of the same id is
    the fallback (a blank line, which sandboxd takes as no key)."""
    with open(os.path.join(UNITS, "sandboxd.service")) as f:
        lines = f.read().splitlines()
    assert "LoadCredential=api-key:/etc/sandboxd/api-key" in lines
    assert "SetCredential=api-key:\\n" in lines


def test_sysusers_and_tmpfiles_apply(tmpdir_short):
    """Into an empty root: sysusers makes the user, tmpfiles uses its group."""
    sysusers = shutil.which("systemd-sysusers")
    tmpfiles = shutil.which("systemd-tmpfiles")
    if sysusers is None or tmpfiles is None:
        pytest.skip("systemd-sysusers/systemd-tmpfiles are not installed")
    root = os.path.join(tmpdir_short, "root")
    os.makedirs(os.path.join(root, "etc"))
    for argv in ([sysusers, "--root", root,
                  os.path.join(UNITS, "sysusers.conf")],
                 [tmpfiles, "--create", "--root", root,
                  os.path.join(UNITS, "tmpfiles.conf")]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "Failed" not in r.stderr, r.stderr
    with open(os.path.join(root, "etc", "passwd")) as f:
        user = [x for x in f.read().splitlines()
                if x.startswith("sandboxd:")]
    assert len(user) == 1 and user[0].split(":")[6].endswith("nologin")
    with open(os.path.join(root, "etc", "group")) as f:
        gid = [x.split(":")[2] for x in f.read().splitlines()
               if x.startswith("sandboxd:")][0]
    st = os.stat(os.path.join(root, "etc", "sandboxd"))
    assert st.st_gid == int(gid) and st.st_mode & 0o777 == 0o750


# --- sd_notify ---------------------------------------------------------------

def test_notify_ready_status_reload_stop(tmpdir_short, procs, gw, notify):
    """READY=1 once the socket accepts; STATUS kept current (leases,
    pools warm, gateway); RELOADING=1 then READY=1 on SIGHUP; STOPPING=1
    on SIGTERM."""
    env = clean_env(tmpdir_short, NOTIFY_SOCKET=notify.path)
    p, sock = start(tmpdir_short, procs, gw.target, env,
                    extra="[pool.w]\nwarm = 1\n")
    i, ready = notify.wait(lambda m: m.get("READY") == "1", what="READY=1")
    # Sent only after the control socket listens: it accepts right now.
    assert sbxtest.unix_connectable(sock)
    assert "0 leases" in ready["STATUS"]
    assert re.search(r"; pools [01]/1 warm; gateway ", ready["STATUS"]), ready
    i, _ = notify.wait(lambda m: "pools 1/1 warm" in m.get("STATUS", ""),
                       what="STATUS with the pool warm", after=i)

    rpc = Rpc(sock)
    lease = rpc.call("lease.acquire")["id"]
    i, _ = notify.wait(lambda m: "1 lease " in m.get("STATUS", ""),
                       what="STATUS with one lease", after=i)
    rpc.call("lease.release", lease=lease)
    rpc.close()
    i, _ = notify.wait(lambda m: "0 leases" in m.get("STATUS", ""),
                       what="STATUS back to 0 leases", after=i)

    p.signal(signal.SIGHUP)
    i, rel = notify.wait(lambda m: m.get("RELOADING") == "1",
                         what="RELOADING=1", after=i)
    assert int(rel["MONOTONIC_USEC"]) > 0
    i, _ = notify.wait(lambda m: m.get("READY") == "1",
                       what="READY=1 after reload", after=i)

    p.signal(signal.SIGTERM)
    notify.wait(lambda m: m.get("STOPPING") == "1", what="STOPPING=1",
                after=i)
    assert p.wait(timeout=30) == 0


WATCHDOG_WRAPPER = ["sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; '
                    'exec "$@"', "sh"]


def test_watchdog_pings(tmpdir_short, procs, gw, notify):
    """WATCHDOG_USEC=200ms for our pid: WATCHDOG=1 keeps coming."""
    env = clean_env(tmpdir_short, NOTIFY_SOCKET=notify.path,
                    WATCHDOG_USEC="200000")
    p, sock = start(tmpdir_short, procs, gw.target, env,
                    wrapper=WATCHDOG_WRAPPER)
    i, pings = 0, []
    for n in range(9):
        i, _ = notify.wait(lambda m: m.get("WATCHDOG") == "1",
                           what=f"WATCHDOG=1 #{n + 1}", after=i)
        pings.append(notify.times[i])
        i += 1
    assert "watchdog: pinging systemd every 100 ms" in p.output()
    # Every half of WATCHDOG_USEC: the median gap is about 100 ms.
    gaps = sorted(b - a for a, b in zip(pings, pings[1:]))
    median = (gaps[3] + gaps[4]) / 2
    assert 0.05 <= median <= 0.15, gaps


def test_ready_after_state_leases_restored(tmpdir_short, procs, gw, notify):
    """A restart with a lease in the state file: when READY=1 comes, the
    lease is already back (restored and checked with the gateway)."""
    p, sock = start(tmpdir_short, procs, gw.target, clean_env(tmpdir_short))
    wait_socket(p, sock)
    rpc = Rpc(sock)
    lease = rpc.call("lease.acquire", ttl=600)
    rpc.close()
    p.signal(signal.SIGTERM)
    assert p.wait(timeout=30) == 0
    with open(os.path.join(tmpdir_short, "state", "state.json")) as f:
        assert lease["id"] in f.read()

    env = clean_env(tmpdir_short, NOTIFY_SOCKET=notify.path)
    p, sock = start(tmpdir_short, procs, gw.target, env)
    notify.wait(lambda m: m.get("READY") == "1", what="READY=1")
    rpc = Rpc(sock)
    leases = rpc.call("lease.list")["leases"]
    rpc.close()
    assert [(x["id"], x["sandbox_id"], x["state"]) for x in leases] == [
        (lease["id"], lease["sandbox_id"], "ready")]


def test_ready_with_gateway_unreachable(tmpdir_short, procs, notify):
    """No gateway: READY=1 still comes, so the socket serves and a lease
    fails fast with the gateway's error instead of hanging."""
    env = clean_env(tmpdir_short, NOTIFY_SOCKET=notify.path)
    p, sock = start(tmpdir_short, procs,
                    "unix:" + os.path.join(tmpdir_short, "no-gw.sock"), env)
    notify.wait(lambda m: m.get("READY") == "1", what="READY=1", timeout=60)
    rpc = Rpc(sock)
    t0 = time.monotonic()
    with pytest.raises(RpcError) as e:
        rpc.call("lease.acquire")
    rpc.close()
    assert e.value.kind in ("gateway_unavailable", "deadline_exceeded")
    assert time.monotonic() - t0 < 60


def test_watchdog_for_another_pid_is_ignored(tmpdir_short, procs, gw,
                                             notify):
    """WATCHDOG_PID names someone else (a parent): no watchdog here."""
    env = clean_env(tmpdir_short, NOTIFY_SOCKET=notify.path,
                    WATCHDOG_USEC="200000", WATCHDOG_PID=str(os.getpid()))
    p, sock = start(tmpdir_short, procs, gw.target, env)
    notify.wait(lambda m: m.get("READY") == "1", what="READY=1")
    # The watchdog is set up (and logged) before READY=1 is sent.
    assert "watchdog:" not in p.output()
    assert not any("WATCHDOG" in m for m in notify.messages)


def test_no_notify_socket_no_trouble(tmpdir_short, procs, gw):
    env = clean_env(tmpdir_short)
    p, sock = start(tmpdir_short, procs, gw.target, env)
    wait_socket(p, sock)
    assert Rpc(sock).call("status")["leases"] == 0


# --- logging -----------------------------------------------------------------

def lease_events(output):
    """[(event, {field: value})] from the stderr lines with LEASE_EVENT=."""
    out = []
    for line in output.splitlines():
        fields = dict(m.groups() for m in
                      re.finditer(r" ([A-Z_]+)=(\S*)", line))
        if "LEASE_EVENT" in fields:
            out.append((fields["LEASE_EVENT"], fields))
    return out


def events_of(p, lease, event):
    return [f for e, f in lease_events(p.output())
            if f["LEASE_ID"] == lease and e == event]


def test_lease_events_carry_journal_fields(tmpdir_short, procs, gw):
    """acquire, renew, release (sbctl reclaim), expiry, the owner gone:
    each logged with LEASE_ID, SANDBOX_ID, OWNER_UID, and POOL when the
    lease came from a pool (on stderr the fields follow the message)."""
    p, sock = start(tmpdir_short, procs, gw.target, clean_env(tmpdir_short),
                    extra="[pool.w]\nwarm = 1\n")
    wait_socket(p, sock)
    uid = str(os.getuid())
    rpc = Rpc(sock)
    sbxtest.wait_for(lambda: rpc.call("pool.list")["pools"][0]["ready"] == 1,
                     timeout=60, what="a warm sandbox")
    pooled = rpc.call("lease.acquire", pool="w")
    plain = rpc.call("lease.acquire")
    rpc.call("lease.renew", lease=plain["id"], ttl=600)
    r = subprocess.run([sbxtest.binary("sbctl"), "--socket", sock, "reclaim",
                        plain["id"]], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    short = rpc.call("lease.acquire", ttl=1)
    bound = Rpc(sock)
    gone = bound.call("lease.acquire", bind="connection")
    bound.close()
    sbxtest.wait_for(lambda: events_of(p, short["id"], "expired")
                     and events_of(p, gone["id"], "owner_gone"),
                     what="expiry and owner-gone events")
    rpc.close()

    for lease, event in ((pooled, "acquired"), (plain, "acquired"),
                         (plain, "renewed"), (plain, "released"),
                         (short, "expired"), (gone, "owner_gone")):
        found = events_of(p, lease["id"], event)
        assert len(found) == 1, (lease["id"], event, p.output())
        f = found[0]
        assert f["SANDBOX_ID"] == lease["sandbox_id"], f
        assert f["OWNER_UID"] == uid, f
        if lease is pooled:
            assert f["POOL"] == "w", f
        else:
            assert "POOL" not in f, f


def test_lease_never_handed_out_is_logged_reclaimed(tmpdir_short, procs):
    """The client leaves while its sandbox starts: the daemon reclaims
    the lease, and says so with the lease's fields."""
    gw = Gateway(tmpdir_short, procs, args=["--fault", "latency=Start:1s"])
    p, sock = start(tmpdir_short, procs, gw.target, clean_env(tmpdir_short))
    wait_socket(p, sock)
    c, watcher = Rpc(sock), Rpc(sock)
    c.send("lease.acquire", {})
    starting = sbxtest.wait_for(lambda: watcher.call("lease.list")["leases"],
                                what="the lease, starting")
    c.close()
    watcher.close()
    ev = sbxtest.wait_for(lambda: [f for e, f in lease_events(p.output())
                                   if e == "reclaimed"],
                          what="a reclaimed lease")
    assert ev[0]["OWNER_UID"] == str(os.getuid())
    assert ev[0]["LEASE_ID"] == starting[0]["id"]
    assert "client went away" in p.output()


def test_verbosity_levels_and_reload(tmpdir_short, procs, gw):
    """-v logs debug lines, -vv also each gateway call; a SIGHUP reload
    (the file says verbose = 0) keeps the command line's level."""
    v1 = os.path.join(tmpdir_short, "v1")
    os.makedirs(v1)
    p1, sock1 = start(v1, procs, gw.target, clean_env(v1), args=["-v"])
    p2, sock2 = start(tmpdir_short, procs, gw.target,
                      clean_env(tmpdir_short), args=["-vv"])
    for p, sock in ((p1, sock1), (p2, sock2)):
        wait_socket(p, sock)
        rpc = Rpc(sock)
        rpc.call("lease.release", lease=rpc.call("lease.acquire")["id"],
                 wait=True)
        rpc.close()
    call_re = re.compile(r"^sandboxd: debug: gateway Start: OK after \d+ us$",
                         re.M)
    assert "sandboxd: debug: " in p1.output()
    assert not call_re.search(p1.output()), p1.output()
    assert call_re.search(p2.output()), p2.output()

    p2.signal(signal.SIGHUP)
    sbxtest.wait_for(lambda: "configuration reloaded" in p2.output(),
                     what="reload")
    rpc = Rpc(sock2)
    rpc.call("lease.acquire")
    rpc.close()
    after = p2.output().split("configuration reloaded", 1)[1]
    assert call_re.search(after), after


# --- socket activation -------------------------------------------------------

# Becomes the daemon: the test's socket as fd 3 and LISTEN_PID = our pid,
# which exec keeps (sd_listen_fds checks LISTEN_PID == getpid()).
ACTIVATE = ("import os, sys\n"
            "fd = int(sys.argv[1])\n"
            "if fd != 3:\n"
            "    os.dup2(fd, 3)\n"
            "    os.close(fd)\n"
            "os.environ['LISTEN_FDS'] = '1'\n"
            "os.environ['LISTEN_PID'] = str(os.getpid())\n"
            "os.execv(sys.argv[2], sys.argv[2:])\n")


def test_socket_activation_serves_on_fd3(tmpdir_short, procs, gw):
    d = tmpdir_short
    path = os.path.join(d, "activated.sock")
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(16)
    env = clean_env(d)
    p, own = start(d, procs, gw.target, env,
                   wrapper=["/usr/bin/python3", "-c", ACTIVATE,
                            str(lsock.fileno())],
                   pass_fds=(lsock.fileno(),))
    lsock.close()  # only the daemon holds it now
    try:
        rpc = Rpc(path, timeout=30)
        st = rpc.call("status")
        assert st["pid"] == p.pid
        assert rpc.call("lease.list")["leases"] == []
        rpc.close()
        assert not os.path.exists(own), "made its own socket too"
        assert "a socket from systemd" in p.output()
        r = subprocess.run([sbxtest.binary("sbctl"), "--socket", path,
                            "run", "--", "echo", "activated"],
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"activated\n"
    finally:
        p.stop()


def test_socket_activation_for_another_pid_ignored(tmpdir_short, procs, gw):
    """LISTEN_PID not ours: the fds are not for us; we make our socket."""
    env = clean_env(tmpdir_short, LISTEN_FDS="1",
                    LISTEN_PID=str(os.getpid()))
    p, sock = start(tmpdir_short, procs, gw.target, env)
    wait_socket(p, sock)
    assert Rpc(sock).call("status")["leases"] == 0


# --- credentials -------------------------------------------------------------

KEY = "sbx-credential-test-key-0123456789"


def keyed_gateway(d, procs):
    keyfile = os.path.join(d, "gw-api-key")
    with open(keyfile, "w") as f:
        f.write(KEY + "\n")
    return Gateway(d, procs, args=["--api-key-file", keyfile,
                                   "--entity", "sbx-entity"])


def creds_dir(d, key, name="creds"):
    """A credentials directory; key "" gives what the unit's
    SetCredential=api-key:\\n leaves when /etc/sandboxd/api-key is missing."""
    c = os.path.join(d, name)
    os.makedirs(c, mode=0o700)
    fd = os.open(os.path.join(c, "api-key"), os.O_WRONLY | os.O_CREAT,
                 0o400)
    os.write(fd, (key + "\n").encode())
    os.close(fd)
    return c


def test_credentials_directory_provides_key(tmpdir_short, procs):
    d = tmpdir_short
    gw = keyed_gateway(d, procs)
    env = clean_env(d, CREDENTIALS_DIRECTORY=creds_dir(d, KEY),
                    WANDB_ENTITY_NAME="sbx-entity")
    p, sock = start(d, procs, gw.target, env)
    wait_socket(p, sock)
    assert "key from $CREDENTIALS_DIRECTORY/api-key" in p.output()
    assert KEY not in p.output()
    check = Rpc(sock).call("gateway.check")
    assert check["ok"] is True, check
    r = subprocess.run([sbxtest.binary("sbctl"), "--socket", sock, "run",
                        "--", "echo", "keyed"], capture_output=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"keyed\n"


def test_credentials_directory_wrong_key_refused(tmpdir_short, procs):
    d = tmpdir_short
    gw = keyed_gateway(d, procs)
    env = clean_env(d, CREDENTIALS_DIRECTORY=creds_dir(d, "not-the-key"),
                    WANDB_ENTITY_NAME="sbx-entity")
    p, sock = start(d, procs, gw.target, env)
    wait_socket(p, sock)
    check = Rpc(sock).call("gateway.check")
    assert check["ok"] is False
    assert check["kind"] == "unauthenticated", check


# --- sbctl doctor ------------------------------------------------------------

def doctor(sock, *args):
    return subprocess.run([sbxtest.binary("sbctl"), "--socket", sock,
                           *args, "doctor"], capture_output=True, text=True,
                          timeout=120)


def test_doctor_all_well(tmpdir_short, procs, gw):
    p, sock = start(tmpdir_short, procs, gw.target, clean_env(tmpdir_short))
    wait_socket(p, sock)
    r = doctor(sock)
    assert r.returncode == 0, r.stdout + r.stderr
    for check in ("socket", "daemon", "gateway", "auth", "clock"):
        assert re.search(rf"^ok +{check} ", r.stdout, re.M), r.stdout
    j = json.loads(doctor(sock, "--json").stdout)
    assert j["ok"] is True
    assert [c["check"] for c in j["checks"]] == [
        "socket", "daemon", "gateway", "auth", "clock"]


def test_doctor_no_daemon(tmpdir_short):
    r = doctor(os.path.join(tmpdir_short, "nothing.sock"))
    assert r.returncode == 69
    assert re.search(r"^FAIL +socket .*not running", r.stdout, re.M)
    assert "fix: start sandboxd" in r.stdout


def test_doctor_broken_gateway(tmpdir_short, procs, gw):
    """The gateway dies: doctor says it is unreachable, exits 69."""
    p, sock = start(tmpdir_short, procs, gw.target, clean_env(tmpdir_short))
    wait_socket(p, sock)
    gw.proc.stop()
    r = doctor(sock)
    assert r.returncode == 69, r.stdout + r.stderr
    assert re.search(r"^ok +daemon ", r.stdout, re.M), r.stdout
    assert re.search(r"^FAIL +gateway .*not reachable \(gateway_unavailable"
                     r"\)", r.stdout, re.M), r.stdout
    assert "fix: check [gateway] address" in r.stdout
    assert re.search(r"^skip +auth ", r.stdout, re.M), r.stdout
    assert p.alive()


def test_doctor_bad_key(tmpdir_short, procs):
    """The gateway refuses the key: doctor says so, exits 77."""
    d = tmpdir_short
    gw = keyed_gateway(d, procs)
    env = clean_env(d, SANDBOXD_API_KEY="wrong-key",
                    WANDB_ENTITY_NAME="sbx-entity")
    p, sock = start(d, procs, gw.target, env)
    wait_socket(p, sock)
    r = doctor(sock)
    assert r.returncode == 77, r.stdout + r.stderr
    assert re.search(r"^ok +gateway ", r.stdout, re.M), r.stdout
    assert re.search(r"^FAIL +auth .*refused our key \(unauthenticated\)",
                     r.stdout, re.M), r.stdout
    assert "fix: give sandboxd a valid key" in r.stdout
    assert "wrong-key" not in r.stdout + r.stderr
    j = json.loads(doctor(sock, "--json").stdout)
    assert j["ok"] is False
    auth = [c for c in j["checks"] if c["check"] == "auth"][0]
    assert auth["result"] == "FAIL" and "valid key" in auth["fix"]


def pool_of(rpc, name):
    return [x for x in rpc.call("pool.list")["pools"] if x["name"] == name][0]


def test_doctor_pools(tmpdir_short, procs):
    """A healthy pool is ok; a pool whose starts the gateway refuses is a
    failure with the gateway's reason and what to fix (exit 1)."""
    d = tmpdir_short
    faults = os.path.join(d, "faults")
    gw = Gateway(d, procs, args=["--fault-file", faults])
    p, sock = start(d, procs, gw.target, clean_env(d),
                    extra="[pool.good]\nwarm = 1\n[pool.bad]\nwarm = 0\n")
    wait_socket(p, sock)
    rpc = Rpc(sock)
    sbxtest.wait_for(lambda: pool_of(rpc, "good")["ready"] == 1,
                     timeout=60, what="the good pool warm")
    r = doctor(sock)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^ok +pool +good: 1/1 warm$", r.stdout, re.M), r.stdout
    assert re.search(r"^ok +pool +bad: 0/0 warm$", r.stdout, re.M), r.stdout

    # From now on the gateway refuses every Start: only "bad" starts.
    with open(faults, "w") as f:
        f.write("unavailable=Start:1\n")
    gw.proc.signal(signal.SIGUSR1)
    sbxtest.wait_for(lambda: "faults reloaded" in gw.proc.output(),
                     what="faults reloaded")
    rpc.call("pool.resize", pool="bad", warm=1)
    sbxtest.wait_for(lambda: pool_of(rpc, "bad")["start_failures"] >= 1,
                     timeout=60, what="a failed start")
    rpc.close()
    r = doctor(sock)
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(r"^ok +pool +good: 1/1 warm$", r.stdout, re.M), r.stdout
    assert re.search(r"^FAIL +pool +bad: 0/1 warm, \d+ start\(s\) failed, "
                     r"retrying in [0-9.]+ s: .*injected fault", r.stdout,
                     re.M), r.stdout
    assert "fix: check [pool.bad] in sandboxd.conf" in r.stdout
    j = json.loads(doctor(sock, "--json").stdout)
    bad = [c for c in j["checks"] if c["check"] == "pool"
           and c["detail"].startswith("bad:")][0]
    assert bad["result"] == "FAIL" and "pool resize bad 0" in bad["fix"]


def test_doctor_remote_gateway_without_key(tmpdir_short, procs):
    """No key at all (as when /etc/sandboxd/api-key is missing and the
    unit's empty default stands in): doctor names the missing key."""
    d = tmpdir_short
    gw = keyed_gateway(d, procs)
    env = clean_env(d, CREDENTIALS_DIRECTORY=creds_dir(d, ""),
                    WANDB_ENTITY_NAME="sbx-entity")
    p, sock = start(d, procs, gw.target, env)
    wait_socket(p, sock)
    assert "key from none" in p.output()
    r = doctor(sock)
    assert r.returncode == 77, r.stdout + r.stderr
    assert re.search(r"^FAIL +auth +sandboxd has no API key", r.stdout,
                     re.M), r.stdout
    assert "fix: put the key in /etc/sandboxd/api-key" in r.stdout
