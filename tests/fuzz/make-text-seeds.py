#!/usr/bin/python3
"""Writes the text seed corpora: fuzz-jsonrpc (one line per file, no
newline), fuzz-dispatch (one or more newline-terminated lines per file) and
fuzz-config (sandboxd.conf snippets).  The output is committed; rerun with
/usr/bin/python3 from the repository root when methods or keys change.
"""
import json
import os

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
CORPUS = os.path.join(SRC, "tests", "fuzz", "corpus")


def req(method, params=None, id=1):
    m = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        m["params"] = params
    return json.dumps(m, separators=(",", ":"))


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


def write(dirname, name, text):
    d = os.path.join(CORPUS, dirname)
    os.makedirs(d, exist_ok=True)
    data = text.encode("latin-1") if "\xc3" in text else text.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
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
