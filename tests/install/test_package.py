"""The Debian package, built and used as a user would: dpkg-buildpackage
-b on a clean copy of the checkout gives batchfs_VERSION_ARCH.deb; lintian
finds no error; `apt-get install ./…deb` puts the daemon, the man page,
mount.fuse.batchfs, the example systemd units and the copyright file in
place; `mount -t fuse.batchfs` mounts against the emulator; purge removes
it all. Needs root and the tools scripts/install-deps installs (debhelper,
lintian); it changes the system's packages, so it skips where batchfs is
already installed from elsewhere."""
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FILES = ["/usr/bin/batchfs", "/usr/share/man/man1/batchfs.1.gz",
         "/usr/sbin/mount.batchfs", "/usr/sbin/mount.fuse.batchfs",
         "/usr/share/doc/batchfs/copyright",
         "/usr/share/doc/batchfs/mnt-batch.mount",
         "/usr/share/doc/batchfs/batchfs.service"]


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 900)
    return subprocess.run(argv, **kw)


def installed_version():
    r = run(["dpkg-query", "-W", "-f=${Status}", "batchfs"])
    return r.returncode == 0 and "ok installed" in r.stdout


def clean_copy(dest):
    """The checkout's files (tracked and new, not ignored): no build
    directories, as a fresh clone has none."""
    names = run(["git", "ls-files", "-z", "-c", "-o", "--exclude-standard"],
                cwd=ROOT, check=True).stdout.split("\0")
    for n in filter(None, names):
        src = os.path.join(ROOT, n)
        if not os.path.lexists(src):
            continue  # deleted in the work tree
        d = os.path.join(dest, n)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), d)
        else:
            shutil.copy2(src, d)


def project_version():
    text = open(os.path.join(ROOT, "meson.build")).read()
    return re.search(r"version:\s*'([^']+)'", text).group(1)


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root")
    for tool in ("dpkg-buildpackage", "dh", "lintian"):
        assert shutil.which(tool), "%s missing: run scripts/install-deps" % tool
    if installed_version():
        pytest.skip("a batchfs package is already installed here")
    top = tmp_path_factory.mktemp("pkg")
    src = top / "batchfs"
    src.mkdir()
    clean_copy(str(src))
    env = dict(os.environ, DEB_BUILD_OPTIONS="parallel=2")
    r = run(["dpkg-buildpackage", "-b", "-us", "-uc"], cwd=str(src), env=env)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    arch = run(["dpkg", "--print-architecture"], check=True).stdout.strip()
    path = top / ("batchfs_%s_%s.deb" % (project_version(), arch))
    assert path.exists(), sorted(os.listdir(str(top)))
    return str(path)


def test_lintian_reports_no_error(deb):
    r = run(["lintian", "--fail-on", "error", deb])
    assert r.returncode == 0, r.stdout + r.stderr
    assert not re.search(r"^E: ", r.stdout, re.M), r.stdout


def test_install_mount_and_purge(deb, emu, tmp_path):
    r = run(["apt-get", "install", "-y", "--no-install-recommends", deb],
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    assert r.returncode == 0, r.stdout + r.stderr
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        for f in FILES:
            assert os.path.lexists(f), f
        assert os.access("/usr/bin/batchfs", os.X_OK)
        assert "License: MIT" in open(FILES[4]).read()
        v = run(["/usr/bin/batchfs", "-V"]).stdout.splitlines()
        assert v[0] == "batchfs version %s" % project_version(), v
        if shutil.which("man"):
            page = run(["man", "-w", "batchfs"]).stdout.strip()
            assert page == FILES[1], page
        job = emu.create_job("gs://b/in.jsonl", "gs://b/out",
                             display_name="from-apt")
        # As mount(8) and fstab do it: /sbin/mount.fuse.batchfs.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("GOOGLE_")}
        r = run(["mount", "-t", "fuse.batchfs",
                 "batchfs:test-project/us-central1", str(mnt), "-o",
                 "no_auth,endpoint=%s,storage_endpoint=%s,_netdev,nofail"
                 % (emu.url, emu.url)], env=env, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert os.path.ismount(str(mnt))
        assert sorted(os.listdir(str(mnt))) == ["README", "by-id", "jobs", "outbox"]
        assert os.listdir(str(mnt / "jobs")) == ["from-apt"]
        jid = job["name"].rsplit("/", 1)[1]
        assert os.readlink(str(mnt / "by-id" / jid)) == "../jobs/from-apt"
        with open(str(mnt / "jobs" / "from-apt" / "state")) as f:
            assert f.read().startswith("JOB_STATE_")
    finally:
        if os.path.ismount(str(mnt)):
            run(["umount", str(mnt)])
        r = run(["apt-get", "purge", "-y", "batchfs"],
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert not os.path.ismount(str(mnt))
    for f in FILES:
        assert not os.path.lexists(f), f
    assert not installed_version()
