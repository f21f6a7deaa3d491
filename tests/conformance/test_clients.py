"""Real Google clients against the emulator: @google/genai (batches),
@google-cloud/storage, gcloud storage and rclone.

Whatever these clients accept from the emulator they must also accept from
Google, so every failure here is either an emulator deviation (recorded in
/work/coord/emulator-bugs.md and tests/conformance/README.md) or a client quirk.
"""
import hashlib
import json
import os
import shutil
import subprocess
import urllib.parse

import pytest

# A client test over plain http and over TLS (the emulator's --tls; each
# client told of its CA the way its users would: NODE_EXTRA_CA_CERTS,
# CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE, rclone's --ca-cert).
TLS_TOO = pytest.mark.parametrize("emu_scheme", ["http", "https"])

GCLOUD = shutil.which("gcloud")
RCLONE = shutil.which("rclone")
MODEL = "gemini-2.0-flash-001"


def rows(n):
    return b"".join(json.dumps({
        "key": "row-%d" % i,
        "request": {"contents": [{"role": "user", "parts": [{"text": "Say %d" % i}]}]},
    }).encode() + b"\n" for i in range(n))


def output_rows(emu, out_dir):
    """Rows of <gcsOutputDirectory>/predictions.jsonl."""
    assert out_dir.startswith("gs://")
    bucket, _, prefix = out_dir[5:].partition("/")
    names = emu.list_objects(bucket, prefix.rstrip("/") + "/")
    final = [n for n in names if n.endswith("/predictions.jsonl")
             and "incremental_predictions" not in n]
    assert len(final) == 1, names
    data = emu.get_object(bucket, final[0])
    return [json.loads(line) for line in data.splitlines() if line.strip()]


# --- @google/genai ----------------------------------------------------------

@TLS_TOO
@pytest.mark.parametrize("api_version,location,project", [
    ("v1", "us-central1", "test-project"),
    ("", "us-central1", "test-project"),
    ("v1", "global", "123456789012"),
], ids=["v1", "default-v1beta1", "v1-global-project-number"])
def test_genai_batches(emu, node_run, emu_token, require_auth, api_version, location,
                       project):
    emu.make_bucket("conf-in")
    emu.make_bucket("conf-out")
    emu.put_object("conf-in", "in/input.jsonl", rows(3), "application/jsonl")
    require_auth(True)
    # The emulator really is enforcing auth for what follows.
    status, _, _ = emu.request(
        "GET", "/v1/projects/test-project/locations/us-central1/batchPredictionJobs")
    assert status == 401

    out = node_run("genai_batches.mjs", {
        "EMU_URL": emu.url, "EMU_TOKEN": emu_token, "API_VERSION": api_version,
        "LOCATION": location, "PROJECT": project,
        "SRC": "gs://conf-in/in/input.jsonl", "DEST": "gs://conf-out/out",
    }, args=["suite"])
    steps = out["steps"]
    assert steps["list"]["pages"] >= 2
    assert steps["wait"]["states"][-1] == "JOB_STATE_SUCCEEDED"

    require_auth(False)
    counters = emu.counters()
    assert counters["jobs_created"] == 3, counters
    assert counters["routes"].get("vertex.list", 0) >= 4, counters
    # The deleted job's output stays in Cloud Storage.
    got = output_rows(emu, steps["wait"]["outputDirectory"])
    assert sorted(r["key"] for r in got) == ["row-0", "row-1", "row-2"]
    assert all(r["status"] == "" and r["response"]["candidates"] for r in got)


def test_genai_several_inputs_and_wildcard(emu, node_run, emu_token, require_auth):
    """src {format, gcsUri: [...]} with a plain URI and a wildcard URI."""
    emu.make_bucket("conf-multi")
    emu.put_object("conf-multi", "a.jsonl", rows(2))
    for i in (2, 3):
        row = {"key": "p%d" % i,
               "request": {"contents": [{"role": "user", "parts": [{"text": "part %d" % i}]}]}}
        emu.put_object("conf-multi", "parts/p%d.jsonl" % i, json.dumps(row).encode() + b"\n")
    require_auth(True)
    out = node_run("genai_batches.mjs", {
        "EMU_URL": emu.url, "EMU_TOKEN": emu_token, "API_VERSION": "v1",
        "SRC": json.dumps(["gs://conf-multi/a.jsonl", "gs://conf-multi/parts/*.jsonl"]),
        "DEST": "gs://conf-multi/out"}, args=["run"])
    job = out["job"]
    assert job["state"] == "JOB_STATE_SUCCEEDED", job
    require_auth(False)
    got = output_rows(emu, job["outputInfo"]["gcsOutputDirectory"])
    assert sorted(r["key"] for r in got) == ["p2", "p3", "row-0", "row-1"], got


def test_genai_bigquery_job(emu, node_run, emu_token, require_auth):
    """src and dest as bq:// URIs: the SDK sends bigquerySource and
    bigqueryDestination, the job's src/dest and outputInfo come back."""
    emu.control("POST", "bigquery/tables", {"table": "test-project.conf.requests",
                                            "rows": 3})
    require_auth(True)
    out = node_run("genai_batches.mjs", {
        "EMU_URL": emu.url, "EMU_TOKEN": emu_token, "API_VERSION": "v1",
        "SRC": "bq://test-project.conf.requests", "DEST": "bq://test-project.conf_out"},
        args=["run"])
    job = out["job"]
    require_auth(False)
    assert job["state"] == "JOB_STATE_SUCCEEDED", job
    assert job["completionStats"]["successfulCount"] == "3", job
    info = job["outputInfo"]
    assert info["bigqueryOutputDataset"] == "bq://test-project.conf_out", info
    assert info["bigqueryOutputTable"].startswith("predictions_"), info
    rows = emu.control("GET", "bigquery/tables/test-project.conf_out." +
                       info["bigqueryOutputTable"])["rows"]
    assert len(rows) == 3


def test_genai_rejects_foreign_token(emu, node_run, require_auth):
    emu.make_bucket("conf-in")
    require_auth(True)
    out = node_run("genai_batches.mjs", {
        "EMU_URL": emu.url, "EMU_TOKEN": "ya29.not-issued-by-the-emulator",
        "SRC": "gs://conf-in/x.jsonl", "DEST": "gs://conf-in/out",
    }, args=["run"], expect_rc=1)
    assert "ApiError 401" in out["error"], out
    assert "UNAUTHENTICATED" in out["error"], out
    assert emu.counters()["jobs_created"] == 0


def test_incremental_export_read_while_running(emu, node_run):
    """A real storage client re-reading the growing incremental export while
    the job runs sees whole, hash-valid, append-only generations."""
    saved = emu.config()
    try:
        emu.config(row_seconds=0.05, export_interval=0.1)
        emu.make_bucket("conf-inc")
        emu.put_object("conf-inc", "in.jsonl", rows(40), "application/jsonl")
        out = node_run("incremental.mjs", {
            "EMU_URL": emu.url, "SRC": "gs://conf-inc/in.jsonl", "DEST": "gs://conf-inc/out",
            "ROWS": "40"})
    finally:
        emu.config(**{k: saved[k] for k in ("row_seconds", "export_interval") if k in saved})
    assert len(out["sizes"]) >= 2 and out["finalRows"] == 40, out


# --- @google-cloud/storage --------------------------------------------------

@TLS_TOO
def test_storage_anonymous(emu, node_run):
    out = node_run("storage.mjs", {
        "STORAGE_EMULATOR_HOST": emu.url, "BUCKET": "conf-storage"})
    assert out["steps"]["list"]["prefixes"] == ["tree/a/", "tree/e/"]
    # Cross-check what the client stored, through the emulator's own view.
    data = emu.get_object("conf-storage", "dir/with space #?%+&=ünï/€.txt.r")
    assert data == b"odd name\n"


@TLS_TOO
def test_storage_with_emulator_token(emu, node_run, emu_token, require_auth):
    require_auth(True)
    node_run("storage.mjs", {
        "STORAGE_EMULATOR_HOST": emu.url, "BUCKET": "conf-storage-auth",
        "STORAGE_AUTH": "1", "EMU_TOKEN": emu_token})


def test_resumable_session_uri_is_the_credential(emu, emu_token, require_auth):
    """GCS: initiating a resumable upload needs a token, the session URI's
    chunk uploads do not (the session URI authorises them)."""
    emu.make_bucket("conf-session")
    require_auth(True)
    path = "/upload/storage/v1/b/conf-session/o?uploadType=resumable&name=s.txt"
    status, _, _ = emu.request("POST", path, {})
    assert status == 401
    status, headers, _ = emu.request("POST", path, {},
                                     {"Authorization": "Bearer " + emu_token})
    assert status == 200
    loc = {k.lower(): v for k, v in headers.items()}["location"]
    assert loc.startswith(emu.url) and "upload_id=" in loc, loc
    status, _, obj = emu.request("PUT", loc[len(emu.url):], b"hello",
                                 {"Content-Range": "bytes 0-4/5"})
    assert status == 200, (status, obj)
    assert obj["size"] == "5" and obj["name"] == "s.txt", obj


# --- gcloud storage ---------------------------------------------------------

def gcloud_env(emu, tmp_path, token):
    cfg = tmp_path / "gcloud-config"
    cfg.mkdir()
    tok = tmp_path / "token"
    tok.write_text(token)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CLOUDSDK_") and k not in (
               "GOOGLE_APPLICATION_CREDENTIALS", "HTTP_PROXY", "HTTPS_PROXY",
               "http_proxy", "https_proxy")}
    env.update({
        "CLOUDSDK_CONFIG": str(cfg),
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE": emu.url + "/",
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE": str(tok),
        "CLOUDSDK_CORE_PROJECT": "test-project",
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
        "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
        "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",
    })
    if emu.tls:
        # requests prefers these to gcloud's own setting: drop them, as on
        # a machine that never set them.
        for k in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTPLIB2_CA_CERTS",
                  "SSL_CERT_FILE"):
            env.pop(k, None)
        env["CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE"] = emu.ca_file
    return env


def gcloud(env, *args, stdin=None):
    p = subprocess.run([GCLOUD, "storage", *args], env=env, capture_output=True,
                       timeout=180, input=stdin)
    assert p.returncode == 0, "gcloud storage %s -> %d\n%s" % (
        " ".join(args), p.returncode, p.stderr.decode(errors="replace")[-4000:])
    return p.stdout


@pytest.mark.skipif(GCLOUD is None, reason="gcloud is not installed")
@TLS_TOO
def test_gcloud_storage(emu, emu_token, require_auth, tmp_path):
    emu.make_bucket("conf-gcloud")
    require_auth(True)
    env = gcloud_env(emu, tmp_path, emu_token)
    small = os.urandom(1000)
    big = os.urandom(9 * 1024 * 1024 + 4321)  # above the 8 MiB resumable threshold
    (tmp_path / "small.bin").write_bytes(small)
    (tmp_path / "big.bin").write_bytes(big)
    (tmp_path / "empty").write_bytes(b"")

    gcloud(env, "cp", str(tmp_path / "small.bin"), str(tmp_path / "big.bin"),
           str(tmp_path / "empty"), "gs://conf-gcloud/up/")
    # buckets.list (?project=) and objects.list with delimiter in one call
    listing = gcloud(env, "ls", "-l", "gs://", "gs://conf-gcloud/up/").decode()
    assert "gs://conf-gcloud/" in listing, listing
    assert "gs://conf-gcloud/up/small.bin" in listing, listing
    assert "gs://conf-gcloud/up/big.bin" in listing, listing
    assert str(len(big)) in listing, listing
    gcloud(env, "cp", "gs://conf-gcloud/up/big.bin", str(tmp_path / "big.back"))
    assert (tmp_path / "big.back").read_bytes() == big
    assert gcloud(env, "cat", "gs://conf-gcloud/up/small.bin") == small
    assert gcloud(env, "cat", "-r", "100-199", "gs://conf-gcloud/up/small.bin") == small[100:200]
    gcloud(env, "rm", "gs://conf-gcloud/up/small.bin")

    require_auth(False)
    assert emu.list_objects("conf-gcloud") == ["up/big.bin", "up/empty"]
    assert emu.get_object("conf-gcloud", "up/empty") == b""
    assert hashlib.md5(emu.get_object("conf-gcloud", "up/big.bin")).digest() == \
        hashlib.md5(big).digest()


# --- rclone ------------------------------------------------------------------

def rclone_env(emu, tmp_path, token=None):
    conf = tmp_path / "rclone.conf"
    lines = ["[emu]", "type = google cloud storage",
             "endpoint = %s/storage/v1/" % emu.url, "bucket_policy_only = true",
             # buckets.list (lsd emu:) needs ?project=; the emulator's number
             "project_number = 123456789012"]
    if token:
        lines.append("token = " + json.dumps({
            "access_token": token, "token_type": "Bearer",
            "expiry": "2099-01-01T00:00:00Z"}))
    else:
        lines.append("anonymous = true")
    conf.write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")
           and k.lower() not in ("http_proxy", "https_proxy")}
    env["RCLONE_CONFIG"] = str(conf)
    if emu.tls:
        env["RCLONE_CA_CERT"] = emu.ca_file  # rclone --ca-cert
    return env


def rclone(env, *args):
    p = subprocess.run([RCLONE, "--retries", "1", "--low-level-retries", "1", *args],
                       env=env, capture_output=True, timeout=180)
    assert p.returncode == 0, "rclone %s -> %d\n%s" % (
        " ".join(args), p.returncode, p.stderr.decode(errors="replace")[-4000:])
    return p.stdout


@TLS_TOO
@pytest.mark.skipif(RCLONE is None, reason="rclone is not installed (scripts/install-deps)")
def test_rclone(emu, tmp_path):
    emu.make_bucket("conf-rclone")
    env = rclone_env(emu, tmp_path)
    small = b"0123456789abcdefghijklmnopqrstuvwxyz\n"
    big = os.urandom(20 * 1000 * 1000)
    (tmp_path / "small.txt").write_bytes(small)
    (tmp_path / "big.bin").write_bytes(big)

    rclone(env, "copyto", str(tmp_path / "small.txt"), "emu:conf-rclone/a/small.txt")
    rclone(env, "copyto", str(tmp_path / "big.bin"), "emu:conf-rclone/a/b/big.bin")
    (tmp_path / "empty").write_bytes(b"")
    rclone(env, "copyto", str(tmp_path / "empty"), "emu:conf-rclone/a/empty")
    assert emu.get_object("conf-rclone", "a/empty") == b""
    rclone(env, "copyto", "emu:conf-rclone/a/empty", str(tmp_path / "empty.back"))
    assert (tmp_path / "empty.back").read_bytes() == b""
    rclone(env, "deletefile", "emu:conf-rclone/a/empty")
    assert emu.get_object("conf-rclone", "a/small.txt") == small
    assert hashlib.md5(emu.get_object("conf-rclone", "a/b/big.bin")).digest() == \
        hashlib.md5(big).digest()

    ls = rclone(env, "ls", "emu:conf-rclone").decode().split("\n")
    assert any(l.split() == [str(len(small)), "a/small.txt"] for l in ls), ls
    assert any(l.split() == [str(len(big)), "a/b/big.bin"] for l in ls), ls
    lsd = rclone(env, "lsd", "emu:conf-rclone/a").decode()
    assert lsd.split()[-1:] == ["b"], lsd
    buckets = rclone(env, "lsd", "emu:").decode()
    assert "conf-rclone" in buckets, buckets

    rclone(env, "copyto", "emu:conf-rclone/a/small.txt", str(tmp_path / "small.back"))
    rclone(env, "copyto", "emu:conf-rclone/a/b/big.bin", str(tmp_path / "big.back"))
    assert (tmp_path / "small.back").read_bytes() == small
    assert (tmp_path / "big.back").read_bytes() == big
    assert rclone(env, "cat", "--offset", "5", "--count", "10",
                  "emu:conf-rclone/a/small.txt") == small[5:15]
    assert rclone(env, "cat", "--offset", "19999990",
                  "emu:conf-rclone/a/b/big.bin") == big[19999990:]

    # Names as Vertex writes them (colons) and with space / '#' / UTF-8.
    odd = ["out/prediction-model-2026-09-02T20:06:30.166279Z/predictions.jsonl",
           "out/with space #1/ünï.txt"]
    for name in odd:
        rclone(env, "copyto", str(tmp_path / "small.txt"), "emu:conf-rclone/" + name)
        assert emu.get_object("conf-rclone", name) == small
        assert rclone(env, "cat", "emu:conf-rclone/" + name) == small
    listed = rclone(env, "lsf", "-R", "emu:conf-rclone/out").decode().split("\n")
    assert "prediction-model-2026-09-02T20:06:30.166279Z/predictions.jsonl" in listed, listed
    assert "with space #1/ünï.txt" in listed, listed
    rclone(env, "purge", "emu:conf-rclone/out")
    assert emu.list_objects("conf-rclone", "out/") == []

    rclone(env, "deletefile", "emu:conf-rclone/a/small.txt")
    assert emu.list_objects("conf-rclone") == ["a/b/big.bin"]
    assert rclone(env, "ls", "emu:conf-rclone/a").decode().split() == [
        str(len(big)), "b/big.bin"]


@pytest.mark.skipif(RCLONE is None, reason="rclone is not installed (scripts/install-deps)")
def test_rclone_with_token(emu, emu_token, require_auth, tmp_path):
    emu.make_bucket("conf-rclone")
    emu.put_object("conf-rclone", "x/y.txt", b"hello token\n", "text/plain")
    require_auth(True)
    env = rclone_env(emu, tmp_path, emu_token)
    assert rclone(env, "cat", "emu:conf-rclone/x/y.txt") == b"hello token\n"
    assert rclone(env, "ls", "emu:conf-rclone").decode().split() == ["12", "x/y.txt"]
    # Anonymous requests are refused in this mode.
    anon = tmp_path / "anon"
    anon.mkdir()
    p = subprocess.run([RCLONE, "--retries", "1", "--low-level-retries", "1", "ls",
                        "emu:conf-rclone"], env=rclone_env(emu, anon),
                       capture_output=True, timeout=60)
    assert p.returncode != 0, "anonymous rclone ls passed while auth is required"
