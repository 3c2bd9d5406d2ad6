"""sandbox-gateway-local: API key auth and TLS."""
import os
import subprocess

import grpc
import pytest

import sbxtest
from gwclient import Client, gateway_factory, gwdir  # noqa: F401


def test_no_key_file_accepts_any_metadata(gateway_factory):
    g = gateway_factory()
    sid = g.client.call("Start", metadata=[("x-entity-id", "team")]).sandbox_id
    assert g.client.call("Get", sandbox_id=sid, metadata=[]).sandbox_id


def test_api_key_and_entity_are_required(gateway_factory, gwdir):
    key = os.path.join(gwdir, "key")
    with open(key, "w") as f:
        f.write("s3cret-key\n")
    g = gateway_factory("--api-key-file", key, "--entity", "team")
    c = g.client
    good = [("x-wandb-api-key", "s3cret-key"), ("x-entity-id", "team")]
    cases = [([], grpc.StatusCode.UNAUTHENTICATED),
             ([("x-wandb-api-key", "wrong"), ("x-entity-id", "team")],
              grpc.StatusCode.UNAUTHENTICATED),
             ([("x-wandb-api-key", "s3cret-key")],
              grpc.StatusCode.PERMISSION_DENIED),
             ([("x-wandb-api-key", "s3cret-key"), ("x-entity-id", "other")],
              grpc.StatusCode.PERMISSION_DENIED)]
    for md, code in cases:
        with pytest.raises(grpc.RpcError) as e:
            c.call("List", metadata=md)
        assert e.value.code() == code, md
    assert c.call("List", metadata=good) is not None
    st = c.st
    req = st.LogStreamRequest(init=st.LogStreamInit(sandbox_id="x"))
    with pytest.raises(grpc.RpcError) as e:
        list(c.stream("StreamLogs", iter([req]), metadata=[]))
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "s3cret" not in g.proc.output()


def make_cert(d):
    """A throwaway CA and a localhost server certificate signed by it."""
    def run(*a):
        subprocess.run(a, cwd=d, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=test-ca")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
        "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem",
        "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem",
        "-days", "2", "-extfile", "ext")
    return [os.path.join(d, n) for n in ("ca.pem", "srv.pem", "srv.key")]


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def test_tls(gateway_factory, gwdir):
    ca, cert, key = make_cert(gwdir)
    port = free_port()
    g = gateway_factory("--tls-cert", cert, "--tls-key", key,
                        listen=[f"localhost:{port}"])
    with open(ca, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    c = Client(f"localhost:{port}", creds=creds)
    try:
        sid = c.start_running()
        assert c.exec(sid, "echo", "tls").stdout == b"tls\n"
    finally:
        c.close()
    plain = Client(f"localhost:{port}")
    try:
        with pytest.raises(grpc.RpcError) as e:
            plain.call("List", timeout=5)
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        plain.close()


def test_bad_tls_files_fail_start(gwdir):
    r = subprocess.run([sbxtest.binary("sandbox-gateway-local"), "--root",
                        gwdir + "/r", "--listen", "unix:" + gwdir + "/s",
                        "--tls-cert", "/nonexistent", "--tls-key",
                        "/nonexistent"], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 1 and "nonexistent" in r.stderr
