#!/usr/bin/python3
"""The short task the way SDK users run it today, as one fresh process.

Usage: /usr/bin/python3 bench/sdk_task.py PROTO_DIR TARGET

Opens a grpcio channel to TARGET, Starts an idle sandbox, polls Get until
RUNNING (first wait 200 ms, then x1.5, capped at 2 s: the SDK's schedule),
Execs `true`, and Stops the sandbox.  PROTO_DIR holds the Python messages
generated from proto/ by the system protoc (run.sh makes it).  The whole
process is what is timed from outside, interpreter start-up and imports
included, because that is what a Python user pays.
"""
import sys
import time

GW = "/coreweave.sandbox.v1beta2.GatewayService/"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: sdk_task.py PROTO_DIR TARGET")
    sys.path.insert(0, sys.argv[1])
    import grpc
    from coreweave.sandbox.v1beta2 import gateway_pb2 as pb

    channel = grpc.insecure_channel(sys.argv[2])

    def call(method, req, resp_type):
        fn = channel.unary_unary(
            GW + method, request_serializer=type(req).SerializeToString,
            response_deserializer=resp_type.FromString)
        return fn(req, timeout=60)

    sid = call("Start", pb.StartSandboxRequest(
        tags=["sandboxd-bench"], max_lifetime_seconds=600),
        pb.StartSandboxResponse).sandbox_id
    delay = 0.2
    deadline = time.monotonic() + 300
    while True:
        time.sleep(delay)
        st = call("Get", pb.GetSandboxRequest(sandbox_id=sid),
                  pb.GetSandboxResponse).sandbox_status
        if st == pb.SANDBOX_STATUS_RUNNING:
            break
        if time.monotonic() > deadline:
            sys.exit(f"{sid} did not reach RUNNING")
        delay = min(delay * 1.5, 2.0)
    res = call("Exec", pb.ExecSandboxRequest(
        sandbox_id=sid, command=["true"]), pb.ExecSandboxResponse).result
    call("Stop", pb.StopSandboxRequest(sandbox_id=sid),
         pb.StopSandboxResponse)
    channel.close()
    if res.exit_code != 0:
        sys.exit(f"true exited {res.exit_code}")


if __name__ == "__main__":
    main()
