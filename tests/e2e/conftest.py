"""pytest fixtures shared by every end-to-end test."""
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import exitcheck  # noqa: E402
import sbxtest  # noqa: E402


@pytest.fixture
def tmpdir_short():
    d = sbxtest.short_tmpdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def pb():
    """(gateway_pb2, streaming_pb2) generated from proto/."""
    return sbxtest.protos()


@pytest.fixture
def procs():
    """Starts processes that are always stopped at the end of the test.

    Under `make sanitize` the test fails at teardown when one of ours ends
    badly (see exitcheck.py).
    """
    started = []

    def start(argv, logname, env=None, **kw):
        p = sbxtest.Proc(argv, os.path.join(kw.pop("dir"), logname),
                         env=env, **kw)
        started.append(p)
        return p

    yield start
    problems = []
    for p in reversed(started):
        problems += exitcheck.stop_and_judge(p)
        # Shown by pytest only when the test failed.
        print(f"--- {os.path.basename(p.logpath)} ({p.argv[0]}) ---")
        print(p.output()[-6000:])
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
