"""The local Google Cloud emulator as the tests drive it: `Emulator` (raw
HTTP, the /_emulator/ control API, Cloud Storage and Vertex conveniences),
and starting/stopping scripts/emulator (port 0, a data directory)."""
import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMULATOR = os.path.join(ROOT, "scripts", "emulator")


class Emulator:
    def __init__(self, proc, url, data):
        self.proc = proc
        self.url = url
        self.data = data
        self.key_file = os.path.join(data, "service-account.json")
        self.tls = url.startswith("https://")
        self.ca_file = os.path.join(data, "ca.pem") if self.tls else None
        self.ssl_context = (ssl.create_default_context(cafile=self.ca_file)
                            if self.tls else None)

    # --- raw HTTP -------------------------------------------------------
    def request(self, method, path, body=None, headers=None, raw=False):
        """Returns (status, headers, body-bytes-or-json)."""
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            if isinstance(body, (bytes, bytearray)):
                data = bytes(body)
            else:
                data = json.dumps(body).encode()
                hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=60,
                                        context=self.ssl_context) as r:
                status, rh, payload = r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as err:
            status, rh, payload = err.code, dict(err.headers), err.read()
        if not raw:
            try:
                payload = json.loads(payload) if payload else None
            except ValueError:
                pass
        return status, rh, payload

    # --- control API ----------------------------------------------------
    def control(self, method, path, body=None):
        status, _, payload = self.request(method, "/_emulator/" + path, body)
        assert 200 <= status < 300, (path, status, payload)
        return payload

    def reset(self):
        self.control("POST", "reset")

    def config(self, **kw):
        return self.control("POST", "config", kw)

    def fault(self, **kw):
        """Adds one fault rule; see scripts/emulator --help-faults."""
        return self.control("POST", "faults", kw)

    def clear_faults(self):
        self.control("DELETE", "faults")

    def counters(self):
        return self.control("GET", "counters")

    # --- Cloud Storage conveniences -----------------------------------
    def make_bucket(self, name, project="test-project"):
        status, _, payload = self.request(
            "POST", "/storage/v1/b?project=" + project, {"name": name})
        assert status in (200, 409), (status, payload)

    def put_object(self, bucket, name, data, content_type="application/octet-stream"):
        q = urllib.parse.urlencode({"uploadType": "media", "name": name})
        status, _, payload = self.request(
            "POST", "/upload/storage/v1/b/%s/o?%s" % (bucket, q), data,
            {"Content-Type": content_type})
        assert status == 200, (status, payload)
        return payload

    def get_object(self, bucket, name):
        path = "/storage/v1/b/%s/o/%s?alt=media" % (
            bucket, urllib.parse.quote(name, safe=""))
        status, _, payload = self.request("GET", path, raw=True)
        assert status == 200, (status, payload)
        return payload

    def list_objects(self, bucket, prefix=""):
        names, token = [], None
        while True:
            q = {"prefix": prefix}
            if token:
                q["pageToken"] = token
            status, _, payload = self.request(
                "GET", "/storage/v1/b/%s/o?%s" % (bucket, urllib.parse.urlencode(q)))
            assert status == 200, (status, payload)
            names += [i["name"] for i in payload.get("items", [])]
            token = payload.get("nextPageToken")
            if not token:
                return names


    # --- Vertex conveniences ---------------------------------------------
    def jobs_path(self, project="test-project", location="us-central1",
                  version="v1"):
        return "/%s/projects/%s/locations/%s/batchPredictionJobs" % (
            version, project, location)

    def create_job(self, src, dest, display_name="job",
                   model="publishers/google/models/gemini-2.5-flash",
                   labels=None, location="us-central1", expect=200):
        """Creates a batch job (src: gs:// URI or list, dest: gs:// prefix)."""
        body = {"displayName": display_name, "model": model,
                "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {
                    "uris": [src] if isinstance(src, str) else list(src)}},
                "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {
                    "outputUriPrefix": dest}}}
        if labels:
            body["labels"] = labels
        status, _, payload = self.request(
            "POST", self.jobs_path(location=location), body)
        assert status == expect, (status, payload)
        return payload

    def get_job(self, name):
        """name: full resource name or numeric id (us-central1)."""
        if "/" not in name:
            name = self.jobs_path()[len("/v1/"):] + "/" + name
        status, _, payload = self.request("GET", "/v1/" + name)
        assert status == 200, (status, payload)
        return payload

    def wait_job(self, name, states=("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED",
                                     "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
                                     "JOB_STATE_PARTIALLY_SUCCEEDED"),
                 timeout=30):
        deadline = time.time() + timeout
        while True:
            job = self.get_job(name)
            if job["state"] in states:
                return job
            assert time.time() < deadline, ("job stuck", job)
            time.sleep(0.05)

    def finish_job(self, name, state="JOB_STATE_SUCCEEDED", **kw):
        jid = name.rsplit("/", 1)[-1]
        body = dict(kw, state=state)
        return self.control("POST", "jobs/%s:finish" % jid, body)

    def job_output(self, job):
        """Rows of <outputInfo.gcsOutputDirectory>/predictions.jsonl."""
        bucket, _, prefix = job["outputInfo"]["gcsOutputDirectory"][5:].partition("/")
        data = self.get_object(bucket, prefix + "/predictions.jsonl")
        return [json.loads(l) for l in data.decode().splitlines() if l.strip()]


def start_emulator(data, *extra):
    """Starts scripts/emulator and returns (proc, base_url)."""
    proc = subprocess.Popen(
        ["/usr/bin/python3", EMULATOR, "--port", "0", "--data", str(data), *extra],
        stdout=subprocess.PIPE, stderr=open(os.path.join(str(data), "emulator.log"), "ab"),
        text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith(("http://", "https://")):
        proc.kill()
        raise RuntimeError("emulator did not start: %r (see %s/emulator.log)" % (line, data))
    return proc, line


def stop_emulator(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
