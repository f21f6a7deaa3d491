"""The world scripts/bench measures in: the emulator process and its
control API, and the FUSE mounts (batchfs, rclone, the FUSE-ceiling file
system) with mount/unmount that never leaves a stale mount behind.
"""
import http.client
import json
import os
import ssl
import subprocess
import threading
import time
import urllib.parse

import bench_sys as S

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMULATOR = os.path.join(ROOT, "scripts", "emulator")
PROJECT, LOCATION, BUCKET = "test-project", "us-central1", "bench"
TERMINAL = ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
            "JOB_STATE_EXPIRED", "JOB_STATE_PARTIALLY_SUCCEEDED")


class BenchError(Exception):
    pass


# --- the emulator -------------------------------------------------------------

class Emulator:
    def __init__(self, data, logf, tls=False):
        self.data = data
        self.tls = tls
        # --tls: HTTPS with the CA in DATA/ca.pem, trusted by every client here.
        self.ca_file = os.path.join(data, "ca.pem") if tls else None
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", EMULATOR, "--port", "0", "--data", data,
             "--bucket", BUCKET, "--time-scale", "0", "--quiet"]
            + (["--tls"] if tls else []),
            stdout=subprocess.PIPE, stderr=logf, text=True)
        line = ""
        t0 = time.time()
        scheme = "https://" if tls else "http://"
        while time.time() - t0 < 30:
            line = self.proc.stdout.readline().strip()
            if line.startswith(scheme) or self.proc.poll() is not None:
                break
        if not line.startswith(scheme):
            self.stop()
            raise BenchError("emulator did not start (%r); see %s" % (line, logf.name))
        self.url = line
        u = urllib.parse.urlparse(line)
        self.host, self.port = u.hostname, u.port
        self.pid = self.proc.pid
        # Drain further stdout so the emulator never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def connection(self, timeout=120):
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               blocksize=1 << 20, context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout,
                                          blocksize=1 << 20)

    def curl_args(self):
        """curl's options to trust the emulator (none over plain http)."""
        return ["--cacert", self.ca_file] if self.tls else []

    def request(self, method, path, body=None, headers=None, timeout=120):
        conn = self.connection(timeout)
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, bytearray)) \
                and not hasattr(body, "read"):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        try:
            payload = json.loads(data) if data else None
        except ValueError:
            payload = data
        return r.status, payload

    def ok(self, method, path, body=None, headers=None):
        st, payload = self.request(method, path, body, headers)
        if not 200 <= st < 300:
            raise BenchError("%s %s -> %s %s" % (method, path, st, str(payload)[:300]))
        return payload

    def counters(self):
        return self.ok("GET", "/_emulator/counters")

    def upload_file(self, name, path, tag=0):
        """Streams a local file as object `name`, its first 8 bytes replaced
        by `tag` so every object differs (and its backing file is known)."""
        q = urllib.parse.urlencode({"uploadType": "media", "name": name})
        size = os.path.getsize(path)
        with open(path, "rb") as raw:
            f = TaggedReader(raw, tag)
            return self.ok("POST", "/upload/storage/v1/b/%s/o?%s" % (BUCKET, q), f,
                           {"Content-Type": "application/octet-stream",
                            "Content-Length": str(size)})

    def media_path(self, name):
        return "/storage/v1/b/%s/o/%s?alt=media" % (BUCKET, urllib.parse.quote(name, safe=""))

    def jobs_path(self):
        return "/v1/projects/%s/locations/%s/batchPredictionJobs" % (PROJECT, LOCATION)

    def create_job(self, display, out_prefix, input_uri):
        body = {
            "displayName": display,
            "model": "publishers/google/models/gemini-2.5-flash",
            "inputConfig": {"instancesFormat": "jsonl",
                            "gcsSource": {"uris": [input_uri]}},
            "outputConfig": {"predictionsFormat": "jsonl",
                             "gcsDestination": {"outputUriPrefix": out_prefix}},
        }
        return self.ok("POST", self.jobs_path(), body)

    def wait_job(self, name, timeout=60):
        t0 = time.time()
        while time.time() - t0 < timeout:
            job = self.ok("GET", "/v1/" + name)
            if job.get("state") in TERMINAL:
                return job
            time.sleep(0.2)
        raise BenchError("job %s did not finish in %ds" % (name, timeout))


class TaggedReader:
    def __init__(self, f, tag):
        self.f, self.tag, self.pos = f, tag.to_bytes(8, "little"), 0

    def read(self, n=-1):
        b = self.f.read(n)
        if self.pos < 8 and b:
            k = min(8 - self.pos, len(b))
            b = self.tag[self.pos:self.pos + k] + b[k:]
        self.pos += len(b)
        return b


def counter_delta(a, b):
    """Per-route request counts between two counter snapshots, without the
    control routes the harness itself calls."""
    if not a or not b:
        return {}
    ra, rb = a.get("routes", {}), b.get("routes", {})
    out = {}
    for k, v in rb.items():
        if k.startswith("_emulator") or k.startswith("control"):
            continue
        d = v - ra.get(k, 0)
        if d:
            out[k] = d
    return out


# --- mounts -------------------------------------------------------------------

class Mount:
    kind = "?"

    def __init__(self, path, logpath):
        self.path, self.logpath = path, logpath
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def _wait_up(self, probe, timeout=30):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                raise BenchError("%s exited with %s during mount; see %s" % (
                    self.kind, self.proc.returncode, self.logpath))
            if S.is_mounted(self.path):
                r = subprocess.run(["timeout", "20", "ls", probe], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                if r.returncode == 0:
                    return
            time.sleep(0.1)
        self.umount()
        raise BenchError("%s did not come up in %ds; see %s" % (self.kind, timeout, self.logpath))

    def umount(self):
        if S.is_mounted(self.path):
            if not S.fusermount_u(self.path):
                S.fusermount_u(self.path, lazy=True)
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if S.is_mounted(self.path):
            S.fusermount_u(self.path, lazy=True)


class BatchfsMount(Mount):
    kind = "batchfs"

    def __init__(self, binary, emu, path, logpath, extra_opts="", extra_args=(), env=None):
        super().__init__(path, logpath)
        self.binary, self.emu, self.extra = binary, emu, extra_opts
        self.extra_args = list(extra_args)
        self.env = dict(os.environ, **(env or {}))

    def mount(self):
        os.makedirs(self.path, exist_ok=True)
        opts = "project=%s,location=%s,endpoint=%s,storage_endpoint=%s,credentials=%s" % (
            PROJECT, LOCATION, self.emu.url, self.emu.url,
            os.path.join(self.emu.data, "service-account.json"))
        if self.emu.tls:
            opts += ",cafile=" + self.emu.ca_file
        if self.extra:
            opts += "," + self.extra
        self.proc = subprocess.Popen([self.binary, "-f"] + self.extra_args
                                     + ["-o", opts, self.path], env=self.env,
                                     stdout=open(self.logpath, "ab"), stderr=subprocess.STDOUT)
        self._wait_up(os.path.join(self.path, "jobs"))


class RcloneMount(Mount):
    kind = "rclone"
    FLAGS = ["--read-only", "--vfs-cache-mode", "off", "--dir-cache-time", "1h",
             "--poll-interval", "0", "--log-level", "ERROR"]

    def __init__(self, emu, path, logpath, conf):
        super().__init__(path, logpath)
        self.emu, self.conf = emu, conf
        with open(conf, "w") as f:
            f.write("[emu]\ntype = google cloud storage\nendpoint = %s/storage/v1/\n"
                    "anonymous = true\nbucket_policy_only = true\n" % emu.url)

    def mount(self):
        os.makedirs(self.path, exist_ok=True)
        self.proc = subprocess.Popen(
            ["rclone", "--config", self.conf, "mount", "emu:" + BUCKET, self.path]
            + self.FLAGS + ["--log-file", self.logpath]
            + (["--ca-cert", self.emu.ca_file] if self.emu.tls else []),
            stdout=subprocess.DEVNULL, stderr=open(self.logpath, "ab"))
        self._wait_up(self.path)


class FuseMinMount(Mount):
    """bench_sys.FUSEMIN_C: one file served from a local file; the FUSE-only
    ceiling of this machine, with and without direct_io."""
    kind = "fusemin"

    def __init__(self, binary, src, path, logpath, direct):
        super().__init__(path, logpath)
        self.binary, self.src, self.direct = binary, src, direct

    def mount(self):
        os.makedirs(self.path, exist_ok=True)
        self.proc = subprocess.Popen([self.binary, self.src, self.path]
                                     + (["direct"] if self.direct else []),
                                     stdout=open(self.logpath, "ab"), stderr=subprocess.STDOUT)
        self._wait_up(self.path)
