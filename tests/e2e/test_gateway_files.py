"""sandbox-gateway-local: AddFile / RetrieveFile and path escapes."""
import concurrent.futures
import os
import stat

import grpc
import pytest

from gwclient import gateway, gateway_factory, gw, gwdir  # noqa: F401


def test_add_and_retrieve_round_trip(gateway):
    c = gateway.client
    sid = c.start_running()
    assert c.call("AddFile", sandbox_id=sid, filepath="a/b/c.txt",
                  file_contents=b"hello").success
    r = c.call("RetrieveFile", sandbox_id=sid, filepath="/work/a/b/c.txt")
    assert r.success and r.file_contents == b"hello"
    assert c.exec(sid, "cat", "a/b/c.txt").stdout == b"hello"
    assert c.call("AddFile", sandbox_id=sid, filepath="/tmp/t",
                  file_contents=b"").success
    r = c.call("RetrieveFile", sandbox_id=sid, filepath="/tmp/t")
    assert r.success and r.file_contents == b""
    c.exec(sid, "sh", "-c", "echo made > made.txt")
    r = c.call("RetrieveFile", sandbox_id=sid, filepath="made.txt")
    assert r.file_contents == b"made\n"
    assert os.path.exists(os.path.join(gateway.root, sid, "work", "a", "b",
                                       "c.txt"))


def test_ten_mebibyte_file(gw):
    sid = gw.start_running()
    data = os.urandom(10 * 1024 * 1024)
    assert gw.call("AddFile", sandbox_id=sid, filepath="big",
                   file_contents=data).success
    assert gw.call("RetrieveFile", sandbox_id=sid,
                   filepath="big").file_contents == data


def test_path_escapes_are_refused(gateway):
    c = gateway.client
    sid = c.start_running()
    outside = os.path.join(gateway.tmp, "outside.txt")
    with open(outside, "w") as f:
        f.write("host secret")
    c.exec(sid, "ln", "-s", gateway.tmp, "/work/link")
    c.exec(sid, "ln", "-s", "../../..", "/work/up")
    c.exec(sid, "ln", "-s", outside, "/work/file-link")
    bad = ["../x", "a/../../x", "/etc/passwd", "/work/../etc/passwd",
           "link/outside.txt", "up/outside.txt", "file-link", ""]
    for p in bad:
        r = c.call("RetrieveFile", sandbox_id=sid, filepath=p)
        assert not r.success and r.error_message, p
        assert r.file_contents == b""
        r = c.call("AddFile", sandbox_id=sid, filepath=p,
                   file_contents=b"pwned")
        assert not r.success and r.error_message, p
    with open(outside) as f:
        assert f.read() == "host secret"
    assert not os.path.exists(os.path.join(gateway.tmp, "x"))


def test_missing_file_and_not_running(gw):
    sid = gw.start_running()
    r = gw.call("RetrieveFile", sandbox_id=sid, filepath="nope")
    assert not r.success and "No such file" in r.error_message
    gw.call("Stop", sandbox_id=sid)
    with pytest.raises(grpc.RpcError) as e:
        gw.call("AddFile", sandbox_id=sid, filepath="x", file_contents=b"")
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_fifo_and_directory_are_refused_without_blocking(gateway):
    # The gateway opens files on its one loop thread: opening a FIFO that
    # no one writes to would block every call.  Anything but a regular file
    # is refused with a message, at once.
    c = gateway.client
    sid = c.start_running()
    assert c.exec(sid, "sh", "-c", "mkfifo p /tmp/q && mkdir d").exit_code == 0
    cases = [("p", "FIFO"), ("/work/p", "FIFO"), ("/tmp/q", "FIFO"),
             ("d", "directory")]
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        for path, kind in cases:
            calls = [ex.submit(c.call, "RetrieveFile", sandbox_id=sid,
                               filepath=path, timeout=10),
                     ex.submit(c.call, "AddFile", sandbox_id=sid,
                               filepath=path, file_contents=b"x",
                               timeout=10)]
            # Other calls are served meanwhile.
            assert c.call("Get", sandbox_id=sid, timeout=10).sandbox_id == sid
            for f in calls:
                r = f.result()
                assert not r.success, path
                assert kind in r.error_message, r.error_message
                assert r.error_message.startswith(path + ":")
    fifo = os.path.join(gateway.root, sid, "work", "p")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert c.exec(sid, "true").exit_code == 0
