"""sandbox-gateway-local: Start/Get/List/Stop/Delete/Pause/Resume and the
sandbox state machine."""
import os
import socket
import subprocess

import grpc
import pytest

import sbxtest
from gwclient import (Client, gateway, gateway_factory, gw,  # noqa: F401
                      gwdir)


def code_of(excinfo):
    return excinfo.value.code()


def test_help_and_version_document_every_option():
    exe = sbxtest.binary("sandbox-gateway-local")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr == ""
    for opt in ("--listen", "--root", "--isolation", "--start-delay-ms",
                "--default-lifetime", "--stop-grace", "--api-key-file",
                "--entity", "--tls-cert", "--tls-key", "--fault",
                "--fault-file", "--stats-file", "--verbose", "--version"):
        assert opt in out.stdout
    man = open(os.path.join(sbxtest.SRC, "man",
                            "sandbox-gateway-local.8")).read()
    for opt in ("listen", "root", "isolation", "start-delay-ms",
                "default-lifetime", "stop-grace", "api-key-file", "entity",
                "tls-cert", "tls-key", "fault", "fault-file", "stats-file"):
        assert "Fl -" + opt in man or "Fl " + opt in man, opt
    v = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and "sandbox-gateway-local" in v.stdout


def test_bad_options_are_refused(gwdir):
    exe = sbxtest.binary("sandbox-gateway-local")
    for args in (["--isolation", "magic"], ["--fault", "explode=1"],
                 ["--fault", "unavailable=2"], ["--fault", "latency=xs"],
                 ["--fault", "drop-reply=Nope:1"], ["--tls-cert", "x"],
                 ["--default-lifetime", "-5"], ["stray"]):
        r = subprocess.run([exe, "--root", gwdir, *args],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr and r.stdout == ""


def test_start_delay_creating_then_running(gateway_factory):
    g = gateway_factory("--start-delay-ms", "700")
    c = g.client
    r = c.call("Start", command="sleep", args=["60"], tags=["t1"],
               container_image="python:3.11",
               resources=c.gw.ResourceRequest(cpu="250m", memory="512Mi"))
    assert r.sandbox_id.startswith("sbx-") and len(r.sandbox_id) == 16
    assert r.sandbox_status == c.gw.SANDBOX_STATUS_CREATING
    assert c.status(r.sandbox_id) == c.gw.SANDBOX_STATUS_CREATING
    with pytest.raises(grpc.RpcError) as e:
        c.exec(r.sandbox_id, "true")
    assert code_of(e) == grpc.StatusCode.FAILED_PRECONDITION
    assert "CREATING" in e.value.details()
    c.wait_status(r.sandbox_id, c.gw.SANDBOX_STATUS_RUNNING)


def test_image_resources_and_network_are_recorded_and_reported(gateway):
    # v1beta2's Get and List have no field for the image or the resources:
    # they are reported in the stats file and on the Start log line.
    c = gateway.client
    gw = c.gw
    sid = c.start_running(
        command="sleep", args=["60"], tags=["rec"],
        container_image="python:3.11-slim",
        resources=gw.ResourceRequest(cpu="250m", memory="512Mi"),
        resource_limits=gw.ResourceRequest(
            cpu="2", memory="4Gi",
            gpu=gw.GpuRequest(gpu_count=1, gpu_type="A100")),
        network=gw.NetworkOptions(ingress_mode="public",
                                  egress_mode="none"),
        secret_stores=[gw.SecretStoreReference(
            store_name="vault", secrets=[gw.SecretMapping(
                path="db", field="password", env_var="DB_PASSWORD")])])
    plain = c.start_running()
    r = gateway.stats()["sandbox_records"]
    assert r[sid] == {
        "status": "RUNNING",
        "container_image": "python:3.11-slim",
        "resources": {"cpu": "250m", "memory": "512Mi"},
        "resource_requests": None,
        "resource_limits": {"cpu": "2", "memory": "4Gi",
                            "gpu": {"count": 1, "type": "A100"}},
        "secret_stores": [{"store": "vault", "secrets": [{
            "path": "db", "field": "password",
            "env_var": "DB_PASSWORD"}]}],
        "ingress_mode": "public", "egress_mode": "none",
        "applied_ingress_mode": "public", "applied_egress_mode": "none",
        "tags": ["rec"], "entity": "", "project": ""}
    assert r[plain]["container_image"] == "" and \
        r[plain]["resource_limits"] is None and \
        r[plain]["secret_stores"] == [] and \
        r[plain]["applied_egress_mode"] == "internet"
    log = gateway.proc.output()
    assert (f'sandbox {sid} created: image "python:3.11-slim" (not pulled), '
            "resources cpu=250m memory=512Mi, limits cpu=2 memory=4Gi "
            "gpu=1xA100 (not enforced), egress none") in log
    info = c.call("Get", sandbox_id=sid)
    assert info.applied_egress_mode == "none"
    assert info.applied_ingress_mode == "public"
    c.call("Stop", sandbox_id=sid)
    r = gateway.stats()["sandbox_records"]
    assert r[sid]["status"] == "COMPLETED"
    c.call("Delete", sandbox_id=sid)
    assert sid not in gateway.stats()["sandbox_records"]


def test_job_exit_zero_completes_and_nonzero_fails(gw):
    ok = gw.start(command="sh", args=["-c", "echo done"])
    bad = gw.start(command="sh", args=["-c", "exit 3"])
    r = gw.wait_status(ok, gw.gw.SANDBOX_STATUS_COMPLETED)
    assert r.HasField("exit_code") and r.exit_code == 0
    r = gw.wait_status(bad, gw.gw.SANDBOX_STATUS_FAILED)
    assert r.exit_code == 3 and "code 3" in r.status_reason


def test_missing_command_fails_with_reason(gw):
    sid = gw.start(command="/no/such/binary")
    r = gw.wait_status(sid, gw.gw.SANDBOX_STATUS_FAILED)
    assert r.status_reason
    assert r.exit_code != 0


def test_missing_command_without_isolation(gateway_factory):
    c = gateway_factory("--isolation", "none").client
    sid = c.start(command="/no/such/binary")
    r = c.wait_status(sid, c.gw.SANDBOX_STATUS_FAILED)
    assert "/no/such/binary" in r.status_reason
    assert r.HasField("exit_code") and r.exit_code == 127


def test_lifetime_expiry(gw):
    sid = gw.start(command="sleep", args=["600"], max_lifetime_seconds=1)
    r = gw.wait_status(sid, (gw.gw.SANDBOX_STATUS_FAILED,
                             gw.gw.SANDBOX_STATUS_COMPLETED), timeout=30)
    assert "lifetime" in r.status_reason


def test_default_lifetime_applies(gateway_factory):
    g = gateway_factory("--default-lifetime", "1s")
    sid = g.client.start(command="sleep", args=["600"])
    r = g.client.wait_status(sid, g.client.gw.SANDBOX_STATUS_FAILED)
    assert "lifetime" in r.status_reason


def test_stop_get_delete_and_not_found(gw):
    sid = gw.start_running()
    assert gw.call("Stop", sandbox_id=sid).success
    r = gw.call("Get", sandbox_id=sid)
    assert r.sandbox_status == gw.gw.SANDBOX_STATUS_COMPLETED
    assert "stopped" in r.status_reason
    assert gw.call("Stop", sandbox_id=sid).success     # idempotent
    assert gw.call("Delete", sandbox_id=sid).success
    for m in ("Get", "Stop", "Delete", "Pause", "Resume"):
        with pytest.raises(grpc.RpcError) as e:
            gw.call(m, sandbox_id=sid)
        assert code_of(e) == grpc.StatusCode.NOT_FOUND, m
    with pytest.raises(grpc.RpcError) as e:
        gw.call("Get", sandbox_id="")
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT


def test_stop_without_waiting_then_terminal(gw):
    sid = gw.start_running(command="sh", args=["-c", "trap '' TERM; "
                                                "sleep 600 & wait"])
    r = gw.call("Stop", sandbox_id=sid, graceful_shutdown_seconds=1,
                wait_for_ready=False)
    assert r.success
    gw.wait_status(sid, gw.gw.SANDBOX_STATUS_COMPLETED)


def test_delete_running_sandbox_removes_it(gateway):
    c = gateway.client
    sid = c.start_running()
    assert c.call("Delete", sandbox_id=sid).success
    sbxtest.wait_for(lambda: not os.path.exists(
        os.path.join(gateway.root, sid)), what="sandbox dir removed")
    ids = [s.sandbox_id for s in
           c.call("List", include_stopped=True).sandboxes]
    assert sid not in ids


def test_pause_and_resume(gw):
    sid = gw.start_running()
    assert gw.call("Pause", sandbox_id=sid).success
    assert gw.status(sid) == gw.gw.SANDBOX_STATUS_PAUSED
    with pytest.raises(grpc.RpcError) as e:
        gw.exec(sid, "true")
    assert code_of(e) == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as e:
        gw.call("Pause", sandbox_id=sid)
    assert code_of(e) == grpc.StatusCode.FAILED_PRECONDITION
    assert gw.call("Resume", sandbox_id=sid).success
    assert gw.status(sid) == gw.gw.SANDBOX_STATUS_RUNNING
    assert gw.exec(sid, "true").exit_code == 0


def test_environment_and_mounted_files(gw):
    m = gw.gw.MountedFile(mount_path="/work/conf/app.cfg",
                          file_content=b"key=1\n")
    sid = gw.start_running(
        command="sh", args=["-c", "cat conf/app.cfg; echo $FOO; sleep 600"],
        environment_variables={"FOO": "bar"}, mounted_files=[m])
    r = gw.exec(sid, "sh", "-c", "echo $FOO; cat /work/conf/app.cfg")
    assert r.stdout == b"bar\nkey=1\n"


def test_bad_start_requests(gw):
    with pytest.raises(grpc.RpcError) as e:
        gw.call("Start", environment_variables={"A=B": "x"})
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        gw.call("Start", mounted_files=[gw.gw.MountedFile(
            mount_path="../escape", file_content=b"x")])
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT


def test_unknown_method_is_unimplemented(gateway):
    fn = gateway.client.channel.unary_unary(
        "/coreweave.sandbox.v1beta2.GatewayService/Snapshot")
    with pytest.raises(grpc.RpcError) as e:
        fn(b"", timeout=10)
    assert code_of(e) == grpc.StatusCode.UNIMPLEMENTED


def test_list_filters_by_tags_and_status(gw):
    a = gw.start_running(tags=["pool", "red"])
    b = gw.start_running(tags=["pool", "blue"])
    c = gw.start(command="true", tags=["pool", "red"])
    gw.wait_status(c, gw.gw.SANDBOX_STATUS_COMPLETED)

    def ids(**kw):
        return {s.sandbox_id for s in gw.call("List", **kw).sandboxes}

    assert ids(tags=["pool"]) == {a, b}
    assert ids(tags=["pool", "red"]) == {a}
    assert ids(tags=["pool", "red"], include_stopped=True) == {a, c}
    assert ids(tags=["pool"], status=gw.gw.SANDBOX_STATUS_COMPLETED) == {c}
    assert ids(tags=["nope"]) == set()
    info = [s for s in gw.call("List", tags=["blue"]).sandboxes][0]
    assert info.sandbox_status == gw.gw.SANDBOX_STATUS_RUNNING


def test_list_pages(gw):
    made = [gw.start(tags=["paged"]) for _ in range(7)]
    seen, token, pages = [], "", 0
    while True:
        r = gw.call("List", tags=["paged"], page_size=3, page_token=token)
        seen += [s.sandbox_id for s in r.sandboxes]
        pages += 1
        assert len(r.sandboxes) <= 3
        token = r.next_page_token
        if not token:
            break
    assert seen == made and pages == 3
    with pytest.raises(grpc.RpcError) as e:
        gw.call("List", page_token="garbage")
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_listens_on_every_address_at_once(gateway_factory, gwdir):
    port = free_tcp_port()
    sock = os.path.join(gwdir, "gw.sock")
    g = gateway_factory(listen=["unix:" + sock, f"127.0.0.1:{port}"])
    assert f"listening on unix:{sock}, 127.0.0.1:{port}," in g.proc.output()
    tcp = Client(f"127.0.0.1:{port}")
    try:
        sid = tcp.start_running()
        # One server behind both: what one address made, the other sees.
        assert g.client.status(sid) == tcp.gw.SANDBOX_STATUS_RUNNING
        assert g.client.exec(sid, "echo", "unix").stdout == b"unix\n"
        assert tcp.exec(sid, "echo", "tcp").stdout == b"tcp\n"
    finally:
        tcp.close()


def test_mounted_files_exist_before_the_main_command_starts(gw):
    files = [gw.gw.MountedFile(mount_path="/work/conf/app.cfg",
                               file_content=b"key=1\n"),
             gw.gw.MountedFile(mount_path="data.txt", file_content=b"d\n")]
    # The main command reads them at once and exits: no waiting, no retry.
    sid = gw.start(command="cat", args=["conf/app.cfg", "data.txt"],
                   mounted_files=files)
    r = gw.wait_status(sid, (gw.gw.SANDBOX_STATUS_COMPLETED,
                             gw.gw.SANDBOX_STATUS_FAILED))
    assert r.exit_code == 0, gw.log(sid)
    assert gw.log(sid) == b"key=1\nd\n"


# Ignores SIGTERM, as do its children: only SIGKILL ends it.
STUBBORN = ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]


def test_stop_is_terminating_during_the_grace(gw):
    sid = gw.start_running(command=STUBBORN[0], args=STUBBORN[1:])
    assert gw.call("Stop", sandbox_id=sid, graceful_shutdown_seconds=3,
                   wait_for_ready=False).success
    # The command ignores SIGTERM: TERMINATING until SIGKILL, 3 s later.
    r = gw.call("Get", sandbox_id=sid)
    assert r.sandbox_status == gw.gw.SANDBOX_STATUS_TERMINATING
    assert r.status_reason == "stopped by request"
    assert not r.HasField("exit_code")
    listed = gw.call("List", status=gw.gw.SANDBOX_STATUS_TERMINATING)
    assert sid in [s.sandbox_id for s in listed.sandboxes]
    with pytest.raises(grpc.RpcError) as e:
        gw.exec(sid, "true")
    assert code_of(e) == grpc.StatusCode.FAILED_PRECONDITION
    r = gw.wait_status(sid, gw.gw.SANDBOX_STATUS_COMPLETED)
    assert r.status_reason == "stopped by request"
    assert r.exit_code == 128 + 9          # killed after the grace


def test_lifetime_expiry_is_terminating_then_failed(gateway_factory):
    g = gateway_factory("--stop-grace", "3s")
    c = g.client
    sid = c.start(command=STUBBORN[0], args=STUBBORN[1:],
                  max_lifetime_seconds=1)
    r = c.wait_status(sid, c.gw.SANDBOX_STATUS_TERMINATING)
    assert "lifetime" in r.status_reason
    r = c.wait_status(sid, c.gw.SANDBOX_STATUS_FAILED)
    assert r.status_reason == "max lifetime of 1s reached"
