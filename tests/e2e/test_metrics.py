"""sandboxd's figures: the Prometheus endpoint and the `metrics` method.

The real sandboxd against a real sandbox-gateway-local; the endpoint's
text is read with a small parser that checks the exposition format, then
compared with what the control method says.
"""
import json
import math
import os
import re
import subprocess
import urllib.error
import urllib.request

import pytest

import sbxtest
from sbxd import Gateway, Rpc, RpcError

SECRET = "sk-metrics-test-0123456789abcdef"


def clean_env(home):
    """The test's environment without anything that could give a key."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SANDBOXD_", "WANDB_", "CWSANDBOX_",
                                "NOTIFY_", "WATCHDOG_", "LISTEN_"))
           and k != "CREDENTIALS_DIRECTORY"}
    env["HOME"] = home
    return env


def start_daemon(d, procs, gateway, daemon_extra="", env=None, wait=True,
                 sections=""):
    """sandboxd with its own config; returns (proc, socket path).

    `sections` is config text after [gateway] ([pool.x], [budget]).
    """
    sock = os.path.join(d, "sandboxd.sock")
    conf = os.path.join(d, "sandboxd.conf")
    with open(conf, "w") as f:
        f.write(f"[daemon]\nsocket = {sock}\nstate_dir = {d}/state\n"
                f"{daemon_extra}"
                f"[gateway]\naddress = {gateway}\n"
                f"local_root = {d}/gwroot\n{sections}")
    p = procs([sbxtest.binary("sandboxd"), "-c", conf], "sandboxd.log",
              env=env or clean_env(d), dir=d)
    if wait:
        sbxtest.wait_for(lambda: sbxtest.unix_connectable(sock)
                         or not p.alive(), timeout=30, what="socket")
        assert p.alive(), p.output()
    return p, sock


# --- a small parser of the Prometheus text format (0.0.4) -------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(rf"^({NAME})(\{{(.*)\}})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
                      r"(,|$)")


def parse_value(s):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    return float(s)


def parse_labels(s):
    labels, pos = {}, 0
    while pos < len(s):
        m = LABEL_RE.match(s, pos)
        assert m, f"bad labels at {s[pos:]!r}"
        v = m.group(2).replace("\\n", "\n").replace('\\"', '"').replace(
            "\\\\", "\\")
        assert m.group(1) not in labels, f"label {m.group(1)} twice"
        labels[m.group(1)] = v
        pos = m.end()
    return labels


def parse_prometheus(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}.

    Raises AssertionError on anything the format does not allow: samples
    before their TYPE, unknown types, sample names that do not belong to
    their family, bad label syntax, unparsable values, a family twice.
    """
    assert text.endswith("\n"), "the text must end with a newline"
    fams, cur = {}, None
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            assert re.fullmatch(NAME, name), line
            assert name not in fams, f"family {name} twice"
            fams[name] = {"help": help_, "type": None, "samples": []}
            cur = name
        elif line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert name == cur, f"TYPE for {name} outside its family"
            assert typ in ("counter", "gauge", "histogram", "summary",
                           "untyped"), line
            fams[name]["type"] = typ
        elif line.startswith("#"):
            continue
        else:
            m = SAMPLE_RE.match(line)
            assert m, f"bad sample line {line!r}"
            assert cur is not None and fams[cur]["type"], line
            name = m.group(1)
            allowed = {cur}
            if fams[cur]["type"] == "histogram":
                allowed = {cur + "_bucket", cur + "_sum", cur + "_count"}
            assert name in allowed, f"{name} in family {cur}"
            fams[cur]["samples"].append(
                (name, parse_labels(m.group(3) or ""),
                 parse_value(m.group(4))))
    return fams


def check_histograms(fams):
    """Buckets are cumulative and +Inf equals _count, per label set."""
    for name, fam in fams.items():
        if fam["type"] != "histogram":
            continue
        series = {}
        for sname, labels, v in fam["samples"]:
            key = tuple(sorted((k, x) for k, x in labels.items()
                               if k != "le"))
            s = series.setdefault(key, {"buckets": [], "count": None})
            if sname.endswith("_bucket"):
                s["buckets"].append((parse_value(labels["le"]), v))
            elif sname.endswith("_count"):
                s["count"] = v
        for key, s in series.items():
            les = [le for le, _ in s["buckets"]]
            assert les == sorted(les) and les[-1] == math.inf, (name, key)
            counts = [c for _, c in s["buckets"]]
            assert counts == sorted(counts), (name, key, counts)
            assert counts[-1] == s["count"], (name, key)


def sample(fams, family, name=None, **labels):
    """The value of one sample, matched on the labels given."""
    found = [v for n, lab, v in fams[family]["samples"]
             if n == (name or family)
             and all(lab.get(k) == x for k, x in labels.items())]
    assert len(found) == 1, (family, labels, found)
    return found[0]


def json_as_fams(model):
    out = {}
    for fam in model["families"]:
        out[fam["name"]] = {
            "type": fam["type"], "help": fam["help"],
            "samples": [(s["name"], s["labels"], float(s["value"]))
                        for s in fam["samples"]]}
    return out


# Families that only our requests move: their values must agree exactly.
STABLE = {"sandboxd_build_info", "sandboxd_rpc_requests_total",
          "sandboxd_rpc_request_duration_seconds",
          "sandboxd_lease_acquire_duration_seconds"}


def http_get(addr, path="/metrics"):
    with urllib.request.urlopen(f"http://{addr}{path}", timeout=30) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


# --- tests -------------------------------------------------------------------

@pytest.fixture
def gw(tmpdir_short, procs):
    return Gateway(tmpdir_short, procs)


@pytest.fixture
def daemon(tmpdir_short, procs, gw):
    p, sock = start_daemon(tmpdir_short, procs, gw.target,
                           "metrics_listen = 127.0.0.1:0\n")
    return p, sock


def run_sbctl(sock, *args, env=None):
    e = dict(os.environ if env is None else env)
    e["SANDBOXD_SOCKET"] = sock
    return subprocess.run([sbxtest.binary("sbctl"), *args],
                          capture_output=True, env=e, timeout=120)


def test_endpoint_and_method_agree(daemon):
    """After real work, GET /metrics says exactly what `metrics` says."""
    p, sock = daemon
    r = run_sbctl(sock, "run", "--buffered", "--", "echo", "hi")
    assert r.returncode == 0, r.stderr
    rpc = Rpc(sock)
    with pytest.raises(RpcError):
        rpc.call("lease.get", lease="l-00000000")
    # run's release stops the sandbox after answering: let that finish,
    # or the gateway-call families move between the two readings.
    sbxtest.wait_for(lambda: any(
        s["labels"].get("method") == "Stop"
        for f in rpc.call("metrics")["families"]
        if f["name"] == "sandboxd_gateway_calls_by_code_total"
        for s in f["samples"]), what="the sandbox stopped")
    model = rpc.call("metrics")
    status, ctype, text = http_get(model["http"])
    rpc.close()
    assert status == 200
    assert ctype.startswith("text/plain; version=0.0.4")
    fams = parse_prometheus(text)
    check_histograms(fams)
    jfams = json_as_fams(model)
    check_histograms(jfams)
    assert set(fams) == set(jfams)
    for name, fam in jfams.items():
        assert fams[name]["type"] == fam["type"], name
        assert fams[name]["help"] == fam["help"], name
        # The `metrics` calls are counted after their answers were built.
        text_samples = [s for s in fams[name]["samples"]
                        if s[1].get("method") != "metrics"]
        json_samples = [s for s in fam["samples"]
                        if s[1].get("method") != "metrics"]
        if name in STABLE:
            assert text_samples == json_samples, name
        else:
            # Live state (warm pools keep the gateway busy): same series.
            assert [s[:2] for s in text_samples] == \
                [s[:2] for s in json_samples], name

    assert sample(fams, "sandboxd_rpc_requests_total",
                  method="lease.acquire", outcome="ok") == 1
    assert sample(fams, "sandboxd_rpc_requests_total",
                  method="exec", outcome="ok") == 1
    assert sample(fams, "sandboxd_rpc_requests_total",
                  method="lease.get", outcome="not_found") == 1
    assert sample(fams, "sandboxd_lease_acquire_duration_seconds",
                  "sandboxd_lease_acquire_duration_seconds_count",
                  pool="") == 1
    assert sample(fams, "sandboxd_gateway_calls_total") >= 3
    assert sample(fams, "sandboxd_build_info", version=model["families"][0]
                  ["samples"][0]["labels"]["version"]) == 1
    assert sample(fams, "sandboxd_leases", state="ready",
                  kind="interactive") == 0
    assert sum(v for _, _, v in fams["sandboxd_gateway_channels"]
               ["samples"]) == len(fams["sandboxd_gateway_channel_inflight"]
                                   ["samples"])


def test_gauges_follow_leases(daemon):
    """A held lease shows as ready; released, it is gone again."""
    p, sock = daemon
    rpc = Rpc(sock)
    lease = rpc.call("lease.acquire")["id"]
    addr = rpc.call("metrics")["http"]
    fams = parse_prometheus(http_get(addr)[2])
    assert sample(fams, "sandboxd_leases", state="ready",
                  kind="interactive") == 1
    assert sample(fams, "sandboxd_clients") == 1
    rpc.call("lease.release", lease=lease)
    fams = parse_prometheus(http_get(addr)[2])
    assert sample(fams, "sandboxd_leases", state="ready",
                  kind="interactive") == 0
    assert sample(fams, "sandboxd_rpc_requests_total",
                  method="lease.release", outcome="ok") == 1
    rpc.close()


def test_other_paths_and_methods_refused(daemon):
    p, sock = daemon
    addr = Rpc(sock).call("metrics")["http"]
    with pytest.raises(urllib.error.HTTPError) as e:
        http_get(addr, "/")
    assert e.value.code == 404
    req = urllib.request.Request(f"http://{addr}/metrics", data=b"x",
                                 method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code in (405, 501)
    assert p.alive()


def test_off_by_default(tmpdir_short, procs, gw):
    p, sock = start_daemon(tmpdir_short, procs, gw.target)
    model = Rpc(sock).call("metrics")
    assert model["http"] is None
    assert any(f["name"] == "sandboxd_leases" for f in model["families"])
    assert "metrics on http" not in p.output()


@pytest.mark.parametrize("listen", ["0.0.0.0:0", "[::]:0"])
def test_non_loopback_refused(tmpdir_short, procs, gw, listen):
    """Listening beyond this host needs metrics_allow_remote."""
    p, _ = start_daemon(tmpdir_short, procs, gw.target,
                        f"metrics_listen = {listen}\n", wait=False)
    p.may_fail = True
    assert p.wait(timeout=30) != 0
    assert "not a loopback address" in p.output()
    assert "metrics_allow_remote" in p.output()


def test_remote_allowed_when_configured(tmpdir_short, procs, gw):
    """metrics_allow_remote = yes: any address; served on all of them."""
    p, sock = start_daemon(tmpdir_short, procs, gw.target,
                           "metrics_listen = 0.0.0.0:0\n"
                           "metrics_allow_remote = yes\n")
    addr = Rpc(sock).call("metrics")["http"]
    assert addr.startswith("0.0.0.0:")
    port = addr.rsplit(":", 1)[1]
    assert "sandboxd_leases" in parse_prometheus(
        http_get(f"127.0.0.1:{port}")[2])


@pytest.mark.parametrize("listen,why", [
    ("localhost", "HOST:PORT"),
    ("127.0.0.1:99999", "port must be a number"),
    ("127.0.0.1:x", "port must be a number"),
    ("[::1]9464", "[ADDRESS]:PORT"),
])
def test_bad_listen_address(tmpdir_short, procs, gw, listen, why):
    p, _ = start_daemon(tmpdir_short, procs, gw.target,
                        f"metrics_listen = {listen}\n", wait=False)
    p.may_fail = True
    assert p.wait(timeout=30) != 0
    assert why in p.output()


def test_ipv6_loopback(tmpdir_short, procs, gw):
    if not os.path.exists("/proc/net/if_inet6"):
        pytest.skip("no IPv6 on this host")
    p, sock = start_daemon(tmpdir_short, procs, gw.target,
                           "metrics_listen = [::1]:0\n")
    addr = Rpc(sock).call("metrics")["http"]
    assert addr.startswith("[::1]:")
    assert "sandboxd_leases" in parse_prometheus(http_get(addr)[2])


def test_no_secret_in_figures(tmpdir_short, procs):
    """The API key never appears in the endpoint or the method."""
    key = os.path.join(tmpdir_short, "gw-key")
    with open(key, "w") as f:
        f.write(SECRET + "\n")
    gw = Gateway(tmpdir_short, procs, args=["--api-key-file", key])
    env = clean_env(tmpdir_short)
    env["SANDBOXD_API_KEY"] = SECRET
    env["WANDB_ENTITY_NAME"] = "metrics-entity"
    p, sock = start_daemon(tmpdir_short, procs, gw.target,
                           "metrics_listen = 127.0.0.1:0\n", env=env)
    r = run_sbctl(sock, "run", "--", "true")
    assert r.returncode == 0, r.stderr
    rpc = Rpc(sock)
    model = rpc.call("metrics")
    text = http_get(model["http"])[2]
    rpc.close()
    assert SECRET not in text
    assert SECRET not in json.dumps(model)
    assert SECRET not in p.output()


def labels_of(fams, family):
    """The label names each sample of a family carries (less le)."""
    return {tuple(sorted(k for k in lab if k != "le"))
            for _, lab, _ in fams[family]["samples"]}


def test_gateway_calls_and_bytes(daemon):
    """exec and cp feed the gateway-call and bytes-streamed families."""
    p, sock = daemon
    rpc = Rpc(sock)
    addr = rpc.call("metrics")["http"]
    r = run_sbctl(sock, "lease")
    assert r.returncode == 0, r.stderr
    lease = r.stdout.decode().strip()
    data = b"x" * 1000
    r = subprocess.run([sbxtest.binary("sbctl"), "--socket", sock, "exec",
                        "-i", lease, "--", "sh", "-c",
                        "cat; printf err >&2"], input=data,
                       capture_output=True, timeout=120)
    assert r.returncode == 0 and r.stdout == data, r.stderr
    src = os.path.join(os.path.dirname(sock), "blob")
    with open(src, "wb") as f:
        f.write(b"y" * 4321)
    assert run_sbctl(sock, "cp", src, f"{lease}:blob").returncode == 0
    back = src + ".back"
    assert run_sbctl(sock, "cp", f"{lease}:blob", back).returncode == 0
    rpc.call("lease.release", lease=lease, wait=True)
    fams = parse_prometheus(http_get(addr)[2])
    check_histograms(fams)

    calls = "sandboxd_gateway_calls_by_code_total"
    assert fams[calls]["type"] == "counter"
    assert labels_of(fams, calls) == {("code", "method")}
    assert sample(fams, calls, method="Start", code="OK") == 1
    assert sample(fams, calls, method="Stop", code="OK") == 1
    assert sample(fams, calls, method="AddFile", code="OK") == 1
    assert sample(fams, calls, method="RetrieveFile", code="OK") == 1
    assert sample(fams, calls, method="StreamExec", code="OK") == 1
    secs = "sandboxd_gateway_call_duration_seconds"
    assert fams[secs]["type"] == "histogram"
    assert labels_of(fams, secs) == {("method",)}
    assert sample(fams, secs, secs + "_count", method="Start") == 1
    assert sample(fams, secs, secs + "_count", method="StreamExec") == 1
    assert sample(fams, secs, secs + "_sum", method="Start") > 0

    b = "sandboxd_bytes_streamed_total"
    assert labels_of(fams, b) == {("stream",)}
    assert sample(fams, b, stream="stdin") == 1000
    assert sample(fams, b, stream="stdout") == 1000
    assert sample(fams, b, stream="stderr") == 3
    assert sample(fams, b, stream="file_in") == 4321
    assert sample(fams, b, stream="file_out") == 4321
    rpc.close()


def test_pools_budget_and_streams(tmpdir_short, procs, gw):
    """Leases by pool, pool sizes, budget use and open streams."""
    p, sock = start_daemon(tmpdir_short, procs, gw.target,
                           "metrics_listen = 127.0.0.1:0\n",
                           sections="[pool.w]\nwarm = 1\n"
                           "[budget]\nsandbox_seconds = 3600\n"
                           "window = 1h\n")
    rpc = Rpc(sock)
    addr = rpc.call("metrics")["http"]

    def fams():
        return parse_prometheus(http_get(addr)[2])

    sbxtest.wait_for(lambda: sample(fams(), "sandboxd_pool_sandboxes",
                                    pool="w", state="ready") == 1,
                     timeout=60, what="a warm sandbox")
    lease = rpc.call("lease.acquire", pool="w")
    assert lease["warm"]
    # The claim's refill goes out in the pool's next batch (2 ms).
    sbxtest.wait_for(lambda: sum(sample(fams(), "sandboxd_pool_sandboxes",
                                        pool="w", state=s)
                                 for s in ("starting", "ready")) == 1,
                     timeout=60, what="the refill")
    f = fams()
    assert sample(f, "sandboxd_leases_by_pool", pool="w") == 1
    assert sample(f, "sandboxd_pool_sandboxes", pool="w",
                  state="leased") == 1
    assert sample(f, "sandboxd_pool_target", pool="w") == 1
    assert sample(f, "sandboxd_pool_start_failures_total", pool="w") == 0
    assert sample(f, "sandboxd_pool_backoff_milliseconds", pool="w") == 0
    uid = str(os.getuid())
    assert sample(f, "sandboxd_budget_limit_sandbox_seconds",
                  uid=uid) == 3600
    assert sample(f, "sandboxd_budget_used_sandbox_seconds", uid=uid) >= 0
    assert sample(f, "sandboxd_host_sandboxes") >= 2  # leased + refill
    assert sample(f, "sandboxd_streams_open", kind="exec") == 0
    assert sample(f, "sandboxd_streams_open", kind="tail") == 0

    c = Rpc(sock)
    c.call("exec.start", lease=lease["id"], argv=["cat"], stdin=True)
    c.call("tail.start", lease=lease["id"], follow=True)
    f = fams()
    assert sample(f, "sandboxd_streams_open", kind="exec") == 1
    assert sample(f, "sandboxd_streams_open", kind="tail") == 1
    c.close()
    sbxtest.wait_for(lambda: (lambda f: sample(
        f, "sandboxd_streams_open", kind="exec") + sample(
        f, "sandboxd_streams_open", kind="tail") == 0)(fams()),
        what="streams closed with their client")
    rpc.close()
