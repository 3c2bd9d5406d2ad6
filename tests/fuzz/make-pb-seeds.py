#!/usr/bin/python3
"""Writes the fuzz-pb seed corpus: one file per gateway reply shape.

Each file is the harness's selector byte (see fuzz-pb.c) followed by the
encoded message; StreamExec and StreamLogs seeds are length-prefixed
frames followed by a status byte.  Run from the repository root with /usr/bin/python3; the
output is committed (the files are tiny), so this only reruns when the
protos change.
"""
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
OUT = os.path.join(SRC, "tests", "fuzz", "corpus", "fuzz-pb")

START, GET, STOP, LIST, EXEC, ADD, RETRIEVE, STREAM, LOG = range(9)


def load():
    tmp = tempfile.mkdtemp(prefix="sbx-pbseed-")
    subprocess.run(
        ["protoc", "-I", os.path.join(SRC, "proto"), "-I", "/usr/include",
         "--python_out", tmp, "coreweave/sandbox/v1beta2/gateway.proto",
         "coreweave/sandbox/v1beta2/streaming.proto"], check=True)
    sys.path.insert(0, tmp)
    from coreweave.sandbox.v1beta2 import gateway_pb2, streaming_pb2
    return tmp, gateway_pb2, streaming_pb2


def frames(msgs, status):
    out = b""
    for m in msgs:
        b = m.SerializeToString()
        out += len(b).to_bytes(2, "big") + b
    return out + bytes([status])


def seeds(gw, st):
    ts = {"seconds": 1700000000, "nanos": 123000000}
    s = {}
    s["start-running"] = (START, gw.StartSandboxResponse(
        sandbox_id="sb-1", sandbox_status=2, started_at_time=ts,
        service_address="10.0.0.1:80", runner_id="r1"))
    s["start-creating"] = (START, gw.StartSandboxResponse(
        sandbox_id="sb-2", sandbox_status=1))
    s["start-no-id"] = (START, gw.StartSandboxResponse(sandbox_status=2))
    s["get-running"] = (GET, gw.GetSandboxResponse(
        sandbox_id="sb-1", sandbox_status=2, started_at_time=ts,
        current_resource_usage={"cpu_millicores_used": 250}))
    s["get-failed-exit"] = (GET, gw.GetSandboxResponse(
        sandbox_id="sb-1", sandbox_status=4, status_reason="OOMKilled\n",
        exit_code=137))
    s["get-completed-exit0"] = (GET, gw.GetSandboxResponse(
        sandbox_id="sb-1", sandbox_status=3, exit_code=0))
    s["get-unknown-status"] = (GET, gw.GetSandboxResponse(
        sandbox_id="sb-1", sandbox_status=42))
    s["get-empty"] = (GET, gw.GetSandboxResponse())
    s["stop-ok"] = (STOP, gw.StopSandboxResponse(success=True))
    s["stop-refused"] = (STOP, gw.StopSandboxResponse(
        success=False, error_message="busy\r\nretry later"))
    s["list-two"] = (LIST, gw.ListSandboxesResponse(sandboxes=[
        {"sandbox_id": "sb-1", "sandbox_status": 2, "started_at_time": ts},
        {"sandbox_id": "sb-2", "sandbox_status": 5}]))
    s["list-next-page"] = (LIST, gw.ListSandboxesResponse(
        sandboxes=[{"sandbox_id": "sb-3"}], next_page_token="p2"))
    s["list-empty"] = (LIST, gw.ListSandboxesResponse())
    s["exec-ok"] = (EXEC, gw.ExecSandboxResponse(result={
        "stdout": b"hello\n", "stderr": b"", "exit_code": 0,
        "stdout_bytes_produced": 6}))
    s["exec-truncated"] = (EXEC, gw.ExecSandboxResponse(result={
        "stdout": b"x" * 64, "stderr": b"warn\n", "exit_code": 3,
        "stdout_truncated": True, "stdout_bytes_produced": 1 << 40,
        "stderr_bytes_produced": 5}))
    s["exec-not-run"] = (EXEC, gw.ExecSandboxResponse(result={
        "exit_code": -1, "stderr": b"no such file"}))
    s["exec-no-result"] = (EXEC, gw.ExecSandboxResponse())
    s["add-ok"] = (ADD, gw.AddFileSandboxResponse(success=True))
    s["add-refused"] = (ADD, gw.AddFileSandboxResponse(
        success=False, error_message="read-only file system"))
    s["retrieve-ok"] = (RETRIEVE, gw.RetrieveFileSandboxResponse(
        success=True, file_contents=b"\x00\x01binary\xff"))
    s["retrieve-empty"] = (RETRIEVE, gw.RetrieveFileSandboxResponse(
        success=True))
    s["retrieve-refused"] = (RETRIEVE, gw.RetrieveFileSandboxResponse(
        success=False, error_message="no such file"))
    R = st.ExecStreamResponse
    s["stream-full"] = (STREAM, frames([
        R(ready={"session_id": "sess-1", "ready_at": ts}),
        R(output={"stream_type": 1, "data": b"out\n", "timestamp": ts}),
        R(output={"stream_type": 2, "data": b"err\n"}),
        R(exit={"exit_code": 7, "completed_at": ts})], 0))
    s["stream-no-exit"] = (STREAM, frames([
        R(ready={"session_id": "s"}), R(output={"data": b"x"})], 0))
    s["stream-error-frame"] = (STREAM, frames([
        R(error={"message": "sandbox gone", "code": "NOT_FOUND"})], 0))
    s["stream-error-unknown-code"] = (STREAM, frames([
        R(error={"message": "boom", "code": "WHATEVER"}),
        R(exit={"exit_code": 0})], 0))
    s["stream-unavailable"] = (STREAM, frames([
        R(output={"stream_type": 1, "data": b"partial"})], 14))
    s["stream-deadline"] = (STREAM, frames([], 4))
    s["stream-cancelled"] = (STREAM, frames([], 1))
    L = st.LogStreamResponse
    s["log-data-complete"] = (LOG, frames([
        L(data={"data": b"line\n", "timestamp": ts, "session_id": "s",
                "offset": 42}),
        L(data={"data": b"more\n", "session_id": "s", "offset": 47}),
        L(complete={})], 0))
    s["log-data-ok"] = (LOG, frames([L(data={"data": b"x"})], 0))
    s["log-error"] = (LOG, frames([
        L(error={"message": "gone", "code": "NOT_FOUND"})], 0))
    s["log-error-unknown-code"] = (LOG, frames([
        L(error={"message": "boom\n", "code": "WHATEVER"}),
        L(data={"data": b"after"})], 0))
    s["log-unavailable"] = (LOG, frames([
        L(data={"data": b"partial", "session_id": "s"})], 14))
    s["log-empty-data"] = (LOG, frames([L(data={})], 0))
    s["log-cancelled"] = (LOG, frames([], 1))
    return s


def main():
    tmp, gw, st = load()
    try:
        os.makedirs(OUT, exist_ok=True)
        for name, (kind, msg) in sorted(seeds(gw, st).items()):
            body = msg if isinstance(msg, bytes) else msg.SerializeToString()
            with open(os.path.join(OUT, name), "wb") as f:
                f.write(bytes([kind]) + body)
        # Not a message at all: every reader must refuse it cleanly.
        for kind in range(9):
            with open(os.path.join(OUT, "garbage-%d" % kind), "wb") as f:
                f.write(bytes([kind]) + b"\xff\xff\xff\xff\x0f")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
