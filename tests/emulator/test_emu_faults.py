"""Every fault kind of the control API, through raw HTTP."""
import http.client
import socket
import time
import urllib.parse

import pytest

from lib.emuhelp import jsonl, rows

DATA = bytes(range(256)) * 4096  # 1 MiB


def conn(emu):
    u = urllib.parse.urlsplit(emu.url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=10)


def raw_get(emu, path, headers=None):
    """Reads the raw reply bytes of one GET (the connection is closed after)."""
    u = urllib.parse.urlsplit(emu.url)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    hdr = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n" %
               (path, hdr)).encode())
    out = b""
    try:
        while True:
            d = s.recv(1 << 16)
            if not d:
                break
            out += d
    except ConnectionResetError:
        out += b"<RST>"
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


@pytest.fixture
def obj(emu):
    emu.make_bucket("bkt")
    emu.put_object("bkt", "o", DATA)
    return "/storage/v1/b/bkt/o/o?alt=media"


def test_status_with_retry_after_times(emu, obj):
    emu.fault(method="GET", path=r"/o/o\?alt=media", kind="status", status=503,
              retry_after=7, times=2)
    for _ in range(2):
        st, h, e = emu.request("GET", obj)
        assert st == 503 and h["Retry-After"] == "7"
        assert e["error"]["code"] == 503 and e["error"]["errors"][0]["reason"]
    st, _, b = emu.request("GET", obj, raw=True)
    assert st == 200 and b == DATA


def test_status_vertex_envelope_and_custom_body(emu):
    emu.fault(path="batchPredictionJobs", kind="status", status=429, times=-1)
    st, _, e = emu.request("GET", "/v1/projects/p/locations/us-central1/batchPredictionJobs")
    assert st == 429 and e["error"]["status"] == "RESOURCE_EXHAUSTED"
    st, _, e = emu.request("GET", "/v1/projects/p/locations/us-central1/batchPredictionJobs")
    assert st == 429
    emu.clear_faults()
    emu.fault(path="batchPredictionJobs", kind="status", status=500, body={"x": 1})
    st, _, e = emu.request("GET", "/v1/projects/p/locations/us-central1/batchPredictionJobs")
    assert st == 500 and e == {"x": 1}


def test_method_filter(emu, obj):
    emu.fault(method="POST", path="/o/o", kind="status", status=500)
    st, _, _ = emu.request("GET", obj, raw=True)
    assert st == 200


def test_reset(emu, obj):
    emu.fault(path="/o/o", kind="reset")
    c = conn(emu)
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected,
                        http.client.BadStatusLine)):
        c.request("GET", obj)
        c.getresponse().read()
    st, _, b = emu.request("GET", obj, raw=True)
    assert st == 200


def test_stall(emu, obj):
    emu.fault(path="/o/o", kind="stall", seconds=0.6)
    t0 = time.time()
    st, _, _ = emu.request("GET", obj, raw=True)
    assert st == 200 and time.time() - t0 >= 0.55


def test_stall_body(emu, obj):
    emu.fault(path="/o/o", kind="stall_body", after_bytes=1000, seconds=0.6)
    c = conn(emu)
    t0 = time.time()
    c.request("GET", obj)
    r = c.getresponse()
    first = r.read(1000)
    t1 = time.time()
    rest = r.read()
    assert first + rest == DATA
    assert t1 - t0 < 0.5 and time.time() - t0 >= 0.55


def test_truncate(emu, obj):
    emu.fault(path="/o/o", kind="truncate", after_bytes=5000)
    head, body = raw_get(emu, obj)
    assert "Content-Length: %d" % len(DATA) in head
    assert body == DATA[:5000]


def test_ignore_range(emu, obj):
    emu.fault(path="/o/o", kind="ignore_range")
    st, h, b = emu.request("GET", obj, headers={"Range": "bytes=10-19"}, raw=True)
    assert st == 200 and b == DATA
    # a non-ranged GET does not consume the rule... and the rule is now used up
    st, h, b = emu.request("GET", obj, headers={"Range": "bytes=10-19"}, raw=True)
    assert st == 206 and b == DATA[10:20]


def test_wrong_range(emu, obj):
    emu.fault(path="/o/o", kind="wrong_range")
    st, h, b = emu.request("GET", obj, headers={"Range": "bytes=10-19"}, raw=True)
    assert st == 206
    assert h["Content-Range"] == "bytes 11-20/%d" % len(DATA)
    assert b == DATA[11:21]


def test_slow(emu, obj):
    emu.fault(path="/o/o", kind="slow", bytes_per_second=200000)
    t0 = time.time()
    st, _, b = emu.request("GET", obj, headers={"Range": "bytes=0-99999"}, raw=True)
    assert st == 206 and b == DATA[:100000]
    assert time.time() - t0 >= 0.4


def test_lose_response_creates_job(emu):
    emu.make_bucket("bkt")
    emu.put_object("bkt", "in.jsonl", jsonl(rows(1)))
    emu.fault(method="POST", path="batchPredictionJobs$", kind="lose_response", status=503)
    status, _, payload = emu.request(
        "POST", emu.jobs_path(), {
            "displayName": "lost", "model": "publishers/google/models/gemini-2.5-flash",
            "inputConfig": {"instancesFormat": "jsonl",
                            "gcsSource": {"uris": ["gs://bkt/in.jsonl"]}},
            "outputConfig": {"predictionsFormat": "jsonl",
                             "gcsDestination": {"outputUriPrefix": "gs://bkt/o"}}})
    assert status == 503
    assert emu.counters()["jobs_created"] == 1
    st, _, r = emu.request("GET", emu.jobs_path() + "?filter=" +
                           urllib.parse.quote('display_name="lost"'))
    assert len(r["batchPredictionJobs"]) == 1


def test_lose_response_reset(emu):
    emu.make_bucket("bkt")
    emu.fault(method="POST", path="uploadType=media", kind="lose_response", reset=True)
    c = conn(emu)
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        c.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=media&name=z", b"abc")
        c.getresponse().read()
    assert emu.get_object("bkt", "z") == b"abc"


def test_faults_skip_job_runner_unless_internal(emu):
    emu.config(time_scale=0)
    emu.make_bucket("bkt")
    emu.put_object("bkt", "in.jsonl", jsonl(rows(1)))
    emu.fault(path="in.jsonl", kind="status", status=500, times=-1)
    j = emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out")
    assert emu.wait_job(j["name"])["state"] == "JOB_STATE_SUCCEEDED"
    emu.clear_faults()
    emu.fault(path="uploadType=media", kind="status", status=500, times=-1, internal=True)
    j = emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out2")
    g = emu.wait_job(j["name"])
    assert g["state"] == "JOB_STATE_FAILED" and g["error"]["code"] == 13


def test_bad_rule(emu):
    st, _, e = emu.request("POST", "/_emulator/faults", {"kind": "nope"})
    assert st == 400


def test_wan_model_latency_and_stream_rate(emu, obj):
    """--latency-ms / --stream-bytes-per-second, set at runtime: every reply
    waits, each body is throttled on its own (two at once take as long as
    one), the control API is exempt, and ranged media GETs are counted."""
    import threading
    emu.control("DELETE", "counters")
    emu.config(latency_ms=300, stream_bytes_per_second=1 << 20)
    t0 = time.time()
    st, _, _ = emu.request("GET", obj.replace("?alt=media", ""))
    assert st == 200 and time.time() - t0 >= 0.29
    t0 = time.time()
    emu.counters()
    assert time.time() - t0 < 0.25  # control routes are exempt

    out = {}

    def get(i):
        out[i] = emu.request("GET", obj, headers={"Range": "bytes=0-524287"},
                             raw=True)

    t0 = time.time()
    ths = [threading.Thread(target=get, args=(i,)) for i in range(2)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    assert all(out[i][0] == 206 and out[i][2] == DATA[:524288] for i in out)
    assert time.time() - t0 >= 0.3 + 0.45  # latency + 512 KiB at 1 MiB/s
    c = emu.counters()
    assert c["routes"]["gcs.media.ranged"] == 2
    assert c["media_streams_max"] == 2
    emu.config(latency_ms=None, stream_bytes_per_second=None)
    t0 = time.time()
    st, _, b = emu.request("GET", obj, raw=True)
    assert st == 200 and b == DATA and time.time() - t0 < 0.9
