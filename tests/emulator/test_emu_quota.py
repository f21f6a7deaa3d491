"""The emulator's Vertex request quotas (--crud-quota-per-minute,
--create-quota-per-minute, or /_emulator/config)."""
from lib.emuhelp import spawn, stop


def jobs(emu, project="test-project", location="us-central1"):
    return "/v1/projects/%s/locations/%s/batchPredictionJobs" % (project, location)


def test_crud_quota_answers_429_without_retry_after(emu):
    emu.config(crud_quota_per_minute=5)
    emu.control("POST", "jobs:bulk",
                {"count": 1, "state": "JOB_STATE_RUNNING"})
    got = [emu.request("GET", jobs(emu))[0] for _ in range(5)]
    assert got == [200] * 5
    st, h, e = emu.request("GET", jobs(emu))
    assert st == 429
    assert "Retry-After" not in h
    assert e["error"]["status"] == "RESOURCE_EXHAUSTED"
    # gets, cancels and deletes share the same minute
    st, _, _ = emu.request("GET", jobs(emu) + "/1")
    assert st == 429
    # another location (or project) has its own quota
    assert emu.request("GET", jobs(emu, location="europe-west4"))[0] == 200
    assert emu.request("GET", jobs(emu, project="other"))[0] == 200
    assert emu.counters()["throttled"] == 2
    # creates have their own limit, off here
    assert emu.request("POST", jobs(emu), {"displayName": "x"})[0] == 400


def test_create_quota_is_separate(emu):
    emu.config(create_quota_per_minute=1)
    assert emu.request("POST", jobs(emu), {"displayName": "x"})[0] == 400
    st, _, e = emu.request("POST", jobs(emu), {"displayName": "x"})
    assert st == 429 and e["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert emu.request("GET", jobs(emu))[0] == 200
    assert emu.counters()["throttled"] == 1


def test_quota_off_by_default_and_reset(emu):
    for _ in range(50):
        assert emu.request("GET", jobs(emu))[0] == 200
    emu.config(crud_quota_per_minute=1)
    assert emu.request("GET", jobs(emu))[0] == 429
    emu.reset()
    assert emu.counters()["throttled"] == 0
    assert emu.request("GET", jobs(emu))[0] == 200


def test_command_line_option(tmp_path):
    import json
    import urllib.request
    proc, url = spawn(tmp_path, "--crud-quota-per-minute", "2")
    try:
        codes = []
        for _ in range(3):
            try:
                urllib.request.urlopen(url + jobs(None), timeout=10)
                codes.append(200)
            except urllib.error.HTTPError as e:
                codes.append(e.code)
        assert codes == [200, 200, 429]
        c = json.load(urllib.request.urlopen(url + "/_emulator/counters"))
        assert c["throttled"] == 1
    finally:
        stop(proc)
