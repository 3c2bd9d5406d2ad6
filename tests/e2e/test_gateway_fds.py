"""sandbox-gateway-local: descriptors.  A stopped sandbox holds none (the
gateway keeps its stopped sandboxes, so thousands of them must not run it
out), and running out is an error for the call, never the gateway's end."""
import os

import grpc
import pytest

from gwclient import (Feeder, gateway_factory, gwdir,  # noqa: F401
                      isolation_modes)


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


@pytest.mark.parametrize("iso", isolation_modes())
def test_commands_get_the_descriptor_limit_the_gateway_was_given(
        gateway_factory, iso):
    # The gateway raises its soft limit to the hard one for itself only.
    g = gateway_factory("--isolation", iso,
                        wrap=("prlimit", "--nofile=256:4096", "--"))
    with open(f"/proc/{g.proc.pid}/limits") as f:
        assert [x for x in f if x.startswith("Max open files")][0] \
            .split()[3] == "4096"
    c = g.client
    sid = c.start_running(command="sh", args=["-c", "ulimit -n; sleep 600"])
    assert c.exec(sid, "sh", "-c", "ulimit -n").stdout == b"256\n"
    assert c.log(sid) == b"256\n"


def test_an_unreadable_log_fails_the_stream(gateway_factory):
    """A stopped sandbox's log is reopened to be read: when that fails the
    reader is told, rather than left waiting."""
    g = gateway_factory()
    c = g.client
    sid = c.start(command="sh", args=["-c", "echo gone"])
    c.wait_status(sid, c.gw.SANDBOX_STATUS_COMPLETED)
    os.unlink(os.path.join(g.root, sid, "log"))
    feed = Feeder(c.st.LogStreamRequest(init=c.st.LogStreamInit(
        sandbox_id=sid)))
    frames = []
    with pytest.raises(grpc.RpcError) as e:
        for r in c.stream("StreamLogs", feed, timeout=10):
            frames.append(r)
    feed.close()
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "log cannot be read" in e.value.details()
    assert [f.WhichOneof("response") for f in frames] == ["error"]
    assert frames[0].error.code == "unavailable"
