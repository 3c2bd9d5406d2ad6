"""sandbox-gateway-local: descriptors.  A stopped sandbox holds none (the
gateway keeps its stopped sandboxes, so thousands of them must not run it
out), and running out is an error for the call, never the gateway's end."""
import os

import grpc
import pytest

from gwclient import gateway_factory, gwdir, isolation_modes  # noqa: F401


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.parametrize("iso", isolation_modes())
def test_stopped_sandboxes_hold_no_descriptors(gateway_factory, iso):
    g = gateway_factory("--isolation", iso)
    c = g.client
    # One round first: gRPC and libevent allocate what they keep.
    sid = c.start_running(command="sh", args=["-c", "echo hi; sleep 600"])
    assert c.exec(sid, "true").exit_code == 0
    assert c.call("Stop", sandbox_id=sid).success
    before = fd_count(g.proc.pid)
    for _ in range(20):
        sid = c.start_running(command="sh", args=["-c", "echo hi; sleep 600"])
        assert c.exec(sid, "true").exit_code == 0
        assert c.call("Stop", sandbox_id=sid).success
    assert fd_count(g.proc.pid) <= before
    # The log of a stopped sandbox is still there to read.
    assert c.log(sid) == b"hi\n"
    assert fd_count(g.proc.pid) <= before


def test_out_of_descriptors_fails_calls_not_the_gateway(gateway_factory):
    # A hard limit the gateway cannot raise: a few sandboxes' worth.
    g = gateway_factory("--isolation", "none",
                        wrap=("prlimit", "--nofile=96:96", "--"))
    c = g.client
    failed = c.gw.SANDBOX_STATUS_FAILED
    running = c.gw.SANDBOX_STATUS_RUNNING
    started, why = [], None
    for _ in range(100):
        try:
            sid = c.start(command="sleep", args=["600"])
        except grpc.RpcError as e:
            # Out of descriptors for the sandbox's own files.
            assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e
            why = e.details()
            break
        started.append(sid)
        r = c.wait_status(sid, (running, failed))
        if r.sandbox_status == failed:
            # Out of descriptors to launch its command.
            why = r.status_reason
            break
    assert why is not None, "never ran out"
    assert "Too many open files" in why, why
    assert g.proc.alive()
    # Stopped sandboxes give their descriptors back: Start works again.
    for sid in started:
        assert c.call("Stop", sandbox_id=sid).success
    sid = c.start_running(command="sleep", args=["600"])
    assert c.exec(sid, "echo", "ok").stdout == b"ok\n"
    assert g.proc.alive()
