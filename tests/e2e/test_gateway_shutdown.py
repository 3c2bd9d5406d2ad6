"""sandbox-gateway-local: shutdown, leftovers, restart, isolation none."""
import os
import signal

import sbxtest
from gwclient import Gateway, gateway_factory, gwdir, have_bwrap  # noqa


def busy_gateway(g):
    c = g.client
    ids = [c.start_running(command="sh", args=["-c", "sleep 600 & "
                                               "sleep 600"])
           for _ in range(3)]
    # setsid -w: the escape is complete before the exec's command exits.
    c.exec(ids[0], "setsid", "-w", "sh", "-c",
           "sleep 600 >/dev/null 2>&1 &")
    return ids


def test_sigterm_exits_zero_and_leaves_nothing(gwdir):
    g = Gateway(gwdir)
    busy_gateway(g)
    assert len(g.leftovers()) >= 6
    assert g.stop(signal.SIGTERM) == 0
    assert g.leftovers() == []
    # A graceful exit removes its unix socket (a stale one, left by a
    # killed gateway, is removed by the next start).
    assert not os.path.exists(g.sock)


def test_sigkill_then_restart_cleans_leftovers(gwdir):
    g = Gateway(gwdir)
    busy_gateway(g)
    marker = g.marker
    os.kill(g.proc.pid, signal.SIGKILL)
    g.proc.wait()
    # bwrap's --die-with-parent ends the sandboxes; whatever escaped it
    # (isolation none) is found and killed by the next run.
    g2 = Gateway(gwdir)
    try:
        sbxtest.wait_for(lambda: sbxtest.pids_with_env(marker) == [],
                         timeout=20, what="old run's processes gone")
        assert not [d for d in os.listdir(g2.root) if d.startswith("sbx-")]
        assert g2.run_id != marker.split("=")[1]
    finally:
        assert g2.stop() == 0
    assert g2.leftovers() == []


def test_isolation_none_sigkill_then_restart(gwdir):
    g = Gateway(gwdir, "--isolation", "none")
    c = g.client
    sid = c.start_running(command="sh", args=["-c", "setsid sleep 600 & "
                                              "sleep 600"])
    r = c.exec(sid, "pwd")
    assert r.stdout.decode().strip() == os.path.join(g.root, sid, "work")
    assert c.call("AddFile", sandbox_id=sid, filepath="f",
                  file_contents=b"x").success
    assert c.exec(sid, "cat", "f").stdout == b"x"
    marker = g.marker
    sbxtest.wait_for(lambda: len(sbxtest.pids_with_env(marker)) >= 2,
                     what="sandbox processes")
    os.kill(g.proc.pid, signal.SIGKILL)
    g.proc.wait()
    # The keepers learn of the death and kill their trees, escaped sleep
    # included, before any restart.
    sbxtest.wait_for(lambda: sbxtest.pids_with_env(marker) == [],
                     timeout=20, what="the killed run's processes gone")
    g2 = Gateway(gwdir, "--isolation", "none")
    try:
        assert not [d for d in os.listdir(g2.root) if d.startswith("sbx-")]
    finally:
        assert g2.stop() == 0
    assert g2.leftovers() == []


def test_isolation_bwrap_is_reported(gwdir):
    g = Gateway(gwdir)
    try:
        mode = "bwrap" if have_bwrap() else "none"
        assert f"isolation {mode}" in g.proc.output()
    finally:
        g.stop()
