"""make install DESTDIR=… puts everything under DESTDIR and nowhere else."""
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
                 "usr/lib/tmpfiles.d/sandboxd.conf"]:
        assert os.path.exists(os.path.join(dest, path)), path
    assert os.access(os.path.join(dest, "usr/sbin/sandboxd"), os.X_OK)
    after = set(os.listdir("/usr/local/sbin")) | set(
        os.listdir("/usr/local/bin"))
    assert after == before
    r = subprocess.run(["make", "-s", "-C", sbxtest.SRC, "uninstall",
                        f"DESTDIR={dest}", "PREFIX=/usr",
                        f"B={sbxtest.BUILD}"], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    assert not os.path.exists(os.path.join(dest, "usr/sbin/sandboxd"))
