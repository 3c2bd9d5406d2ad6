"""sandboxd against gateways that authenticate, use TLS, or lie about it."""
import os
import socket
import subprocess

import pytest

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
