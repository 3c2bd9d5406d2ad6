"""make install DESTDIR=… puts everything under DESTDIR and nowhere else."""
import glob
import os
import subprocess

import sbxtest
from gwclient import Client


EXPECTED = {"bin/sbctl", "sbin/sandboxd", "sbin/sandbox-gateway-local",
            "libexec/sandboxd/sandbox-gateway-keeper",
            "share/man/man1/sbctl.1", "share/man/man5/sandboxd.conf.5",
            "share/man/man7/sandboxd-rpc.7", "share/man/man8/sandboxd.8",
            "share/man/man8/sandbox-gateway-local.8",
            "lib/systemd/system/sandboxd.service",
            "lib/systemd/system/sandboxd.socket",
            "lib/sysusers.d/sandboxd.conf", "lib/tmpfiles.d/sandboxd.conf",
            "share/doc/sandboxd/sandboxd-local-gateway.conf"}


def files_under(root):
    return {os.path.relpath(os.path.join(d, f), root)
            for d, _, fs in os.walk(root) for f in fs}


def make(target, dest, prefix):
    r = subprocess.run(["make", "-s", "-C", sbxtest.SRC, target,
                        f"DESTDIR={dest}", f"PREFIX={prefix}",
                        f"B={sbxtest.BUILD}"], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()


def test_install_into_destdir(tmpdir_short):
    # A prefix that exists nowhere: an install that ignored DESTDIR would
    # create it, and nothing else can.
    prefix = f"/opt/sbx-install-test-{os.getpid()}"
    dest = os.path.join(tmpdir_short, "root")
    assert not os.path.exists(prefix)
    make("install", dest, prefix)
    assert not os.path.exists(prefix)
    assert files_under(dest + prefix) == EXPECTED
    assert files_under(dest) == {prefix[1:] + "/" + f for f in EXPECTED}
    assert os.access(os.path.join(dest + prefix, "sbin/sandboxd"), os.X_OK)
    # The unit starts the sandboxd this install put in place, whatever
    # PREFIX; the drop-in that relaxes the hardening is not enabled.
    with open(os.path.join(dest + prefix,
                           "lib/systemd/system/sandboxd.service")) as f:
        execs = [x for x in f.read().splitlines()
                 if x.startswith("ExecStart=")]
    assert len(execs) == 1
    assert execs[0].startswith(f"ExecStart={prefix}/sbin/sandboxd "), execs
    assert not glob.glob(os.path.join(dest, "**", "sandboxd.service.d"),
                         recursive=True)
    make("uninstall", dest, prefix)
    assert files_under(dest) == set()
    assert not os.path.exists(prefix)


def test_installed_gateway_finds_its_keeper(tmpdir_short):
    """Installed, the gateway runs its commands (--isolation none) under
    the keeper it finds in ../libexec/sandboxd."""
    prefix = "/opt/sbx"
    dest = os.path.join(tmpdir_short, "root")
    make("install", dest, prefix)
    sock = os.path.join(tmpdir_short, "gw.sock")
    gw = sbxtest.Proc([dest + prefix + "/sbin/sandbox-gateway-local",
                       "--isolation", "none", "--root",
                       os.path.join(tmpdir_short, "gwroot"),
                       "--listen", "unix:" + sock],
                      os.path.join(tmpdir_short, "gw.log"))
    try:
        sbxtest.wait_for(lambda: "listening on" in gw.output() or
                         not gw.alive(), timeout=30, what="gateway up")
        assert gw.alive(), gw.output()
        c = Client("unix:" + sock)
        sid = c.start_running(command="sleep", args=["600"])
        assert c.exec(sid, "echo", "kept").stdout == b"kept\n"
    finally:
        gw.stop()
    assert gw.p.returncode == 0, gw.output()


def test_install_with_prefix_usr(tmpdir_short):
    dest = os.path.join(tmpdir_short, "root")
    make("install", dest, "/usr")
    assert files_under(os.path.join(dest, "usr")) == EXPECTED
    with open(os.path.join(dest, "usr/lib/systemd/system/"
                           "sandboxd.service")) as f:
        assert "ExecStart=/usr/sbin/sandboxd " in f.read()
    make("uninstall", dest, "/usr")
    assert files_under(dest) == set()
