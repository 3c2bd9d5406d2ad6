"""Shared helpers for the end-to-end tests: real binaries on private sockets.

Every process started here runs in its own process group and is killed,
group and all, when its test ends, whatever the outcome.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("SANDBOXD_BUILD") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def binary(name):
    path = os.path.join(BUILD, name)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is not built: run make first")
    return path


def short_tmpdir(prefix="sbx-"):
    """A directory with a short path: sun_path holds only 108 bytes."""
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


_protos_dir = None


def protos():
    """Generates the Python messages from proto/ once; returns (gw, st).

    Uses the system protoc (3.21, like the python3-protobuf runtime); see
    shared/notes/grpc-core.md for why not grpc_tools.
    """
    global _protos_dir
    if _protos_dir is None:
        out = tempfile.mkdtemp(prefix="sbx-pb-")
        subprocess.run(
            ["protoc", "-I", os.path.join(SRC, "proto"), "-I", "/usr/include",
             "--python_out", out,
             "coreweave/sandbox/v1beta2/gateway.proto",
             "coreweave/sandbox/v1beta2/streaming.proto"],
            check=True)
        sys.path.insert(0, out)
        _protos_dir = out
    from coreweave.sandbox.v1beta2 import gateway_pb2, streaming_pb2
    return gateway_pb2, streaming_pb2


class Proc:
    """A started binary in its own process group, with its output in a file."""

    def __init__(self, argv, logpath, env=None, stdin=subprocess.DEVNULL):
        self.argv = argv
        self.logpath = logpath
        self.log = open(logpath, "ab")
        self.p = subprocess.Popen(argv, stdin=stdin, stdout=self.log,
                                  stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def output(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout=30):
        return self.p.wait(timeout=timeout)

    def stop(self, sig=None, timeout=20):
        """Asks the process to stop, then kills its whole group."""
        if sig is None:
            sig = signal.SIGTERM
        if self.alive():
            os.kill(self.pid, sig)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.alive():
            self.p.kill()
        self.p.wait()
        self.log.close()
        return self.p.returncode


def wait_for(pred, timeout=30.0, interval=0.02, what="condition"):
    """Polls pred() until true; raises with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


def unix_connectable(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def pids_with_env(marker):
    """Pids of live processes whose environment contains `marker`.

    Sandbox processes inherit a per-test marker variable, which lets a test
    prove that nothing of a run is left behind.
    """
    found = []
    needle = marker.encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                if needle in f.read():
                    found.append(int(d))
        except OSError:
            pass
    return found
