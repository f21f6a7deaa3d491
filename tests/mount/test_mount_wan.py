"""Reading across the emulator's WAN model (20 ms per reply, each response
body throttled on its own, as one TCP stream to Google is): cat, dd and
four readers at once get every byte of a big output file through several
ranged GETs in flight at once, the splice path (plain http) hands over to
them, and random reads and tail -f behave as without the model (those are
in test_mount_output.py, parametrized)."""
import subprocess
import threading

import pytest

from test_mount_splice import MiB, object_job

RATE = 4_000_000
SIZE = 16 * MiB + 999


def wan(emu):
    emu.config(latency_ms=20, stream_bytes_per_second=RATE)
    emu.control("DELETE", "counters")


@pytest.mark.parametrize("reader", ["cat", "dd"])
@pytest.mark.parametrize("direct_io", [False, True], ids=["page_cache", "direct_io"])
def test_sequential_reads_use_parallel_ranges(mount_fs, emu, tmp_path, reader,
                                              direct_io):
    data = object_job(mount_fs, emu, "wan", SIZE)
    m = mount_fs(loglevel="debug", direct_io=direct_io or None)
    wan(emu)
    path = m.job("wan", "output", "big.bin")
    cmd = ["cat", path] if reader == "cat" else ["dd", "if=" + path, "bs=1M",
                                                 "status=none"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, timeout=120).stdout
    assert out == data
    c = emu.counters()
    assert c["media_streams_max"] >= 4, c
    # every media GET of the test ranged (both counts emulator-wide)
    assert c["routes"].get("gcs.media.ranged", 0) == \
        c["routes"].get("gcs.media", 0), c
    # the splice stream (plain http) was judged slow and left
    assert "splice stream slow, parallel ranges" in m.stderr()


def test_four_readers_at_once(mount_fs, emu):
    """direct_io: each open is its own reader (no shared page cache); the
    8 MiB budget is shared by the four and every byte is right."""
    data = object_job(mount_fs, emu, "wan4", SIZE)
    m = mount_fs(direct_io=True, readahead=8 * MiB)
    wan(emu)
    path = m.job("wan4", "output", "big.bin")
    outs = [None] * 4

    def read(i):
        outs[i] = subprocess.run(["cat", path], stdout=subprocess.PIPE,
                                 check=True, timeout=180).stdout
    ts = [threading.Thread(target=read, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(o == data for o in outs)
    assert emu.counters()["media_streams_max"] >= 5
