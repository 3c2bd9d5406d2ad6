"""How our processes ended, judged at teardown under `make sanitize`.

ASan reports leaks, and UBSan some errors, only when a process exits, by
then a test has made its checks and moved on.  So when SANDBOXD_SANITIZE=1
(set by `make sanitize` and `make tsan`) every sandboxd and
sandbox-gateway-local a test started must end cleanly: exit status 0 when
asked to stop (SIGTERM), or the SIGKILL the test itself sent, and no
sanitizer report in its log.

A test that means a process to fail says so on it: `proc.may_fail = True`
lets its exit status through (the log is still checked for reports).
"""
import os
import signal

import sbxtest

SANITIZE = os.environ.get("SANDBOXD_SANITIZE") == "1"

# What ASan, UBSan, LSan and TSan print when they find something.
REPORT_MARKS = ("Sanitizer", "runtime error:", "LeakSanitizer")


def ours(proc):
    """True when the process runs one of the binaries under test."""
    build = sbxtest.BUILD.rstrip("/") + "/"
    return any(str(a).startswith(build) for a in proc.argv)


def stop_and_judge(proc):
    """Stops the process; returns what is wrong with its end (or [])."""
    was_alive = proc.alive()
    rc = proc.stop()
    if not SANITIZE or not ours(proc):
        return []
    name = f"{os.path.basename(proc.argv[0])} (log {proc.logpath})"
    problems = []
    if rc == -signal.SIGKILL and was_alive:
        problems.append(f"{name} did not exit after SIGTERM; killed")
    elif rc not in (0, -signal.SIGKILL) and \
            not getattr(proc, "may_fail", False):
        how = f"signal {-rc}" if rc < 0 else f"status {rc}"
        problems.append(f"{name} ended with {how}")
    out = proc.output()
    at = min((i for i in (out.find(m) for m in REPORT_MARKS) if i != -1),
             default=-1)
    if at != -1:
        start = out.rfind("\n", 0, at) + 1
        problems.append(f"{name} has a sanitizer report:\n"
                        + out[start:start + 6000])
    return problems
