"""The teardown verdict of `make sanitize` (exitcheck.py) on stand-ins.

Each stand-in is a shell that carries a path under the build directory
among its arguments, so it counts as one of ours.
"""
import os
import signal

import pytest

import exitcheck
import sbxtest


@pytest.fixture
def judge(tmpdir_short, monkeypatch):
    monkeypatch.setattr(exitcheck, "SANITIZE", True)
    n = iter(range(100))

    def run(script, ours=True, may_fail=False, before_teardown=None):
        argv = ["sh", "-c", script, "sh"]
        if ours:
            argv.append(os.path.join(sbxtest.BUILD, "sandboxd"))
        p = sbxtest.Proc(argv, os.path.join(tmpdir_short, f"{next(n)}.log"))
        if may_fail:
            p.may_fail = True
        if "READY" in script:   # its SIGTERM trap is set
            sbxtest.wait_for(lambda: "READY" in p.output(), timeout=10,
                             what="stand-in ready")
        if before_teardown:
            before_teardown(p)
        return exitcheck.stop_and_judge(p)
    return run


# Catches SIGTERM like our daemons, and exits with status N.
def on_term(n):
    return f"trap 'exit {n}' TERM; echo READY; sleep 60 & wait"


LEAK = ("echo '==7==ERROR: LeakSanitizer: detected memory leaks' >&2; "
        "echo 'Direct leak of 24 byte(s) in 1 object(s)' >&2")


def test_clean_stop_passes(judge):
    assert judge(on_term(0)) == []


def test_bad_status_fails(judge):
    probs = judge(on_term(3))
    assert len(probs) == 1 and "ended with status 3" in probs[0]


def test_killed_by_sigterm_fails(judge):
    probs = judge("echo READY; exec sleep 60")
    assert len(probs) == 1 and "ended with signal 15" in probs[0]


def test_died_on_its_own_fails(judge):
    def wait_end(p):
        p.wait()
    probs = judge("exit 9", before_teardown=wait_end)
    assert len(probs) == 1 and "ended with status 9" in probs[0]


def test_sigkill_by_the_test_passes(judge):
    def kill(p):
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    assert judge("exec sleep 60", before_teardown=kill) == []


def test_sanitizer_report_fails_even_with_status_0(judge):
    probs = judge(LEAK + "; " + on_term(0))
    assert len(probs) == 1 and "sanitizer report" in probs[0]
    assert "Direct leak of 24 byte(s)" in probs[0]
    probs = judge("echo 'x.c:3:5: runtime error: signed integer overflow'"
                  " >&2; " + on_term(0))
    assert len(probs) == 1 and "runtime error:" in probs[0]


def test_may_fail_lets_the_status_through_not_reports(judge):
    def wait_end(p):
        p.wait()
    assert judge("exit 1", may_fail=True, before_teardown=wait_end) == []
    probs = judge(LEAK + "; exit 1", may_fail=True,
                  before_teardown=wait_end)
    assert len(probs) == 1 and "sanitizer report" in probs[0]


def test_other_programs_are_not_judged(judge):
    assert judge(LEAK + "; exit 4", ours=False) == []
