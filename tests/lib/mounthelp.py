"""Helpers of the mount tests: the Mount wrapper around the daemon, the
`mount_fs` fixture and request builders.

`mount_fs` is defined here so that every suite mounting the daemon the same
way (tests/mount, tests/pipeline) imports it into its conftest.py instead of
keeping a copy:

`mount_fs(**opts)` starts `BUILD/fs/batchfs -f -o ...` on a temporary
mountpoint against the `emu` fixture and waits (bounded) for the mount,
failing fast when the daemon dies. On teardown every mount is unmounted with
`fusermount3 -u`, the daemon must exit by itself (no daemon left behind) and
its stderr must hold no sanitizer or ERROR report. `mnt` is one default
mount.
"""
import json
import os
import re
import stat
import subprocess
import time

import pytest

from lib.jobhelp import (MODEL, jobs_created, prompts,  # noqa: F401
                         put_input, request_body)

BAD_STDERR = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                        r"runtime error:|ERROR")


# Runs a mount test against both emulators, plain http and --tls (with
# -o cafile=): the TLS variant of a representative test.
TLS_TOO = pytest.mark.parametrize("emu_scheme", ["http", "https"])


def read_log(path):
    """A process's stderr file so far ("" when there is none yet)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def log_problems(text):
    """The lines of a process's stderr that report a sanitizer finding or
    an ERROR."""
    return [l for l in text.splitlines() if BAD_STDERR.search(l)]


# Mounts started by the running test (tests/conftest.py clears it at each
# test's setup and, when the test fails, shows the tail of their stderr).
STARTED = []


class Mount:
    def __init__(self, emu, build_dir, workdir, opts):
        self.emu = emu
        self.path = os.path.join(workdir, "mnt")
        self.jobs = os.path.join(self.path, "jobs")
        self.stderr_path = os.path.join(workdir, "batchfs.stderr")
        os.makedirs(self.path, exist_ok=True)
        key = os.path.join(workdir, "key.json")
        with open(emu.key_file) as src, open(key, "w") as dst:
            dst.write(src.read())
        os.chmod(key, 0o600)
        o = {"project": "test-project", "endpoint": emu.url,
             "storage_endpoint": emu.url, "credentials": key,
             "refresh": "0.3", "list_ttl": "0.3",
             "state_dir": os.path.join(workdir, "state")}
        if emu.tls:
            o["cafile"] = emu.ca_file
        o.update(opts)
        self.opts = ",".join(k if v is True else "%s=%s" % (k, v)
                             for k, v in o.items() if v is not None)
        self.argv = [os.path.join(build_dir, "fs", "batchfs"), "-f", "-o",
                     self.opts, self.path]
        self.proc = None

    def start(self, timeout=15):
        self.err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self.err, stderr=self.err)
        STARTED.append(self)
        deadline = time.time() + timeout
        while not os.path.ismount(self.path):
            if self.proc.poll() is not None:
                pytest.fail("batchfs exited with %s before mounting:\n%s" % (
                    self.proc.returncode, self.stderr()))
            if time.time() > deadline:
                self.proc.kill()
                pytest.fail("batchfs did not mount within %ss:\n%s" % (
                    timeout, self.stderr()))
            time.sleep(0.05)
        return self

    def stderr(self):
        return read_log(self.stderr_path)

    def stop(self):
        """Unmounts; the daemon must exit by itself."""
        if self.proc is None:
            return
        if os.path.ismount(self.path):
            subprocess.run(["fusermount3", "-u", self.path], check=False)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            subprocess.run(["fusermount3", "-u", "-z", self.path], check=False)
            pytest.fail("batchfs still running 15 s after fusermount3 -u")
        finally:
            self.err.close()
        assert not os.path.ismount(self.path), "still mounted"
        bad = log_problems(self.stderr())
        assert not bad, "daemon stderr reports problems:\n" + "\n".join(bad)
        self.proc = None

    # --- helpers ---------------------------------------------------------
    def job(self, name, *parts):
        return os.path.join(self.jobs, name, *parts)

    def read(self, name, fname):
        with open(self.job(name, fname)) as f:
            return f.read()

    def wait_state(self, name, states=("JOB_STATE_SUCCEEDED",), timeout=30):
        deadline = time.time() + timeout
        while True:
            st = self.read(name, "state").strip()
            if st in states:
                return st
            if time.time() >= deadline:
                # The emulator's runner, to tell a stuck runner from a
                # daemon that missed the change.
                pytest.fail("job %s stuck in %s; the emulator's runner: %s" % (
                    name, st, self.emu.control("GET", "runner")))
            time.sleep(0.1)


@pytest.fixture
def mount_fs(emu, build_dir, tmp_path):
    """mount_fs(**opts) -> a started Mount; all of them stopped (and
    checked) on teardown, the first failure raised after the last."""
    mounts = []

    def start(**opts):
        workdir = tmp_path / ("m%d" % len(mounts))
        workdir.mkdir()
        m = Mount(emu, build_dir, str(workdir), opts)
        mounts.append(m)
        return m.start()

    yield start
    stop_all(mounts)


@pytest.fixture(params=["kind", "pessimistic"])
def emu_any(request, emu):
    """The emulator playing the kind side of every behaviour Google leaves
    undocumented, then (second run) the unkind side of all of them
    (scripts/emulator --pessimistic). Workflow tests take this instead of
    `emu` to run against both."""
    emu.pessimistic = request.param == "pessimistic"
    if emu.pessimistic:
        emu.config(pessimistic=True)
    return emu


def stop_all(mounts, then=None):
    """Stops (and checks) every mount (or model driver), runs then(), and
    raises the first failure only after the last one is down."""
    errors = []
    for m in mounts:
        try:
            m.stop()
        except BaseException as exc:  # keep unmounting the others
            errors.append(exc)
    if then:
        then()
    if errors:
        raise errors[0]








def request_text(emu, n=3, **extra):
    src = put_input(emu, prompts(n))
    emu.make_bucket("bkt-out")
    return json.dumps(request_body(src, **extra), indent=2) + "\n"




def is_readonly(path):
    return stat.S_IMODE(os.stat(path).st_mode) == 0o444


# read(2)'s number where /proc/PID/syscall can be checked for it.
_READ_NR = {"x86_64": "0", "aarch64": "63"}.get(os.uname().machine)


def _in_read(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rpartition(")")[2].split()[0]
        with open("/proc/%d/syscall" % pid) as f:
            nr = f.read().split()[0]
    except (OSError, IndexError):
        return False
    return state in ("S", "D") and (_READ_NR is None or nr == _READ_NR)


def wait_parked(procs, timeout=30):
    """Waits (bounded) until every process sleeps in read(2), i.e. the
    kernel waits on the daemon for its read, where a test would sleep and
    hope; fails when one ends first."""
    procs = list(procs)
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in procs if not _in_read(p.pid)]
        if not left:
            return
        for p in left:
            assert p.poll() is None, "%r ended (%s) instead of waiting" % (
                p.args, p.returncode)
        assert time.monotonic() < deadline, \
            "%r not waiting in read(2) after %d s" % (left[0].args, timeout)
        time.sleep(0.02)
