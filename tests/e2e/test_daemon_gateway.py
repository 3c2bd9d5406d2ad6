"""sandboxd against gateways that authenticate, use TLS, or lie about it."""
import os
import socket
import subprocess

import pytest

import sbxtest
from sbxd import Daemon, Gateway, RpcError


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_auth_failure_exit_77(tmpdir_short, procs):
    key = os.path.join(tmpdir_short, "key")
    with open(key, "w") as f:
        f.write("right-key\n")
    os.chmod(key, 0o600)
    gw = Gateway(tmpdir_short, procs, args=["--api-key-file", key])
    env = dict(os.environ, SANDBOXD_API_KEY="wrong-key",
               WANDB_ENTITY_NAME="team")
    d = Daemon(tmpdir_short, procs, gateway=gw.target, env=env)
    r = d.sbctl("run", "--", "true")
    assert r.returncode == 77, r.stderr
    assert b"key" in r.stderr.lower()
    assert b"wrong-key" not in r.stderr
    assert b"wrong-key" not in open(d.proc.logpath, "rb").read()


def test_auth_success(tmpdir_short, procs):
    key = os.path.join(tmpdir_short, "key")
    with open(key, "w") as f:
        f.write("right-key\n")
    os.chmod(key, 0o600)
    gw = Gateway(tmpdir_short, procs, args=["--api-key-file", key])
    keyfile = os.path.join(tmpdir_short, "daemon-key")
    with open(keyfile, "w") as f:
        f.write("right-key\n")
    os.chmod(keyfile, 0o600)
    env = dict(os.environ, WANDB_ENTITY_NAME="team")
    env.pop("SANDBOXD_API_KEY", None)
    env.pop("WANDB_API_KEY", None)
    d = Daemon(tmpdir_short, procs, gateway=gw.target, env=env,
               conf_extra=f"api_key_file = {keyfile}\n")
    r = d.sbctl("run", "--", "echo", "in")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"in\n"


def make_ca(dirpath, name):
    """A throwaway CA and a server certificate for localhost."""
    ca_key = os.path.join(dirpath, f"{name}-ca.key")
    ca = os.path.join(dirpath, f"{name}-ca.pem")
    key = os.path.join(dirpath, f"{name}.key")
    csr = os.path.join(dirpath, f"{name}.csr")
    cert = os.path.join(dirpath, f"{name}.pem")
    ext = os.path.join(dirpath, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", ca_key, "-out", ca, "-days", "2", "-subj",
        f"/CN={name} test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
        "-out", csr, "-subj", "/CN=localhost")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
        "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
    return ca, cert, key


def tls_gateway(tmpdir_short, procs, cert, key):
    port = free_port()
    gw = Gateway(tmpdir_short, procs, args=[
        "--listen", f"127.0.0.1:{port}", "--tls-cert", cert,
        "--tls-key", key])

    # Gateway() waits for its unix socket only; a daemon that dialled the
    # TCP port before it listened would see the gateway down for a while.
    def tcp_listens():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    sbxtest.wait_for(tcp_listens, timeout=30, what="gateway TCP port")
    return gw, f"localhost:{port}"


def test_tls_gateway_verified(tmpdir_short, procs):
    ca, cert, key = make_ca(tmpdir_short, "good")
    gw, target = tls_gateway(tmpdir_short, procs, cert, key)
    d = Daemon(tmpdir_short, procs, gateway=target,
               conf_extra=f"tls = true\nca_file = {ca}\n")
    r = d.sbctl("run", "--", "echo", "over tls")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"over tls\n"


def test_tls_gateway_unverified_refused(tmpdir_short, procs):
    ca, _, _ = make_ca(tmpdir_short, "trusted")
    _, cert, key = make_ca(tmpdir_short, "rogue")
    gw, target = tls_gateway(tmpdir_short, procs, cert, key)
    d = Daemon(tmpdir_short, procs, gateway=target,
               conf_extra=f"tls = true\nca_file = {ca}\ncall_timeout = 3s\n")
    with pytest.raises(RpcError) as e:
        d.call("lease.acquire")
    assert e.value.kind == "gateway_unavailable"
    r = d.sbctl("run", "--", "true")
    assert r.returncode == 69
    assert d.proc.alive()


def start_remote(tmpdir_short, env_extra, conf_extra=""):
    """sandboxd with a host:port gateway: (exit status, stderr), the status
    None when it started listening (it is then stopped)."""
    conf = os.path.join(tmpdir_short, "remote.conf")
    with open(conf, "w") as f:
        f.write(f"[daemon]\nsocket = {tmpdir_short}/remote.sock\n"
                f"state_dir = {tmpdir_short}/remote-state\n"
                f"[gateway]\naddress = localhost:{free_port()}\n" + conf_extra)
    env = {k: v for k, v in os.environ.items() if not k.startswith(
        ("SANDBOXD_", "WANDB_", "CWSANDBOX_"))}
    env["HOME"] = tmpdir_short     # no ~/.netrc key
    env.update(env_extra)
    errpath = os.path.join(tmpdir_short, "remote.err")
    with open(errpath, "wb") as errf:
        p = subprocess.Popen([sbxtest.binary("sandboxd"), "-c", conf],
                             env=env, stdout=subprocess.DEVNULL, stderr=errf)
    sock = os.path.join(tmpdir_short, "remote.sock")
    sbxtest.wait_for(lambda: p.poll() is not None
                     or sbxtest.unix_connectable(sock), what="sandboxd")
    rc = p.poll()
    if rc is None:
        p.terminate()
        p.wait(30)
    with open(errpath) as f:
        return rc, f.read()


def test_remote_w_and_b_key_without_entity_refused(tmpdir_short):
    rc, err = start_remote(tmpdir_short, {"SANDBOXD_API_KEY": "k"})
    assert rc == 78, err        # EX_CONFIG
    assert "entity" in err and "WANDB_ENTITY_NAME" in err
    assert "k\n" not in err


@pytest.mark.parametrize("env,conf", [
    ({"SANDBOXD_API_KEY": "k", "WANDB_ENTITY_NAME": "team"}, ""),
    ({"SANDBOXD_API_KEY": "k"}, "entity = team\n"),
    ({"CWSANDBOX_API_KEY": "cw"}, ""),      # a bearer key needs no entity
])
def test_remote_with_entity_or_bearer_starts(tmpdir_short, env, conf):
    rc, err = start_remote(tmpdir_short, env, conf)
    assert rc is None, err


def test_config_local_beats_cwsandbox_base_url(tmpdir_short, procs):
    env = dict(os.environ, CWSANDBOX_BASE_URL="https://localhost:1")
    d = Daemon(tmpdir_short, procs, gateway="local", env=env)
    st = d.call("status")
    assert st["gateway"]["address"] == "local"
    r = d.sbctl("run", "--", "echo", "local")
    assert r.returncode == 0 and r.stdout == b"local\n", r.stderr
