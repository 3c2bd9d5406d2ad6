"""sandbox-gateway-local: StreamExec and StreamLogs."""
import time

import grpc
import pytest

from gwclient import Feeder, gateway, gateway_factory, gw, gwdir  # noqa


def ex_init(st, sid, argv, **kw):
    return st.ExecStreamRequest(init=st.ExecStreamInit(
        sandbox_id=sid, command=argv, **kw))


def collect_exec(responses):
    out, err, frames = b"", b"", []
    for r in responses:
        kind = r.WhichOneof("response")
        frames.append(kind)
        if kind == "output":
            if r.output.stream_type == 2:
                err += r.output.data
            else:
                out += r.output.data
        elif kind == "exit":
            return frames, out, err, r.exit.exit_code
        elif kind == "error":
            return frames, out, err, r.error
    return frames, out, err, None


def test_stream_exec_stdin_round_trip_through_cat(gw):
    st = gw.st
    sid = gw.start_running()
    feed = Feeder(ex_init(st, sid, ["cat"]))
    resp = gw.stream("StreamExec", feed)
    first = next(resp)
    assert first.WhichOneof("response") == "ready"
    assert first.ready.session_id
    feed.put(st.ExecStreamRequest(stdin=st.ExecStreamData(data=b"ping\n")))
    got = b""
    while got != b"ping\n":
        r = next(resp)
        assert r.WhichOneof("response") == "output"
        got += r.output.data
    feed.put(st.ExecStreamRequest(stdin=st.ExecStreamData(data=b"pong")))
    feed.put(st.ExecStreamRequest(close=st.ExecStreamClose()))
    frames, out, err, code = collect_exec(resp)
    assert out == b"pong" and code == 0
    feed.close()


def test_stream_exec_half_close_closes_stdin_and_tags_stderr(gw):
    st = gw.st
    sid = gw.start_running()
    reqs = [ex_init(st, sid, ["sh", "-c", "cat; echo E >&2; exit 4"]),
            st.ExecStreamRequest(stdin=st.ExecStreamData(data=b"abc"))]
    frames, out, err, code = collect_exec(gw.stream("StreamExec", iter(reqs)))
    assert frames[0] == "ready" and frames[-1] == "exit"
    assert (out, err, code) == (b"abc", b"E\n", 4)


def test_stream_exec_tty_size_and_resize(gw):
    st = gw.st
    sid = gw.start_running()
    script = "stty size; read x; stty size; test -t 0 && echo TTY"
    feed = Feeder(ex_init(st, sid, ["sh", "-c", script], tty=True,
                          tty_width=100, tty_height=40))
    resp = gw.stream("StreamExec", feed)
    assert next(resp).WhichOneof("response") == "ready"
    buf = b""
    while b"40 100" not in buf:
        buf += next(resp).output.data
    feed.put(st.ExecStreamRequest(resize=st.ExecStreamResize(width=120,
                                                             height=50)))
    feed.put(st.ExecStreamRequest(stdin=st.ExecStreamData(data=b"go\n")))
    frames, out, err, code = collect_exec(resp)
    feed.close()
    assert b"50 120" in out and b"TTY" in out and code == 0


def test_stream_exec_errors(gw):
    st = gw.st
    frames, *_, error = collect_exec(gw.stream(
        "StreamExec", iter([ex_init(st, "sbx-nope", ["true"])])))
    assert frames == ["error"] and error.code == "not_found"
    sid = gw.start_running()
    with pytest.raises(grpc.RpcError) as e:
        list(gw.stream("StreamExec", iter([st.ExecStreamRequest(
            stdin=st.ExecStreamData(data=b"x"))])))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    frames, *_, error = collect_exec(gw.stream(
        "StreamExec", iter([ex_init(st, sid, ["true"],
                                    resume_session_id="zzz")])))
    assert frames == ["error"]


def logs(gw, sid, timeout=30, **kw):
    st = gw.st
    req = st.LogStreamRequest(init=st.LogStreamInit(sandbox_id=sid, **kw))
    feed = Feeder(req)
    return feed, gw.stream("StreamLogs", feed, timeout=timeout)


def read_all(resp):
    frames = []
    for r in resp:
        frames.append(r)
        if r.WhichOneof("response") != "data":
            break
    return frames


def test_stream_logs_whole_log_then_complete(gw):
    sid = gw.start(command="sh", args=["-c", "echo one; echo two >&2; "
                                       "echo three"])
    gw.wait_status(sid, gw.gw.SANDBOX_STATUS_COMPLETED)
    feed, resp = logs(gw, sid, timestamps=True)
    frames = read_all(resp)
    feed.close()
    assert frames[-1].WhichOneof("response") == "complete"
    data = [f.data for f in frames[:-1]]
    assert b"".join(d.data for d in data) == b"one\ntwo\nthree\n"
    assert all(d.session_id == data[0].session_id for d in data)
    off = 0
    for d in data:
        assert d.offset == off and d.timestamp.seconds > 0
        off += len(d.data)


def test_stream_logs_tail_and_resume(gw):
    sid = gw.start(command="sh", args=["-c", "for i in 1 2 3 4 5; do "
                                       "echo line$i; sleep 0.05; done"])
    gw.wait_status(sid, gw.gw.SANDBOX_STATUS_COMPLETED)
    feed, resp = logs(gw, sid, tail_lines=2)
    frames = read_all(resp)
    feed.close()
    assert b"".join(f.data.data for f in frames[:-1]) == b"line4\nline5\n"
    session = frames[0].data.session_id
    assert frames[0].data.offset == len(b"line1\nline2\nline3\n")
    feed, resp = logs(gw, sid, resume_session_id=session, resume_offset=8)
    frames = read_all(resp)
    feed.close()
    assert b"".join(f.data.data for f in frames[:-1]) == \
        b"line1\nline2\nline3\nline4\nline5\n"[8:]
    assert frames[0].data.offset == 8
    feed, resp = logs(gw, sid, resume_session_id="other", resume_offset=1)
    frames = read_all(resp)
    feed.close()
    assert frames[-1].WhichOneof("response") == "error"


def test_stream_logs_since_time(gw):
    sid = gw.start_running(command="sh", args=["-c", "echo early; sleep 1; "
                                               "echo late; sleep 600"])
    time.sleep(0.5)
    cut = time.time()
    st = gw.st
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        feed, resp = logs(gw, sid)
        if b"late" in b"".join(f.data.data for f in read_all(resp)[:-1]):
            feed.close()
            break
        feed.close()
        time.sleep(0.1)
    from google.protobuf import timestamp_pb2
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(cut * 1e9))
    feed, resp = logs(gw, sid, since_time=ts)
    frames = read_all(resp)
    feed.close()
    assert b"".join(f.data.data for f in frames[:-1]) == b"late\n"


def test_stream_logs_follow(gw):
    sid = gw.start_running(command="sh", args=[
        "-c", "echo a; while [ ! -e /work/go ]; do sleep 0.05; done; "
        "echo b; sleep 0.2; echo c"])
    feed, resp = logs(gw, sid, follow=True)
    got = b""
    while got != b"a\n":
        got += next(resp).data.data
    assert gw.call("AddFile", sandbox_id=sid, filepath="go",
                   file_contents=b"").success
    rest = read_all(resp)
    feed.close()
    assert got + b"".join(f.data.data for f in rest[:-1]) == b"a\nb\nc\n"
    assert rest[-1].WhichOneof("response") == "complete"


def test_stream_logs_follow_ends_on_close(gw):
    st = gw.st
    sid = gw.start_running()
    feed, resp = logs(gw, sid, follow=True)
    time.sleep(0.3)
    feed.put(st.LogStreamRequest(close=st.LogStreamClose()))
    frames = read_all(resp)
    feed.close()
    assert frames[-1].WhichOneof("response") == "complete"


def test_stream_logs_unknown_sandbox_is_not_found(gw):
    feed, resp = logs(gw, "sbx-000000000000")
    frames = []
    with pytest.raises(grpc.RpcError) as e:
        for r in resp:
            frames.append(r)
    feed.close()
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert [f.WhichOneof("response") for f in frames] == ["error"]
    assert frames[0].error.code == "not_found"
