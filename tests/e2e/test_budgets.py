"""Budgets and lifetimes, enforced centrally by sandboxd."""
import json
import os
import subprocess
import sys
import time

import pytest

import sbxtest
from sbxd import Daemon, Gateway, RpcError
from test_durability import status_of


@pytest.fixture
def gw(tmpdir_short, procs):
    return Gateway(tmpdir_short, procs)


def with_budget(tmpdir_short, procs, gw, budget, extra=""):
    return Daemon(tmpdir_short, procs, gateway=gw.target,
                  conf_extra="[budget]\n" + budget + extra)


def stopped(gw, sid):
    return status_of(gw, sid) in (3, 4, 5)


def refused(d, budget, **params):
    with pytest.raises(RpcError) as e:
        d.call("lease.acquire", **params)
    assert e.value.kind == "budget_exceeded", e.value
    assert e.value.data["budget"] == budget
    return e.value


def test_max_leases_per_user(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw, "max_leases = 2\n")
    a = d.call("lease.acquire")
    d.call("lease.acquire")
    e = refused(d, "max_leases")
    assert e.data["limit"] == 2 and e.data["used"] == 2
    assert "2" in e.message
    d.call("lease.release", lease=a["id"])
    d.call("lease.acquire")


def test_max_sandboxes_counts_warm_ones(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw, "max_sandboxes = 2\n",
                    "[pool.w]\nwarm = 1\n")
    sbxtest.wait_for(lambda: d.call("pool.list")["pools"][0]["ready"] == 1,
                     what="warm")
    a = d.call("lease.acquire")          # cold: 1 leased + 1 warm
    e = refused(d, "max_sandboxes")
    assert e.data["limit"] == 2
    d.call("lease.release", lease=a["id"])
    b = d.call("lease.acquire", pool="w")
    assert b["warm"]
    # the refill is held back too: the host is at its cap
    time.sleep(1.5)
    assert d.call("pool.list")["pools"][0]["starting"] == 0


def test_ttl_caps(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw,
                    "max_lease_ttl = 1m\ndefault_lease_ttl = 20s\n")
    refused(d, "max_lease_ttl", ttl=120)
    lease = d.call("lease.acquire")
    assert lease["ttl_s"] == 20


def test_sandbox_seconds_window(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw,
                    "sandbox_seconds = 2\nwindow = 6s\n")
    lease = d.call("lease.acquire")
    # granted only what is left, it ends when the budget does
    assert lease["expires_at"] - time.time() <= 2.1
    sbxtest.wait_for(lambda: d.call("lease.list")["leases"] == [],
                     what="lease expired with its budget")
    assert d.call("budget.get")["used"]["sandbox_seconds"] == 2
    refused(d, "sandbox_seconds")
    # the window forgets, and the budget frees up again
    sbxtest.wait_for(lambda: d.call("budget.get")["used"]["sandbox_seconds"]
                     < 2, timeout=30, what="window passes")
    d.call("lease.acquire")


def test_renew_within_and_beyond(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw, "max_lease_ttl = 1m\n"
                    "default_lease_ttl = 30s\n")
    lease = d.call("lease.acquire", ttl=10)
    renewed = d.call("lease.renew", lease=lease["id"], ttl=30)
    assert renewed["expires_at"] > lease["expires_at"] + 15
    assert renewed["ttl_s"] == 30
    with pytest.raises(RpcError) as e:
        d.call("lease.renew", lease=lease["id"], ttl=600)
    assert e.value.kind == "budget_exceeded"
    assert e.value.data["budget"] == "max_lease_ttl"


def test_expiry_notifies_then_stops(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw, "")
    c = d.rpc()
    lease = c.call("lease.acquire", ttl=2)
    methods = []
    while "lease.expired" not in methods:
        m = c.read_msg()
        assert "method" in m, m
        methods.append(m["method"])
        assert m["params"]["lease"] == lease["id"]
    assert methods == ["lease.expiring", "lease.expired"]
    # the issue's own promise: stopped at the gateway within 2 s
    sbxtest.wait_for(lambda: stopped(gw, lease["sandbox_id"]),
                     what="sandbox stopped at the gateway")
    assert time.time() - lease["expires_at"] <= 2.0
    stops = sbxtest.wait_for(lambda: d.call("status")["expiry_stops"]
                             if d.call("status")["expiry_stops"]["confirmed"]
                             else None, what="stop confirmed")
    assert 0 <= stops["max_ms_after_deadline"] <= 2000
    with pytest.raises(RpcError) as e:
        c.call("lease.renew", lease=lease["id"])
    assert e.value.kind == "lease_expired"


def test_bind_connection(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw, "")
    c = d.rpc()
    lease = c.call("lease.acquire", bind="connection")
    assert lease["bind"] == "connection"
    assert d.call("lease.list")["leases"][0]["id"] == lease["id"]
    c.close()
    sbxtest.wait_for(lambda: d.call("lease.list")["leases"] == [],
                     what="lease released with its connection")
    sbxtest.wait_for(lambda: stopped(gw, lease["sandbox_id"]),
                     what="sandbox stopped")


def test_bind_process_kill9(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw, "")
    holder = ("import sys, time; sys.path.insert(0, %r); from sbxd import "
              "Rpc; c = Rpc(%r); c.call('lease.acquire', bind='process'); "
              "print('ok', flush=True); c.close(); time.sleep(600)"
              % (os.path.dirname(__file__), d.socket))
    p = subprocess.Popen([sys.executable, "-c", holder],
                         stdout=subprocess.PIPE)
    assert p.stdout.readline().strip() == b"ok"
    leases = d.call("lease.list")["leases"]
    assert len(leases) == 1 and leases[0]["bind"] == "process"
    p.kill()
    p.wait()
    sbxtest.wait_for(lambda: d.call("lease.list")["leases"] == [],
                     what="lease released when its process died")
    sbxtest.wait_for(lambda: stopped(gw, leases[0]["sandbox_id"]),
                     what="sandbox stopped")


def test_renew_racing_expiry(tmpdir_short, procs, gw):
    """Either the renewal wins or the lease expired: never both, never a
    running sandbox without a lease."""
    d = with_budget(tmpdir_short, procs, gw, "")
    c = d.rpc()
    for delay in (0.90, 0.95, 0.99, 1.0, 1.01, 1.05):
        lease = c.call("lease.acquire", ttl=1)
        time.sleep(delay - 0.02)
        try:
            c.call("lease.renew", lease=lease["id"], ttl=30)
        except RpcError as e:
            # expired: refused as expired, gone, its sandbox stopped
            assert e.kind == "lease_expired", e
            with pytest.raises(RpcError) as again:
                c.call("lease.renew", lease=lease["id"], ttl=30)
            assert again.value.kind == "lease_expired"
            assert all(x["id"] != lease["id"]
                       for x in c.call("lease.list")["leases"])
            sbxtest.wait_for(lambda: stopped(gw, lease["sandbox_id"]),
                             what="no sandbox left without a lease")
            continue
        # renewed: alive past the old deadline, never told it expired
        time.sleep(max(0, lease["expires_at"] + 0.5 - time.time()))
        assert c.call("lease.get", lease=lease["id"])["state"] == "ready"
        assert status_of(gw, lease["sandbox_id"]) == 2
        assert not any(n["method"] == "lease.expired" and
                       n["params"]["lease"] == lease["id"]
                       for n in c.notifications)
        c.call("lease.release", lease=lease["id"])
        sbxtest.wait_for(lambda: stopped(gw, lease["sandbox_id"]),
                         what="released sandbox stopped")
    c.close()


def test_accounting_survives_restart(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw, "")
    lease = d.call("lease.acquire")
    time.sleep(2)
    d.call("lease.release", lease=lease["id"])
    used = d.call("budget.get")["used"]["sandbox_seconds"]
    assert used >= 2
    d.proc.signal(15)
    assert d.proc.wait(30) == 0
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target)
    assert d2.call("budget.get")["used"]["sandbox_seconds"] >= used
    if os.geteuid() == 0:       # everyone's accounts: root's (or admins')
        everyone = d2.call("budget.get", all=True)
        assert any(u["uid"] == 0 for u in everyone["users"])


def test_other_user_cannot_touch(tmpdir_short, procs, gw):
    user = "sbxtest-other"
    if subprocess.run(["id", user], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-M", "-s", "/bin/false", user],
                       check=True)
    uid = int(subprocess.run(["id", "-u", user], capture_output=True,
                             text=True).stdout)
    d = with_budget(tmpdir_short, procs, gw, "",
                    f"[budget.user.{user}]\nmax_leases = 1\n")
    os.chmod(tmpdir_short, 0o755)
    os.chmod(d.socket, 0o666)
    mine = d.call("lease.acquire")["id"]
    for args in (["exec", mine, "--", "true"], ["reclaim", mine]):
        r = d.sbctl(*args, user=uid)
        assert r.returncode == 77, (args, r.stderr)
    r = d.sbctl("--json", "ls", user=uid)
    assert mine.encode() not in r.stdout
    # nor hear how one of them ended
    d.call("lease.release", lease=mine)
    r = d.sbctl("renew", mine, user=uid)
    assert r.returncode == 77, (r.returncode, r.stderr)
    mine = d.call("lease.acquire")["id"]
    # their own budget applies to them: one lease, then refused
    r = d.sbctl("lease", user=uid)
    assert r.returncode == 0, r.stderr
    r = d.sbctl("lease", user=uid)
    assert r.returncode == 75, r.stderr


def make_user(name, groups=()):
    for g in groups:
        if subprocess.run(["getent", "group", g],
                          capture_output=True).returncode != 0:
            subprocess.run(["groupadd", g], check=True)
    if subprocess.run(["id", name], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-M", "-s", "/bin/false", name],
                       check=True)
    if groups:
        subprocess.run(["usermod", "-a", "-G", ",".join(groups), name],
                       check=True)
    return int(subprocess.run(["id", "-u", name], capture_output=True,
                              text=True).stdout)


def open_socket(d):
    os.chmod(d.dir, 0o755)
    os.chmod(d.socket, 0o666)


def test_window_counts_overlap_only(tmpdir_short, procs, gw):
    """A lease held longer than the window uses at most the window, and
    its use does not jump when it is released."""
    d = with_budget(tmpdir_short, procs, gw,
                    "sandbox_seconds = 1000\nwindow = 3s\n")
    lease = d.call("lease.acquire", ttl=60)
    time.sleep(5)
    before = d.call("budget.get")["used"]["sandbox_seconds"]
    d.call("lease.release", lease=lease["id"])
    after = d.call("budget.get")["used"]["sandbox_seconds"]
    assert before == 3 and after <= 3, (before, after)


def test_max_lifetime_is_a_hard_cap(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw,
                    "max_lifetime = 4s\ndefault_lease_ttl = 4s\n")
    e = refused(d, "max_lifetime", ttl=10)
    assert e.data["limit"] == 4 and "max_lifetime" in e.message
    lease = d.call("lease.acquire", ttl=4)
    # upstream gets the cap as is (no ttl + margin): the lease ends with it
    assert lease["expires_at"] <= lease["sandbox_ends_at"] + 0.001
    assert lease["sandbox_ends_at"] - lease["created_at"] <= 4.5
    with pytest.raises(RpcError) as e:
        d.call("lease.renew", lease=lease["id"], ttl=30)
    assert e.value.kind == "budget_exceeded"
    assert e.value.data["budget"] == "max_lifetime"
    sbxtest.wait_for(lambda: stopped(gw, lease["sandbox_id"]), timeout=10,
                     what="sandbox gone at its max_lifetime")


def test_refusal_names_the_binding_ttl_cap(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw,
                    "max_lifetime = 30s\nmax_lease_ttl = 1m\n"
                    "default_lease_ttl = 10s\n")
    assert refused(d, "max_lifetime", ttl=45).data["limit"] == 30
    sub = os.path.join(tmpdir_short, "d2")
    os.makedirs(sub)
    d2 = Daemon(sub, procs, gateway=gw.target,
                conf_extra="[budget]\nmax_lifetime = 2m\n"
                "max_lease_ttl = 1m\ndefault_lease_ttl = 10s\n")
    assert refused(d2, "max_lease_ttl", ttl=90).data["limit"] == 60


def test_pool_lifetime_above_budget_is_a_config_error(tmpdir_short, procs,
                                                       gw):
    with pytest.raises(RuntimeError) as e:
        with_budget(tmpdir_short, procs, gw, "max_lifetime = 10m\n",
                    "[pool.w]\nwarm = 0\nmax_lifetime = 20m\n")
    assert "[pool.w] max_lifetime (1200s) is longer than [budget] " \
        "max_lifetime (600s)" in str(e.value)


def test_warm_lease_renew_within_user_max_lifetime(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw, "",
                    "[budget.user.root]\nmax_lifetime = 1m\n"
                    "default_lease_ttl = 10s\n[pool.w]\nwarm = 1\n")
    sbxtest.wait_for(lambda: d.call("pool.list")["pools"][0]["ready"] == 1,
                     what="warm")
    lease = d.call("lease.acquire", pool="w", ttl=10)
    assert lease["warm"]
    with pytest.raises(RpcError) as e:
        d.call("lease.renew", lease=lease["id"], ttl=1800)
    assert e.value.data["budget"] == "max_lifetime"
    d.call("lease.renew", lease=lease["id"], ttl=30)


def test_acquire_capped_by_sandbox_seconds(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw,
                    "sandbox_seconds = 3\nwindow = 1h\n")
    c = d.rpc()
    lease = c.call("lease.acquire", ttl=60)
    # the granted ttl is what is left of the budget, and says why
    assert lease["expires_at"] - time.time() <= 3.5
    while True:
        m = c.read_msg()
        if m.get("method") == "lease.expired":
            break
    assert m["params"]["reason"] == "sandbox_seconds"
    other = refused(d, "sandbox_seconds")
    assert other.data["limit"] == 3
    c.close()


def test_renew_within_and_past_sandbox_seconds(tmpdir_short, procs, gw):
    """A renewal never reaches past the budget: brought in while some is
    left, refused (sandbox_seconds) once none is, before the lease ends."""
    d = with_budget(tmpdir_short, procs, gw,
                    "sandbox_seconds = 3\nwindow = 1h\n")
    c = d.rpc()
    lease = c.call("lease.acquire", ttl=60)
    end = lease["expires_at"]
    while True:
        try:
            r = c.call("lease.renew", lease=lease["id"], ttl=60)
        except RpcError as e:
            assert e.kind == "budget_exceeded", e
            assert e.data["budget"] == "sandbox_seconds"
            assert e.data["limit"] == 3
            break
        assert r["expires_at"] <= end + 0.05, "renewed past the budget"
        time.sleep(0.02)
    c.close()


def test_running_leases_stop_when_the_budget_runs_out(tmpdir_short, procs,
                                                       gw):
    d = with_budget(tmpdir_short, procs, gw,
                    "sandbox_seconds = 10\nwindow = 1h\n")
    c = d.rpc()
    a = c.call("lease.acquire", ttl=60)
    b = c.call("lease.acquire", ttl=60)
    # each got the ~10 s left; together they use it in about 5
    assert 8 < b["expires_at"] - time.time() <= 10.5
    expired, methods = {}, []
    while len(expired) < 2:
        m = c.read_msg()
        methods.append((m.get("method"), m["params"].get("reason")))
        if m.get("method") == "lease.expired":
            expired[m["params"]["lease"]] = m["params"]
    assert {a["id"], b["id"]} == set(expired)
    assert all(p["reason"] == "sandbox_seconds" for p in expired.values())
    assert time.time() < b["expires_at"], "stopped by the budget, early"
    assert ("lease.expiring", "sandbox_seconds") in methods
    c.close()


def test_accounting_survives_sigkill(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw, "", "[pool.w]\nwarm = 1\n")
    sbxtest.wait_for(lambda: d.call("pool.list")["pools"][0]["ready"] == 1,
                     what="warm")
    lease = d.call("lease.acquire", ttl=60)
    time.sleep(3)
    d.call("lease.release", lease=lease["id"])
    time.sleep(0.3)
    d.proc.signal(9)
    d.proc.wait(30)
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target,
                conf_extra="[pool.w]\nwarm = 1\n")
    assert d2.call("budget.get")["used"]["sandbox_seconds"] >= 3
    # the warm member's time up to the restart is the pool's
    assert d2.call("budget.get", all=True)["pool_sandbox_seconds"]["w"] >= 3


def test_status_host_totals(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw, "max_sandboxes = 5\n")
    a = d.call("lease.acquire")
    time.sleep(2)
    d.call("lease.release", lease=a["id"])
    d.call("lease.acquire")
    host = d.call("status")["host"]
    assert host["sandbox_seconds"] >= 2
    assert host["sandboxes"] == 1 and host["max_sandboxes"] == 5
    assert host["pool_sandbox_seconds"] == 0
    r = d.sbctl("status")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "sandboxes: 1 of 5\n" in out
    assert "sandbox-seconds: %d in the last 1d" % host["sandbox_seconds"] \
        in out


def test_max_sandboxes_counts_starting_ones(tmpdir_short, procs):
    slow = Gateway(tmpdir_short, procs, args=["--start-delay-ms", "3000"],
                   name="slow")
    d = with_budget(tmpdir_short, procs, slow, "max_sandboxes = 1\n")
    c = d.rpc()
    c.send("lease.acquire", {})
    sbxtest.wait_for(lambda: d.call("status")["leases"] == 1,
                     what="one lease starting")
    e = refused(d, "max_sandboxes")
    assert e.data["used"] == 1
    c.close()


def test_admin_group_applied_on_reload(tmpdir_short, procs, gw):
    admin = make_user("sbxtest-adm", ["sbxtest-admins"])
    other = make_user("sbxtest-other")
    d = with_budget(tmpdir_short, procs, gw, "")
    open_socket(d)
    r = d.sbctl("--json", "lease", user=other)
    assert r.returncode == 0, r.stderr
    theirs = json.loads(r.stdout)["id"]
    assert d.sbctl("ls", "-a", user=admin).returncode == 77
    with open(d.conf) as f:
        conf = f.read()
    with open(d.conf, "w") as f:
        f.write(conf.replace("[daemon]\n",
                             "[daemon]\nadmin_group = sbxtest-admins\n", 1))
    d.proc.signal(1)
    sbxtest.wait_for(lambda: d.sbctl("ls", "-a", user=admin).returncode
                     == 0, timeout=10, what="admin_group reloaded")
    r = d.sbctl("--json", "ls", "-a", user=admin)
    assert theirs.encode() in r.stdout
    # a non-member still sees only their own, and may not reclaim others'
    mine = d.call("lease.acquire")["id"]
    assert d.sbctl("ls", "-a", user=other).returncode == 77
    assert d.sbctl("reclaim", mine, user=other).returncode == 77
    r = d.sbctl("reclaim", theirs, user=admin)
    assert r.returncode == 0, r.stderr
    assert all(x["id"] != theirs for x in d.call("lease.list",
                                                 all=True)["leases"])
    # an ended lease is no one else's business either
    assert d.sbctl("renew", theirs, user=other).returncode != 77
    d.call("lease.release", lease=mine)
    r = d.sbctl("renew", mine, user=other)
    assert r.returncode == 77, r.stderr


def test_group_and_user_overrides(tmpdir_short, procs, gw):
    member = make_user("sbxtest-ml1", ["sbxtest-ml"])
    special = make_user("sbxtest-ml2", ["sbxtest-ml"])
    d = with_budget(tmpdir_short, procs, gw, "",
                    "[budget.group.sbxtest-ml]\nmax_leases = 1\n"
                    "max_lease_ttl = 30s\ndefault_lease_ttl = 10s\n"
                    "[budget.user.sbxtest-ml2]\nmax_leases = 2\n")
    open_socket(d)
    r = d.sbctl("--json", "lease", user=member)
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    assert first["ttl_s"] == 10          # the group's default ttl
    assert d.sbctl("lease", user=member).returncode == 75   # group: 1
    for _ in range(2):                   # user section beats the group
        assert d.sbctl("lease", user=special).returncode == 0
    assert d.sbctl("lease", user=special).returncode == 75
    # root renewing the member's lease is held to the owner's policy
    with pytest.raises(RpcError) as e:
        d.call("lease.renew", lease=first["id"], ttl=60)
    assert e.value.data["budget"] == "max_lease_ttl"
    assert e.value.data["limit"] == 30


def test_renew_by_admin_uses_the_owners_groups(tmpdir_short, procs, gw):
    """Root's own group (gid 0) has a stricter section: renewing another
    user's lease as root must not apply it to that user."""
    other = make_user("sbxtest-other")
    d = with_budget(tmpdir_short, procs, gw, "",
                    "[budget.group.root]\nmax_lease_ttl = 30s\n"
                    "default_lease_ttl = 10s\n")
    open_socket(d)
    r = d.sbctl("--json", "lease", "--ttl", "20s", user=other)
    assert r.returncode == 0, r.stderr
    theirs = json.loads(r.stdout)["id"]
    assert d.call("lease.renew", lease=theirs, ttl=60)["ttl_s"] == 60
    mine = d.call("lease.acquire")["id"]
    with pytest.raises(RpcError) as e:
        d.call("lease.renew", lease=mine, ttl=60)
    assert e.value.data["budget"] == "max_lease_ttl"
