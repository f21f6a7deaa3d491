"""Trouble: failing and misbehaving replies during reads, a token expiring
mid-read, interrupted waits, and the errno table's promises."""
import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lib.mounthelp import TLS_TOO, request_text

# Every test here runs over plain http and over TLS (--tls, -o cafile=).
pytestmark = TLS_TOO


def finished_job(mnt, emu, name, n=40):
    emu.config(time_scale=0)
    os.mkdir(mnt.job(name))
    with open(mnt.job(name, "request.json"), "w") as f:
        f.write(request_text(emu, n=n))
    mnt.wait_state(name)
    job = json.loads(mnt.read(name, "job.json"))
    bucket, _, prefix = job["outputInfo"]["gcsOutputDirectory"][5:].partition("/")
    return bucket, prefix


@pytest.mark.parametrize("fault", [
    {"kind": "status", "status": 503, "times": 2},
    {"kind": "status", "status": 429, "times": 1, "retry_after": 0},
    {"kind": "reset", "times": 1},
    {"kind": "truncate", "after_bytes": 1000, "times": 1},
    {"kind": "wrong_range", "times": 1},
    {"kind": "ignore_range", "times": 1},
], ids=lambda f: f["kind"] + str(f.get("status", "")))
def test_read_faults_never_give_wrong_bytes(mnt, emu, fault):
    bucket, prefix = finished_job(mnt, emu, "f1")
    raw = emu.get_object(bucket, prefix + "/predictions.jsonl")
    path = mnt.job("f1", "output", "predictions.jsonl")
    os.stat(path)  # listing done; the fault hits the media read
    emu.fault(method="GET", path="predictions.jsonl.*alt=media|/download/",
              **fault)
    with open(path, "rb") as f:
        data = f.read()
    assert data == raw


def test_persistent_503_is_eio_not_enoent(mount_fs, emu):
    m = mount_fs()
    bucket, prefix = finished_job(m, emu, "f2", n=3)
    path = m.job("f2", "output", "predictions.jsonl")
    os.stat(path)
    emu.fault(method="GET", path="alt=media|/download/", kind="status",
              status=503, times=-1)
    with pytest.raises(OSError) as ei:
        with open(path, "rb") as f:
            f.read()
    assert ei.value.errno in (errno.EIO, errno.ETIMEDOUT, errno.EAGAIN)
    emu.clear_faults()


def test_permission_denied_is_eacces(mnt, emu):
    emu.fault(method="GET", path="batchPredictionJobs", kind="status",
              status=403, times=-1,
              body={"error": {"code": 403, "status": "PERMISSION_DENIED",
                              "message": "Permission denied"}})
    with pytest.raises(PermissionError):
        os.listdir(mnt.jobs)
    emu.clear_faults()


@pytest.mark.parametrize("splice", [True, False], ids=["splice", "nosplice"])
def test_token_expiring_during_a_long_read(mount_fs, emu, splice):
    emu.make_bucket("bkt-big")
    big = os.urandom(6 << 20)
    m0 = None
    # The output of a finished job, plus a large object in its directory.
    m0 = mount_fs()
    bucket, prefix = finished_job(m0, emu, "tok", n=2)
    emu.put_object(bucket, prefix + "/big.bin", big)
    # Short-lived tokens, and every issued token revoked twice mid-read.
    emu.config(require_auth=True, token_lifetime=2)
    # nosplice: GETs of read-ahead windows go on after each expiry (the
    # splice path's one stream needs no new token once it runs).
    m = mount_fs(nosplice=None if splice else True)
    path = m.job("tok", "output", "big.bin")
    got = bytearray()
    before = emu.counters()["routes"].get("oauth.token", 0)
    with open(path, "rb", buffering=0) as f:
        got += f.read(1 << 20)
        emu.control("POST", "tokens/expire")
        while True:
            chunk = f.read(256 << 10)
            if not chunk:
                break
            got += chunk
            time.sleep(0.1)  # a slow reader: the read outlives tokens
            if len(got) == 3 << 20:
                emu.control("POST", "tokens/expire")
    assert bytes(got) == big
    assert emu.counters()["routes"].get("oauth.token", 0) > before
    emu.config(require_auth=False, token_lifetime=3600)


def test_interrupted_wait_gives_eintr(mnt, emu):
    os.mkdir(mnt.job("slow"))
    with open(mnt.job("slow", "request.json"), "w") as f:
        f.write(request_text(emu, n=1))
    mnt.wait_state("slow")
    # The next list stalls for 30 s; an interrupted reader must not wait.
    emu.fault(method="GET", path="batchPredictionJobs", kind="stall",
              seconds=30, times=-1)
    time.sleep(0.5)  # let the listing's TTL run out
    code = (
        "import os, signal, sys, time\n"
        "def boom(*a): raise KeyboardInterrupt\n"
        "signal.signal(signal.SIGALRM, boom)\n"
        "signal.alarm(1)\n"
        "t = time.time()\n"
        "try:\n"
        "    os.listdir(sys.argv[1])\n"
        "    print('finished', time.time() - t)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', time.time() - t)\n")
    r = subprocess.run([sys.executable, "-c", code, mnt.jobs],
                       capture_output=True, text=True, timeout=60)
    emu.clear_faults()
    word, secs = r.stdout.split()
    assert word == "interrupted", r.stdout
    assert float(secs) < 10, r.stdout


def test_exit_does_not_wait_out_a_stalled_read_ahead(mount_fs, emu):
    """The session ends (SIGTERM) while a file is open and its read-ahead
    is stalled mid-body: the daemon frees the handle and exits within
    seconds, not after the transfer's deadline."""
    m0 = mount_fs()
    bucket, prefix = finished_job(m0, emu, "stall", n=2)
    emu.put_object(bucket, prefix + "/big.bin", os.urandom(8 << 20))
    # nosplice: the read-ahead worker is what stalls here (the splice
    # path's case is in test_mount_splice.py).
    m = mount_fs(direct_io=True, nosplice=True)
    path = m.job("stall", "output", "big.bin")
    os.stat(path)
    # The first window (1 MiB) arrives; the prefetch of the next stalls.
    emu.fault(method="GET", path="big.bin.*alt=media", kind="stall_body",
              after_bytes=1536 << 10, seconds=40, times=-1)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert len(os.read(fd, 1 << 20)) == 1 << 20
        time.sleep(1)  # the prefetch is under way, stalled
        t0 = time.time()
        m.proc.send_signal(signal.SIGTERM)
        m.proc.wait(timeout=30)
        took = time.time() - t0
    finally:
        try:
            os.close(fd)
        except OSError:  # ENOTCONN: the daemon is gone, as intended
            pass
        emu.clear_faults()
    assert took < 8, "exit took %.1f s" % took
