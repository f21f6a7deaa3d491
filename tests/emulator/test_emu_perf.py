"""Functional check of TCP_NODELAY / one-piece replies: a kept-alive
connection must not pay the 40 ms Nagle + delayed-ACK stall."""
import http.client
import statistics
import time
import urllib.parse


def test_small_requests_on_kept_alive_connection(emu):
    emu.make_bucket("bkt")
    emu.put_object("bkt", "small", b"x" * 4096)
    u = urllib.parse.urlsplit(emu.url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    times = []
    paths = ["/storage/v1/b/bkt/o/small?alt=media", "/storage/v1/b/bkt/o/small",
             emu.jobs_path()]
    for i in range(50):
        t0 = time.perf_counter()
        c.request("GET", paths[i % 3])
        r = c.getresponse()
        r.read()
        assert r.status == 200
        times.append(time.perf_counter() - t0)
    # 4 KiB uploads on the same connection (request body + small reply)
    for i in range(10):
        t0 = time.perf_counter()
        c.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=media&name=u%d" % i,
                  body=b"y" * 4096, headers={"Content-Type": "text/plain"})
        r = c.getresponse()
        r.read()
        assert r.status == 200
        times.append(time.perf_counter() - t0)
    c.close()
    assert statistics.median(times) < 0.020, times


def test_list_many_objects_fast(emu):
    emu.make_bucket("bkt")
    # seed directly through uploads on one connection
    u = urllib.parse.urlsplit(emu.url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    for i in range(2000):
        c.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=media&name=d/%05d" % i,
                  body=b"z")
        c.getresponse().read()
    t0 = time.time()
    n, tok = 0, None
    while True:
        path = "/storage/v1/b/bkt/o?prefix=d/" + ("&pageToken=" + tok if tok else "")
        c.request("GET", path)
        import json
        r = json.loads(c.getresponse().read())
        n += len(r.get("items", []))
        tok = r.get("nextPageToken")
        if not tok:
            break
    assert n == 2000
    assert time.time() - t0 < 2
