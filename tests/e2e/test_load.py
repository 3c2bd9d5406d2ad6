"""Many clients at once against a warm pool: correctness only.

The short version of `bench/load` (bench/run.sh runs the long one with
1000 clients and reports p99): 200 connections open at once, each leasing,
executing and releasing in a loop for 20 s.  Every reply must be the right
one, no lease may be left, the daemon's fds must come back to where they
were and its RSS may not grow by more than a leak would explain.  No
timing is asserted (the load client's own overall timeout only turns a
hang into a clear failure).
"""
import json
import os
import subprocess

import sbxtest
from sbxd import Daemon, Gateway

CLIENTS = 200
SECONDS = 20
# A leak check, not a measurement: 200 clients x 3 requests x thousands of
# iterations would leave far more behind than this if each leaked anything.
RSS_GROWTH_KIB = 32 * 1024


def test_many_clients_lease_exec_release(tmpdir_short, procs):
    gw = Gateway(tmpdir_short, procs, args=["--isolation", "none"])
    d = Daemon(tmpdir_short, procs, gateway=gw.target,
               conf_extra="[pool.load]\ndefault = yes\nwarm = 16\n"
                          "max_starting = 8\n")
    sbxtest.wait_for(lambda: any(
        p["name"] == "load" and p.get("ready", 0) > 0
        for p in d.call("pool.list")["pools"]), timeout=60,
        what="a warm sandbox")
    r = subprocess.run([sbxtest.binary("bench/load"), d.socket,
                        str(CLIENTS), str(SECONDS), "load",
                        str(d.proc.pid)],
                       capture_output=True, text=True, timeout=SECONDS + 240)
    assert r.stdout, r.stderr
    res = json.loads(r.stdout)
    assert r.returncode == 0, res
    assert res["failed"] == 0, res
    assert res["iterations"] > 0, res
    assert res["requests"] == 3 * res["iterations"], res
    # nothing left behind: no lease, no client, fds back where they were
    assert d.call("lease.list", all=True)["leases"] == []
    st = d.call("status")
    assert st["clients"] == 1, st
    assert res["fds_after_wave1"] <= res["fds_before"], res
    assert res["fds_after"] <= res["fds_before"], res
    assert res["rss_before_kib"] > 0, res
    if os.environ.get("SANDBOXD_SANITIZE") != "1":
        # Sanitizer builds keep freed memory in quarantine (and shadow it):
        # RSS says nothing there, LeakSanitizer checks leaks instead.
        for k in ("rss_after_wave1_kib", "rss_after_kib"):
            assert res[k] - res["rss_before_kib"] < RSS_GROWTH_KIB, res
    assert d.proc.alive()
