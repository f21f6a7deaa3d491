"""The splice path (fs/gcs/pipe.c): with a plain http storage endpoint a
sequential reader's bytes go from one ranged GET's socket through a pipe
into the reading process. Real readers (cat, dd, cp) get the object's
bytes in one GET; a stream cut or stalled midway falls back to the block
path without a wrong byte; Ctrl-C and unmount do not wait for a stalled
stream; -o nosplice reads in windows; the mount's kernel read-ahead is
raised when we may."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lib.mounthelp import request_text

MiB = 1 << 20


def object_job(mount_fs, emu, name, size):
    """A finished job whose output/ holds big.bin (size random bytes);
    returns (bytes, local copy path, mount-relative parts)."""
    m0 = mount_fs()
    emu.config(time_scale=0)
    os.mkdir(m0.job(name))
    with open(m0.job(name, "request.json"), "w") as f:
        f.write(request_text(emu, n=2))
    m0.wait_state(name)
    job = json.loads(m0.read(name, "job.json"))
    bucket, _, prefix = job["outputInfo"]["gcsOutputDirectory"][5:].partition("/")
    data = os.urandom(size)
    emu.put_object(bucket, prefix + "/big.bin", data)
    LAST_OBJECT[emu] = bucket + "/" + prefix + "/big.bin"
    m0.stop()  # the counts below are the next mount's alone
    return data


# The object object_job made last, per emulator.
LAST_OBJECT = {}


def media_gets(emu):
    """GETs of the bytes of the object object_job made last: a count that
    other clients of the emulator (a straggler of an earlier test) cannot
    inflate."""
    return emu.counters()["media_by_object"].get(LAST_OBJECT.get(emu), 0)


def streams(m):
    return m.stderr().count("splice stream from")


def totals(m):
    """The daemon's exit summary: bytes spliced, bytes from blocks."""
    m.stop()
    line = [l for l in m.stderr().splitlines() if "totals: output reads" in l]
    assert line, m.stderr()[-2000:]
    words = line[-1].split("output reads: ")[1].split()
    return int(words[0]), int(words[3])


def run_to(cmd, out_path):
    with open(out_path, "wb") as out:
        subprocess.run(cmd, stdout=out, check=True, timeout=120)


READERS = {"cat": lambda p, d: run_to(["cat", p], d),
           "dd": lambda p, d: run_to(["dd", "if=" + p, "bs=1M",
                                      "status=none"], d),
           "cp": lambda p, d: subprocess.run(["cp", p, str(d)], check=True,
                                             timeout=120)}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("direct_io", [False, True],
                         ids=["page_cache", "direct_io"])
def test_readers_get_the_object_through_the_stream(mount_fs, emu, tmp_path,
                                                   direct_io, reader):
    size = 24 * MiB + 777
    data = object_job(mount_fs, emu, "sp", size)
    m = mount_fs(loglevel="debug", direct_io=direct_io or None)
    assert "splice on" in m.stderr()
    before = media_gets(emu)
    dst = tmp_path / "out"
    READERS[reader](m.job("sp", "output", "big.bin"), dst)
    assert dst.read_bytes() == data
    gets = media_gets(emu) - before
    spliced, blocks = totals(m)
    if direct_io:
        # One stream from the first read on; a read that overtakes the
        # one before it by more than the reorder wait may restart it.
        # (a tail under 8 KiB is not worth a pipe: libfuse copies it)
        assert spliced >= size - 8192 and blocks < 8192, (spliced, blocks)
        assert 1 <= gets <= 3, (gets, emu.counters()["media_by_object"])
    else:
        # The kernel's first read-ahead burst arrives in any order: what
        # lands behind the stream is read exactly, the rest streams.
        assert spliced >= size - 4 * MiB and blocks < 8192, (spliced, blocks)
        assert 1 <= gets <= 12, (gets, emu.counters()["media_by_object"])


def test_nosplice_reads_in_windows(mount_fs, emu, tmp_path):
    """The same read with -o nosplice goes through the read-ahead blocks:
    windows of 1, 2, 4, 8 MiB, so several GETs and no stream."""
    data = object_job(mount_fs, emu, "ns", 24 * MiB + 777)
    m = mount_fs(loglevel="debug", nosplice=True)
    assert "splice off" in m.stderr()
    before = media_gets(emu)
    dst = tmp_path / "out"
    run_to(["cat", m.job("ns", "output", "big.bin")], dst)
    assert dst.read_bytes() == data
    assert media_gets(emu) - before >= 5
    assert streams(m) == 0
    spliced, blocks = totals(m)
    assert spliced == 0 and blocks > 16 * MiB


@pytest.mark.parametrize("fault", [
    {"kind": "truncate", "after_bytes": 3 * MiB},
    {"kind": "reset"},
    {"kind": "wrong_range"},
    {"kind": "ignore_range"},
    {"kind": "status", "status": 503},
    {"kind": "stall_body", "after_bytes": 2 * MiB, "seconds": 2},
], ids=lambda f: f["kind"])
def test_stream_faults_keep_every_byte_right(mount_fs, emu, tmp_path, fault):
    """The fault hits the stream's GET, then the next GET (a new stream or
    the block path): cat still gets exactly the object."""
    data = object_job(mount_fs, emu, "sf", 12 * MiB + 5)
    m = mount_fs(loglevel="debug", direct_io=True)
    emu.fault(method="GET", path="big.bin.*alt=media", times=2, **fault)
    dst = tmp_path / "out"
    r = subprocess.run(["cat", m.job("sf", "output", "big.bin")],
                       stdout=open(dst, "wb"), stderr=subprocess.PIPE,
                       timeout=120)
    hits = sum(f["hits"] for f in emu.control("GET", "faults")["faults"])
    emu.clear_faults()
    assert hits >= 1
    got = dst.read_bytes()
    if fault["kind"] == "wrong_range" and r.returncode != 0:
        # the block path refuses shifted bytes (EIO); never wrong ones
        assert data.startswith(got) and b"Input/output error" in r.stderr
        return
    assert r.returncode == 0, r.stderr
    assert got == data


def test_ctrl_c_ends_a_read_of_a_stalled_stream(mount_fs, emu):
    data = object_job(mount_fs, emu, "st", 8 * MiB)
    m = mount_fs(direct_io=True)
    path = m.job("st", "output", "big.bin")
    os.stat(path)
    emu.fault(method="GET", path="big.bin.*alt=media", kind="stall_body",
              after_bytes=MiB, seconds=40, times=-1)
    code = (
        "import os, signal, sys, time\n"
        "def boom(*a): raise KeyboardInterrupt\n"
        "signal.signal(signal.SIGALRM, boom)\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
        "assert len(os.read(fd, 512 << 10)) == 512 << 10\n"
        "signal.alarm(1)\n"
        "t = time.time()\n"
        "try:\n"
        "    while os.read(fd, 1 << 20): pass\n"
        "    print('finished', time.time() - t)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', time.time() - t)\n")
    try:
        r = subprocess.run([sys.executable, "-c", code, path],
                           capture_output=True, text=True, timeout=60)
    finally:
        emu.clear_faults()
    word, secs = r.stdout.split()
    assert word == "interrupted", r.stdout + r.stderr
    assert float(secs) < 5, r.stdout
    # The mount goes on: the next reader gets every byte.
    with open(path, "rb") as f:
        assert f.read() == data


def test_exit_does_not_wait_for_a_stalled_stream(mount_fs, emu):
    object_job(mount_fs, emu, "sx", 8 * MiB)
    m = mount_fs(direct_io=True)
    path = m.job("sx", "output", "big.bin")
    os.stat(path)
    emu.fault(method="GET", path="big.bin.*alt=media", kind="stall_body",
              after_bytes=MiB, seconds=40, times=-1)
    reader = subprocess.Popen([sys.executable, "-c",
                               "import sys\n"
                               "open(sys.argv[1], 'rb').read()", path],
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)  # the reader waits in the stalled stream
        assert reader.poll() is None
        t0 = time.time()
        m.proc.send_signal(signal.SIGTERM)
        m.proc.wait(timeout=30)
        took = time.time() - t0
    finally:
        emu.clear_faults()
        reader.kill()
        reader.wait()
    assert took < 8, "exit took %.1f s" % took


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may set read_ahead_kb")
@pytest.mark.parametrize("kb", [None, 1024])
def test_kernel_read_ahead_is_raised(mount_fs, kb):
    m = mount_fs(read_ahead_kb=kb)
    os.listdir(m.jobs)  # the first request after INIT sets it
    dev = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if parts[4] == m.path:
                dev = parts[2]
    with open("/sys/class/bdi/%s/read_ahead_kb" % dev) as f:
        assert int(f.read()) == (kb or 512)


def test_parallel_readers_each_get_their_stream(mount_fs, emu, tmp_path):
    """Twelve cats at once, page cache, five rounds: each file gets its
    own stream and every byte. The kernel may release a file while the
    read that finished it is still returning from the reply; under ASan
    this caught the stream being freed under that read."""
    m0 = mount_fs()
    emu.config(time_scale=0)
    os.mkdir(m0.job("pp"))
    with open(m0.job("pp", "request.json"), "w") as f:
        f.write(request_text(emu, n=2))
    m0.wait_state("pp")
    job = json.loads(m0.read("pp", "job.json"))
    bucket, _, prefix = job["outputInfo"]["gcsOutputDirectory"][5:].partition("/")
    size, n = 2 * MiB + 4097, 12
    datas = [os.urandom(size) for _ in range(n)]
    for i, d in enumerate(datas):
        emu.put_object(bucket, "%s/p%d.bin" % (prefix, i), d)
    m = mount_fs(loglevel="debug")
    for rnd in range(5):
        procs = []
        for i in range(n):
            path = m.job("pp", "output", "p%d.bin" % i)
            if rnd:  # read again, not from the page cache
                fd = os.open(path, os.O_RDONLY)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)
            dst = tmp_path / ("out%d-%d" % (rnd, i))
            procs.append((subprocess.Popen(["cat", path],
                                           stdout=open(dst, "wb")),
                          dst, datas[i]))
        for p, dst, d in procs:
            assert p.wait(timeout=120) == 0
            assert dst.read_bytes() == d
    spliced, _ = totals(m)
    assert spliced >= 5 * n * size // 2
