"""Budgets and lifetimes, enforced centrally by sandboxd."""
import os
import subprocess
import sys
import threading
import time

import pytest

import gwclient
import sbxtest
from sbxd import Daemon, Gateway, RpcError


@pytest.fixture
def gw(tmpdir_short, procs):
    return Gateway(tmpdir_short, procs)


def with_budget(tmpdir_short, procs, gw, budget, extra=""):
    return Daemon(tmpdir_short, procs, gateway=gw.target,
                  conf_extra="[budget]\n" + budget + extra)


def sandbox_status(gw, sid):
    c = gwclient.Client(gw.target)
    try:
        return c.call("Get", sandbox_id=sid).sandbox_status
    finally:
        c.close()


def stopped(gw, sid):
    return sandbox_status(gw, sid) in (3, 4, 5)


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
    sbxtest.wait_for(lambda: d.call("budget.get")["used"]["sandbox_seconds"]
                     >= 2, what="2 sandbox-seconds used")
    d.call("lease.release", lease=lease["id"])
    refused(d, "sandbox_seconds")
    # the window forgets, and the budget frees up again
    sbxtest.wait_for(lambda: d.call("budget.get")["used"]["sandbox_seconds"]
                     < 2, timeout=30, what="window passes")
    d.call("lease.acquire")


def test_renew_within_and_beyond(tmpdir_short, procs, gw):
    d = with_budget(tmpdir_short, procs, gw, "max_lease_ttl = 1m\n")
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
    sbxtest.wait_for(lambda: stopped(gw, lease["sandbox_id"]),
                     what="sandbox stopped at the gateway")
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
    outcomes = set()
    for delay in (0.90, 0.95, 0.99, 1.0, 1.01, 1.05):
        lease = d.call("lease.acquire", ttl=1)
        time.sleep(delay - 0.02)
        try:
            d.call("lease.renew", lease=lease["id"], ttl=30)
            outcomes.add("renewed")
            assert d.call("lease.get", lease=lease["id"])["state"] == "ready"
            assert sandbox_status(gw, lease["sandbox_id"]) == 2
            d.call("lease.release", lease=lease["id"])
        except RpcError as e:
            assert e.kind == "lease_expired", e
            outcomes.add("expired")
            assert all(x["id"] != lease["id"]
                       for x in d.call("lease.list")["leases"])
        sbxtest.wait_for(lambda: stopped(gw, lease["sandbox_id"]),
                         what="no sandbox left without a lease")
    assert outcomes


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
    # their own budget applies to them: one lease, then refused
    r = d.sbctl("lease", user=uid)
    assert r.returncode == 0, r.stderr
    r = d.sbctl("lease", user=uid)
    assert r.returncode == 75, r.stderr
