"""fs/vertex against the emulator, through tests/drivers/vertex_cli.

Success paths for create/get/list/cancel/delete, error mapping with the
server's message, and the faults that matter for a non-idempotent create:
whatever the emulator does to a create, exactly one job exists afterwards
and the client returns that one. Every call must end within its deadline.
"""
import json
import os
import subprocess
import threading
import time

import pytest

PROJECT = "test-project"
LOC = "us-central1"
BUCKET = "vtx-bucket"
COLL = "/v1/projects/%s/locations/%s/batchPredictionJobs" % (PROJECT, LOC)


@pytest.fixture
def cli(emu, build_dir, tmp_path):
    exe = os.path.join(build_dir, "tests", "drivers", "vertex_cli")
    if not os.path.exists(exe):
        pytest.fail("%s missing: build it first" % exe)

    def run(*args, opts=(), timeout=200):
        cmd = [exe, "--endpoint", emu.url, "--project", PROJECT,
               "--location", LOC, *opts, *args]
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout)
        wall = time.monotonic() - t0
        assert p.returncode == 0, (cmd, p.returncode, p.stderr)
        out = json.loads(p.stdout)
        out["wall"] = wall
        out["stderr"] = p.stderr
        return out

    run.tmp = tmp_path
    return run


def job_body(**extra):
    body = {
        "displayName": "vertex-test",
        "model": "publishers/google/models/gemini-2.5-flash",
        "inputConfig": {"instancesFormat": "jsonl",
                        "gcsSource": {"uris": ["gs://%s/in.jsonl" % BUCKET]}},
        "outputConfig": {"predictionsFormat": "jsonl",
                         "gcsDestination": {"outputUriPrefix":
                                            "gs://%s/out" % BUCKET}},
        "labels": {"team": "core"},
    }
    body.update(extra)
    return body


def setup_input(emu):
    emu.make_bucket(BUCKET)
    line = {"request": {"contents": [{"role": "user",
                                      "parts": [{"text": "hello"}]}]}}
    emu.put_object(BUCKET, "in.jsonl", (json.dumps(line) + "\n").encode())


def body_file(cli, body=None, name="body.json"):
    path = cli.tmp / name
    path.write_text(json.dumps(body if body is not None else job_body()))
    return str(path)


def server_jobs(emu):
    """Every job, straight from the emulator (not through our client)."""
    jobs, token = [], None
    while True:
        q = "?pageSize=100" + ("&pageToken=" + token if token else "")
        st, _, payload = emu.request("GET", COLL + q)
        assert st == 200, payload
        jobs += payload.get("batchPredictionJobs", [])
        token = payload.get("nextPageToken")
        if not token:
            return jobs


def server_job(emu, jid):
    st, _, payload = emu.request("GET", COLL + "/" + jid)
    assert st == 200, payload
    return payload


def errno_of(cli, http, status=""):
    return cli("errmap", str(http), status)["errno_name"]


def slow_jobs(emu):
    """Jobs that stay non-terminal for the length of a test."""
    emu.config(pending_seconds=300, time_scale=1)


def create_direct(emu, n, state="JOB_STATE_SUCCEEDED"):
    """n jobs, via the emulator's bulk route (else one create at a time)."""
    st, _, payload = emu.request("POST", "/_emulator/jobs:bulk",
                                 {"count": n, "location": LOC, "state": state,
                                  "bucket": BUCKET})
    if st == 200:
        return
    for i in range(n):
        st, _, payload = emu.request(
            "POST", COLL, job_body(displayName="direct-%d" % i))
        assert st == 200, payload


def job_id(j):
    return j["name"].rsplit("/", 1)[1]


# ---- success paths ------------------------------------------------------

def test_create_get_list(emu, cli):
    setup_input(emu)
    r = cli("create", body_file(cli), "tok-basic")
    assert r["rc"] == 0, r
    job = r["job"]
    assert job["client_token"] == "tok-basic"
    assert job["state"] in ("JOB_STATE_PENDING", "JOB_STATE_QUEUED",
                            "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED")
    assert job["input_uri"] == "gs://%s/in.jsonl" % BUCKET
    assert job["output_prefix"] == "gs://%s/out" % BUCKET
    assert job["create_us"] > 0
    # the token label was added, the caller's labels kept
    labels = server_job(emu, job["id"])["labels"]
    assert labels == {"team": "core", "batchfs_token": "tok-basic"}
    assert emu.counters()["jobs_created"] == 1

    g = cli("get", job["id"])
    assert g["rc"] == 0, g
    assert g["job"]["id"] == job["id"]
    assert g["job"]["name"].endswith("/batchPredictionJobs/" + job["id"])

    lst = cli("list")
    assert lst["rc"] == 0, lst
    assert [j["id"] for j in lst["jobs"]] == [job["id"]]

    f = cli("find", "tok-basic")
    assert f["rc"] == 0 and f["job"]["id"] == job["id"]
    f = cli("find", "tok-nothing")
    assert f["errno_name"] == "ENOENT"


def test_create_replaces_token_label_and_global(emu, cli):
    setup_input(emu)
    body = job_body(labels={"batchfs-token": "old", "x": "y"})
    r = cli("create", body_file(cli, body), "tok-new")
    assert r["rc"] == 0, r
    # the old key (batchfs before the token key lost its '-') goes too
    assert server_job(emu, r["job"]["id"])["labels"] == {
        "batchfs_token": "tok-new", "x": "y"}
    # body without labels; the global location
    body = job_body()
    del body["labels"]
    exe_opts = ["--location", "global"]
    r = cli("create", body_file(cli, body, "b2.json"), "tok-global",
            opts=exe_opts)
    assert r["rc"] == 0, r
    assert "/locations/global/" in r["job"]["name"]
    # v1beta1 serves the same jobs
    g = cli("get", r["job"]["id"], opts=["--location", "global",
                                         "--api-version", "v1beta1"])
    assert g["rc"] == 0 and g["job"]["id"] == r["job"]["id"], g


def test_list_pages(emu, cli):
    setup_input(emu)
    create_direct(emu, 23)
    before = emu.counters()["routes"].get("vertex.list", 0)
    r = cli("list", opts=["--page-size", "5"])
    assert r["rc"] == 0, r
    ids = [j["id"] for j in r["jobs"]]
    assert emu.counters()["routes"]["vertex.list"] - before == 5
    assert len(ids) == 23 and len(set(ids)) == 23
    assert sorted(ids) == sorted(job_id(j) for j in server_jobs(emu))


def test_list_filter_and_read_mask(emu, cli):
    setup_input(emu)
    slow_jobs(emu)
    create_direct(emu, 3)
    r = cli("create", body_file(cli), "tok-filter")
    assert r["rc"] == 0, r
    jid = r["job"]["id"]
    r = cli("list", 'labels.batchfs_token="tok-filter"')
    assert r["rc"] == 0, r
    assert [j["id"] for j in r["jobs"]] == [jid]
    r = cli("list", 'state="JOB_STATE_SUCCEEDED"')
    assert r["rc"] == 0 and r["count"] == 3, r
    assert jid not in [j["id"] for j in r["jobs"]]
    r = cli("list", opts=["--read-mask", "name,state"])
    assert r["rc"] == 0 and r["count"] == 4, r
    assert all("input_uri" not in j for j in r["jobs"])


def test_cancel(emu, cli):
    setup_input(emu)
    slow_jobs(emu)
    r = cli("create", body_file(cli), "tok-cancel")
    jid = r["job"]["id"]
    c = cli("cancel", jid)
    assert c["rc"] == 0, c
    deadline = time.time() + 20
    while time.time() < deadline:
        g = cli("get", jid)
        if g["job"]["state"] == "JOB_STATE_CANCELLED":
            break
        assert g["job"]["state"] in ("JOB_STATE_PENDING", "JOB_STATE_QUEUED",
                                     "JOB_STATE_CANCELLING"), g
        time.sleep(0.2)
    assert g["job"]["state"] == "JOB_STATE_CANCELLED"
    assert g["job"]["error_code"] == 1
    assert g["job"]["terminal"]


def test_delete(emu, cli):
    setup_input(emu)
    slow_jobs(emu)
    r = cli("create", body_file(cli), "tok-delete")
    jid = r["job"]["id"]
    emu.control("POST", "jobs/%s:finish" % jid, {"state": "JOB_STATE_SUCCEEDED"})
    d = cli("delete", jid)
    assert d["rc"] == 0, d
    g = cli("get", jid)
    assert g["errno_name"] == "ENOENT" and g["http_status"] == 404, g
    assert server_jobs(emu) == []


# ---- error mapping --------------------------------------------------------

def test_get_missing_is_enoent_with_message(emu, cli):
    r = cli("get", "1234567890")
    assert r["errno_name"] == "ENOENT", r
    assert r["http_status"] == 404
    assert r["status"] == "NOT_FOUND"
    assert r["message"]
    for cmd in ("cancel", "delete"):
        r = cli(cmd, "1234567890")
        assert r["errno_name"] == "ENOENT", (cmd, r)
    # ids that are not job ids never reach the server
    before = emu.counters()["total"]
    for bad in ("..", "12/34", "abc", "1" * 21, "%2e"):
        for cmd in ("get", "cancel", "delete"):
            r = cli(cmd, bad)
            assert r["errno_name"] == "EINVAL", (cmd, bad, r)
    assert emu.counters()["total"] == before


def test_create_bad_requests(emu, cli):
    setup_input(emu)
    # rejected by the server: the errno from the table, the server's text
    body = job_body()
    del body["displayName"]
    r = cli("create", body_file(cli, body), "tok-bad")
    assert r["http_status"] == 400, r
    assert r["errno_name"] == "EINVAL"
    assert r["message"] and r["status"] == "INVALID_ARGUMENT"
    body = job_body(model="publishers/google/models/gemini-does-not-exist")
    r = cli("create", body_file(cli, body), "tok-bad2")
    assert r["http_status"] in (400, 404), r
    assert r["errno_name"] == errno_of(cli, r["http_status"], r["status"])
    assert "gemini-does-not-exist" in r["message"]
    # a definite 4xx is never re-sent
    assert emu.counters()["routes"]["vertex.create"] == 2
    # rejected locally
    r = cli("create", body_file(cli, ["not", "an", "object"]), "tok-x")
    assert r["errno_name"] == "EINVAL", r
    r = cli("create", body_file(cli), "Bad Token!")
    assert r["errno_name"] == "EINVAL", r
    assert emu.counters()["routes"]["vertex.create"] == 2
    assert emu.counters()["jobs_created"] == 0


def test_delete_running_job(emu, cli):
    setup_input(emu)
    slow_jobs(emu)
    r = cli("create", body_file(cli), "tok-busy")
    jid = r["job"]["id"]
    d = cli("delete", jid)
    assert d["rc"] != 0, d
    assert d["http_status"] == 400 and d["status"] == "FAILED_PRECONDITION", d
    expected = errno_of(cli, 400, "FAILED_PRECONDITION")
    assert expected == "EBUSY"  # what the errno table says today
    assert d["errno_name"] == expected
    assert d["message"]
    assert len(server_jobs(emu)) == 1


def test_cancel_terminal_job(emu, cli):
    setup_input(emu)
    slow_jobs(emu)
    r = cli("create", body_file(cli), "tok-term")
    jid = r["job"]["id"]
    emu.control("POST", "jobs/%s:finish" % jid,
                {"state": "JOB_STATE_FAILED", "code": 13, "message": "boom"})
    c = cli("cancel", jid)
    # first attempt answered: a real precondition failure, not success
    assert c["http_status"] == 400 and c["status"] == "FAILED_PRECONDITION", c
    assert c["errno_name"] == errno_of(cli, 400, "FAILED_PRECONDITION")
    g = cli("get", jid)
    assert g["job"]["state"] == "JOB_STATE_FAILED"
    assert g["job"]["error_code"] == 13 and g["job"]["error_message"] == "boom"


# ---- faults -----------------------------------------------------------------

def test_get_list_retry_503(emu, cli):
    setup_input(emu)
    create_direct(emu, 2)
    jid = job_id(server_jobs(emu)[0])
    f1 = emu.fault(method="GET", path=r"batchPredictionJobs/\d+$",
                   kind="status", status=503)
    g = cli("get", jid)
    assert g["rc"] == 0 and g["job"]["id"] == jid, g
    f2 = emu.fault(method="GET", path=r"batchPredictionJobs(\?|$)",
                   kind="status", status=503, times=2)
    r = cli("list")
    assert r["rc"] == 0 and r["count"] == 2, r
    assert hits(emu, f1) == 1 and route(emu, "vertex.get") == 1
    assert hits(emu, f2) == 2
    assert g["wall"] < 30 and r["wall"] < 30


@pytest.mark.parametrize("kind", ["reset", "truncate", "stall"])
def test_get_transport_faults(emu, cli, kind):
    setup_input(emu)
    create_direct(emu, 1)
    jid = job_id(server_jobs(emu)[0])
    emu.fault(method="GET", path=r"batchPredictionJobs/\d+$", kind=kind,
              after_bytes=10, seconds=4)
    g = cli("get", jid, opts=["--timeout-ms", "1500"])
    assert g["rc"] == 0 and g["job"]["id"] == jid, g
    assert g["wall"] < 30


def test_get_gives_up_within_budget(emu, cli):
    emu.fault(method="GET", kind="status", status=503, times=-1)
    g = cli("get", "42", opts=["--budget-ms", "4000"])
    assert g["errno_name"] in ("EIO", "ETIMEDOUT"), g
    assert g["wall"] < 10


def test_soft_429_retried_once_then_eagain(emu, cli):
    """BF_VX_SOFT_429 (a refresh with a cached copy to show): a lone 429 is
    absorbed by one retry; a lasting one is given up after the second, not
    retried for the whole budget; a long Retry-After is not waited out. The
    meter sees every attempt and the final status."""
    setup_input(emu)
    create_direct(emu, 1)
    jid = job_id(server_jobs(emu)[0])
    f = emu.fault(method="GET", path=r"batchPredictionJobs/\d+$",
                  kind="status", status=429)
    g = cli("get", jid, opts=["--soft-429"])
    assert g["rc"] == 0 and g["job"]["id"] == jid, g
    assert hits(emu, f) == 1 and g["metered"] == 2
    emu.clear_faults()
    f = emu.fault(method="GET", path=r"batchPredictionJobs(/\d+)?(\?|$)",
                  kind="status", status=429, times=-1)
    g = cli("get", jid, opts=["--soft-429"])
    assert g["errno_name"] == "EAGAIN", g
    assert hits(emu, f) == 2 and g["metered"] == 2
    assert g["metered_status"] == 429 and g["wall"] < 8
    r = cli("list", opts=["--soft-429"])
    assert r["errno_name"] == "EAGAIN" and r["metered"] == 2, r
    # without the flag the same 429s are retried until the budget ends
    g = cli("get", jid, opts=["--budget-ms", "4000"])
    assert g["errno_name"] in ("EAGAIN", "ETIMEDOUT") and g["metered"] > 2, g
    emu.clear_faults()
    f = emu.fault(method="GET", path=r"batchPredictionJobs/\d+$",
                  kind="status", status=429, retry_after=30, times=-1)
    g = cli("get", jid, opts=["--soft-429"])
    assert g["errno_name"] == "EAGAIN" and hits(emu, f) == 1, g
    assert g["wall"] < 5


def hits(emu, rule):
    """How many requests a fault rule answered ("status" faults answer
    before the route runs, so the route counters miss them)."""
    for f in emu.control("GET", "faults")["faults"]:
        if f["id"] == rule["id"]:
            return f["hits"]
    raise KeyError(rule)


def route(emu, name):
    return emu.counters()["routes"].get(name, 0)


def only_job(emu, r):
    jobs = server_jobs(emu)
    assert len(jobs) == 1, [j["name"] for j in jobs]
    assert emu.counters()["jobs_created"] == 1
    assert r["rc"] == 0, r
    assert jobs[0]["name"] == r["job"]["name"]
    return jobs[0]


@pytest.mark.parametrize("variant", [{"status": 503}, {"reset": True},
                                     {"status": 500}])
def test_create_lost_response(emu, cli, variant):
    setup_input(emu)
    emu.fault(method="POST", path=r"batchPredictionJobs$",
              kind="lose_response", **variant)
    r = cli("create", body_file(cli), "tok-lost")
    job = only_job(emu, r)
    assert job["labels"]["batchfs_token"] == "tok-lost"
    # found by reconciliation: the create was sent once
    assert emu.counters()["routes"]["vertex.create"] == 1
    assert r["wall"] < 30


def test_create_lost_twice_then_ok(emu, cli):
    setup_input(emu)
    # the first reply lost, and the reconciliation list fails once too
    emu.fault(method="POST", path=r"batchPredictionJobs$",
              kind="lose_response", status=503)
    emu.fault(method="GET", path=r"batchPredictionJobs\?", kind="status",
              status=503)
    r = cli("create", body_file(cli), "tok-lost2")
    only_job(emu, r)
    assert emu.counters()["routes"]["vertex.create"] == 1


def test_create_429_retry_after(emu, cli):
    setup_input(emu)
    f = emu.fault(method="POST", path=r"batchPredictionJobs$", kind="status",
                  status=429, retry_after=2)
    r = cli("create", body_file(cli), "tok-429")
    only_job(emu, r)
    assert hits(emu, f) == 1 and route(emu, "vertex.create") == 1
    assert route(emu, "vertex.list") >= 1  # reconciled before sending again
    assert r["wall"] >= 2.0  # Retry-After honoured
    assert r["wall"] < 30


@pytest.mark.parametrize("kind", ["reset", "truncate", "stall_body", "slow"])
def test_create_transport_faults(emu, cli, kind):
    setup_input(emu)
    emu.fault(method="POST", path=r"batchPredictionJobs$", kind=kind,
              after_bytes=10, seconds=6, bytes_per_second=100)
    r = cli("create", body_file(cli), "tok-" + kind.replace("_", "-"),
            opts=["--timeout-ms", "2000"])
    only_job(emu, r)
    assert r["wall"] < 60


def test_create_stall_beyond_timeout(emu, cli):
    """The POST is still being handled when we give up on it: waiting for
    the job to appear, never a second one."""
    setup_input(emu)
    emu.fault(method="POST", path=r"batchPredictionJobs$", kind="stall",
              seconds=4)
    r = cli("create", body_file(cli), "tok-stall",
            opts=["--timeout-ms", "1500"])
    time.sleep(4)  # let the stalled handler finish whatever it does
    only_job(emu, r)
    assert route(emu, "vertex.create") == 1  # waited, did not re-send
    assert r["wall"] < 60


def test_create_always_503_gives_up(emu, cli):
    setup_input(emu)
    f = emu.fault(method="POST", path=r"batchPredictionJobs$", kind="status",
                  status=503, times=-1)
    r = cli("create", body_file(cli), "tok-503")
    assert r["rc"] != 0
    assert r["errno_name"] == "EIO", r
    assert "no job created" in r["message"], r
    assert server_jobs(emu) == []
    assert hits(emu, f) == 4  # bounded: CREATE_ATTEMPTS in vertex.c
    assert r["wall"] < 150


def test_create_429_long_retry_after_fails_fast(emu, cli):
    setup_input(emu)
    emu.fault(method="POST", path=r"batchPredictionJobs$", kind="status",
              status=429, retry_after=3600, times=-1)
    r = cli("create", body_file(cli), "tok-429b")
    assert r["errno_name"] == "EAGAIN", r
    assert server_jobs(emu) == []
    assert r["wall"] < 30


def test_create_lookup_fails_no_resend(emu, cli):
    """If the job cannot be looked up, the create is not sent again."""
    setup_input(emu)
    emu.fault(method="POST", path=r"batchPredictionJobs$",
              kind="lose_response", status=503)
    emu.fault(method="GET", path=r"batchPredictionJobs\?", kind="status",
              status=503, times=-1)
    r = cli("create", body_file(cli), "tok-nolook", opts=["--budget-ms", "5000"])
    assert r["rc"] != 0
    assert "outcome unknown" in r["message"], r
    assert emu.counters()["routes"]["vertex.create"] == 1
    assert r["wall"] < 30
    emu.clear_faults()
    f = cli("find", "tok-nolook")
    assert f["rc"] == 0 and f["job"]["id"] == job_id(server_jobs(emu)[0])


def test_cancel_lost_response(emu, cli):
    setup_input(emu)
    slow_jobs(emu)
    r = cli("create", body_file(cli), "tok-cl")
    jid = r["job"]["id"]
    emu.fault(method="POST", path=r":cancel$", kind="lose_response",
              status=503)
    c = cli("cancel", jid)
    assert c["rc"] == 0, c
    assert emu.counters()["routes"]["vertex.cancel"] >= 2
    deadline = time.time() + 20
    while time.time() < deadline:
        st = server_job(emu, jid)["state"]
        if st == "JOB_STATE_CANCELLED":
            break
        time.sleep(0.2)
    assert st == "JOB_STATE_CANCELLED"


def test_delete_faults(emu, cli):
    setup_input(emu)
    slow_jobs(emu)
    ids = []
    for t in ("tok-d1", "tok-d2"):
        r = cli("create", body_file(cli), t)
        ids.append(r["job"]["id"])
        emu.control("POST", "jobs/%s:finish" % r["job"]["id"],
                    {"state": "JOB_STATE_SUCCEEDED"})
    emu.fault(method="DELETE", kind="status", status=503)
    d = cli("delete", ids[0])
    assert d["rc"] == 0, d
    # the delete happened but its reply was lost: the retry's 404 is success
    emu.fault(method="DELETE", kind="lose_response", status=503)
    d = cli("delete", ids[1])
    assert d["rc"] == 0, d
    assert server_jobs(emu) == []


def test_delete_operation_polling(emu, cli):
    """The emulator finishes deletes at once; a done:false Operation is
    injected to exercise polling, its error, and a vanished Operation."""
    create_direct(emu, 4)
    a, b, c, d = [job_id(j) for j in server_jobs(emu)]
    st, _, op = emu.request("DELETE", COLL + "/" + a)
    assert st == 200 and op["done"], op
    pending = {"name": op["name"]}
    emu.fault(method="DELETE", path=b + "$", kind="status", status=200,
              body=pending)
    r = cli("delete", b)
    assert r["rc"] == 0, r  # polled the (finished) Operation
    emu.fault(method="DELETE", path=c + "$", kind="status", status=200,
              body={"name": op["name"], "done": True,
                    "error": {"code": 9, "message": "still busy"}})
    r = cli("delete", c)
    assert r["errno_name"] == errno_of(cli, 400, "FAILED_PRECONDITION"), r
    assert r["message"] == "still busy" and r["status"] == "FAILED_PRECONDITION"
    gone = op["name"].rsplit("/", 1)[0] + "/1"
    emu.fault(method="DELETE", path=d + "$", kind="status", status=200,
              body={"name": gone})
    r = cli("delete", d)
    assert r["errno_name"] == "EIO" and "vanished" in r["message"], r
    assert r["wall"] < 30


def test_create_2xx_garbage_reply(emu, cli):
    """A 2xx whose body is not a job claims the job exists: look it up,
    and if it cannot be found fail rather than risk a second job. (The
    emulator's injected 200 makes no job, so nothing is found.)"""
    setup_input(emu)
    f = emu.fault(method="POST", path=r"batchPredictionJobs$", kind="status",
                  status=200, body="<html>proxy page</html>")
    r = cli("create", body_file(cli), "tok-garbage")
    assert r["errno_name"] == "EIO", r
    assert "tok-garbage" in r["message"] and r["http_status"] == 200, r
    assert hits(emu, f) == 1 and route(emu, "vertex.create") == 0
    assert server_jobs(emu) == []
    assert 10 < r["wall"] < 30  # waited for the job to show up


def test_create_big_body_refused_locally(emu, cli):
    body = job_body(displayName="x" * (1100 * 1024))
    r = cli("create", body_file(cli, body), "tok-big")
    assert r["errno_name"] == "EFBIG", r
    assert emu.counters()["total"] == 0


def test_create_interrupted(emu, cli):
    """An interrupted create returns EINTR at once and says the job may
    exist; find-by-token then gives the one job it made."""
    setup_input(emu)
    emu.fault(method="POST", path=r"batchPredictionJobs$", kind="stall",
              seconds=3)
    # Interrupted once the server holds the POST (its fault hit), so the
    # create surely reached it: a fixed delay raced a slow (ASan) start.
    flag = cli.tmp / "interrupt"
    res = {}
    t = threading.Thread(target=lambda: res.update(r=cli(
        "create", body_file(cli), "tok-intr",
        opts=["--interrupt-when", str(flag)])))
    t.start()
    deadline = time.time() + 30
    while not any(f.get("hits")
                  for f in emu.control("GET", "faults")["faults"]):
        assert time.time() < deadline and t.is_alive(), "no create arrived"
        time.sleep(0.02)
    held = time.monotonic()
    flag.write_text("")
    t.join(60)
    r = res["r"]
    assert r["errno_name"] == "EINTR", r
    assert "tok-intr" in r["message"]
    assert time.monotonic() - held < 2  # at once, not after the stall
    # The stalled POST makes its job when the stall ends.
    deadline = time.time() + 30
    while not server_jobs(emu):
        assert time.time() < deadline, "the stalled create made no job"
        time.sleep(0.05)
    f = cli("find", "tok-intr")
    assert f["rc"] == 0, f
    assert [job_id(j) for j in server_jobs(emu)] == [f["job"]["id"]]


def test_with_auth(emu, cli):
    """Against an emulator that checks tokens: the service-account key
    works (the token rides on every call); no credentials gives EACCES."""
    setup_input(emu)
    emu.config(require_auth=True)
    key = ["--credentials", emu.key_file]
    r = cli("create", body_file(cli), "tok-auth", opts=key)
    assert r["rc"] == 0, r
    g = cli("list", opts=key)
    assert g["rc"] == 0 and g["count"] == 1, g
    r = cli("get", r["job"]["id"])
    assert r["errno_name"] == "EACCES" and r["http_status"] == 401, r
    assert len(server_jobs_auth(emu)) == 1


def server_jobs_auth(emu):
    emu.config(require_auth=False)
    try:
        return server_jobs(emu)
    finally:
        emu.config(require_auth=True)
