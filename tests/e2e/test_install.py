"""make install DESTDIR=… puts everything under DESTDIR and nowhere else."""
import glob
import os
import subprocess

import sbxtest


def test_install_into_destdir(tmpdir_short):
    dest = os.path.join(tmpdir_short, "root")
    before = set(os.listdir("/usr/local/sbin")) | set(
        os.listdir("/usr/local/bin"))
    r = subprocess.run(["make", "-s", "-C", sbxtest.SRC, "install",
                        f"DESTDIR={dest}", "PREFIX=/usr",
                        f"B={sbxtest.BUILD}"], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    for path in ["usr/bin/sbctl", "usr/sbin/sandboxd",
                 "usr/sbin/sandbox-gateway-local",
                 "usr/share/man/man8/sandboxd.8",
                 "usr/share/man/man5/sandboxd.conf.5",
                 "usr/lib/systemd/system/sandboxd.service",
                 "usr/lib/systemd/system/sandboxd.socket",
                 "usr/lib/sysusers.d/sandboxd.conf",
                 "usr/lib/tmpfiles.d/sandboxd.conf",
                 "usr/share/doc/sandboxd/sandboxd-local-gateway.conf"]:
        assert os.path.exists(os.path.join(dest, path)), path
    assert os.access(os.path.join(dest, "usr/sbin/sandboxd"), os.X_OK)
    # The unit starts the sandboxd this install put in place, whatever
    # PREFIX; the drop-in that relaxes the hardening is not enabled.
    with open(os.path.join(dest, "usr/lib/systemd/system/"
                           "sandboxd.service")) as f:
        execs = [x for x in f.read().splitlines()
                 if x.startswith("ExecStart=")]
    assert len(execs) == 1
    assert execs[0].startswith("ExecStart=/usr/sbin/sandboxd "), execs
    assert not glob.glob(os.path.join(dest, "**", "sandboxd.service.d"),
                         recursive=True)
    after = set(os.listdir("/usr/local/sbin")) | set(
        os.listdir("/usr/local/bin"))
    assert after == before
    r = subprocess.run(["make", "-s", "-C", sbxtest.SRC, "uninstall",
                        f"DESTDIR={dest}", "PREFIX=/usr",
                        f"B={sbxtest.BUILD}"], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    assert not os.path.exists(os.path.join(dest, "usr/sbin/sandboxd"))
    assert not os.path.exists(os.path.join(dest, "usr/share/doc/sandboxd"))
    assert not os.path.exists(os.path.join(
        dest, "usr/lib/systemd/system/sandboxd.service"))
