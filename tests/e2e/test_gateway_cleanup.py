"""sandbox-gateway-local: no process of a sandbox outlives it, however it
tried to leave (setsid, env -i, double fork), in each isolation mode; Pause
stops them all.

Leftovers are found by a unique argument of theirs in /proc/PID/cmdline,
which none of those escapes changes (the gateway's own marker variable is
exactly what env -i drops)."""
import os
import signal

import pytest

import sbxtest
from gwclient import (Gateway, gateway_factory, gwdir,  # noqa: F401
                      isolation_modes, pids_with_arg, proc_state, token)


class Escapes:
    """A sandbox whose main command and an Exec leave processes behind."""

    def __init__(self, client, **start):
        self.c = client
        self.main = [token() for _ in range(4)]
        self.execd = [token() for _ in range(2)]
        a, b, c, d = self.main
        self.sid = client.start_running(command="sh", args=[
            "-c", f"setsid sleep {a} & setsid env -i sleep {b} & "
            f"(sleep {c} &); sleep {d}"], **start)
        e, f = self.execd
        # The Exec's group is killed when it exits: it waits until both
        # have left it (each says so once in its own session).
        r = client.exec(self.sid, "sh", "-c",
                        f"setsid sh -c 'echo > e1; exec env -i sleep {e}' "
                        f">/dev/null 2>&1 & "
                        f"setsid sh -c 'echo > e2; sh -c \"sleep {f}\"' "
                        f">/dev/null 2>&1 & "
                        "while [ ! -e e1 ] || [ ! -e e2 ]; do sleep 0.01; "
                        "done")
        assert r.exit_code == 0
        sbxtest.wait_for(lambda: all(self.pids()), what="escaped processes")

    @property
    def tokens(self):
        return self.main + self.execd

    def pids(self):
        """One list of pids per token."""
        return [pids_with_arg(t) for t in self.tokens]

    def left(self):
        return {t: p for t, p in zip(self.tokens, self.pids()) if p}


@pytest.mark.parametrize("iso", isolation_modes())
def test_stop_kills_every_process_of_that_sandbox_only(gateway_factory, iso):
    g = gateway_factory("--isolation", iso)
    victim = Escapes(g.client)
    bystander = Escapes(g.client)
    assert g.client.call("Stop", sandbox_id=victim.sid,
                         graceful_shutdown_seconds=1).success
    # Stop answers once the sandbox is over: nothing of it is left then.
    assert victim.left() == {}
    assert all(bystander.pids()), bystander.left()
    assert g.client.exec(bystander.sid, "true").exit_code == 0


@pytest.mark.parametrize("iso", isolation_modes())
def test_main_command_exit_kills_what_it_left(gateway_factory, iso):
    g = gateway_factory("--isolation", iso)
    c = g.client
    a, b = token(), token()
    sid = c.start(command="sh", args=[
        "-c", f"setsid sleep {a} & setsid env -i sleep {b} & exit 3"])
    r = c.wait_status(sid, c.gw.SANDBOX_STATUS_FAILED)
    assert r.exit_code == 3
    assert pids_with_arg(a) == [] and pids_with_arg(b) == []


@pytest.mark.parametrize("iso", isolation_modes())
def test_sigterm_leaves_no_process(gwdir, iso):
    g = Gateway(gwdir, "--isolation", iso)
    try:
        boxes = [Escapes(g.client) for _ in range(2)]
    finally:
        assert g.stop(signal.SIGTERM) == 0
    # The gateway exits once every sandbox process is gone.
    for b in boxes:
        assert b.left() == {}


def keepers_of(gateway_pid):
    """Pids of the keepers (comm sbxk-...) a gateway started."""
    found = []
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except (OSError, ValueError):
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if comm.startswith("sbxk-") and ppid == gateway_pid:
            found.append(int(d))
    return found


@pytest.mark.parametrize("iso", isolation_modes())
def test_sigkill_leaves_no_process(gwdir, iso):
    """A gateway killed with SIGKILL cannot clean up: with bwrap,
    --die-with-parent ends each sandbox; without, each keeper is told by
    the kernel (PR_SET_PDEATHSIG) and kills its tree.  No restart needed."""
    g = Gateway(gwdir, "--isolation", iso)
    try:
        boxes = [Escapes(g.client) for _ in range(2)]
    finally:
        os.kill(g.proc.pid, signal.SIGKILL)
        g.stop()
    for b in boxes:
        sbxtest.wait_for(lambda: b.left() == {}, timeout=10,
                         what="the killed gateway's sandboxes gone")


def test_keepers_are_a_small_program_of_their_own(gateway_factory):
    """Without isolation each command runs under sandbox-gateway-keeper,
    exec'd: a fork of the gateway would keep a copy of its memory per
    command."""
    g = gateway_factory("--isolation", "none")
    Escapes(g.client)
    keepers = keepers_of(g.proc.pid)
    # The main command's and the Exec's (still running its escapees).
    assert len(keepers) == 2
    gateway_exe = os.readlink(f"/proc/{g.proc.pid}/exe")
    for k in keepers:
        exe = os.readlink(f"/proc/{k}/exe")
        assert os.path.basename(exe) == "sandbox-gateway-keeper"
        assert exe != gateway_exe
        with open(f"/proc/{k}/maps") as f:
            assert "libgrpc" not in f.read()
        # Nothing of the request's environment (LD_PRELOAD, say) reaches
        # the keeper itself; its command has it all.
        with open(f"/proc/{k}/environ", "rb") as f:
            assert f.read() == b""


def test_restart_kills_what_stopped_keepers_kept(gwdir):
    """The next start is the backstop: keepers that could not act on
    their gateway's death (stopped here) are found by name and their
    trees killed."""
    g = Gateway(gwdir, "--isolation", "none")
    try:
        box = Escapes(g.client)
        keepers = keepers_of(g.proc.pid)
        assert keepers
        for k in keepers:
            os.kill(k, signal.SIGSTOP)
    finally:
        os.kill(g.proc.pid, signal.SIGKILL)
        g.stop()
    assert all(box.pids())
    g2 = Gateway(gwdir, "--isolation", "none")
    try:
        assert box.left() == {}
        # Dead (a zombie if nothing reaps orphans here).
        assert all(proc_state(k) in (None, "Z") for k in keepers)
        assert "killed the leftover processes" in g2.proc.output()
    finally:
        assert g2.stop() == 0


@pytest.mark.parametrize("iso", isolation_modes())
def test_pause_stops_every_process(gateway_factory, iso):
    g = gateway_factory("--isolation", iso)
    box = Escapes(g.client)

    def states():
        return {proc_state(p) for pids in box.pids() for p in pids}

    assert g.client.call("Pause", sandbox_id=box.sid).success
    sbxtest.wait_for(lambda: states() == {"T"}, timeout=10,
                     what="every process stopped")
    assert g.client.call("Resume", sandbox_id=box.sid).success
    sbxtest.wait_for(lambda: "T" not in states(), timeout=10,
                     what="every process running again")
    assert g.client.call("Stop", sandbox_id=box.sid).success
    assert box.left() == {}
