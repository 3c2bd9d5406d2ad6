"""sbctl exec -t and job control: a stopped sbctl gives the shell back its
terminal, and takes raw mode (and the window size) back when continued."""
import os
import pty
import signal
import time

from test_sbctl_cli import XID, LEASE, fake, notify, sbctl_path  # noqa
from test_sbctl_stream import Pty, is_raw, tty_fake


class JobPty(Pty):
    """sbctl as a foreground job of the pty's session, the way a shell
    runs it: its own process group, whose parent (the session leader,
    standing in for the shell) is in the same session.  An orphaned group
    (pty.fork's child alone) would have its stop signals discarded."""

    def __init__(self, argv, rows=30, cols=100):
        r, w = os.pipe()
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.close(r)
                job = os.fork()
                if job == 0:
                    os.setpgid(0, 0)
                    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
                    os.tcsetpgrp(0, os.getpgrp())
                    signal.signal(signal.SIGTTOU, signal.SIG_DFL)
                    os.execv(argv[0], argv)
                os.write(w, str(job).encode())
                os.close(w)
                _, status = os.waitpid(job, 0)
                os._exit(os.waitstatus_to_exitcode(status) & 0xff)
            finally:
                os._exit(127)
        os.close(w)
        self.leader, self.fd = pid, fd
        self.pid = int(os.read(r, 32))
        os.close(r)
        self.set_size(rows, cols)
        self.out = b""

    def wait(self):
        self.pid = self.leader          # its status is the job's
        return super().wait()

    def close(self):
        for pid in (getattr(self, "pid", None), self.leader):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, TypeError):
                pass
        super().close()


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def wait_stopped(pid, timeout=10):
    end = time.monotonic() + timeout
    while proc_state(pid) != "T":
        assert time.monotonic() < end, "sbctl did not stop"
        time.sleep(0.02)


def wait_raw(t, timeout=10):
    end = time.monotonic() + timeout
    while not is_raw(t.attrs()):
        assert time.monotonic() < end, "raw mode not back after SIGCONT"
        time.sleep(0.02)


def test_tty_stop_restores_and_continue_goes_raw_again(fake):
    d = tty_fake(fake, lambda c: notify(c, "exec.exit", exec=XID,
                                        exit_code=3, output_bytes=7))
    t = JobPty([sbctl_path(), "--socket", d.path, "exec", "-t", LEASE,
                "--", "sh"], rows=30, cols=100)
    try:
        before = t.attrs()
        t.read_until(b"READY")
        assert is_raw(t.attrs())
        for sig in (signal.SIGTSTP, signal.SIGTTIN):
            os.kill(t.pid, sig)
            wait_stopped(t.pid)
            assert t.attrs() == before      # the shell's terminal, as was
            t.set_size(33, 111)
            os.kill(t.pid, signal.SIGCONT)
            wait_raw(t)
            # The window may have changed while stopped: a resize follows.
            d.wait_request("exec.resize")
            assert d.params("exec.resize") == {"exec": XID, "width": 111,
                                               "height": 33}
            with d.cond:
                d.requests = [m for m in d.requests
                              if m["method"] != "exec.resize"]
        os.write(t.fd, b"q")
        status = t.wait()
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3
        assert t.attrs() == before
        assert "exec.cancel" not in d.methods()
    finally:
        t.close()


def test_tty_stop_in_an_orphaned_group_is_ignored(fake):
    # pty.fork's child leads its own session: its process group has no
    # parent in the session to continue it, so the kernel discards the stop.
    # sbctl must carry on raw (not loop re-raising it) and end normally.
    d = tty_fake(fake, lambda c: notify(c, "exec.exit", exec=XID,
                                        exit_code=4, output_bytes=7))
    t = Pty([sbctl_path(), "--socket", d.path, "exec", "-t", LEASE, "--",
             "sh"])
    try:
        before = t.attrs()
        t.read_until(b"READY")
        os.kill(t.pid, signal.SIGTSTP)
        wait_raw(t)
        assert proc_state(t.pid) != "T"
        os.write(t.fd, b"q")
        status = t.wait()
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 4
        assert t.attrs() == before
    finally:
        t.close()
