#!/usr/bin/python3
"""Writes the text seed corpora: fuzz-jsonrpc (one line per file, no
newline), fuzz-dispatch (one or more newline-terminated lines per file) and
fuzz-config (sandboxd.conf snippets).  The output is committed; rerun with
/usr/bin/python3 from the repository root when methods or keys change.

Every method of the daemon's table (daemon/rpc-dispatch.c) has a seed; the
script checks that against the table.  fuzz-dispatch seeds use what that
harness provides: the ready leases l-00000000 (root's) and l-11111111
(uid 65534's), ids made in order (the first of an input is x-aaaaaaaa or
l-aaaaaaaa, the next ...bbbbbbbb) and a leading space to connect as uid
65534.
"""
import json
import os
import re

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
CORPUS = os.path.join(SRC, "tests", "fuzz", "corpus")


def req(method, params=None, id=1):
    m = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        m["params"] = params
    return json.dumps(m, separators=(",", ":"))


ROOT = "l-00000000"     # fuzz-dispatch's ready lease of root
USER = "l-11111111"     # ... and of uid 65534
X1 = "x-aaaaaaaa"       # the first exec an input starts

# Every method with good parameters, and with the bad kinds of each.
REQUESTS = {
    "status": req("status"),
    "status-params-empty": req("status", {}),
    "status-extra-param": req("status", {"bogus": 1}),
    "lease-acquire": req("lease.acquire", {
        "image": "python:3.12", "cpu": "250m", "memory": "512Mi",
        "ttl": "30m", "wait": 5, "tags": ["ci", "x"],
        "env": {"A": "1", "B": ""}, "egress": "none"}),
    "lease-acquire-full": req("lease.acquire", {
        "image": "img", "gpu_count": 1, "gpu_type": "A100",
        "command": ["sleep", "60"], "ttl": 90.5, "wait": "1s",
        "files": [{"path": "/w/a.txt", "data_b64": "aGVsbG8="}],
        "secrets": [{"store": "vault", "path": "p", "field": "f",
                     "env_var": "TOKEN"}]}),
    "lease-acquire-bad-env": req("lease.acquire", {"env": {"A=B": "x"}}),
    "lease-acquire-bad-files": req("lease.acquire", {
        "files": [{"path": "/a", "data_b64": "!!!"}]}),
    "lease-acquire-bad-ttl": req("lease.acquire", {"ttl": "forever"}),
    "lease-acquire-bad-gpu": req("lease.acquire", {"gpu_count": -3}),
    "lease-acquire-bad-tags": req("lease.acquire", {"tags": [1, 2]}),
    "lease-list": req("lease.list"),
    "lease-list-all": req("lease.list", {"all": True}),
    "lease-list-bad-all": req("lease.list", {"all": "yes"}),
    "lease-get": req("lease.get", {"lease": "l-0123456789abcdef"}),
    "lease-get-missing": req("lease.get", {}),
    "lease-release": req("lease.release", {"lease": "l-1"}),
    "lease-wait": req("lease.wait", {"lease": "l-1", "timeout": 2}),
    "lease-wait-bad-timeout": req("lease.wait", {"lease": "l-1",
                                                 "timeout": -1}),
    "exec": req("exec", {"lease": "l-1", "argv": ["echo", "hi"],
                         "stdin_b64": "aGk=", "timeout": "10s",
                         "max_output": 1024}),
    "exec-empty-argv": req("exec", {"lease": "l-1", "argv": []}),
    "file-write": req("file.write", {"lease": "l-1", "path": "/tmp/x",
                                     "data_b64": "AAEC"}),
    "file-read": req("file.read", {"lease": "l-1", "path": "/etc/hostname"}),
    "unknown-method": req("lease.steal", {"lease": "l-1"}),
    "lease-renew": req("lease.renew", {"lease": ROOT, "ttl": "10m"}),
    "lease-renew-bad-ttl": req("lease.renew", {"lease": ROOT, "ttl": -5}),
    "pool-list": req("pool.list"),
    "pool-resize": req("pool.resize", {"pool": "py", "warm": 2}),
    "pool-resize-auto": req("pool.resize", {"pool": "cold",
                                            "warm": "auto"}),
    "pool-resize-missing": req("pool.resize", {"pool": "nope", "warm": 1}),
    "budget-get": req("budget.get"),
    "budget-get-all": req("budget.get", {"all": True}),
    "metrics": req("metrics"),
    "gateway-check": req("gateway.check"),
    "exec-start": req("exec.start", {
        "lease": ROOT, "argv": ["sh", "-c", "cat"], "env": {"A": "1"},
        "tty": True, "width": 80, "height": 24, "stdin": True,
        "timeout": "10s"}),
    "exec-start-detach": req("exec.start", {
        "lease": ROOT, "argv": ["make"], "detach": True}),
    "exec-write": req("exec.write", {"exec": X1, "data_b64": "aGkK"}),
    "exec-close-stdin": req("exec.close_stdin", {"exec": X1}),
    "exec-resize": req("exec.resize", {"exec": X1, "width": 120,
                                       "height": 40}),
    "exec-cancel": req("exec.cancel", {"exec": X1}),
    "exec-attach": req("exec.attach", {"exec": X1, "from": 0}),
    "exec-detach": req("exec.detach", {"exec": X1}),
    "exec-list": req("exec.list"),
    "exec-list-all": req("exec.list", {"all": True}),
    "tail-start": req("tail.start", {"lease": ROOT, "follow": True,
                                     "lines": 10, "since": "5m",
                                     "timestamps": True}),
    "tail-stop": req("tail.stop", {"tail": "t-aaaaaaaa"}),
    "string-id": req("status", None, "abc"),
    "null-id": req("status", None, None),
    "params-array": req("status", [1, 2]),
}

# Lines the framing must refuse, each a class of its own.
MALFORMED = {
    "bad-json": '{"jsonrpc":"2.0","id":1,"method":',
    "bad-utf8": '{"jsonrpc":"2.0","id":1,"method":"st\xc3\x28"}',
    "not-object": '"status"',
    "number": '42',
    "batch": '[' + req("status") + ',' + req("lease.list", id=2) + ']',
    "empty-batch": '[]',
    "no-version": '{"id":1,"method":"status"}',
    "wrong-version": '{"jsonrpc":"1.0","id":1,"method":"status"}',
    "float-id": '{"jsonrpc":"2.0","id":1.5,"method":"status"}',
    "object-id": '{"jsonrpc":"2.0","id":{},"method":"status"}',
    "bool-id": '{"jsonrpc":"2.0","id":true,"method":"status"}',
    "empty-method": '{"jsonrpc":"2.0","id":1,"method":""}',
    "number-method": '{"jsonrpc":"2.0","id":1,"method":7}',
    "string-params": '{"jsonrpc":"2.0","id":1,"method":"status",'
                     '"params":"x"}',
    "neither": '{"jsonrpc":"2.0","id":1}',
    "notification": '{"jsonrpc":"2.0","method":"status"}',
    "response-result": '{"jsonrpc":"2.0","id":1,"result":{"ok":true}}',
    "response-error": '{"jsonrpc":"2.0","id":1,"error":{"code":-32001,'
                      '"message":"no","data":{"kind":"not_found"}}}',
    "response-both": '{"jsonrpc":"2.0","id":1,"result":1,'
                     '"error":{"code":1,"message":"x"}}',
    "response-bad-error": '{"jsonrpc":"2.0","id":1,"error":"x"}',
    "nul-inside": '{"jsonrpc":"2.0","id":1,"method":"sta\\u0000tus"}',
    "huge-id": '{"jsonrpc":"2.0","id":99999999999999999999,'
               '"method":"status"}',
    "deep": '[' * 200 + ']' * 200,
    "dup-keys": '{"jsonrpc":"2.0","id":1,"id":2,"method":"status"}',
}

CONFIGS = {
    "daemon": """[daemon]
socket = /run/sandboxd/sandboxd.sock
state_dir = /var/lib/sandboxd
verbose = 1
max_line = 1Mi
max_clients = 100
max_clients_per_uid = 10
max_inflight = 8
admin_group = wheel
idle_timeout = 5m
write_timeout = 1m
keep_warm_on_shutdown = yes
exec_ring = 4Mi
""",
    "gateway": """[gateway]
address = api.example.com:443
tls = true
ca_file = /etc/ssl/ca.pem
channels = 4
api_key_file = /etc/sandboxd/key
entity = me
project = proj
call_timeout = 30s
exec_timeout = 10m
start_timeout = 5m
keepalive = 30s
""",
    "gateway-local": """[gateway]
address = local
local_binary = /usr/sbin/sandbox-gateway-local
local_isolation = auto
local_start_delay = 100ms
local_root = /tmp/gw
""",
    "budget": """[budget]
max_sandboxes = 10
max_lifetime = 30m
max_lease_ttl = 24h
default_lease_ttl = 30m
max_leases = 5
sandbox_seconds = 3600
window = 24h

[budget.user.alice]
max_leases = 2

[budget.group.ci]
max_sandboxes = 50
""",
    "pool": """[pool.py]
image = python:3.12
cpu = 500m
memory = 1Gi
gpu_count = 0
env = A=1
env = B=two words
tags = ci, fast
tags = more
egress = none
max_lifetime = 1h
warm = 2
warm_min = 1
warm_max = 4
max = 10
min_remaining = 5m
max_starting = 2
default = yes

[pool.gpu]
image = cuda
gpu_count = 1
gpu_type = A100
""",
    "comments": "; comment\n# another\n\n[daemon]\nverbose = 0 ; inline\n",
    "bad-section": "[nope]\nx = 1\n",
    "bad-key": "[daemon]\nsocks = /x\n",
    "bad-value": "[daemon]\nmax_clients = lots\n",
    "bad-duration": "[gateway]\ncall_timeout = 5 fortnights\n",
    "bad-size": "[daemon]\nmax_line = -1Ki\n",
    "bad-bool": "[gateway]\ntls = maybe\n",
    "dup-pool": "[pool.a]\nimage = x\n[pool.a]\nimage = y\n",
    "empty-pool-name": "[pool.]\nimage = x\n",
    "bad-env": "[pool.a]\nenv = NOEQUALS\n",
    "no-section": "verbose = 1\n",
    "unterminated-section": "[daemon\nverbose = 1\n",
    "huge-number": "[daemon]\nmax_clients = 99999999999999999999999\n",
}


def flow(*lines):
    """Several requests on one connection, ids counting from 1."""
    out = []
    for i, (method, params) in enumerate(lines, 1):
        out.append(req(method, params, id=i))
    return "\n".join(out) + "\n"


# fuzz-dispatch: requests that build on each other, as root and as the
# unprivileged user (leading space) on its own lease and on root's.
FLOWS = {
    "flow-exec-stream": flow(
        ("exec.start", {"lease": ROOT, "argv": ["cat"], "stdin": True,
                        "tty": True}),
        ("exec.write", {"exec": X1, "data_b64": "aGVsbG8K"}),
        ("exec.resize", {"exec": X1, "width": 100, "height": 30}),
        ("exec.list", {}),
        ("exec.detach", {"exec": X1}),
        ("exec.attach", {"exec": X1, "from": 0}),
        ("exec.close_stdin", {"exec": X1}),
        ("exec.cancel", {"exec": X1})),
    "flow-exec-detached": flow(
        ("exec.start", {"lease": ROOT, "argv": ["true"], "detach": True}),
        ("exec.attach", {"exec": X1}),
        ("exec.list", {"all": True})),
    "flow-tail": flow(
        ("tail.start", {"lease": ROOT, "follow": True}),
        ("tail.start", {"lease": ROOT, "lines": 5}),
        ("tail.stop", {"tail": "t-aaaaaaaa"})),
    "flow-lease": flow(
        ("lease.get", {"lease": ROOT}),
        ("exec", {"lease": ROOT, "argv": ["echo", "hi"]}),
        ("file.write", {"lease": ROOT, "path": "/tmp/a",
                        "data_b64": "aGk="}),
        ("file.read", {"lease": ROOT, "path": "/tmp/a"}),
        ("lease.renew", {"lease": ROOT, "ttl": "1h"}),
        ("lease.wait", {"lease": ROOT, "timeout": "50ms"}),
        ("lease.release", {"lease": ROOT, "wait": True})),
    "flow-acquire-release": flow(
        ("lease.acquire", {"ttl": "5m", "wait": 5}),
        ("lease.wait", {"lease": "l-aaaaaaaa", "timeout": 1}),
        ("lease.list", {}),
        ("lease.release", {"lease": "l-aaaaaaaa"})),
    "flow-pool": flow(
        ("lease.acquire", {"pool": "py"}),
        ("pool.list", {}),
        ("pool.resize", {"pool": "py", "warm": 0}),
        ("pool.resize", {"pool": "py", "warm": "auto"}),
        ("budget.get", {})),
    "flow-admin": flow(
        ("lease.list", {"all": True}),
        ("budget.get", {"all": True}),
        ("exec.list", {"all": True}),
        ("metrics", {}),
        ("gateway.check", {}),
        ("status", {})),
    "other-own-lease": " " + flow(
        ("lease.get", {"lease": USER}),
        ("exec", {"lease": USER, "argv": ["id"]}),
        ("file.read", {"lease": USER, "path": "/etc/passwd"}),
        ("exec.start", {"lease": USER, "argv": ["sh"], "stdin": True}),
        ("exec.write", {"exec": X1, "data_b64": "aWQK"}),
        ("tail.start", {"lease": USER}),
        ("lease.renew", {"lease": USER, "ttl": "2m"}),
        ("lease.list", {}),
        ("budget.get", {})),
    "other-roots-lease": " " + flow(
        ("lease.get", {"lease": ROOT}),
        ("lease.release", {"lease": ROOT}),
        ("lease.renew", {"lease": ROOT, "ttl": 60}),
        ("lease.wait", {"lease": ROOT, "timeout": 1}),
        ("exec", {"lease": ROOT, "argv": ["id"]}),
        ("file.read", {"lease": ROOT, "path": "/etc/shadow"}),
        ("file.write", {"lease": ROOT, "path": "/x", "data_b64": ""}),
        ("exec.start", {"lease": ROOT, "argv": ["sh"]}),
        ("tail.start", {"lease": ROOT, "follow": True}),
        ("lease.list", {"all": True}),
        ("exec.list", {"all": True}),
        ("budget.get", {"all": True}),
        ("pool.resize", {"pool": "py", "warm": 8})),
}


def check_every_method():
    """Every method of the dispatch table has a seed of its own."""
    with open(os.path.join(SRC, "daemon", "rpc-dispatch.c")) as f:
        table = re.findall(r"&method_(\w+),", f.read())
    methods = set()
    for name in os.listdir(os.path.join(SRC, "daemon")):
        if name.startswith("method-") and name.endswith(".c"):
            with open(os.path.join(SRC, "daemon", name)) as f:
                methods |= set(re.findall(r'\.name = "([a-z_.]+)"',
                                          f.read()))
    seeded = {json.loads(line)["method"] for text in
              list(REQUESTS.values()) + list(FLOWS.values())
              for line in text.strip().splitlines()
              if line.strip().startswith("{")}
    missing = methods - seeded
    if len(methods) != len(table) or missing:
        raise SystemExit("methods without a seed: %s (table has %d, "
                         "found %d)" % (sorted(missing), len(table),
                                        len(methods)))


def write(dirname, name, text):
    d = os.path.join(CORPUS, dirname)
    os.makedirs(d, exist_ok=True)
    data = text.encode("latin-1") if "\xc3" in text else text.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    check_every_method()
    for name, text in FLOWS.items():
        write("fuzz-dispatch", name, text)
    for name, line in REQUESTS.items():
        write("fuzz-jsonrpc", name, line)
        write("fuzz-dispatch", name, line + "\n")
    for name, line in MALFORMED.items():
        write("fuzz-jsonrpc", name, line)
        write("fuzz-dispatch", name, line + "\n")
    # Several lines at once, blank keep-alives, CRLF, and no final newline.
    write("fuzz-dispatch", "pipelined",
          "\n".join(REQUESTS[k] for k in ("status", "lease-list",
                                          "lease-get", "exec",
                                          "unknown-method")) + "\n")
    write("fuzz-dispatch", "keepalives-crlf",
          "\n\r\n" + req("status") + "\r\n\n" + req("lease.list", id=2) +
          "\n")
    write("fuzz-dispatch", "mixed-garbage",
          MALFORMED["bad-json"] + "\n" + REQUESTS["status"] + "\n" +
          MALFORMED["batch"] + "\n" + MALFORMED["notification"] + "\n")
    write("fuzz-dispatch", "no-final-newline", REQUESTS["status"])
    for name, text in CONFIGS.items():
        write("fuzz-config", name, text)


if __name__ == "__main__":
    main()
