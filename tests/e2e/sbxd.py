"""Helpers to run sandboxd (with a real sandbox-gateway-local) and talk to it."""
import base64
import itertools
import json
import os
import socket
import subprocess

import sbxtest


class RpcError(Exception):
    def __init__(self, err):
        self.code = err.get("code")
        self.message = err.get("message", "")
        self.data = err.get("data") or {}
        self.kind = self.data.get("kind")
        super().__init__(f"{self.kind} ({self.code}): {self.message}")


class Rpc:
    """A control-socket connection speaking newline-delimited JSON-RPC."""

    def __init__(self, path, timeout=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.ids = itertools.count(1)
        self.notifications = []

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_msg(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("daemon closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def send(self, method, params=None, id=None):
        id = next(self.ids) if id is None else id
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        return id

    def wait_reply(self, id):
        while True:
            m = self.read_msg()
            if "method" in m and "id" not in m:
                self.notifications.append(m)
                continue
            if m.get("id") == id:
                return m
            raise AssertionError(f"unexpected message {m}")

    def call(self, method, **params):
        m = self.wait_reply(self.send(method, params))
        if "error" in m:
            raise RpcError(m["error"])
        return m["result"]


def b64(data):
    return base64.b64encode(data).decode()


def unb64(s):
    return base64.b64decode(s)


class Daemon:
    """sandboxd on a private socket, with its own gateway (or `local`)."""

    def __init__(self, dirpath, start_proc, gateway="local", conf_extra="",
                 env=None, args=(), daemon_conf=""):
        self.dir = dirpath
        self.socket = os.path.join(dirpath, "sandboxd.sock")
        self.state = os.path.join(dirpath, "state")
        self.conf = os.path.join(dirpath, "sandboxd.conf")
        with open(self.conf, "w") as f:
            f.write(f"[daemon]\nsocket = {self.socket}\n"
                    f"state_dir = {self.state}\n" + daemon_conf +
                    f"[gateway]\naddress = {gateway}\n"
                    f"local_root = {os.path.join(dirpath, 'gwroot')}\n"
                    + conf_extra)
        self.env = dict(os.environ if env is None else env)
        self.env.pop("SANDBOXD_SOCKET", None)
        self.proc = start_proc([sbxtest.binary("sandboxd"), "-c", self.conf,
                                *args], "sandboxd.log", env=self.env,
                               dir=dirpath)
        sbxtest.wait_for(lambda: sbxtest.unix_connectable(self.socket)
                         or not self.proc.alive(), timeout=30,
                         what="sandboxd socket")
        if not self.proc.alive():
            # The test hears of it by this exception (some expect it):
            # the teardown's exit-status check has nothing to add.
            self.proc.may_fail = True
            raise RuntimeError("sandboxd died:\n" + self.proc.output())

    def rpc(self, timeout=60):
        return Rpc(self.socket, timeout)

    def call(self, method, **params):
        c = self.rpc()
        try:
            return c.call(method, **params)
        finally:
            c.close()

    def sbctl(self, *args, input=None, env=None, timeout=120, user=None):
        e = dict(os.environ if env is None else env)
        e["SANDBOXD_SOCKET"] = self.socket
        argv = [sbxtest.binary("sbctl"), *args]
        if user is not None:
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}",
                    "--clear-groups", *argv]
        return subprocess.run(argv, input=input, capture_output=True,
                              env=e, timeout=timeout)


class Gateway:
    """sandbox-gateway-local on a private unix socket."""

    def __init__(self, dirpath, start_proc, args=(), name="gw"):
        self.sock = os.path.join(dirpath, f"{name}.sock")
        self.root = os.path.join(dirpath, f"{name}-root")
        self.stats = os.path.join(dirpath, f"{name}-stats.json")
        self.target = f"unix:{self.sock}"
        self.args = list(args)
        self.dir = dirpath
        self.name = name
        self.start_proc = start_proc
        self.start()

    def start(self):
        self.proc = self.start_proc(
            [sbxtest.binary("sandbox-gateway-local"), "--listen", self.target,
             "--root", self.root, "--stats-file", self.stats, *self.args],
            f"{self.name}.log", dir=self.dir)
        sbxtest.wait_for(lambda: sbxtest.unix_connectable(self.sock)
                         or not self.proc.alive(), timeout=30,
                         what="gateway socket")
        if not self.proc.alive():
            self.proc.may_fail = True
            raise RuntimeError("gateway died:\n" + self.proc.output())

    def read_stats(self):
        self.proc.signal(12)  # SIGUSR2 rewrites the stats file now
        import time
        time.sleep(0.2)
        with open(self.stats) as f:
            return json.load(f)
