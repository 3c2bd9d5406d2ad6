"""sandbox-gateway-local: injected faults and the stats file."""
import os
import signal
import time

import grpc
import pytest

import sbxtest
from gwclient import Feeder, gateway, gateway_factory, gwdir  # noqa: F401


def broken_stream(client, method, request):
    """The frames of a stream that an injected break ends, and its error."""
    feed = Feeder(request)
    frames = []
    with pytest.raises(grpc.RpcError) as e:
        for r in client.stream(method, feed):
            frames.append(r)
    feed.close()
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    return frames, e.value


def test_unavailable_fraction(gateway_factory):
    g = gateway_factory("--fault", "unavailable=Get:1")
    c = g.client
    sid = c.start()
    with pytest.raises(grpc.RpcError) as e:
        c.call("Get", sandbox_id=sid)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "injected" in e.value.details()
    assert c.call("List") is not None         # other methods unaffected
    assert g.stats()["faults"]["unavailable"] == 1


def test_unavailable_half_of_calls(gateway_factory):
    g = gateway_factory("--fault", "unavailable=0.5")
    fails = 0
    for _ in range(200):
        try:
            g.client.call("List")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAVAILABLE
            fails += 1
    assert 20 < fails < 180


def test_latency(gateway_factory):
    g = gateway_factory("--fault", "latency=List:400ms")
    t = time.monotonic()
    g.client.call("List")
    assert time.monotonic() - t >= 0.4
    with pytest.raises(grpc.RpcError) as e:
        g.client.call("List", timeout=0.1)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_break_stream_after_n_frames(gateway_factory):
    g = gateway_factory("--fault", "break-stream=StreamExec:3")
    c = g.client
    st = c.st
    sid = c.start_running()
    init = st.ExecStreamRequest(init=st.ExecStreamInit(
        sandbox_id=sid, command=["sh", "-c", "for i in 1 2 3 4 5 6; do "
                                 "echo $i; sleep 0.05; done"]))
    frames, _ = broken_stream(c, "StreamExec", init)
    assert len(frames) == 3


def test_break_stream_logs_after_n_frames(gateway_factory):
    g = gateway_factory("--fault", "break-stream=StreamLogs:2")
    c = g.client
    st = c.st
    # Many chunks of log: far more than 2 frames to send.
    sid = c.start(command="sh", args=["-c", "for i in $(seq 50); do "
                                      "head -c 20000 /dev/zero; done"])
    c.wait_status(sid, c.gw.SANDBOX_STATUS_COMPLETED)
    frames, err = broken_stream(c, "StreamLogs", st.LogStreamRequest(
        init=st.LogStreamInit(sandbox_id=sid)))
    assert "injected" in err.details()
    assert [f.WhichOneof("response") for f in frames] == ["data", "data"]
    assert frames[1].data.offset == len(frames[0].data.data)
    # A reader resumes where the break left it, on a stream of its own
    # (broken after 2 frames again).
    end = frames[1].data.offset + len(frames[1].data.data)
    more, _ = broken_stream(c, "StreamLogs", st.LogStreamRequest(
        init=st.LogStreamInit(sandbox_id=sid,
                              resume_session_id=frames[0].data.session_id,
                              resume_offset=end)))
    assert len(more) == 2 and more[0].data.offset == end
    assert g.stats()["faults"]["break-stream"] == 2


def test_drop_reply_does_the_work(gateway_factory):
    g = gateway_factory("--fault", "drop-reply=Start:1")
    c = g.client
    with pytest.raises(grpc.RpcError) as e:
        c.call("Start", tags=["req-42"])
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    # The sandbox exists: an idempotent client finds it by its tag.
    listed = c.call("List", tags=["req-42"]).sandboxes
    assert len(listed) == 1
    assert c.call("Start", tags=["other"]).sandbox_id   # only one dropped


def test_fault_file_reloaded_on_sigusr1(gateway_factory, gwdir):
    ff = os.path.join(gwdir, "faults")
    g = gateway_factory("--fault-file", ff)
    c = g.client
    c.call("List")
    with open(ff, "w") as f:
        f.write("# injected by the test\nunavailable=List:1\n\n")
    g.proc.signal(signal.SIGUSR1)
    sbxtest.wait_for(lambda: "faults reloaded" in g.proc.output(),
                     what="reload")
    with pytest.raises(grpc.RpcError) as e:
        c.call("List")
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    os.unlink(ff)
    g.proc.signal(signal.SIGUSR1)
    sbxtest.wait_for(lambda: g.proc.output().count("faults reloaded") == 2,
                     what="second reload")
    assert c.call("List") is not None


def test_stats_file_counts_calls_and_open_streams(gateway):
    c = gateway.client
    st = c.st
    for _ in range(3):
        c.start()
    sid = c.start_running()
    feed = Feeder(st.LogStreamRequest(init=st.LogStreamInit(
        sandbox_id=sid, follow=True)))
    resp = c.stream("StreamLogs", feed)

    def open_streams():
        with open(gateway.stats_path) as f:
            s = __import__("json").load(f)
        return s if s["streams_open"]["StreamLogs"] == 1 else None

    s = sbxtest.wait_for(open_streams, what="stats show the open stream")
    assert s["calls"]["Start"] == 4 and s["run_id"] == gateway.run_id
    assert s["sandboxes"]["total"] == 4
    feed.put(st.LogStreamRequest(close=st.LogStreamClose()))
    list(resp)
    feed.close()
    sbxtest.wait_for(lambda: gateway.stats()["streams_open"]["StreamLogs"]
                     == 0, what="stream closed in stats")
