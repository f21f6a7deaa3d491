"""fs/gcs across the emulator's WAN model (--latency-ms,
--stream-bytes-per-second: each response throttled on its own, as one TCP
stream to Google is): a sequential reader runs several ranged GETs at once
on separate connections, within the read-ahead budget, keeps every byte
right when those streams are cut midway, hands a slow splice stream over
to parallel ranges, and random reads and growing objects work as before.

Drives build/tests/drivers/gcs_cli like test_gcs.py.
"""
import random

import pytest

from test_gcs import BUCKET, MEDIA, fault_hits, ok, rand_bytes, run, stats_of

MiB = 1 << 20
SIZE = 24 * MiB + 4321
RATE = 4_000_000  # bytes/s per response: one stream would take 6 s


@pytest.fixture
def wan(emu):
    emu.make_bucket(BUCKET)
    data = rand_bytes(SIZE, 12)
    emu.put_object(BUCKET, "wan/big.bin", data)
    emu.config(latency_ms=20, stream_bytes_per_second=RATE)
    emu.control("DELETE", "counters")
    return "wan/big.bin", data


def media(emu):
    c = emu.counters()
    return (c["routes"].get("gcs.media", 0), c["routes"].get("gcs.media.ranged", 0),
            c["media_streams_max"])


def test_sequential_read_runs_parallel_ranges(build_dir, emu, wan):
    name, data = wan
    rc, out, err = run(build_dir, emu, "cat", BUCKET, name, timeout=120,
                       opts=["--stats", "--bs", 131072, "--pool", 16 * MiB])
    assert rc == 0, err
    assert out == data
    st = stats_of(err)
    gets, ranged, at_once = media(emu)
    # Several ranged GETs were in flight at once (the old reader: two).
    assert st["loads_max"] >= 4, st
    assert at_once >= 4, (gets, ranged, at_once)
    assert ranged == gets >= 6
    assert st["used_max"] <= 16 * MiB and st["pool_used"] == 0
    # a read may pass the end of the read-ahead while all of the budget
    # is still loading: its rest is read exactly, rarely
    assert st["direct_reads"] <= 4


@pytest.mark.parametrize("path", ["blocks", "pipe"])
@pytest.mark.parametrize("fault", [
    dict(kind="truncate", after_bytes=300000, times=4),
    dict(kind="reset", times=3),
    dict(kind="stall_body", after_bytes=200000, seconds=1, times=2),
    dict(kind="status", status=503, times=3),
], ids=lambda f: f["kind"])
def test_streams_cut_midway_keep_every_byte(build_dir, emu, wan, fault, path):
    """Faults hit the first GETs, which under the WAN model are parallel
    ranges of one reader (or the splice stream first, with --pipe): every
    byte stays right."""
    name, data = wan
    emu.fault(method="GET", path=MEDIA, **fault)
    # and one more later, once loads run in parallel
    emu.fault(method="GET", path=MEDIA, **dict(fault, times=1))
    opts = ["--stats", "--bs", 131072, "--pool", 16 * MiB]
    if path == "pipe":
        opts.append("--pipe")
    rc, out, err = run(build_dir, emu, "cat", BUCKET, name, timeout=180, opts=opts)
    assert rc == 0, err
    assert out == data
    assert fault_hits(emu) >= 2
    assert stats_of(err)["loads_max"] >= 3
    assert media(emu)[2] >= 3


def test_memory_budget_shared_by_readers(build_dir, emu, wan):
    """Four readers of one pool (four files open at once): together they
    never hold more than the budget, each gets its bytes right, and the
    ones that came later are served too (the first gave memory back)."""
    name, data = wan
    pool = 8 * MiB
    rc, out, err = run(build_dir, emu, "mcat", BUCKET, name, 4, timeout=180,
                       opts=["--stats", "--bs", 131072, "--pool", pool])
    assert rc == 0, err
    assert out == data * 4
    st = stats_of(err)
    assert st["used_max"] <= pool, st
    assert st["pool_used"] == 0
    assert st["loads_max"] >= 2
    # read-ahead served almost everything: no reader was left to exact reads
    assert st["buffered_bytes"] >= 3 * SIZE, st


def test_slow_splice_stream_hands_over_to_parallel_ranges(build_dir, emu, wan):
    name, data = wan
    rc, out, err = run(build_dir, emu, "cat", BUCKET, name, timeout=120,
                       opts=["--stats", "--pipe", "--bs", 131072, "--pool", 16 * MiB])
    assert rc == 0, err
    assert out == data
    st = stats_of(err)
    assert st["splice_slow"] == 1, st
    assert 0 < st["spliced_bytes"] < SIZE // 2
    assert st["loads_max"] >= 4 and media(emu)[2] >= 4


def test_fast_splice_stream_is_kept(build_dir, emu, wan):
    """Without the WAN model (a local endpoint) the one stream stays."""
    name, data = wan
    emu.config(latency_ms=None, stream_bytes_per_second=None)
    rc, out, err = run(build_dir, emu, "cat", BUCKET, name, timeout=120,
                       opts=["--stats", "--pipe", "--bs", 131072])
    assert rc == 0, err
    assert out == data
    st = stats_of(err)
    assert st["splice_slow"] == 0 and st["spliced_bytes"] == SIZE, st


def test_random_reads_stay_exact(build_dir, emu, wan):
    """Backward jumps over a MiB each: no read-ahead, one GET per read."""
    name, data = wan
    rnd = random.Random(5)
    specs, off = [], SIZE - 100
    while off > 2 * MiB:
        ln = rnd.choice([1, 4096, 65536, 200000])
        specs.append((off, ln))
        off -= MiB + rnd.randrange(1, 1 << 18)
    rc, out, err = run(build_dir, emu, "pread", BUCKET, name,
                       *["%d:%d" % s for s in specs], opts=["--stats"])
    assert rc == 0, err
    assert out == b"".join(data[o:o + n] for o, n in specs)
    st = stats_of(err)
    assert st["window_fetches"] == 0 and st["loads_max"] == 0
    assert media(emu)[0] == len(specs)


def test_growing_object_followed(build_dir, emu, wan):
    """tail -f's pattern on an export that grows (a new generation with
    the old bytes as prefix): the reader follows without re-reading."""
    first = rand_bytes(1_000_000, 31)
    more = rand_bytes(3_000_000, 32)
    emu.put_object(BUCKET, "grow/p.jsonl", first)
    specs = ["0:600000", "600000:400000"]
    import threading
    import time

    def grow():
        time.sleep(1.0)
        emu.put_object(BUCKET, "grow/p.jsonl", first + more)
    t = threading.Thread(target=grow)
    t.start()
    rc, out, err = run(build_dir, emu, "pread", BUCKET, "grow/p.jsonl", *specs,
                       "sleep:2500", "update", "1000000:3000000", opts=["--stats"])
    t.join()
    assert rc == 0, err
    assert out == first + more
    ok(build_dir, emu, "stat", BUCKET, "grow/p.jsonl")
