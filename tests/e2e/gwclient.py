"""A Python grpcio client for sandbox-gateway-local, and fixtures that run it.

Methods are called by path (no generated _grpc.py stubs; see
shared/notes/grpc-core.md); messages come from sbxtest.protos().
"""
import json
import os
import queue
import random
import shutil
import signal
import time

import grpc
import pytest

import exitcheck
import sbxtest

GW = "/coreweave.sandbox.v1beta2.GatewayService/"
ST = "/coreweave.sandbox.v1beta2.GatewayStreamingService/"

# method -> (request type name, response type name) in gateway_pb2
UNARY = {
    "Start": ("StartSandboxRequest", "StartSandboxResponse"),
    "Stop": ("StopSandboxRequest", "StopSandboxResponse"),
    "Get": ("GetSandboxRequest", "GetSandboxResponse"),
    "List": ("ListSandboxesRequest", "ListSandboxesResponse"),
    "Delete": ("DeleteSandboxRequest", "DeleteSandboxResponse"),
    "Exec": ("ExecSandboxRequest", "ExecSandboxResponse"),
    "AddFile": ("AddFileSandboxRequest", "AddFileSandboxResponse"),
    "RetrieveFile": ("RetrieveFileSandboxRequest",
                     "RetrieveFileSandboxResponse"),
    "Pause": ("PauseSandboxRequest", "PauseSandboxResponse"),
    "Resume": ("ResumeSandboxRequest", "ResumeSandboxResponse"),
}
STREAMS = {
    "StreamExec": ("ExecStreamRequest", "ExecStreamResponse"),
    "StreamLogs": ("LogStreamRequest", "LogStreamResponse"),
}
MAX_MSG = 64 * 1024 * 1024


def have_bwrap():
    return os.geteuid() == 0 and shutil.which("bwrap") is not None


def isolation_modes():
    """The --isolation modes this machine can run: none, and bwrap."""
    return ["none", "bwrap"] if have_bwrap() else ["none"]


def token():
    """A unique sleep argument (601.NNNNNN seconds) to find a process by."""
    return "601.%06d" % random.randrange(10 ** 6)


def pids_with_arg(arg):
    """Pids of live processes that have `arg` as one of their arguments.

    Read from /proc/PID/cmdline, which a process's session, group and
    environment leave alone: a leftover that escaped with setsid or env -i
    is still found (a zombie, dead already, has an empty one).
    """
    found = []
    needle = arg.encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(d))
        except OSError:
            pass
    return found


def proc_state(pid):
    """The state letter of /proc/PID/stat (T: stopped), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


class Client:
    """Calls gateway methods over one channel."""

    def __init__(self, target, metadata=None, creds=None, options=None):
        gw, st = sbxtest.protos()
        self.gw, self.st = gw, st
        opts = [("grpc.max_receive_message_length", MAX_MSG),
                ("grpc.max_send_message_length", MAX_MSG)]
        opts += options or []
        if creds is not None:
            self.channel = grpc.secure_channel(target, creds, options=opts)
        else:
            self.channel = grpc.insecure_channel(target, options=opts)
        self.metadata = metadata

    def close(self):
        self.channel.close()

    def call(self, method, timeout=30, metadata=None, **fields):
        """Calls a unary method with the request built from fields."""
        req_t, resp_t = UNARY[method]
        req = getattr(self.gw, req_t)(**fields)
        fn = self.channel.unary_unary(
            GW + method, request_serializer=type(req).SerializeToString,
            response_deserializer=getattr(self.gw, resp_t).FromString)
        return fn(req, timeout=timeout,
                  metadata=metadata if metadata is not None else self.metadata)

    def stream(self, method, requests, timeout=60, metadata=None):
        """Opens a bidi stream; requests is an iterator of messages."""
        req_t, resp_t = STREAMS[method]
        fn = self.channel.stream_stream(
            ST + method,
            request_serializer=getattr(self.st, req_t).SerializeToString,
            response_deserializer=getattr(self.st, resp_t).FromString)
        return fn(requests, timeout=timeout,
                  metadata=metadata if metadata is not None else self.metadata)

    # --- conveniences -----------------------------------------------------

    def start(self, **fields):
        return self.call("Start", **fields).sandbox_id

    def status(self, sid):
        return self.call("Get", sandbox_id=sid).sandbox_status

    def wait_status(self, sid, statuses, timeout=30):
        if isinstance(statuses, int):
            statuses = (statuses,)
        return sbxtest.wait_for(
            lambda: self.call("Get", sandbox_id=sid)
            if self.status(sid) in statuses else None,
            timeout=timeout, interval=0.05,
            what=f"{sid} in {statuses}")

    def start_running(self, **fields):
        sid = self.start(**fields)
        self.wait_status(sid, self.gw.SANDBOX_STATUS_RUNNING)
        return sid

    def exec(self, sid, *argv, **kw):
        return self.call("Exec", sandbox_id=sid, command=list(argv),
                         **kw).result

    def log(self, sid, timeout=30):
        """The sandbox's whole log so far, read with StreamLogs."""
        st = self.st
        # Held open until the end: a half-close would end the stream early.
        feed = Feeder(st.LogStreamRequest(init=st.LogStreamInit(
            sandbox_id=sid)))
        data = b""
        try:
            for r in self.stream("StreamLogs", feed, timeout=timeout):
                kind = r.WhichOneof("response")
                if kind != "data":
                    assert kind == "complete", r
                    break
                data += r.data.data
        finally:
            feed.close()
        return data


class Feeder:
    """A request iterator a test can push to while the stream runs."""

    _END = object()

    def __init__(self, *first):
        self.q = queue.Queue()
        for m in first:
            self.q.put(m)

    def put(self, m):
        self.q.put(m)

    def close(self):
        self.q.put(self._END)

    def __iter__(self):
        return self

    def __next__(self):
        m = self.q.get()
        if m is self._END:
            raise StopIteration
        return m


class Gateway:
    """A running sandbox-gateway-local on a private unix socket."""

    def __init__(self, tmp, *args, listen=None, env=None, root=None,
                 wrap=()):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "gw.sock")
        self.root = root or os.path.join(tmp, "root")
        self.stats_path = os.path.join(tmp, "stats.json")
        self.listen = listen or ["unix:" + self.sock]
        argv = [*wrap, sbxtest.binary("sandbox-gateway-local"),
                "--root", self.root,
                "--stats-file", self.stats_path, *args]
        for a in self.listen:
            argv += ["--listen", a]
        n = 0
        while os.path.exists(os.path.join(tmp, f"gateway-{n}.log")):
            n += 1
        self.proc = sbxtest.Proc(argv, os.path.join(tmp, f"gateway-{n}.log"),
                                 env=env)
        sbxtest.wait_for(self._ready, timeout=30, what="gateway ready")
        self.target = self.listen[0]
        self.client = Client(self.target)
        with open(os.path.join(self.root, "gateway.run")) as f:
            self.run_id = f.read().strip()

    def _ready(self):
        if not self.proc.alive():
            raise RuntimeError("gateway exited:\n" + self.proc.output())
        return "listening on" in self.proc.output()

    @property
    def marker(self):
        return "SBX_GATEWAY_RUN=" + self.run_id

    def leftovers(self):
        return sbxtest.pids_with_env(self.marker)

    def stats(self):
        """The stats file, rewritten at once (SIGUSR2) before reading."""
        before = os.stat(self.stats_path).st_mtime_ns \
            if os.path.exists(self.stats_path) else 0
        self.proc.signal(signal.SIGUSR2)
        sbxtest.wait_for(lambda: os.path.exists(self.stats_path) and
                         os.stat(self.stats_path).st_mtime_ns != before,
                         timeout=10, what="stats rewritten")
        with open(self.stats_path) as f:
            return json.load(f)

    def stop(self, sig=signal.SIGTERM):
        self.client.close()
        return self.proc.stop(sig)


@pytest.fixture
def gwdir():
    d = sbxtest.short_tmpdir("gw-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def gateway_factory(gwdir):
    """Starts gateways with extra options; all are stopped at the end."""
    started = []

    def start(*args, **kw):
        sub = kw.pop("dir", None) or gwdir
        g = Gateway(sub, *args, **kw)
        started.append(g)
        return g

    yield start
    problems = []
    for g in reversed(started):
        g.client.close()
        problems += exitcheck.stop_and_judge(g.proc)
        # Killed processes take a moment to leave /proc: a bounded wait.
        try:
            sbxtest.wait_for(lambda: not g.leftovers(), timeout=10,
                             what="sandbox processes to go")
        except TimeoutError:
            pass
        left = g.leftovers()
        assert not left, f"processes left behind: {left}"
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def gateway(gateway_factory):
    """A gateway with default options (bwrap when it works here)."""
    return gateway_factory()


@pytest.fixture
def gw(gateway):
    """The client of the default gateway."""
    return gateway.client


def wait_for(*a, **kw):
    return sbxtest.wait_for(*a, **kw)


def now():
    return time.time()
