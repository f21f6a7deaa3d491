"""Batch-job fixtures the mount, model and fault suites build alike: the
model, prompts, an uploaded input, a request body, and the jobs the
emulator holds and counts."""
import json
import urllib.parse

MODEL = "publishers/google/models/gemini-2.5-flash"


def put_input(emu, rows, bucket="bkt-in", name="in/input.jsonl"):
    """Uploads JSONL rows (dicts) and returns the gs:// URI."""
    emu.make_bucket(bucket)
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    emu.put_object(bucket, name, data)
    return "gs://%s/%s" % (bucket, name)


def prompts(n, prefix="prompt", bad=()):
    """n keyed requests k0..k(n-1); those in bad use role "tester", which
    the emulator's model fails."""
    return [{"key": "k%d" % i, "request": {"contents": [
        {"role": "tester" if i in bad else "user",
         "parts": [{"text": "%s %d" % (prefix, i)}]}]}} for i in range(n)]


def request_body(src, dest="gs://bkt-out/out", **extra):
    body = {"model": MODEL,
            "inputConfig": {"instancesFormat": "jsonl",
                            "gcsSource": {"uris": [src]}},
            "outputConfig": {"predictionsFormat": "jsonl",
                             "gcsDestination": {"outputUriPrefix": dest}}}
    body.update(extra)
    return body


def list_jobs(emu):
    """Every job of the emulator, all pages (not through batchfs)."""
    jobs, token = [], None
    while True:
        q = {"pageSize": 1000}
        if token:
            q["pageToken"] = token
        st, _, p = emu.request("GET", emu.jobs_path() + "?" +
                               urllib.parse.urlencode(q))
        assert st == 200, (st, p)
        jobs += p.get("batchPredictionJobs", [])
        token = p.get("nextPageToken")
        if not token:
            return jobs


def jobs_named(emu, display_name):
    return [j for j in list_jobs(emu) if j.get("displayName") == display_name]


def jobs_created(emu):
    return emu.counters().get("jobs_created", 0)


def job_id(job):
    return job["name"].rsplit("/", 1)[-1]
