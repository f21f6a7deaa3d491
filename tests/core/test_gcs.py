"""fs/gcs against the emulator: listings with prefixes and paging, awkward
object names, verified ranged reads (every read fault kind ends with the
right bytes or EIO, never wrong bytes), the read-ahead reader, simple and
resumable uploads (also with a failed chunk), generation changes -> ESTALE.

Drives build/tests/drivers/gcs_cli (see its header comment for commands).
"""
import hashlib
import json
import os
import random
import subprocess
import threading
import time

import pytest

BUCKET = "gcs-test"
NAMES = [
    "plain.txt",
    "dir/sub/file.jsonl",
    "with space.txt",
    "utf8-\u00e9\u00e8\u4e2d\u6587.txt",
    "hash#mark",
    "question?mark",
    "percent%41literal",
    "plus+sign",
    "a/b c/#?%+/\u00fc",
]


def cli_path(build_dir):
    p = os.path.join(build_dir, "tests", "drivers", "gcs_cli")
    if not os.path.exists(p):
        pytest.fail("%s missing: build it with ninja" % p)
    return p


def run(build_dir, emu, *args, timeout=120, opts=()):
    """Runs gcs_cli; returns (rc, stdout bytes, stderr text)."""
    cmd = [cli_path(build_dir), "--endpoint", emu.url, *map(str, opts),
           *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def ok(build_dir, emu, *args, **kw):
    rc, out, err = run(build_dir, emu, *args, **kw)
    assert rc == 0, err
    return out


def error_of(stderr):
    for line in stderr.splitlines():
        if line.startswith('{"error"'):
            return json.loads(line)["error"]
    raise AssertionError("no JSON error in stderr: %r" % stderr)


def stats_of(stderr):
    for line in stderr.splitlines():
        if line.startswith('{"stats"'):
            return json.loads(line)["stats"]
    return None


def rand_bytes(n, seed):
    return random.Random(seed).randbytes(n)


@pytest.fixture
def bucket(emu):
    emu.make_bucket(BUCKET)
    return BUCKET


@pytest.fixture
def big(emu, bucket):
    """A 6 MiB + 12345 random object."""
    data = rand_bytes(6 * 1024 * 1024 + 12345, 1)
    emu.put_object(bucket, "big/obj.bin", data)
    return "big/obj.bin", data


# ---- names, list, stat, delete -------------------------------------------

def test_names_roundtrip(build_dir, emu, bucket, tmp_path):
    for i, name in enumerate(NAMES):
        data = ("content %d of %s\n" % (i, name)).encode()
        src = tmp_path / ("f%d" % i)
        src.write_bytes(data)
        obj = json.loads(ok(build_dir, emu, "upload", bucket, name, src))
        assert obj["name"] == name
        assert int(obj["size"]) == len(data)
        assert emu.get_object(bucket, name) == data
        st = json.loads(ok(build_dir, emu, "stat", bucket, name))
        assert st["name"] == name and st["generation"] == obj["generation"]
        assert ok(build_dir, emu, "read", bucket, name, 0, 1000) == data
    listed = [json.loads(line)["item"]["name"]
              for line in ok(build_dir, emu, "list", bucket, "").splitlines()]
    assert sorted(listed) == sorted(NAMES)
    # awkward prefixes go through query encoding
    for prefix in ["a/b c/#?%+/", "utf8-\u00e9", "plus+", "percent%4"]:
        got = [json.loads(line)["item"]["name"] for line in
               ok(build_dir, emu, "list", bucket, prefix).splitlines()]
        assert got == sorted(n for n in NAMES if n.startswith(prefix)), prefix
        assert got
    for name in NAMES:
        ok(build_dir, emu, "rm", bucket, name)
        rc, _, err = run(build_dir, emu, "stat", bucket, name)
        assert rc == 1 and error_of(err)["name"] == "ENOENT"
    rc, _, err = run(build_dir, emu, "rm", bucket, "never-was")
    assert rc == 1 and error_of(err)["name"] == "ENOENT"


def test_list_prefixes_and_delimiter(build_dir, emu, bucket):
    for n in ["a/b", "a/c", "d", "e", "e/f", "e/g/h"]:
        emu.put_object(bucket, n, b"x")
    lines = [json.loads(x) for x in
             ok(build_dir, emu, "list", bucket, "", "/").splitlines()]
    assert sorted(x["item"]["name"] for x in lines if "item" in x) == ["d", "e"]
    assert sorted(x["prefix"] for x in lines if "prefix" in x) == ["a/", "e/"]
    lines = [json.loads(x) for x in
             ok(build_dir, emu, "list", bucket, "e/", "/").splitlines()]
    assert [x["item"]["name"] for x in lines if "item" in x] == ["e/f"]
    assert [x["prefix"] for x in lines if "prefix" in x] == ["e/g/"]
    item = [x["item"] for x in lines if "item" in x][0]
    assert item["size"] == "1" and int(item["generation"]) > 0
    assert item["updated_us"] > 1.7e15


def test_list_paging_small_pages(build_dir, emu, bucket):
    names = ["p/%03d" % i for i in range(57)] + ["p/q/x", "p/r/y"]
    for n in names:
        emu.put_object(bucket, n, b"")
    before = emu.counters()["routes"].get("gcs.list", 0)
    out = ok(build_dir, emu, "list", bucket, "p/", "/", opts=["--page-size", 10])
    lines = [json.loads(x) for x in out.splitlines()]
    items = [x["item"]["name"] for x in lines if "item" in x]
    prefixes = [x["prefix"] for x in lines if "prefix" in x]
    assert items == names[:57]
    assert sorted(prefixes) == ["p/q/", "p/r/"]
    pages = emu.counters()["routes"].get("gcs.list", 0) - before
    assert 6 <= pages <= 7


def test_list_more_than_1000(build_dir, emu, bucket):
    # Written straight into the emulator's store is not part of the
    # contract; go through the API, on one kept-alive connection.
    import http.client
    import urllib.parse
    host = emu.url.split("//")[1]
    conn = http.client.HTTPConnection(host, timeout=60)
    for i in range(1003):
        q = urllib.parse.urlencode({"uploadType": "media", "name": "m/%04d" % i})
        conn.request("POST", "/upload/storage/v1/b/%s/o?%s" % (bucket, q),
                      body=b"", headers={"Content-Type": "text/plain"})
        r = conn.getresponse()
        r.read()
        assert r.status == 200
    conn.close()
    before = emu.counters()["routes"].get("gcs.list", 0)
    out = ok(build_dir, emu, "list", bucket, "m/")
    items = [json.loads(x)["item"]["name"] for x in out.splitlines()]
    assert items == ["m/%04d" % i for i in range(1003)]
    assert emu.counters()["routes"].get("gcs.list", 0) - before == 2


def test_list_missing_bucket(build_dir, emu):
    rc, _, err = run(build_dir, emu, "list", "no-such-bucket", "")
    assert rc == 1 and error_of(err)["name"] == "ENOENT"


# ---- reads ---------------------------------------------------------------

def test_cat_through_reader(build_dir, emu, big):
    name, data = big
    before = emu.counters()["routes"].get("gcs.media", 0)
    rc, out, err = run(build_dir, emu, "cat", BUCKET, name, opts=["--stats"])
    assert rc == 0, err
    assert hashlib.sha256(out).hexdigest() == hashlib.sha256(data).hexdigest()
    st = stats_of(err)
    # windows 1, 2, 4 MiB cover 6 MiB + a bit: 3 or 4 fetches, not 1 per MiB
    assert st["window_fetches"] <= 4 and st["prefetches"] >= 1
    assert st["direct_reads"] == 0 and st["pool_used"] == 0
    assert emu.counters()["routes"].get("gcs.media", 0) - before <= 4


def test_cat_small_kernel_sized_reads(build_dir, emu, big):
    name, data = big
    rc, out, err = run(build_dir, emu, "cat", BUCKET, name,
                       opts=["--stats", "--bs", 131072])
    assert rc == 0, err
    assert out == data
    assert stats_of(err)["window_fetches"] <= 4


def test_cat_pool_exhausted_falls_back(build_dir, emu, big):
    name, data = big
    rc, out, err = run(build_dir, emu, "cat", BUCKET, name,
                       opts=["--stats", "--pool", 0, "--bs", 1 << 20])
    assert rc == 0, err
    assert out == data
    st = stats_of(err)
    assert st["window_fetches"] == 0 and st["direct_reads"] >= 7


@pytest.mark.parametrize("bs", [131072, 1 << 20, 3 << 20])
def test_readv_describes_the_same_bytes(build_dir, emu, big, bs):
    """bf_reader_readv (what the FUSE glue replies from): the pinned pieces
    it describes are the object's bytes, in order, at every read size."""
    name, data = big
    rc, out, err = run(build_dir, emu, "cat", BUCKET, name,
                       opts=["--stats", "--readv", "--bs", bs])
    assert rc == 0, err
    assert out == data
    st = stats_of(err)
    assert st["window_fetches"] <= 4 and st["pool_used"] == 0


def test_readv_random_reordered_and_without_pool(build_dir, emu, big):
    name, data = big
    rnd = random.Random(13)
    specs = [(rnd.randrange(0, len(data) + 100),
              rnd.choice([1, 4096, 131072, 1 << 20, 3 << 20]))
             for _ in range(30)]
    for a, b in [(0, 1), (2, 1), (1, 1), (3, 1), (5, 1), (4, 1), (6, 1)]:
        specs.append((a * 131072, 131072))
    want = b"".join(data[o:o + n] for o, n in specs)
    for opts in (["--readv"], ["--readv", "--pool", 0]):
        out = ok(build_dir, emu, "pread", BUCKET, name,
                 *["%d:%d" % s for s in specs], opts=opts)
        assert out == want


def test_cat_empty_and_tiny(build_dir, emu, bucket):
    emu.put_object(bucket, "empty", b"")
    emu.put_object(bucket, "tiny", b"abc")
    assert ok(build_dir, emu, "cat", bucket, "empty") == b""
    assert ok(build_dir, emu, "cat", bucket, "tiny") == b"abc"
    assert ok(build_dir, emu, "read", bucket, "empty", 0, 10) == b""


def test_ranged_reads_random(build_dir, emu, big):
    name, data = big
    rnd = random.Random(7)
    for _ in range(12):
        off = rnd.randrange(0, len(data))
        ln = rnd.choice([1, 4096, 65536, 1 << 20, 3 << 20])
        out = ok(build_dir, emu, "read", BUCKET, name, off, ln)
        assert out == data[off:off + ln]


def test_reader_random_and_reordered(build_dir, emu, big):
    name, data = big
    rnd = random.Random(11)
    specs = []
    for _ in range(30):
        off = rnd.randrange(0, len(data) + 100)
        specs.append((off, rnd.choice([1, 4096, 131072, 1 << 20])))
    # a sequential run with kernel-like reordering
    for a, b in [(0, 1), (2, 1), (1, 1), (3, 1), (5, 1), (4, 1), (6, 1)]:
        specs.append((a * 131072, 131072))
    out = ok(build_dir, emu, "pread", BUCKET, name,
             *["%d:%d" % s for s in specs])
    want = b"".join(data[o:o + n] for o, n in specs)
    assert out == want


@pytest.mark.parametrize("threads", [2, 4, 8])
def test_reader_concurrent_reads_one_handle(build_dir, emu, big, threads):
    name, data = big
    rc, out, err = run(build_dir, emu, "pcat", BUCKET, name, threads,
                       opts=["--stats", "--bs", 131072])
    assert rc == 0, err
    assert out == data
    st = stats_of(err)
    assert st["pool_used"] == 0 and st["window_fetches"] <= 8


def test_reader_late_worker_keeps_the_stream(build_dir, emu, big):
    """One of many workers falls more than BF_SEQ_BACK (1 MiB) behind the
    others (a loaded machine): its bytes are in a window already held, so
    the stream goes on with its doubled windows instead of starting over
    at 1 MiB (which once made the 8-thread pcat above fetch 10-11
    windows for 6 MiB)."""
    name, data = big
    ck = 131072
    specs = [(0, ck), (ck, ck), (2 * ck, ck)]
    # others run ahead to 2.5 MiB while the worker of 3*ck waits
    specs += [(o, ck) for o in range(4 * ck, 20 * ck, ck)]
    specs.append((3 * ck, ck))
    specs += [(o, ck) for o in range(20 * ck, len(data), ck)]
    rc, out, err = run(build_dir, emu, "pread", BUCKET, name,
                       *["%d:%d" % s for s in specs], opts=["--stats"])
    assert rc == 0, err
    assert out == b"".join(data[o:o + n] for o, n in specs)
    st = stats_of(err)
    # 1 + 2 + 4 MiB windows cover 6 MiB + 12345
    assert st["window_fetches"] == 3, st
    assert st["direct_reads"] == 0, st


def test_reader_follows_append_only_growth(build_dir, emu, bucket):
    first = rand_bytes(1_000_000, 21)
    more = rand_bytes(1_500_000, 22)
    emu.put_object(bucket, "grow/predictions.jsonl", first)

    def grow():
        time.sleep(1.0)
        emu.put_object(bucket, "grow/predictions.jsonl", first + more)

    t = threading.Thread(target=grow)
    t.start()
    rc, out, err = run(build_dir, emu, "pread", bucket, "grow/predictions.jsonl",
                       "0:600000", "600000:600000", "sleep:2500", "update",
                       "0:100", "1000000:2000000", opts=["--stats"])
    t.join()
    assert rc == 0, err
    whole = first + more
    assert out == first[:600000] + first[600000:] + whole[:100] + whole[1000000:]
    # bytes of the old generation were kept: only the new tail was fetched
    assert stats_of(err)["window_fetches"] <= 3


def test_reads_past_eof(build_dir, emu, big):
    name, data = big
    n = len(data)
    assert ok(build_dir, emu, "read", BUCKET, name, n - 10, 100) == data[-10:]
    assert ok(build_dir, emu, "read", BUCKET, name, n, 100) == b""
    assert ok(build_dir, emu, "read", BUCKET, name, n + 5000, 100) == b""
    out = ok(build_dir, emu, "pread", BUCKET, name,
             "%d:100" % (n - 10), "%d:10" % n, "%d:1" % (n + 99))
    assert out == data[-10:]


def test_read_missing(build_dir, emu, bucket):
    rc, _, err = run(build_dir, emu, "read", bucket, "nope", 0, 10)
    assert rc == 1 and error_of(err)["name"] == "ENOENT"


# ---- read faults: right bytes or EIO, never wrong bytes ------------------

MEDIA = r"alt=media"
FAULTS = [
    dict(kind="status", status=503),
    dict(kind="reset"),
    dict(kind="stall_body", after_bytes=100000, seconds=2),
    dict(kind="truncate", after_bytes=300000),
    dict(kind="ignore_range"),
    dict(kind="wrong_range"),
    dict(kind="slow", bytes_per_second=4 << 20),
    dict(kind="status", status=500, times=2),
    dict(kind="stall", seconds=2),
    dict(kind="lose_response", status=503),
    dict(kind="status", status=429, retry_after=1),
]


def fault_hits(emu):
    return sum(r["hits"] for r in emu.control("GET", "faults")["faults"])


def fault_id(f):
    return "-".join(str(v) for v in f.values())


@pytest.mark.parametrize("fault", FAULTS, ids=fault_id)
@pytest.mark.parametrize("off,ln", [(0, 1 << 20), (1000003, 700000),
                                    (5 << 20, 3 << 20)])
def test_read_faults(build_dir, emu, big, fault, off, ln):
    name, data = big
    emu.fault(method="GET", path=MEDIA, **fault)
    t0 = time.monotonic()
    rc, out, err = run(build_dir, emu, "read", BUCKET, name, off, ln)
    assert time.monotonic() - t0 < 60
    if rc == 0:
        assert out == data[off:off + ln]
    else:
        assert out == b""
        assert error_of(err)["name"] == "EIO", err
    # faults the client can recover from must not fail
    if fault["kind"] not in ("ignore_range", "wrong_range"):
        assert rc == 0, err
    if fault["kind"] == "ignore_range" and off <= 16 << 20:
        assert rc == 0, err
    assert fault_hits(emu) >= 1


@pytest.mark.parametrize("path", ["blocks", "pipe"])
@pytest.mark.parametrize("fault", FAULTS, ids=fault_id)
def test_cat_faults(build_dir, emu, big, fault, path):
    """pipe: the splice path; every fault hits the stream's GET first, then
    one more GET (the block path's or a new stream's). Either way the bytes
    stay right and only wrong_range may end in EIO."""
    name, data = big
    f = dict(fault)
    # hit a later window too, not only the first one
    emu.fault(method="GET", path=MEDIA, **f)
    emu.fault(method="GET", path=MEDIA, **dict(f, times=1))
    opts = ["--bs", 131072] + (["--pipe"] if path == "pipe" else [])
    rc, out, err = run(build_dir, emu, "cat", BUCKET, name, opts=opts,
                       timeout=180)
    if rc == 0:
        assert out == data
    else:
        # whatever came out before the error is a correct prefix
        assert data.startswith(out)
        assert error_of(err)["name"] == "EIO", err
    if fault["kind"] != "wrong_range":
        assert rc == 0, err
    assert fault_hits(emu) >= 1


def test_wrong_range_never_misplaces(build_dir, emu, big):
    name, data = big
    emu.fault(method="GET", path=MEDIA, kind="wrong_range", times=-1)
    rc, out, err = run(build_dir, emu, "read", BUCKET, name, 12345, 1000)
    assert rc == 1 and out == b""
    assert error_of(err)["name"] == "EIO"


def test_stall_body_past_deadline_fails_in_time(build_dir, emu, big):
    name, data = big
    emu.fault(method="GET", path=MEDIA, kind="stall_body", after_bytes=1000,
              seconds=30, times=-1)
    t0 = time.monotonic()
    rc, out, err = run(build_dir, emu, "read", BUCKET, name, 0, 1 << 20,
                       opts=["--budget-ms", 4000], timeout=90)
    assert rc == 1 and out == b""
    assert error_of(err)["name"] in ("EIO", "ETIMEDOUT")
    assert time.monotonic() - t0 < 45


# ---- generations ---------------------------------------------------------

def test_generation_replaced_gives_estale(build_dir, emu, bucket):
    old = emu.put_object(bucket, "g/obj", rand_bytes(100000, 2))
    emu.put_object(bucket, "g/obj", rand_bytes(100000, 3))
    rc, out, err = run(build_dir, emu, "read", bucket, "g/obj", 0, 10,
                       opts=["--gen", old["generation"]])
    assert rc == 1 and out == b""
    assert error_of(err)["name"] == "ESTALE"
    # deleted altogether -> ENOENT
    ok(build_dir, emu, "rm", bucket, "g/obj")
    rc, out, err = run(build_dir, emu, "read", bucket, "g/obj", 0, 10,
                       opts=["--gen", old["generation"]])
    assert rc == 1 and error_of(err)["name"] == "ENOENT"


def test_generation_change_during_reader(build_dir, emu, bucket):
    """The object is replaced while the reader streams it (slowly): the
    reader must fail with ESTALE, and what it did hand out is the old
    content's prefix, never a mix."""
    data = rand_bytes(4 << 20, 4)
    emu.put_object(bucket, "g/moving", data)
    # The first window (1 MiB) takes ~1 s; the object is replaced during
    # it (once its request arrived: a loaded machine may start the reader
    # late), so every later window request meets the new generation.
    # (Requests already in flight keep serving the old bytes, which is fine.)
    emu.fault(method="GET", path=MEDIA, kind="slow",
              bytes_per_second=1 << 20, times=-1)

    def replace():
        deadline = time.time() + 60
        while fault_hits(emu) < 1 and time.time() < deadline:
            time.sleep(0.01)
        emu.put_object(bucket, "g/moving", rand_bytes(4 << 20, 5))

    t = threading.Thread(target=replace)
    t.start()
    rc, out, err = run(build_dir, emu, "cat", bucket, "g/moving",
                       opts=["--bs", 131072])
    t.join()
    assert data.startswith(out)
    assert rc == 1, "read the whole old object although it was replaced"
    assert error_of(err)["name"] == "ESTALE", err


# ---- uploads -------------------------------------------------------------

def test_upload_small_and_conditional(build_dir, emu, bucket, tmp_path):
    src = tmp_path / "s"
    src.write_bytes(b"hello")
    before = emu.counters()["routes"].get("gcs.upload", 0)
    obj = json.loads(ok(build_dir, emu, "upload", bucket, "u/s", src))
    assert emu.counters()["routes"].get("gcs.upload", 0) - before == 1
    assert obj["size"] == "5" and emu.get_object(bucket, "u/s") == b"hello"
    # ifGenerationMatch=0: only if absent
    rc, _, err = run(build_dir, emu, "upload", bucket, "u/s", src,
                     opts=["--gen", 0])
    assert rc == 1 and error_of(err)["name"] == "ESTALE"
    ok(build_dir, emu, "upload", bucket, "u/new", src, opts=["--gen", 0])
    ok(build_dir, emu, "upload", bucket, "u/s", src,
       opts=["--gen", obj["generation"]])
    empty = tmp_path / "e"
    empty.write_bytes(b"")
    obj = json.loads(ok(build_dir, emu, "upload", bucket, "u/empty", empty))
    assert obj["size"] == "0"


@pytest.mark.parametrize("mem", [False, True])
def test_upload_resumable_conditional(build_dir, emu, bucket, tmp_path, mem):
    data = rand_bytes(2 * 1024 * 1024 + 3, 9)
    src = tmp_path / "big"
    src.write_bytes(data)
    opts = ["--threshold", 1 << 20, "--chunk", 512 * 1024, "--gen", 0]
    if mem:
        opts.append("--mem")
    obj = json.loads(ok(build_dir, emu, "upload", bucket, "u/c", src, opts=opts))
    assert emu.get_object(bucket, "u/c") == data
    # only-if-absent now fails, without touching the object
    rc, _, err = run(build_dir, emu, "upload", bucket, "u/c", src, opts=opts)
    assert rc == 1 and error_of(err)["name"] == "ESTALE", err
    st = json.loads(ok(build_dir, emu, "stat", bucket, "u/c"))
    assert st["generation"] == obj["generation"]


def test_upload_resumable(build_dir, emu, bucket, tmp_path):
    data = rand_bytes(3 * 1024 * 1024 + 777, 6)
    src = tmp_path / "big"
    src.write_bytes(data)
    routes = emu.counters()["routes"]
    b_init, b_chunk = routes.get("gcs.upload", 0), routes.get("gcs.upload.chunk", 0)
    obj = json.loads(ok(build_dir, emu, "upload", bucket, "u/big", src,
                        opts=["--threshold", 1 << 20, "--chunk", 1 << 20]))
    routes = emu.counters()["routes"]
    assert routes.get("gcs.upload", 0) - b_init == 1  # initiate
    assert routes.get("gcs.upload.chunk", 0) - b_chunk == 4
    assert int(obj["size"]) == len(data)
    assert emu.get_object(bucket, "u/big") == data


@pytest.mark.parametrize("fault", [
    dict(kind="status", status=503),
    dict(kind="reset"),
    dict(kind="lose_response", status=503),
    dict(kind="lose_response", reset=True),
], ids=fault_id)
@pytest.mark.parametrize("chunk", [2, 4])
def test_upload_resumable_chunk_failure(build_dir, emu, bucket, tmp_path,
                                        fault, chunk):
    data = rand_bytes(3 * 1024 * 1024 + 5, 7)
    src = tmp_path / "big"
    src.write_bytes(data)
    # Rules apply first-match in order: harmless rules eat the chunk PUTs
    # before the one that fails (once); chunk 4 is the last one.
    for _ in range(chunk - 1):
        emu.fault(method="PUT", path=r"upload_id=", kind="slow",
                  bytes_per_second=1 << 30)
    emu.fault(method="PUT", path=r"upload_id=", **fault)
    b_chunk = emu.counters()["routes"].get("gcs.upload.chunk", 0)
    obj = json.loads(ok(build_dir, emu, "upload", bucket, "u/r", src,
                        opts=["--threshold", 1 << 20, "--chunk", 1 << 20]))
    assert fault_hits(emu) == chunk
    # 4 chunks, one failed: at least a status query on top
    assert emu.counters()["routes"].get("gcs.upload.chunk", 0) - b_chunk >= 5
    assert int(obj["size"]) == len(data)
    assert emu.get_object(bucket, "u/r") == data


def test_upload_resumable_persistent_failure_is_bounded(build_dir, emu, bucket,
                                                        tmp_path):
    src = tmp_path / "big"
    src.write_bytes(rand_bytes(2 * 1024 * 1024, 8))
    emu.fault(method="PUT", path=r"upload_id=", kind="status", status=503,
              times=-1)
    t0 = time.monotonic()
    rc, _, err = run(build_dir, emu, "upload", bucket, "u/fail", src,
                     opts=["--threshold", 1 << 20, "--chunk", 1 << 20,
                           "--attempts", 2], timeout=120)
    assert rc == 1 and error_of(err)["name"] == "EIO"
    assert time.monotonic() - t0 < 100
    rc, _, err = run(build_dir, emu, "stat", bucket, "u/fail")
    assert error_of(err)["name"] == "ENOENT"


# --- the splice path (bf_reader_pipe, fs/gcs/pipe.c) ----------------------
# gcs_cli --pipe drains the pipe with read(2) where the daemon hands it to
# fuse_reply_data; the bytes and the requests are the same.

def media_gets(emu):
    return emu.counters()["routes"].get("gcs.media", 0)


@pytest.mark.parametrize("bs", [131072, 512 << 10])
def test_pipe_streams_the_object_in_one_get(build_dir, emu, big, bs):
    name, data = big
    before = media_gets(emu)
    rc, out, err = run(build_dir, emu, "cat", BUCKET, name,
                       opts=["--stats", "--pipe", "--bs", bs])
    assert rc == 0, err
    assert out == data
    st = stats_of(err)
    assert st["spliced_bytes"] == len(data), st
    assert st["window_fetches"] == 0 and st["direct_reads"] == 0, st
    assert media_gets(emu) - before == 1


def test_pipe_reads_arriving_out_of_order(build_dir, emu, big):
    """Eight threads take 128 KiB chunks in order but reach the reader in
    any order, as FUSE workers do: the stream serves each in turn, the
    stragglers go through the block path, and every byte is right."""
    name, data = big
    before = media_gets(emu)
    rc, out, err = run(build_dir, emu, "pcat", BUCKET, name, 8,
                       opts=["--stats", "--pipe", "--bs", 131072])
    assert rc == 0, err
    assert out == data
    st = stats_of(err)
    assert st["spliced_bytes"] > 0, st
    # reordering may restart the stream now and then, never per read
    assert media_gets(emu) - before < len(data) // 131072 // 2


def test_pipe_random_reads_use_the_block_path(build_dir, emu, big):
    name, data = big
    rnd = random.Random(17)
    specs = [(rnd.randrange(0, len(data) + 100),
              rnd.choice([4096, 65536, 131072, 512 << 10]))
             for _ in range(25)]
    # a sequential run in the middle, and a backward step out of it
    specs += [(2 << 20, 131072), ((2 << 20) + 131072, 131072),
              ((2 << 20) + 262144, 131072), (1 << 20, 131072),
              ((2 << 20) + 393216, 131072)]
    want = b"".join(data[o:o + n] for o, n in specs)
    rc, out, err = run(build_dir, emu, "pread", BUCKET, name,
                       *["%d:%d" % s for s in specs],
                       opts=["--stats", "--pipe"])
    assert rc == 0, err
    assert out == want


def test_pipe_not_used_with_a_proxy(build_dir, emu, big):
    """libcurl honours http_proxy; the raw GET cannot, so it steps aside
    (no_proxy keeps libcurl itself off the bogus proxy here)."""
    name, data = big
    env = dict(os.environ, http_proxy="http://127.0.0.1:9",
               no_proxy="127.0.0.1,localhost")
    p = subprocess.run([cli_path(build_dir), "--endpoint", emu.url,
                        "--stats", "--pipe", "cat", BUCKET, name],
                       capture_output=True, timeout=120, env=env)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err
    assert p.stdout == data
    assert stats_of(err)["spliced_bytes"] == 0


def test_pipe_close_waits_for_the_lease(build_dir, emu, big):
    """A reader closed while a read still holds its pipe (the kernel may
    release a file before the replying thread has returned) is freed only
    after that read ends its lease."""
    name, data = big
    rc, out, err = run(build_dir, emu, "leaseclose", BUCKET, name)
    assert rc == 0, err
    assert out == data[:512 << 10]
    assert '{"close": "after"}' in err, err


def test_pipe_streams_count_against_the_read_ahead_budget(build_dir, emu, big):
    """A stream's socket buffer (4 MiB) is reserved in the pool's budget:
    with 2 MiB of budget there is no stream, the blocks serve instead."""
    name, data = big
    rc, out, err = run(build_dir, emu, "cat", BUCKET, name,
                       opts=["--stats", "--pipe", "--pool", 2 << 20,
                             "--bs", 131072])
    assert rc == 0, err
    assert out == data
    st = stats_of(err)
    assert st["spliced_bytes"] == 0 and st["pool_used"] == 0, st
    rc, out, err = run(build_dir, emu, "cat", BUCKET, name,
                       opts=["--stats", "--pipe", "--pool", 4 << 20,
                             "--bs", 512 << 10])
    assert rc == 0, err
    assert out == data
    st = stats_of(err)
    assert st["spliced_bytes"] == len(data) and st["pool_used"] == 0, st
