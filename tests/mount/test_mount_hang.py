"""A server that hangs (the emulator's `stall` fault: the request is taken,
the reply does not come): requests that need no network stay served, a
request waits one deadline (-o deadline) at most in total, then shows the
last copy or fails with ETIMEDOUT, in both cache modes; Ctrl-C ends a read
within a second; `wait` is out of the way of tools that walk a tree; an
unmount, also a lazy one or SIGTERM, ends parked reads with EINTR."""
import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from lib.mounthelp import Mount, wait_parked

DEADLINE = 3          # -o deadline of these mounts
SLACK = 4             # scheduling slack on a loaded machine
STALL = 40            # a hung reply: longer than any deadline here
MiB = 1 << 20


def bulk(emu, prefix, count, state="JOB_STATE_RUNNING"):
    emu.make_bucket("bulk-bucket")
    return emu.control("POST", "jobs:bulk", {
        "count": count, "display_name_prefix": prefix, "state": state,
        "bucket": "bulk-bucket"})["ids"]


def hang(emu, path, method="GET"):
    emu.fault(method=method, path=path, kind="stall", seconds=STALL,
              times=-1)


def wait_hung(emu, procs):
    """The readers wait in read(2), and the server holds a request."""
    wait_parked(procs)
    deadline = time.monotonic() + 30
    while sum(f["hits"] for f in emu.control("GET", "faults")["faults"]) < 1:
        assert time.monotonic() < deadline, "the hung route was never asked"
        time.sleep(0.02)


def timed(argv, timeout=60):
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, timeout=timeout)
    return p, time.monotonic() - t0


def test_hung_server_leaves_local_requests_served(mount_fs, emu):
    """70 stale `cat state` wait on a hung server, more than the daemon's
    workers can hold apart from its reserve: README, a cached job and a
    draft answer at once, and every `cat state` ends within one deadline
    with the last fetched state."""
    n = 70
    # A longer deadline than elsewhere: a local request held behind the
    # network would take it; one served at once takes far less, also on a
    # loaded machine.
    deadline = 8
    bulk(emu, "live", n)
    mnt = mount_fs(deadline=str(deadline), refresh="1", list_ttl="1")
    names = ["live%d" % i for i in range(n)]
    for name in names:
        assert mnt.read(name, "state") == "JOB_STATE_RUNNING\n"
    os.mkdir(mnt.job("draft"))
    time.sleep(1.2)  # every job and the listing stale
    hang(emu, r"batchPredictionJobs")
    out = {}

    def reader(name):
        p, dt = timed(["cat", mnt.job(name, "state")])
        out[name] = (p.returncode, p.stdout, p.stderr, dt)

    threads = [threading.Thread(target=reader, args=(nm,)) for nm in names]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        for argv in (["cat", os.path.join(mnt.path, "README")],
                     ["cat", mnt.job("draft", "state")],
                     ["ls", mnt.path]):
            p, dt = timed(argv)
            assert p.returncode == 0, (argv, p.stderr)
            assert dt < deadline / 2, \
                "%s took %.1f s while the server hangs" % (argv, dt)
    finally:
        for t in threads:
            t.join(timeout=120)
    emu.clear_faults()
    slow = {k: v for k, v in out.items()
            if v[3] > deadline + SLACK}
    assert not slow, "past the deadline: %s" % sorted(
        (k, round(v[3], 1)) for k, v in slow.items())[:5]
    for name, (rc, stdout, stderr, dt) in out.items():
        if rc == 0:
            assert stdout == b"JOB_STATE_RUNNING\n", (name, stdout)
        else:
            assert b"timed out" in stderr or b"unavailable" in stderr, (
                name, stderr)
    assert sum(1 for v in out.values() if v[0] == 0) >= n // 2
    assert "showing the last fetched state" in mnt.stderr() or \
        "using the previous one" in mnt.stderr()


def test_stale_read_waits_one_deadline_in_total(mount_fs, emu):
    """A `cat state` whose listing and job are both stale (lookup, open and
    read each could go to the server) waits one deadline, not one per
    request, then shows the last state; once the server is back the
    fresh state shows."""
    ids = bulk(emu, "one", 1)
    mnt = mount_fs(deadline=str(DEADLINE), refresh="1", list_ttl="1")
    assert mnt.read("one0", "state") == "JOB_STATE_RUNNING\n"
    time.sleep(1.2)
    hang(emu, r"batchPredictionJobs")
    p, dt = timed(["cat", mnt.job("one0", "state")])
    assert p.returncode == 0 and p.stdout == b"JOB_STATE_RUNNING\n", p
    assert dt < DEADLINE + SLACK / 2, "took %.1f s" % dt
    emu.clear_faults()
    emu.finish_job(ids[0], "JOB_STATE_FAILED", code=13, message="boom")
    mnt.wait_state("one0", ("JOB_STATE_FAILED",), timeout=20)


def test_hung_server_without_a_copy_is_etimedout(mount_fs, emu):
    """Nothing cached to show: ETIMEDOUT after one deadline."""
    bulk(emu, "nc", 1)
    mnt = mount_fs(deadline=str(DEADLINE))
    hang(emu, r"batchPredictionJobs")
    p, dt = timed(["ls", mnt.jobs])
    assert p.returncode != 0
    assert b"timed out" in p.stderr, p.stderr
    assert dt < DEADLINE + SLACK, "took %.1f s" % dt
    emu.clear_faults()


# --- reads of output objects -------------------------------------------------

READER = r"""
import os, signal, sys, time
class Stop(Exception): pass
def on(*a): raise Stop()
signal.signal(signal.SIGINT, on)
fd = os.open(sys.argv[1], os.O_RDONLY)
print("open", flush=True)
t0 = time.monotonic()
try:
    os.read(fd, 1 << 20)
    print("read", time.monotonic() - t0, flush=True)
except Stop:
    print("EINTR", time.monotonic() - t0, flush=True)
except OSError as e:
    print("errno", e.errno, time.monotonic() - t0, flush=True)
"""


def finished_object(emu, mnt_opts, mount_fs, size=4 * MiB):
    ids = bulk(emu, "out", 1, "JOB_STATE_SUCCEEDED")
    job = emu.get_job(ids[0])
    d = job["outputInfo"]["gcsOutputDirectory"]
    bucket, _, prefix = d[5:].partition("/")
    emu.put_object(bucket, prefix + "/big.bin", os.urandom(size))
    mnt = mount_fs(**mnt_opts)
    path = mnt.job("out0", "output", "big.bin")
    assert os.stat(path).st_size == size
    return mnt, path


MODES = [pytest.param({}, id="page-cache"),
         pytest.param({"direct_io": True}, id="direct_io"),
         pytest.param({"nosplice": True}, id="page-cache-nosplice")]


@pytest.mark.parametrize("opts", MODES)
def test_read_of_a_hung_object_ends_within_the_deadline(mount_fs, emu, opts):
    """One read(2) fails within one deadline in both cache modes (the
    kernel's read-ahead READs and its retry share the handle's), and the
    next read of the same open file fails at once."""
    mnt, path = finished_object(emu, dict(opts, deadline=str(DEADLINE)),
                                mount_fs)
    hang(emu, r"alt=media")
    p = subprocess.Popen([sys.executable, "-c", READER, path],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "open"
        line = p.stdout.readline().split()
    finally:
        p.kill()
        p.wait()
    assert line[0] == "errno", line
    assert int(line[1]) in (errno.ETIMEDOUT, errno.EIO), line
    assert float(line[2]) < DEADLINE + SLACK, line
    emu.clear_faults()


@pytest.mark.parametrize("opts", MODES)
def test_ctrl_c_ends_a_read_of_a_hung_object(mount_fs, emu, opts):
    """A reader that handles SIGINT (as Python does) gets EINTR within a
    second in both cache modes, with the default 60 s deadline."""
    mnt, path = finished_object(emu, opts, mount_fs)
    hang(emu, r"alt=media")
    p = subprocess.Popen([sys.executable, "-c", READER, path],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "open"
        wait_hung(emu, [p])   # the read waits on the server now
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        line = p.stdout.readline().split()
        dt = time.monotonic() - t0
    finally:
        p.kill()
        p.wait()
    assert line and line[0] in ("EINTR", "errno"), line
    if line[0] == "errno":
        assert int(line[1]) == errno.EINTR, line
    # Within a second; the slack is for a loaded machine (it was 30 to
    # 130 s in page-cache mode).
    assert dt < 2, "Ctrl-C took %.1f s" % dt
    # The mount still serves.
    assert mnt.read("out0", "state") == "JOB_STATE_SUCCEEDED\n"
    emu.clear_faults()


# Page-cache readers whose read-ahead READs fit the kernel's max_background
# (48, set at INIT; two READs each for these 1 MiB objects) all reach the
# daemon at once; more wait their turn, one deadline per round
# (SEMANTICS.md, Deadlines).
PER_ROUND = 24


@pytest.mark.parametrize("opts,n", [
    pytest.param({"direct_io": True}, 72, id="direct_io-72"),
    pytest.param({}, PER_ROUND, id="page-cache-24"),
    pytest.param({}, 72, id="page-cache-72"),
    pytest.param({"nosplice": True}, 72, id="page-cache-nosplice-72")])
def test_many_hung_readers_leave_the_mount_served(mount_fs, emu, opts, n):
    """n readers of n objects while storage hangs (the splice stream and
    the block path both wait on it; 72 is more than the daemon's 64
    workers): README and a job's state answer at once, every read fails
    within the deadline, or in page-cache mode within one deadline per
    PER_ROUND readers (the kernel queues read-ahead READs past its
    max_background, where no deadline of ours runs)."""
    deadline = 8
    rounds = 1 if opts.get("direct_io") else -(-n // PER_ROUND)
    ids = bulk(emu, "many", 1, "JOB_STATE_SUCCEEDED")
    d = emu.get_job(ids[0])["outputInfo"]["gcsOutputDirectory"]
    bucket, _, prefix = d[5:].partition("/")
    for i in range(n):
        emu.put_object(bucket, "%s/o%02d.bin" % (prefix, i), os.urandom(MiB))
    mnt = mount_fs(deadline=str(deadline), **opts)
    paths = [mnt.job("many0", "output", "o%02d.bin" % i) for i in range(n)]
    for p in paths:
        os.stat(p)
    assert mnt.read("many0", "state") == "JOB_STATE_SUCCEEDED\n"
    hang(emu, r"alt=media")
    out = {}

    def reader(p):
        r, dt = timed(["cat", p])
        out[p] = (r.returncode, dt)

    threads = [threading.Thread(target=reader, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        for argv in (["cat", os.path.join(mnt.path, "README")],
                     ["cat", mnt.job("many0", "state")]):
            r, dt = timed(argv)
            assert r.returncode == 0, (argv, r.stderr)
            assert dt < deadline / 2, \
                "%s took %.1f s while storage hangs" % (argv, dt)
    finally:
        for t in threads:
            t.join(timeout=120)
    emu.clear_faults()
    assert len(out) == n
    assert all(rc != 0 for rc, _ in out.values())
    worst = max(dt for _, dt in out.values())
    assert worst < rounds * deadline + SLACK, \
        "a read took %.1f s (bound: %d deadline(s) of %d s)" % (
            worst, rounds, deadline)


def test_killed_reader_stops_its_read_ahead(mount_fs, emu):
    """A reader killed while the server hangs: the READs it caused (the
    kernel's read-ahead, which no INTERRUPT reaches) stop waiting at once
    instead of at their deadline (logged as interrupted)."""
    mnt, path = finished_object(emu, {}, mount_fs)
    hang(emu, r"alt=media")
    p = subprocess.Popen(["cat", path], stdout=subprocess.DEVNULL)
    wait_hung(emu, [p])
    p.kill()
    p.wait(timeout=10)
    t0 = time.monotonic()
    while "Interrupted system call" not in mnt.stderr():
        assert time.monotonic() - t0 < 5, \
            "the killed reader's READs still wait:\n" + mnt.stderr()[-2000:]
        time.sleep(0.1)
    emu.clear_faults()


# --- wait and tools that walk the tree ---------------------------------------

def test_walkers_do_not_hang_on_wait(mount_fs, emu, tmp_path):
    """`wait` is not listed: cp -r, grep -r and find | xargs cat over a
    running job finish; `cat wait` by name still blocks until the end."""
    ids = bulk(emu, "walk", 1)
    mnt = mount_fs()
    d = mnt.job("walk0")
    assert "wait" not in os.listdir(d)
    assert os.stat(os.path.join(d, "wait")).st_size == 0
    for argv in (["cp", "-r", d, str(tmp_path / "copy")],
                 ["grep", "-r", "JOB_STATE", d],
                 ["sh", "-c", 'find "$1" -type f | xargs cat', "sh", d]):
        p, dt = timed(argv, timeout=30)
        assert p.returncode == 0, (argv, p.stderr)
    assert not os.path.exists(tmp_path / "copy" / "wait")
    w = subprocess.Popen(["cat", os.path.join(d, "wait")],
                         stdout=subprocess.PIPE)
    try:
        time.sleep(0.5)
        assert w.poll() is None
        emu.finish_job(ids[0], "JOB_STATE_FAILED", code=13, message="boom")
        out, _ = w.communicate(timeout=30)
        assert out == b"JOB_STATE_FAILED\n"
    finally:
        w.kill()


# --- unmounting with parked reads --------------------------------------------

# read(2) once, without the retry on EINTR that cat and Python do.
RAW_READ = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY)
buf = ctypes.create_string_buffer(4096)
n = libc.read(fd, buf, 4096)
print(n, ctypes.get_errno(), flush=True)
"""


@pytest.mark.parametrize("how", ["lazy", "sigterm"])
def test_unmount_ends_parked_waits_with_eintr(emu, build_dir, tmp_path, how):
    """The first read(2) of a parked `wait` ends with EINTR; cat, which
    retries it, ends too, and the daemon exits with a clean log."""
    bulk(emu, "um", 1)
    m = Mount(emu, build_dir, str(tmp_path), {}).start()
    ws = []
    try:
        path = m.job("um0", "wait")
        ws = [subprocess.Popen([sys.executable, "-c", RAW_READ, path],
                               stdout=subprocess.PIPE, text=True)
              for _ in range(3)]
        ws.append(subprocess.Popen(["cat", path], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE))
        wait_parked(ws)
        assert all(w.poll() is None for w in ws)
        t0 = time.monotonic()
        if how == "lazy":
            subprocess.run(["fusermount3", "-uz", m.path], check=True)
        else:
            m.proc.send_signal(signal.SIGTERM)
        for w in ws[:3]:
            out, _ = w.communicate(timeout=20)
            assert out.split() == ["-1", str(errno.EINTR)], out
        _, err = ws[3].communicate(timeout=20)
        assert ws[3].returncode != 0
        # Its retry meets a mount that is going (ENOTCONN) or gone: the
        # daemon closed the device (ECONNABORTED).
        assert b"Transport endpoint is not connected" in err or \
            b"Software caused connection abort" in err, err
        assert time.monotonic() - t0 < 5
        m.proc.wait(timeout=15)
        assert "Bad file descriptor" not in m.stderr(), m.stderr()
    finally:
        for w in ws:
            w.kill()
        if m.proc.poll() is None:
            m.proc.kill()
            m.proc.wait()
        subprocess.run(["fusermount3", "-uz", m.path], check=False,
                       stderr=subprocess.DEVNULL)
        m.err.close()
