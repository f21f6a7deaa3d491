"""output/: listings with sizes, reads checked row by row against the
emulator's model, tail -f on incremental exports, random reads, many
objects."""
import json
import os
import select
import subprocess
import time

import pytest
from gcemu import model

from lib.mounthelp import TLS_TOO, MODEL, put_input, prompts, request_text

# Every test here runs over plain http and over TLS (--tls, -o cafile=).
pytestmark = TLS_TOO


def submit(mnt, emu, name, n=3):
    os.mkdir(mnt.job(name))
    with open(mnt.job(name, "request.json"), "w") as f:
        f.write(request_text(emu, n=n))


def output_dir(mnt, name):
    job = json.loads(mnt.read(name, "job.json"))
    uri = job["outputInfo"]["gcsOutputDirectory"]
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix


def check_rows(text, n):
    rows = [json.loads(l) for l in text.splitlines() if l.strip()]
    assert len(rows) == n
    for row in rows:
        status, response = model.predict(row["request"], MODEL)
        assert row["status"] == status
        assert row.get("response") == response
    assert sorted(r["key"] for r in rows) == sorted("k%d" % i for i in range(n))
    return rows


def test_cat_output_matches_model(mnt, emu):
    submit(mnt, emu, "o1", n=7)
    mnt.wait_state("o1")
    out = mnt.job("o1", "output")
    assert "predictions.jsonl" in os.listdir(out)
    path = os.path.join(out, "predictions.jsonl")
    text = subprocess.run(["cat", path], capture_output=True, text=True,
                          check=True).stdout
    check_rows(text, 7)
    bucket, prefix = output_dir(mnt, "o1")
    raw = emu.get_object(bucket, prefix + "/predictions.jsonl")
    st = os.stat(path)
    assert st.st_size == len(raw)
    assert st.st_blksize == 1 << 20
    assert text.encode() == raw


def wan_model(emu, on):
    """The emulator's WAN model: 20 ms per reply, 4 MB/s per response."""
    if on:
        emu.config(latency_ms=20, stream_bytes_per_second=4_000_000)


@pytest.mark.parametrize("wan", [False, True], ids=["local", "wan"])
def test_random_reads(mnt, emu, wan):
    submit(mnt, emu, "o2", n=25)
    mnt.wait_state("o2")
    wan_model(emu, wan)
    bucket, prefix = output_dir(mnt, "o2")
    raw = emu.get_object(bucket, prefix + "/predictions.jsonl")
    fd = os.open(mnt.job("o2", "output", "predictions.jsonl"), os.O_RDONLY)
    try:
        for off, n in [(len(raw) - 10, 100), (0, 5), (len(raw) // 2, 333),
                       (7, 1), (len(raw), 10), (len(raw) + 100, 10)]:
            assert os.pread(fd, n, off) == raw[off:off + n], (off, n)
    finally:
        os.close(fd)


@pytest.mark.parametrize("wan", [False, True], ids=["local", "wan"])
def test_tail_f_sees_rows_arrive(mnt, emu, wan):
    emu.config(row_seconds=0.15, export_interval=0.4)
    wan_model(emu, wan)
    submit(mnt, emu, "t1", n=24)
    inc = mnt.job("t1", "output", "incremental_predictions",
                  "predictions.jsonl")
    deadline = time.time() + 30
    while not os.path.exists(inc):
        assert time.time() < deadline, "no incremental export appeared"
        time.sleep(0.1)
    tail = subprocess.Popen(["tail", "---disable-inotify", "-s", "0.2",
                             "-n", "+1", "-f", inc], stdout=subprocess.PIPE)
    lines, states = [], []
    try:
        buf = b""
        deadline = time.time() + 40
        while len(lines) < 24 and time.time() < deadline:
            r, _, _ = select.select([tail.stdout], [], [], 0.5)
            if r:
                chunk = os.read(tail.stdout.fileno(), 65536)
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    lines.append(line)
                    states.append(mnt.read("t1", "state").strip())
    finally:
        tail.kill()
        tail.wait()
    assert len(lines) == 24, "tail -f saw %d rows" % len(lines)
    # Rows arrived while the job was still running.
    assert "JOB_STATE_RUNNING" in states
    check_rows(b"\n".join(lines).decode(), 24)


def test_many_output_objects(mount_fs, emu):
    m = mount_fs(page_size=5)
    submit(m, emu, "o3", n=2)
    m.wait_state("o3")
    bucket, prefix = output_dir(m, "o3")
    for i in range(12):
        emu.put_object(bucket, "%s/extra/part-%02d.jsonl" % (prefix, i),
                       b"x" * i)
    emu.put_object(bucket, prefix + "/weird\tname", b"w")
    emu.put_object(bucket, prefix + "//empty-segment", b"e")
    top = sorted(os.listdir(m.job("o3", "output")))
    assert "extra" in top and "predictions.jsonl" in top
    assert any(n.startswith("weird_name~") for n in top), top
    empty = [n for n in top if n.startswith("_~")]
    assert len(empty) == 1, top
    assert os.listdir(m.job("o3", "output", empty[0])) == ["empty-segment"]
    weird = [n for n in top if n.startswith("weird_name~")][0]
    with open(m.job("o3", "output", weird), "rb") as f:
        assert f.read() == b"w"
    extra = m.job("o3", "output", "extra")
    names = sorted(os.listdir(extra))
    assert names == ["part-%02d.jsonl" % i for i in range(12)]
    for i in (0, 5, 11):
        p = os.path.join(extra, "part-%02d.jsonl" % i)
        assert os.stat(p).st_size == i
        with open(p, "rb") as f:
            assert f.read() == b"x" * i


def test_output_is_read_only(mnt, emu):
    submit(mnt, emu, "o4", n=1)
    mnt.wait_state("o4")
    p = mnt.job("o4", "output", "predictions.jsonl")
    try:
        open(p, "w")
        raise AssertionError("opened an output object for writing")
    except PermissionError:
        pass


def test_finished_listing_cached_until_ctl_refresh(mnt, emu):
    emu.config(time_scale=0)
    submit(mnt, emu, "o5", n=1)
    mnt.wait_state("o5")
    out = mnt.job("o5", "output")
    assert os.listdir(out) == ["predictions.jsonl"]
    bucket, prefix = output_dir(mnt, "o5")
    emu.put_object(bucket, prefix + "/late.txt", b"late")
    time.sleep(0.5)
    assert os.listdir(out) == ["predictions.jsonl"]  # finished: cached
    with open(mnt.job("o5", "ctl"), "w") as f:
        f.write("refresh")
    assert sorted(os.listdir(out)) == ["late.txt", "predictions.jsonl"]


def test_direct_io_option_reads_the_same_bytes(mount_fs, emu):
    m = mount_fs(direct_io=True, readahead=4 << 20, readahead_window=1 << 20)
    emu.config(time_scale=0)
    submit(m, emu, "o6", n=30)
    m.wait_state("o6")
    bucket, prefix = output_dir(m, "o6")
    big = os.urandom(3 << 20)
    emu.put_object(bucket, prefix + "/big.bin", big)
    with open(m.job("o6", "ctl"), "w") as f:
        f.write("refresh")
    with open(m.job("o6", "output", "big.bin"), "rb") as f:
        assert f.read() == big
    raw = emu.get_object(bucket, prefix + "/predictions.jsonl")
    with open(m.job("o6", "output", "predictions.jsonl"), "rb") as f:
        assert f.read() == raw
