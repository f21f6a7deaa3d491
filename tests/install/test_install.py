"""meson install puts the daemon, the man page, the mount(8) helper (twice:
mount.batchfs and mount.fuse.batchfs) and the example systemd unit in
place; the page renders; the helper turns mount(8)'s arguments into a
batchfs command line."""
import os
import shlex
import shutil
import stat
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELPER = os.path.join(ROOT, "scripts", "mount.batchfs")


@pytest.fixture(scope="module")
def installed(build_dir, tmp_path_factory):
    dest = str(tmp_path_factory.mktemp("destdir"))
    out = subprocess.run(["meson", "install", "-C", build_dir, "--destdir",
                          dest, "--no-rebuild", "--quiet"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    prefix = subprocess.run(["meson", "introspect", "--buildoptions",
                             build_dir], capture_output=True, text=True,
                            check=True).stdout
    import json
    opts = {o["name"]: o["value"] for o in json.loads(prefix)}
    root = dest + opts["prefix"]
    return {
        "root": root,
        "bin": os.path.join(root, opts["bindir"]),
        "sbin": os.path.join(root, opts["sbindir"]),
        "man": os.path.join(root, opts["mandir"]),
        "data": os.path.join(root, opts["datadir"]),
    }


def test_files_are_installed(installed):
    daemon = os.path.join(installed["bin"], "batchfs")
    assert os.access(daemon, os.X_OK)
    page = os.path.join(installed["man"], "man1", "batchfs.1")
    assert os.path.isfile(page)
    helper = os.path.join(installed["sbin"], "mount.batchfs")
    mode = os.stat(helper).st_mode
    assert stat.S_IMODE(mode) == 0o755
    link = os.path.join(installed["sbin"], "mount.fuse.batchfs")
    assert os.path.islink(link)
    assert os.readlink(link) == "mount.batchfs"
    unit = os.path.join(installed["data"], "doc", "batchfs", "mnt-batch.mount")
    text = open(unit).read()
    assert "Type=fuse.batchfs" in text and "Where=/mnt/batch" in text
    # Nothing else leaks into the install (static libraries, test drivers).
    for dirpath, _, names in os.walk(installed["root"]):
        for n in names:
            assert not n.endswith(".a"), os.path.join(dirpath, n)


def test_man_page_renders_and_covers_every_option(installed):
    page = os.path.join(installed["man"], "man1", "batchfs.1")
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    out = subprocess.run(["man", "-l", page], capture_output=True,
                         env=dict(os.environ, MANWIDTH="100", MANPAGER="cat",
                                  PAGER="cat"), timeout=60)
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    # man hyphenates and may use Unicode hyphens: compare loosely
    flat = " ".join(text.replace("\u2010", "-").split())
    for sec in ("SYNOPSIS", "OPTIONS", "THE TREE", "EXAMPLES", "CAVEATS",
                "FILES", "SEE ALSO"):
        assert sec in text, sec
    # every option batchfs -h lists has an entry, with a default
    for opt in ("project=", "location=", "endpoint=", "storage_endpoint=",
                "credentials=", "token_file=", "no_auth", "staging=",
                "refresh=", "list_ttl=", "attr_timeout=", "entry_timeout=",
                "negative_timeout=", "final_timeout=", "max_request=",
                "page_size=", "vertex_rpm=", "readahead=", "readahead_window=",
                "direct_io", "loglevel="):
        assert opt in flat, opt
    assert flat.count("Default:") >= 19
    for f in ("request.json", "input.jsonl", "wait", "results/",
              "by-input.jsonl", "retry.jsonl", "by-id/ID"):
        assert f in flat, f


def test_man_page_lists_what_batchfs_h_lists(build_dir):
    daemon = os.path.join(build_dir, "fs", "batchfs")
    out = subprocess.run([daemon, "-h"], capture_output=True, text=True,
                         timeout=30)
    page = open(os.path.join(ROOT, "doc", "batchfs.1")).read()
    ours = out.stdout.split("FUSE options:")[0]
    assert "-o project=" in ours
    for line in ours.splitlines():
        line = line.strip()
        if line.startswith("-o ") and "=" in line.split()[1]:
            name = line.split()[1].split("=")[0]
            assert ".BI %s=" % name in page, name
        elif line.startswith("-o ") and line.split()[1].isidentifier():
            assert line.split()[1] in page, line


def helper(args, env=None, cwd=None):
    e = dict(os.environ, BATCHFS_MOUNT_DRYRUN="1",
             BATCHFS_BIN="/opt/bin/batchfs")
    e.update(env or {})
    return subprocess.run(["sh", HELPER] + args, capture_output=True,
                          text=True, env=e, cwd=cwd, timeout=30)


@pytest.mark.parametrize("args,want", [
    # what mount(8) passes for the fstab line
    (["batchfs", "/mnt/batch", "-o", "rw,project=p,location=l,_netdev"],
     ["/opt/bin/batchfs", "-o", "rw,project=p,location=l", "/mnt/batch"]),
    # the README's shared mount: uid, gid and umask reach batchfs
    (["batchfs", "/mnt/batch", "-o", "rw,project=p,allow_other,uid=1000,"
      "gid=1000,umask=007,_netdev"],
     ["/opt/bin/batchfs", "-o", "rw,project=p,allow_other,uid=1000,"
      "gid=1000,umask=007", "/mnt/batch"]),
    # every fstab-only word and systemd's x- options go; FUSE ones stay
    (["batchfs", "/mnt/b", "-o", "defaults,auto,noauto,user,nouser,users,"
      "owner,group,nofail,_netdev,x-systemd.automount,comment=x,"
      "allow_other,ro,credentials=/etc/k.json", "-t", "fuse.batchfs"],
     ["/opt/bin/batchfs", "-o", "allow_other,ro,credentials=/etc/k.json",
      "/mnt/b"]),
    # the -o glued form, sloppy/no-mtab/verbose flags, several -o
    (["batchfs", "/mnt/b", "-s", "-n", "-v", "-oproject=p", "-o",
      "location=l"],
     ["/opt/bin/batchfs", "-o", "project=p,location=l", "/mnt/b"]),
    # no options at all
    (["none", "/mnt/b"], ["/opt/bin/batchfs", "/mnt/b"]),
    (["batchfs", "/mnt/b", "-o", "_netdev,nofail"],
     ["/opt/bin/batchfs", "/mnt/b"]),
    # the fsname form as the source gives project and location ...
    (["batchfs:proj/europe-west4", "/mnt/b", "-o", "allow_other"],
     ["/opt/bin/batchfs", "-o",
      "allow_other,project=proj,location=europe-west4", "/mnt/b"]),
    # ... unless the options say otherwise
    (["batchfs:proj/x", "/mnt/b", "-o", "project=q"],
     ["/opt/bin/batchfs", "-o", "project=q,location=x", "/mnt/b"]),
    # a corporate network's fstab line: CA, proxy, an escaped host list
    (["batchfs", "/mnt/b", "-o", "_netdev,project=p,cafile=/etc/ssl/corp.pem,"
      "proxy=http://proxy.corp:3128,noproxy=localhost\\,.corp"],
     ["/opt/bin/batchfs", "-o", "project=p,cafile=/etc/ssl/corp.pem,"
      "proxy=http://proxy.corp:3128,noproxy=localhost\\,.corp", "/mnt/b"]),
    # spaces and quotes survive
    (["batchfs", "/mnt/my batch", "-o", "credentials=/k/a b'c.json"],
     ["/opt/bin/batchfs", "-o", "credentials=/k/a b'c.json",
      "/mnt/my batch"]),
])
def test_helper_translates_mount_arguments(args, want):
    out = helper(args)
    assert out.returncode == 0, out.stderr
    assert shlex.split(out.stdout) == want


@pytest.mark.parametrize("args,msg", [
    ([], "usage"),
    (["batchfs"], "usage"),
    (["batchfs", "/a", "/b"], "unexpected argument"),
    (["sshfs#host:", "/a"], "SOURCE must be"),
    (["batchfs", "/a", "-N", "/proc/1/ns/mnt"], "namespaces"),
    (["batchfs", "/a", "-o"], "-o needs"),
])
def test_helper_refuses_bad_arguments(args, msg):
    out = helper(args)
    assert out.returncode != 0
    assert msg in out.stderr


def test_installed_helper_finds_the_installed_daemon(installed, tmp_path):
    """Through the mount.fuse.batchfs link, with no BATCHFS_BIN, the helper
    picks the daemon in bin/ next to sbin/, and really runs it."""
    link = os.path.join(installed["sbin"], "mount.fuse.batchfs")
    e = dict(os.environ, BATCHFS_MOUNT_DRYRUN="1")
    e.pop("BATCHFS_BIN", None)
    out = subprocess.run([link, "batchfs", "/mnt/b", "-o", "_netdev"],
                         capture_output=True, text=True, env=e, timeout=30)
    assert out.returncode == 0, out.stderr
    argv = shlex.split(out.stdout)
    assert os.path.realpath(argv[0]) == os.path.realpath(
        os.path.join(installed["bin"], "batchfs"))
    assert argv[1:] == ["/mnt/b"]
    # Without the dry run the helper execs the daemon, which fails its
    # pre-mount check at once (no project anywhere) with a message and a
    # non-zero status, as mount(8) needs.
    e.pop("BATCHFS_MOUNT_DRYRUN")
    for k in ("GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS",
              "GCE_METADATA_HOST"):
        e.pop(k, None)
    e["HOME"] = str(tmp_path)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    out = subprocess.run([link, "batchfs", str(mnt), "-o",
                          "_netdev,endpoint=http://127.0.0.1:9,"
                          "storage_endpoint=http://127.0.0.1:9,no_auth"],
                         capture_output=True, text=True, env=e, timeout=120)
    assert out.returncode != 0
    assert "batchfs:" in out.stderr
    assert not os.path.ismount(str(mnt))


def test_usr_local_install_mounts_with_mount_t(installed, build_dir, emu,
                                               tmp_path):
    """meson install with the default /usr/local prefix: mount(8) looks for
    mount.fuse.batchfs only in /sbin, so it runs fuse3's /sbin/mount.fuse,
    which runs `batchfs SOURCE MOUNTPOINT -o OPTS` through sh's default
    PATH (it passes no environment), which has /usr/local/bin. batchfs
    must take that SOURCE argument."""
    import json
    opts = {o["name"]: o["value"] for o in json.loads(subprocess.run(
        ["meson", "introspect", "--buildoptions", build_dir],
        capture_output=True, text=True, check=True).stdout)}
    if opts["prefix"] != "/usr/local":
        pytest.skip("build directory's prefix is %s" % opts["prefix"])
    if os.geteuid() != 0:
        pytest.skip("mount(8) and /usr/local/bin need root")
    if not shutil.which("mount.fuse3"):
        pytest.skip("fuse3's mount.fuse3 is missing")
    target = "/usr/local/bin/batchfs"
    if os.path.lexists(target) or os.path.lexists("/sbin/mount.fuse.batchfs"):
        pytest.skip("batchfs is already installed on this machine")
    shutil.copy2(os.path.join(installed["bin"], "batchfs"), target)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        emu.create_job("gs://b/in.jsonl", "gs://b/out", display_name="loc")
        # fstab-only words as a boot-time fstab line would give them
        r = subprocess.run(
            ["mount", "-t", "fuse.batchfs",
             "batchfs:test-project/us-central1", str(mnt), "-o",
             "no_auth,endpoint=%s,storage_endpoint=%s,_netdev,nofail,"
             "x-systemd.automount" % (emu.url, emu.url)],
            capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert os.path.ismount(str(mnt))
        assert os.listdir(str(mnt / "jobs")) == ["loc"]
        with open("/proc/self/mountinfo") as f:
            line = [l for l in f if " %s " % mnt in l][0]
        assert "fuse.batchfs" in line
        assert "batchfs:test-project/us-central1" in line
    finally:
        if os.path.ismount(str(mnt)):
            subprocess.run(["umount", str(mnt)], check=False)
        os.unlink(target)
    assert not os.path.ismount(str(mnt))
