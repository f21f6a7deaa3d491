"""fs/http against the emulator: every fault kind ends with the right bytes
or the right errno within its deadline, one-shot requests are sent once,
and kept-alive connections are reused.

Drives build/tests/drivers/http_cli, which performs one request (or
--repeat N on one client) and prints a JSON line per request.
"""
import json
import os
import subprocess
import time
import urllib.parse

import pytest

BUCKET = "http-test"
OBJ = "dir/obj one.bin"
DATA = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(200_000))


def cli_path(build_dir):
    p = os.path.join(build_dir, "tests", "drivers", "http_cli")
    if not os.path.exists(p):
        pytest.fail("%s missing: build it with ninja" % p)
    return p


def run(build_dir, *args, timeout=60):
    """Runs http_cli; returns (list of JSON results, wall seconds)."""
    t0 = time.monotonic()
    p = subprocess.run([cli_path(build_dir), *map(str, args)],
                       capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - t0
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    assert lines, "no output; stderr: %s" % p.stderr
    # Nothing secret ever reaches stderr, even with --trace.
    assert "stub-token" not in p.stderr
    assert "Authorization" not in p.stderr
    return lines, wall


def one(build_dir, *args, **kw):
    res, wall = run(build_dir, *args, **kw)
    assert len(res) == 1
    return res[0], wall


def media_url(emu, name=OBJ):
    return "%s/storage/v1/b/%s/o/%s?alt=media" % (
        emu.url, BUCKET, urllib.parse.quote(name, safe=""))


def meta_url(emu, name=OBJ):
    return "%s/storage/v1/b/%s/o/%s" % (
        emu.url, BUCKET, urllib.parse.quote(name, safe=""))


@pytest.fixture
def obj(emu):
    emu.make_bucket(BUCKET)
    emu.put_object(BUCKET, OBJ, DATA)
    return emu


def uploads(emu):
    return emu.counters()["routes"].get("gcs.upload", 0)


FAST = ["--backoff", "50", "--backoff-cap", "200"]


def test_get_success_and_body(obj, build_dir, tmp_path):
    out = tmp_path / "o.bin"
    r, _ = one(build_dir, "--out", out, "GET", media_url(obj))
    assert r["rc"] == 0 and r["status"] == 200 and r["attempts"] == 1
    assert r["bytes"] == len(DATA)
    assert out.read_bytes() == DATA


def test_json_metadata_and_generation(obj, build_dir):
    r, _ = one(build_dir, "GET", meta_url(obj))
    assert r["rc"] == 0
    meta = json.loads(r["body"])
    assert meta["name"] == OBJ and int(meta["size"]) == len(DATA)


def test_not_found_is_enoent_with_message(obj, build_dir):
    r, _ = one(build_dir, "GET", meta_url(obj, "missing"))
    assert r["errno"] == "ENOENT" and r["status"] == 404
    assert r["attempts"] == 1
    assert r["msg"]


def test_connection_refused_is_eio_never_enoent(build_dir):
    r, wall = one(build_dir, "--attempts", "2", *FAST, "GET",
                  "http://127.0.0.1:9/x")
    assert r["errno"] == "EIO"
    assert r["attempts"] == 2
    assert wall < 5


def test_ranged_stream(obj, build_dir, tmp_path):
    out = tmp_path / "r.bin"
    r, _ = one(build_dir, "--stream", "--range", "1000-50999", "--out", out,
               "GET", media_url(obj))
    assert r["rc"] == 0 and r["status"] == 206
    assert r["content_range"] == "bytes 1000-50999/%d" % len(DATA)
    assert out.read_bytes() == DATA[1000:51000]
    assert r["streamed"] == 50000


def test_503_twice_then_success(obj, build_dir, tmp_path):
    obj.fault(kind="status", status=503, path="/o/", times=2)
    out = tmp_path / "o.bin"
    r, _ = one(build_dir, *FAST, "--out", out, "GET", media_url(obj))
    assert r["rc"] == 0 and r["attempts"] == 3 and r["retries"] == 2
    assert out.read_bytes() == DATA


def test_429_retry_after_honoured(obj, build_dir):
    obj.fault(kind="status", status=429, retry_after=2, path="/o/", times=1)
    r, _ = one(build_dir, *FAST, "GET", meta_url(obj))
    assert r["rc"] == 0 and r["attempts"] == 2
    assert r["ms"] >= 2000, r


def test_429_retry_after_beyond_budget_returns_eagain_early(obj, build_dir):
    obj.fault(kind="status", status=429, retry_after=30, path="/o/", times=-1)
    r, wall = one(build_dir, *FAST, "--budget", "3000", "GET", meta_url(obj))
    assert r["errno"] == "EAGAIN"
    assert r["attempts"] == 1
    assert wall < 3


def test_reset_is_retried(obj, build_dir, tmp_path):
    obj.fault(kind="reset", path="/o/", times=1)
    out = tmp_path / "o.bin"
    r, _ = one(build_dir, *FAST, "--out", out, "GET", media_url(obj))
    assert r["rc"] == 0 and r["attempts"] == 2
    assert out.read_bytes() == DATA


def test_stall_before_headers_ends_within_budget(obj, build_dir):
    obj.fault(kind="stall", seconds=30, path="/o/", times=-1)
    r, wall = one(build_dir, *FAST, "--timeout", "1000", "--budget", "3000",
                  "GET", meta_url(obj))
    assert r["errno"] == "ETIMEDOUT"
    assert r["attempts"] >= 2
    assert 2.5 < wall < 5.5, wall


def test_stall_before_headers_low_speed_only(obj, build_dir):
    # A stream has no per-attempt timeout: stall detection and the budget
    # must still end it.
    obj.fault(kind="stall", seconds=30, path="/o/", times=-1)
    r, wall = one(build_dir, *FAST, "--stream", "--low-speed", "1",
                  "--budget", "4000", "GET", media_url(obj))
    assert r["errno"] == "ETIMEDOUT"
    assert wall < 6.5, wall


def test_stall_mid_body_buffered_retries(obj, build_dir, tmp_path):
    obj.fault(kind="stall_body", after_bytes=70000, seconds=30, path="/o/",
              times=1)
    out = tmp_path / "o.bin"
    r, wall = one(build_dir, *FAST, "--low-speed", "1", "--out", out,
                  "GET", media_url(obj))
    assert r["rc"] == 0 and r["attempts"] == 2
    assert out.read_bytes() == DATA
    assert wall < 10


def test_stall_mid_body_stream_without_resume_fails(obj, build_dir):
    obj.fault(kind="stall_body", after_bytes=70000, seconds=30, path="/o/",
              times=1)
    r, wall = one(build_dir, *FAST, "--stream", "--low-speed", "1",
                  "GET", media_url(obj))
    assert r["errno"] == "ETIMEDOUT"
    assert r["attempts"] == 1
    assert r["streamed"] <= 70000
    assert wall < 10


def test_stall_mid_body_stream_resumes(obj, build_dir, tmp_path):
    obj.fault(kind="stall_body", after_bytes=70000, seconds=30, path="/o/",
              times=1)
    out = tmp_path / "o.bin"
    r, _ = one(build_dir, *FAST, "--resume", "--low-speed", "1",
               "--range", "0-%d" % (len(DATA) - 1), "--out", out,
               "GET", media_url(obj))
    assert r["rc"] == 0 and r["attempts"] == 2
    assert out.read_bytes() == DATA


def test_truncated_body_buffered_retries(obj, build_dir, tmp_path):
    obj.fault(kind="truncate", after_bytes=5000, path="/o/", times=1)
    out = tmp_path / "o.bin"
    r, _ = one(build_dir, *FAST, "--out", out, "GET", media_url(obj))
    assert r["rc"] == 0 and r["attempts"] == 2
    assert out.read_bytes() == DATA


def test_truncated_body_stream_resumes(obj, build_dir, tmp_path):
    obj.fault(kind="truncate", after_bytes=5000, path="/o/", times=2)
    out = tmp_path / "o.bin"
    r, _ = one(build_dir, *FAST, "--resume",
               "--range", "100-%d" % (len(DATA) - 1), "--out", out,
               "GET", media_url(obj))
    assert r["rc"] == 0 and r["attempts"] == 3
    assert out.read_bytes() == DATA[100:]


def test_truncated_body_stream_without_resume_is_eio(obj, build_dir):
    obj.fault(kind="truncate", after_bytes=5000, path="/o/", times=1)
    r, _ = one(build_dir, *FAST, "--stream", "GET", media_url(obj))
    assert r["errno"] == "EIO" and r["attempts"] == 1


def test_503_forever_eio_after_max_attempts(obj, build_dir):
    obj.fault(kind="status", status=503, path="/o/", times=-1)
    r, wall = one(build_dir, "--attempts", "4", "--backoff", "100",
                  "--budget", "10000", "GET", meta_url(obj))
    assert r["errno"] == "EIO" and r["status"] == 503
    assert r["attempts"] == 4 and r["retries"] == 3
    assert wall < 10


def test_503_forever_default_schedule_within_budget(obj, build_dir):
    # Default backoff (1 s initial, x2) against a 3 s budget: ends in time.
    obj.fault(kind="status", status=503, path="/o/", times=-1)
    r, wall = one(build_dir, "--budget", "3000", "GET", meta_url(obj))
    assert r["errno"] in ("EIO", "ETIMEDOUT")
    assert wall < 4, wall


def test_never_is_sent_once_on_5xx(obj, build_dir):
    name = "never-503"
    obj.fault(kind="lose_response", status=503, path="uploadType=media",
              times=-1)
    url = "%s/upload/storage/v1/b/%s/o?uploadType=media&name=%s" % (
        obj.url, BUCKET, name)
    before = uploads(obj)
    r, _ = one(build_dir, *FAST, "--never", "--body", "payload",
               "--content-type", "text/plain", "POST", url)
    assert r["errno"] == "EIO" and r["attempts"] == 1
    assert "outcome unknown" in r["msg"]
    assert uploads(obj) == before + 1
    assert obj.get_object(BUCKET, name) == b"payload"


def test_never_is_sent_once_on_reset(obj, build_dir):
    name = "never-reset"
    obj.fault(kind="lose_response", reset=True, path="uploadType=media",
              times=-1)
    url = "%s/upload/storage/v1/b/%s/o?uploadType=media&name=%s" % (
        obj.url, BUCKET, name)
    before = uploads(obj)
    r, _ = one(build_dir, *FAST, "--never", "--body", "payload",
               "--content-type", "text/plain", "POST", url)
    assert r["errno"] == "EIO" and r["attempts"] == 1
    assert "outcome unknown" in r["msg"]
    assert uploads(obj) == before + 1


def test_idempotent_post_is_retried(obj, build_dir):
    name = "idem"
    obj.fault(kind="status", status=503, path="uploadType=media", times=1)
    url = "%s/upload/storage/v1/b/%s/o?uploadType=media&name=%s" % (
        obj.url, BUCKET, name)
    r, _ = one(build_dir, *FAST, "--body", "x", "--content-type",
               "text/plain", "POST", url)
    assert r["rc"] == 0 and r["attempts"] == 2


def test_401_refreshes_token_once(obj, build_dir):
    obj.fault(kind="status", status=401, path="/o/", times=1)
    r, _ = one(build_dir, *FAST, "--auth-stub", "--trace", "GET",
               meta_url(obj))
    assert r["rc"] == 0 and r["attempts"] == 2
    assert r["invalidations"] == 1


def test_401_twice_refreshes_twice(obj, build_dir):
    """A token revoked right after its refresh: google-auth refreshes up
    to twice (DEFAULT_MAX_REFRESH_ATTEMPTS), so does batchfs."""
    obj.fault(kind="status", status=401, path="/o/", times=2)
    r, _ = one(build_dir, *FAST, "--auth-stub", "GET", meta_url(obj))
    assert r["rc"] == 0 and r["attempts"] == 3
    assert r["invalidations"] == 2


def test_401_forever_is_eacces(obj, build_dir):
    obj.fault(kind="status", status=401, path="/o/", times=-1)
    r, _ = one(build_dir, *FAST, "--auth-stub", "GET", meta_url(obj))
    assert r["errno"] == "EACCES" and r["attempts"] == 3
    assert r["invalidations"] == 2


def test_body_cap_is_efbig(obj, build_dir):
    r, _ = one(build_dir, "--max-body", "1000", "GET", media_url(obj))
    assert r["errno"] == "EFBIG" and r["attempts"] == 1


def test_cancel_interrupts_stall(obj, build_dir):
    obj.fault(kind="stall", seconds=30, path="/o/", times=-1)
    r, wall = one(build_dir, "--cancel-after", "500", "GET", meta_url(obj))
    assert r["errno"] == "EINTR"
    assert wall < 2.5, wall


def test_cancel_interrupts_backoff(obj, build_dir):
    obj.fault(kind="status", status=503, retry_after=20, path="/o/", times=-1)
    r, wall = one(build_dir, "--cancel-after", "500", "GET", meta_url(obj))
    assert r["errno"] == "EINTR"
    assert wall < 2, wall


def test_connection_reused(obj, build_dir):
    res, _ = run(build_dir, "--repeat", "50", "GET", meta_url(obj))
    assert all(r["rc"] == 0 for r in res)
    assert res[-1]["connects"] == 1
    assert res[-1]["requests"] == 50
    ms = sorted(r["ms"] for r in res[1:])
    assert ms[len(ms) // 2] < 50  # median, keep-alive on loopback


def test_slow_body_completes(obj, build_dir, tmp_path):
    obj.fault(kind="slow", bytes_per_second=400_000, path="/o/", times=1)
    out = tmp_path / "o.bin"
    r, _ = one(build_dir, "--out", out, "GET", media_url(obj))
    assert r["rc"] == 0 and r["attempts"] == 1
    assert out.read_bytes() == DATA


def test_ignore_range_detected_by_status(obj, build_dir, tmp_path):
    # The HTTP layer reports what arrived; 200 instead of 206 is visible to
    # the caller (the GCS reader refuses it).
    obj.fault(kind="ignore_range", path="/o/", times=1)
    r, _ = one(build_dir, "--stream", "--range", "10-19", "GET",
               media_url(obj))
    assert r["rc"] == 0 and r["status"] == 200
    assert r["content_range"] == ""


def test_retry_after_http_date(obj, build_dir):
    import email.utils
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    obj.fault(kind="status", status=503, retry_after=when, path="/o/", times=1)
    r, _ = one(build_dir, *FAST, "GET", meta_url(obj))
    assert r["rc"] == 0 and r["attempts"] == 2
    assert r["ms"] >= 1500, r  # whole seconds: at least 2 s minus rounding


def test_retry_info_in_body_honoured(obj, build_dir):
    body = {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE",
                      "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                   "retryDelay": "1.5s"}]}}
    obj.fault(kind="status", status=503, body=body, path="/o/", times=1)
    r, _ = one(build_dir, *FAST, "GET", meta_url(obj))
    assert r["rc"] == 0 and r["attempts"] == 2
    assert r["ms"] >= 1500, r


def test_error_envelope_message_kept(obj, build_dir):
    body = {"error": {"code": 400, "message": "Bad field x.",
                      "status": "INVALID_ARGUMENT"}}
    obj.fault(kind="status", status=400, body=body, path="/o/", times=1)
    r, _ = one(build_dir, "GET", meta_url(obj))
    assert r["errno"] == "EINVAL" and r["attempts"] == 1
    assert "Bad field x." in r["msg"]


def test_last_error_kept_when_budget_ends(obj, build_dir):
    obj.fault(kind="status", status=503, path="/o/", times=-1)
    r, _ = one(build_dir, "--backoff", "400", "--budget", "1000", "GET",
               meta_url(obj))
    assert r["errno"] in ("EIO", "ETIMEDOUT")
    assert "unavailable" in r["msg"].lower(), r


def test_secrets_in_url_not_in_message(build_dir):
    r, _ = one(build_dir, "--attempts", "1", "GET",
               "http://127.0.0.1:9/x?access_token=SECRET1&upload_id=SECRET2")
    assert r["errno"] == "EIO"
    assert "SECRET" not in r["msg"]


def test_delete_head_put(obj, build_dir):
    r, _ = one(build_dir, "HEAD", media_url(obj))
    assert r["rc"] == 0 and r["status"] == 200 and r["bytes"] == 0
    r, _ = one(build_dir, "DELETE", meta_url(obj))
    assert r["rc"] == 0 and r["status"] in (200, 204)
    r, _ = one(build_dir, "GET", meta_url(obj))
    assert r["errno"] == "ENOENT"
    # PUT/POST with no body still send Content-Length: 0 (no 411).
    r, _ = one(build_dir, "POST", "%s/storage/v1/b/%s/o/nothing?x=1" % (
        obj.url, BUCKET))
    assert r["status"] != 411


def test_many_threads_share_one_client(obj, build_dir):
    r, _ = one(build_dir, "--threads", "8", "--repeat", "40", "GET",
               meta_url(obj), timeout=120)
    assert r["rc"] == 0 and r["ok"] == 320 and r["failed"] == 0
    assert r["requests"] == 320
    # Pooled handles keep their connections: about one per thread.
    assert r["connects"] <= 16, r


def test_many_threads_with_faults(obj, build_dir):
    # More attempts than faults in total, so no call can run out of them
    # however the threads interleave.
    obj.fault(kind="status", status=503, path="/o/", times=12)
    obj.fault(kind="reset", path="/o/", times=6)
    r, _ = one(build_dir, *FAST, "--attempts", "20", "--budget", "60000",
               "--threads", "8", "--repeat", "20", "GET", meta_url(obj),
               timeout=120)
    assert r["rc"] == 0 and r["ok"] == 160, r


def test_huge_error_body_is_still_retried(obj, build_dir):
    obj.fault(kind="status", status=503, body="x" * 200_000, path="/o/",
              times=1)
    r, _ = one(build_dir, *FAST, "--max-body", "100000", "GET",
               meta_url(obj))
    assert r["rc"] == 0 and r["attempts"] == 2
