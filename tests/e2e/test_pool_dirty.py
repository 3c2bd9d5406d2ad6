"""Never reuse dirty: a sandbox once handed to a lease is never pooled
again, whatever happens to its Stop or to the daemon (sandboxd + local
gateway)."""
import os
import signal
import time

import sbxtest
from sbxd import Daemon, Gateway, RpcError, b64, unb64
from test_pools import pool_conf, running_with_tag, wait_ready

FAST = "reconcile_interval = 1s\n"


def warm_pair(tmpdir_short, procs, extra=""):
    """A gateway and a daemon whose pool w has its two members on record
    in the state file."""
    gw = Gateway(tmpdir_short, procs)
    d = Daemon(tmpdir_short, procs, gateway=gw.target,
               daemon_conf=FAST + extra, conf_extra=pool_conf(warm=2))
    wait_ready(d, 2)
    time.sleep(0.5)                 # the coalesced state write is done
    return gw, d


def test_a_release_whose_stop_fails_is_not_pooled_again(tmpdir_short,
                                                         procs):
    faults = os.path.join(tmpdir_short, "faults")
    open(faults, "w").close()
    gw = Gateway(tmpdir_short, procs, args=["--fault-file", faults])
    d = Daemon(tmpdir_short, procs, gateway=gw.target, daemon_conf=FAST,
               conf_extra=pool_conf(warm=1, max=1))
    wait_ready(d, 1)
    a = d.call("lease.acquire", pool="w")
    d.call("file.write", lease=a["id"], path="secret",
           data_b64=b64(b"A's secret"))
    # Every Stop fails, and a replacement takes long to start: the
    # released sandbox runs on, pool-tagged and unleased, through several
    # reconciliation passes.
    with open(faults, "w") as f:
        f.write("unavailable=Stop:1\nlatency=Start:6s\n")
    gw.proc.signal(signal.SIGUSR1)
    time.sleep(0.3)
    d.call("lease.release", lease=a["id"])
    time.sleep(3.5)
    assert a["sandbox_id"] in running_with_tag(gw, "sandboxd-pool:w")
    try:
        b = d.call("lease.acquire", pool="w", wait="30s")
    finally:
        with open(faults, "w") as f:
            f.write("")
        gw.proc.signal(signal.SIGUSR1)
    assert b["sandbox_id"] != a["sandbox_id"]
    out = d.call("exec", lease=b["id"], argv=["sh", "-c", "cat secret"])
    assert unb64(out["stdout_b64"]) == b""
    # Once Stop works again, the reaper finishes what it began.
    sbxtest.wait_for(lambda: a["sandbox_id"] not in
                     running_with_tag(gw, "sandboxd"), timeout=60,
                     what="the released sandbox stopped")


def test_a_claim_just_before_a_crash_is_not_pooled_again(tmpdir_short,
                                                         procs):
    gw, d = warm_pair(tmpdir_short, procs)
    conf = pool_conf(warm=2)
    c = d.rpc()
    a = c.call("lease.acquire", pool="w")
    d.proc.signal(signal.SIGKILL)   # before the state write (100 ms)
    d.proc.wait(10)
    c.close()
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target, daemon_conf=FAST,
                conf_extra=conf)
    # The lease died with the daemon; its sandbox must not come back warm.
    assert a["id"] not in [x["id"] for x in d2.call("lease.list")["leases"]]
    sbxtest.wait_for(lambda: a["sandbox_id"] not in
                     running_with_tag(gw, "sandboxd"), timeout=60,
                     what="the claimed sandbox stopped")
    wait_ready(d2, 2)
    got = {d2.call("lease.acquire", pool="w")["sandbox_id"]
           for _ in range(2)}
    assert a["sandbox_id"] not in got
    assert "handed out before the restart" in d2.proc.output()


def test_after_a_host_crash_no_warm_sandbox_is_trusted(tmpdir_short,
                                                       procs):
    gw, d = warm_pair(tmpdir_short, procs)
    conf = pool_conf(warm=2)
    old = set(running_with_tag(gw, "sandboxd-pool:w"))
    assert len(old) == 2
    d.proc.signal(signal.SIGKILL)
    d.proc.wait(10)
    # What a reboot leaves: the journal of a run of another boot that
    # never ended cleanly (its last lines may have been lost).
    journal = os.path.join(d.state, "used")
    with open(journal) as f:
        assert f.read().startswith("boot ")
    with open(journal, "w") as f:
        f.write("boot 00000000-0000-4000-8000-000000000000\n")
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target, daemon_conf=FAST,
                conf_extra=conf)
    sbxtest.wait_for(lambda: not old & set(
        running_with_tag(gw, "sandboxd-pool:w")), timeout=60,
        what="the last run's warm sandboxes stopped")
    wait_ready(d2, 2)
    assert not old & set(running_with_tag(gw, "sandboxd-pool:w"))
    assert "host went down" in d2.proc.output()


def test_a_clean_restart_keeps_warm_members(tmpdir_short, procs):
    gw = Gateway(tmpdir_short, procs)
    conf = pool_conf(warm=2)
    keep = FAST + "keep_warm_on_shutdown = yes\n"
    d = Daemon(tmpdir_short, procs, gateway=gw.target, daemon_conf=keep,
               conf_extra=conf)
    wait_ready(d, 2)
    a = d.call("lease.acquire", pool="w")
    d.call("lease.release", lease=a["id"])
    wait_ready(d, 2)
    old = set(running_with_tag(gw, "sandboxd-pool:w"))
    d.proc.signal(signal.SIGTERM)
    assert d.proc.wait(30) == 0
    with open(os.path.join(d.state, "used")) as f:
        assert f.read().splitlines()[-1] == "clean"
    d2 = Daemon(tmpdir_short, procs, gateway=gw.target, daemon_conf=keep,
                conf_extra=conf)
    wait_ready(d2, 2)
    got = {d2.call("lease.acquire", pool="w")["sandbox_id"]
           for _ in range(2)}
    assert got == old and a["sandbox_id"] not in got
