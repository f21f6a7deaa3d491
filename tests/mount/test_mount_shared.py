"""Shared mounts: root mounts with allow_other and -o uid=, gid=, umask=.

Every node is owned by uid:gid and shows its natural mode & ~umask; the
kernel (batchfs always mounts with default_permissions) checks every other
user against that. chmod and chown are EPERM unless they change nothing.

The `users` fixture makes three throwaway accounts with useradd (an owner
and a member of a new group, and an outsider with a group of its own) and
removes them and the group again however the test ends. Commands run as
them with `runuser -u NAME --`.
"""
import errno
import os
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from lib.mounthelp import Mount, jobs_created, request_text, stop_all

needs_users = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("useradd") or
    not shutil.which("runuser"),
    reason="needs root, useradd and runuser (Debian: passwd, util-linux)")

# What each node shows with no umask (SEMANTICS.md, "Permissions").
NATURAL = {
    "": 0o755, "README": 0o444, "jobs": 0o755, "by-id": 0o555,
    "jobs/j": 0o755, "jobs/j/request.json": 0o444, "jobs/j/job.json": 0o444,
    "jobs/j/state": 0o444, "jobs/j/progress": 0o444, "jobs/j/error": 0o444,
    "jobs/j/wait": 0o444, "jobs/j/ctl": 0o200, "jobs/j/output": 0o555,
    "jobs/j/results": 0o555, "jobs/j/results/by-input.jsonl": 0o444,
    "jobs/d": 0o755, "jobs/d/request.json": 0o644, "jobs/d/state": 0o444,
    "jobs/d/notes.txt": 0o644,
}


def _passwd_tool(*argv):
    """useradd/userdel/groupadd/groupdel, retried while another process
    holds /etc/passwd or /etc/group locked."""
    for _ in range(50):
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode == 0 or "lock" not in r.stderr:
            return r
        time.sleep(0.1)
    return r


class Users:
    def __init__(self):
        tag = "bf%s" % secrets.token_hex(4)
        self.group = tag + "g"
        self.owner, self.member, self.outsider = (tag + s for s in "omx")
        self.made_users, self.made_group = [], False

    def make(self):
        r = _passwd_tool("groupadd", self.group)
        assert r.returncode == 0, r.stderr
        self.made_group = True
        for name, grp in ((self.owner, ["-N", "-g", self.group]),
                          (self.member, ["-N", "-g", self.group]),
                          (self.outsider, ["-U"])):
            r = _passwd_tool("useradd", "-M", "-s", "/usr/sbin/nologin",
                             *grp, name)
            assert r.returncode == 0, r.stderr
            self.made_users.append(name)
        self.gid = int(subprocess.check_output(
            ["getent", "group", self.group], text=True).split(":")[2])
        self.uid = {n: int(subprocess.check_output(["id", "-u", n]))
                    for n in self.made_users}

    def remove(self):
        errors = []
        for name in self.made_users:  # userdel -U groups go with them
            r = _passwd_tool("userdel", name)
            if r.returncode != 0:
                errors.append("userdel %s: %s" % (name, r.stderr))
        if self.made_group:
            r = _passwd_tool("groupdel", self.group)
            if r.returncode != 0:
                errors.append("groupdel %s: %s" % (self.group, r.stderr))
        assert not errors, errors


@pytest.fixture
def users():
    u = Users()
    try:
        u.make()
        yield u
    finally:
        u.remove()


@pytest.fixture
def shared_fs(emu, build_dir):
    """shared_fs(**opts) -> a started Mount whose mountpoint other users
    can reach (pytest's tmp_path is root's, mode 0700)."""
    mounts, dirs = [], []

    def start(**opts):
        d = tempfile.mkdtemp(prefix="batchfs-shared-", dir="/tmp")
        dirs.append(d)
        os.chmod(d, 0o755)
        m = Mount(emu, build_dir, d, opts)
        mounts.append(m)
        m.start()
        return m

    yield start
    stop_all(mounts, then=lambda: [shutil.rmtree(d, ignore_errors=True)
                                   for d in dirs])


# Tries one operation as the calling user and prints OK or the errno name.
PROBE = r"""
import errno, os, sys
op, path = sys.argv[1], sys.argv[2]
try:
    if op == "read":
        open(path).read()
    elif op == "list":
        os.listdir(path)
    elif op == "mkdir":
        os.mkdir(path)
    elif op == "write":
        with open(path, "w") as f:
            f.write(sys.argv[3])
    elif op == "chmod":
        os.chmod(path, int(sys.argv[3], 8))
    elif op == "chgrp":
        os.chown(path, -1, int(sys.argv[3]))
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
"""


def as_user(name, *argv, input=None):
    return subprocess.run(["runuser", "-u", name, "--", *argv], cwd="/",
                          input=input, capture_output=True, text=True,
                          timeout=60)


def probe(name, op, path, arg=None):
    r = as_user(name, "/usr/bin/python3", "-c", PROBE, op, path,
                *([arg] if arg is not None else []))
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def sh(name, script, *args, input=None):
    return as_user(name, "sh", "-c", script, "sh", *args, input=input)


def wait_state_as(name, m, job, states, timeout=30):
    deadline = time.time() + timeout
    while True:
        r = sh(name, 'cat "$1"', m.job(job, "state"))
        assert r.returncode == 0, r.stderr
        if r.stdout.strip() in states:
            return r.stdout.strip()
        assert time.time() < deadline, "job %s stuck in %s" % (job, r.stdout)
        time.sleep(0.1)


@needs_users
def test_owner_submits_watches_cancels_others_are_refused(shared_fs, users,
                                                         emu):
    emu.config(row_seconds=0.5)
    m = shared_fs(allow_other=True, uid=users.uid[users.owner],
                  gid=users.gid, umask="007")
    own, mem, out = users.owner, users.member, users.outsider

    # The owner submits with mkdir and a shell redirection, watches with
    # cat and cancels with echo.
    r = sh(own, 'mkdir "$1" && cat > "$1/request.json"', m.job("sh"),
           input=request_text(emu, n=40))
    assert r.returncode == 0, r.stderr
    assert jobs_created(emu) == 1
    wait_state_as(own, m, "sh", ("JOB_STATE_RUNNING",))
    r = sh(own, 'echo cancel > "$1"', m.job("sh", "ctl"))
    assert r.returncode == 0, r.stderr
    assert wait_state_as(own, m, "sh", ("JOB_STATE_CANCELLED",)) == \
        "JOB_STATE_CANCELLED"
    r = sh(own, 'ls -l "$1"', m.jobs)
    assert r.returncode == 0 and "sh" in r.stdout, r.stderr
    st = os.stat(m.job("sh", "state"))
    assert (st.st_uid, st.st_gid) == (users.uid[own], users.gid)
    # The owner's chmod reaches batchfs (the kernel lets owners chmod),
    # which refuses it; chgrp to the group it already has changes nothing.
    assert probe(own, "chmod", m.job("sh", "state"), "644") == "EPERM"
    assert probe(own, "chmod", m.jobs, "777") == "EPERM"
    assert probe(own, "chgrp", m.job("sh", "state"), str(users.gid)) == "OK"
    assert stat.S_IMODE(os.stat(m.jobs).st_mode) == 0o750

    # A member of the group reads (0440, 0750) but writes nothing: no
    # write bit for the group exists to keep.
    r = sh(mem, 'cat "$1"', m.job("sh", "state"))
    assert r.returncode == 0 and r.stdout.startswith("JOB_STATE_"), r.stderr
    assert probe(mem, "list", m.job("sh")) == "OK"
    assert probe(mem, "write", m.job("sh", "ctl"), "refresh") == "EACCES"
    assert probe(mem, "mkdir", m.job("grp")) == "EACCES"

    # Anyone else is refused reads and writes alike.
    r = sh(out, 'cat "$1"', m.job("sh", "state"))
    assert r.returncode != 0 and "Permission denied" in r.stderr, r
    r = sh(out, 'echo cancel > "$1"', m.job("sh", "ctl"))
    assert r.returncode != 0 and "Permission denied" in r.stderr, r
    r = sh(out, 'mkdir "$1"', m.job("x"))
    assert r.returncode != 0 and "Permission denied" in r.stderr, r
    assert probe(out, "list", m.path) == "EACCES"
    assert probe(out, "list", m.jobs) == "EACCES"
    assert probe(out, "read", m.job("sh", "job.json")) == "EACCES"
    assert probe(out, "read", os.path.join(m.path, "README")) == "EACCES"
    assert probe(out, "write", m.job("sh", "ctl"), "cancel") == "EACCES"
    assert probe(out, "mkdir", m.job("y")) == "EACCES"
    assert sorted(os.listdir(m.jobs)) == ["sh"]


@needs_users
def test_without_options_only_the_owner_may_write(shared_fs, users, emu):
    """allow_other alone (the README's old fstab line): others read, and
    the kernel refuses their writes (root owns everything, 0755/0444)."""
    m = shared_fs(allow_other=True)
    os.mkdir(m.job("d"))
    assert probe(users.outsider, "list", m.jobs) == "OK"
    assert probe(users.outsider, "read", m.job("d", "state")) == "OK"
    assert probe(users.outsider, "mkdir", m.job("o")) == "EACCES"
    assert probe(users.outsider, "write", m.job("d", "request.json"),
                 "{}") == "EACCES"
    # Handing the mount to the user is what lets it submit.
    m2 = shared_fs(allow_other=True, uid=users.uid[users.outsider])
    assert probe(users.outsider, "mkdir", m2.job("o")) == "OK"


def _modes(m, paths):
    """{path: (mode, uid, gid)} as stat(1) shows them."""
    r = subprocess.run(["stat", "-c", "%a %u %g"] +
                       [os.path.join(m.path, p) for p in paths],
                       capture_output=True, text=True, check=True)
    return {p: (int(a, 8), int(u), int(g)) for p, (a, u, g) in
            zip(paths, (l.split() for l in r.stdout.splitlines()))}


def _finished_and_draft(m, emu):
    os.mkdir(m.job("j"))
    with open(m.job("j", "request.json"), "w") as f:
        f.write(request_text(emu, n=2))
    m.wait_state("j")
    os.mkdir(m.job("d"))
    with open(m.job("d", "notes.txt"), "w") as f:
        f.write("x")


@pytest.mark.parametrize("umask", [None, "0", "007", "027", "777"])
def test_modes_follow_the_rule(mount_fs, emu, umask):
    opts = {"umask": umask}
    if umask is not None:
        opts.update(uid="12345", gid="23456")
    m = mount_fs(**opts)
    _finished_and_draft(m, emu)
    # with open() of a draft's request.json: it shows once written.
    with open(m.job("d", "request.json"), "w"):
        pass
    mask = int(umask, 8) if umask else 0
    uid, gid = (12345, 23456) if umask is not None else \
        (os.getuid(), os.getgid())
    got = _modes(m, sorted(NATURAL))
    want = {p: (n & ~mask, uid, gid) for p, n in NATURAL.items()}
    assert got == want
    # by-id/ID is a symlink (lrwxrwxrwx whatever the umask).
    ids = os.listdir(os.path.join(m.path, "by-id"))
    assert ids
    st = os.lstat(os.path.join(m.path, "by-id", ids[0]))
    assert stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o777
    # Read-only stays read-only, write-only stays write-only.
    assert not any(n & 0o222 for p, (n, _, _) in got.items()
                   if not NATURAL[p] & 0o222)
    assert got["jobs/j/ctl"][0] & 0o444 == 0


def test_chmod_and_chown_are_eperm(mnt, emu):
    _finished_and_draft(mnt, emu)
    uid, gid = os.getuid(), os.getgid()
    draft_files = (mnt.job("d", "notes.txt"), mnt.job("d", "request.json"))
    for p in (mnt.path, mnt.jobs, mnt.job("j"), mnt.job("j", "state"),
              mnt.job("j", "ctl"), mnt.job("j", "request.json"),
              mnt.job("j", "output"), mnt.job("d")) + draft_files:
        before = os.stat(p)
        # A draft's own files may lose bits (below); nothing gains any.
        for mode in (0o777, 0o700, 0o666, 0o4644) + \
                (() if p in draft_files else (0o600, 0o000)):
            if mode == stat.S_IMODE(before.st_mode) or \
                    (p == mnt.job("j", "request.json") and mode == 0o666):
                continue  # (request.json: see test_install_into_a_draft)
            with pytest.raises(OSError) as ei:
                os.chmod(p, mode)
                pytest.fail("chmod %s %o succeeded" % (p, mode))
            assert ei.value.errno == errno.EPERM, (p, oct(mode))
        with pytest.raises(OSError) as ei:
            os.chown(p, uid + 4242, -1)
        assert ei.value.errno == errno.EPERM, p
        with pytest.raises(OSError) as ei:
            os.chown(p, -1, gid + 4242)
        assert ei.value.errno == errno.EPERM, p
        # Asking for what it has changes nothing and succeeds.
        os.chmod(p, stat.S_IMODE(before.st_mode))
        os.chown(p, uid, gid)
        after = os.stat(p)
        assert (after.st_mode, after.st_uid, after.st_gid) == \
            (before.st_mode, before.st_uid, before.st_gid)
    r = subprocess.run(["chmod", "g+w", mnt.jobs], capture_output=True,
                       text=True)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    # A draft's files keep what chmod gives them within 0644.
    for p in draft_files:
        for mode in (0o600, 0o400, 0o000, 0o640, 0o644):
            os.chmod(p, mode)
            assert stat.S_IMODE(os.stat(p).st_mode) == mode
    os.chmod(mnt.job("d", "notes.txt"), 0o600)
    assert "notes.txt" in os.listdir(mnt.job("d"))
    r = subprocess.run(["stat", "-c", "%a", mnt.job("d", "notes.txt")],
                       capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "600"
    # touch (times) stays harmless, truncate of a draft's file still works.
    subprocess.run(["touch", mnt.job("j", "state"), mnt.jobs], check=True)
    os.truncate(mnt.job("d", "notes.txt"), 0)
    assert os.stat(mnt.job("d", "notes.txt")).st_size == 0
    with open(mnt.job("d", "notes.txt"), "w") as f:
        f.write("abc")
    os.truncate(mnt.job("d", "notes.txt"), 1)
    assert mnt.read("d", "notes.txt") == "a"
    os.truncate(mnt.job("d", "request.json"), 0)
    assert os.stat(mnt.job("d", "request.json")).st_size == 0
    # create(2) keeps what of its mode lies within 0644 (and the umask).
    um = os.umask(0)
    os.umask(um)
    for i, mode in enumerate((0o600, 0o640, 0o755, 0o666, 0o000)):
        p = mnt.job("d", "c%d" % i)
        os.close(os.open(p, os.O_CREAT | os.O_WRONLY | os.O_EXCL, mode))
        assert stat.S_IMODE(os.stat(p).st_mode) == mode & ~um & 0o644, \
            oct(mode)
    # rename moves a file's mode with it (vim's backup of request.json).
    os.chmod(mnt.job("d", "request.json"), 0o600)
    os.rename(mnt.job("d", "request.json"), mnt.job("d", "request.json~"))
    assert stat.S_IMODE(os.stat(mnt.job("d", "request.json~")).st_mode) == \
        0o600
    os.rename(mnt.job("d", "c0"), mnt.job("d", "c9"))
    assert stat.S_IMODE(os.stat(mnt.job("d", "c9")).st_mode) == \
        0o600 & ~um
    with open(mnt.job("d", "request.json"), "w"):
        pass
    # A new request.json (after unlink) starts from the natural mode.
    os.chmod(mnt.job("d", "request.json"), 0o600)
    os.unlink(mnt.job("d", "request.json"))
    with open(mnt.job("d", "request.json"), "w"):
        pass
    assert stat.S_IMODE(os.stat(mnt.job("d", "request.json")).st_mode) == \
        0o644 & ~um


def test_install_into_a_draft(mnt, emu, tmp_path):
    """install(1) writes a new file 0600 (fchmod before close), then
    chmods it to -m after the close. Into request.json that close
    submitted: the job was accepted, so the chmod must not report a
    failure (a retry would pay twice); -m 600 asks to hide it: refused."""
    src = tmp_path / "r.json"
    src.write_text(request_text(emu))
    os.mkdir(mnt.job("i"))
    r = subprocess.run(["install", "-m", "644", str(src),
                        mnt.job("i", "request.json")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert jobs_created(emu) == 1
    assert stat.S_IMODE(os.stat(mnt.job("i", "request.json")).st_mode) == \
        0o444
    with pytest.raises(OSError) as ei:
        os.chmod(mnt.job("i", "request.json"), 0o600)
    assert ei.value.errno == errno.EPERM
    # A scratch file gets the mode asked for.
    os.mkdir(mnt.job("k"))
    for mode in ("600", "640", "644"):
        r = subprocess.run(["install", "-m", mode, str(src),
                            mnt.job("k", "f" + mode)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert oct(stat.S_IMODE(os.stat(mnt.job("k", "f" + mode)).st_mode)) \
            == "0o" + mode
    r = subprocess.run(["install", "-m", "755", str(src), mnt.job("k", "x")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    assert jobs_created(emu) == 1


@pytest.mark.parametrize("opt,words", [
    ("uid=abc", "uid must be a numeric user id"),
    ("uid=-1", "uid must be a numeric user id"),
    ("uid=4294967295", "uid must be a numeric user id"),
    ("uid=", "uid must be a numeric user id"),
    ("gid=users", "gid must be a numeric group id"),
    ("umask=999", "umask must be octal"),
    ("umask=1777", "umask must be octal"),
    ("umask=u=rwx", "umask must be octal"),
])
def test_bad_uid_gid_umask_fail_before_any_request(build_dir, tmp_path,
                                                   opt, words):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    # An endpoint of this test's own that counts connections: the session
    # emulator also hears daemons of earlier tests still shutting down.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    lsock.settimeout(0.2)
    conns = []
    done = threading.Event()

    def accept():
        while not done.is_set():
            try:
                c, _ = lsock.accept()
            except socket.timeout:
                continue
            conns.append(c)

    t = threading.Thread(target=accept)
    t.start()
    url = "http://127.0.0.1:%d" % lsock.getsockname()[1]
    try:
        r = subprocess.run([os.path.join(build_dir, "fs", "batchfs"), "-f",
                            "-o", "project=test-project,no_auth,endpoint=%s,"
                            "storage_endpoint=%s,%s" % (url, url, opt),
                            str(mnt)], capture_output=True, text=True,
                           timeout=30)
    finally:
        done.set()
        t.join()
        lsock.close()
        for c in conns:
            c.close()
    assert r.returncode != 0
    assert words in r.stderr and opt.split("=", 1)[1] in r.stderr, r.stderr
    assert "unknown option" not in r.stderr
    assert conns == []  # no network call
    assert not os.path.ismount(str(mnt))


def test_help_names_uid_gid_umask(build_dir):
    r = subprocess.run([os.path.join(build_dir, "fs", "batchfs"), "-h"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for opt in ("uid=", "gid=", "umask=", "default_permissions",
                "user_allow_other"):
        assert opt in r.stdout, opt
