"""Google's generated REST clients (apitools, from the discovery documents,
as bundled in the Cloud SDK) against the emulator: every response is decoded
into the typed messages of aiplatform v1 / v1beta1 and storage v1, and any
field the real schema does not know (a misspelt or invented field, an enum
value Google does not have) shows up as an "unrecognized field" and fails.

Run in its own process (test_schema.py). Environment: EMU_URL, EMU_TOKEN,
API_VERSION (v1 | v1beta1), SRC (gs:// input JSONL), DEST, GCLOUD_LIB.
Prints JSON; exits 1 with a message on the first failure.
"""
import importlib
import json
import os
import sys
import time
import traceback

BASE = os.environ["EMU_URL"]
TOKEN = os.environ["EMU_TOKEN"]
VERSION = os.environ.get("API_VERSION", "v1")
LIB = os.environ["GCLOUD_LIB"]
sys.path[:0] = [LIB, os.path.join(LIB, "third_party")]

import httplib2  # noqa: E402
from apitools.base.protorpclite import messages as pm  # noqa: E402
from apitools.base.py import exceptions as apierr  # noqa: E402

APIS = "googlecloudsdk.generated_clients.apis"
client_mod = importlib.import_module("%s.aiplatform.%s.aiplatform_%s_client" % (APIS, VERSION, VERSION))
M = importlib.import_module("%s.aiplatform.%s.aiplatform_%s_messages" % (APIS, VERSION, VERSION))
storage_client = importlib.import_module(APIS + ".storage.v1.storage_v1_client")
S = importlib.import_module(APIS + ".storage.v1.storage_v1_messages")
P = "GoogleCloudAiplatform" + VERSION[0].upper() + VERSION[1:]  # GoogleCloudAiplatformV1beta1
PARENT = "projects/test-project/locations/us-central1"
MODEL = "publishers/google/models/gemini-2.0-flash-001"
TERMINAL = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
            "JOB_STATE_EXPIRED", "JOB_STATE_PARTIALLY_SUCCEEDED"}
results = {"version": VERSION, "checked": {}}


class Failure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def unrecognized(msg, path=""):
    """Paths of every field (or enum value) Google's schema does not know."""
    out = [path + n for n in msg.all_unrecognized_fields()]
    for f in msg.all_fields():
        v = msg.get_assigned_value(f.name)
        if v is None:
            continue
        vals = v if f.repeated else [v]
        for i, x in enumerate(vals):
            if isinstance(x, pm.Message):
                sub = "%s%s%s." % (path, f.name, "[%d]" % i if f.repeated else "")
                out += unrecognized(x, sub)
    return out


def check(what, msg):
    bad = unrecognized(msg)
    expect(not bad, "%s: fields unknown to Google's %s schema: %s" % (what, VERSION, bad))
    results["checked"][what] = results["checked"].get(what, 0) + 1
    return msg


def msg(name, **kw):
    return getattr(M, P + name)(**kw)


def main():
    headers = {"Authorization": "Bearer " + TOKEN}
    ai = client_mod.__dict__["Aiplatform" + VERSION[0].upper() + VERSION[1:]](
        url=BASE + "/", get_credentials=False, http=httplib2.Http(timeout=60),
        additional_http_headers=headers)
    jobs = ai.projects_locations_batchPredictionJobs

    def create(name, src=os.environ["SRC"]):
        body = msg("BatchPredictionJob", displayName=name, model=MODEL,
                   inputConfig=msg("BatchPredictionJobInputConfig", instancesFormat="jsonl",
                                   gcsSource=msg("GcsSource", uris=[src])),
                   outputConfig=msg("BatchPredictionJobOutputConfig", predictionsFormat="jsonl",
                                    gcsDestination=msg("GcsDestination",
                                                       outputUriPrefix=os.environ["DEST"])))
        req = getattr(M, "AiplatformProjectsLocationsBatchPredictionJobsCreateRequest")(
            parent=PARENT, **{P[0].lower() + P[1:] + "BatchPredictionJob": body})
        return check("BatchPredictionJob(create)", jobs.Create(req))

    a = create("schema-a")
    b = create("schema-b")
    expect(str(a.state) in ("JOB_STATE_PENDING", "JOB_STATE_QUEUED"), "state %s" % a.state)
    jobs.Cancel(M.AiplatformProjectsLocationsBatchPredictionJobsCancelRequest(name=b.name))
    # A missing input is accepted and fails the job asynchronously (code 9).
    c = create("schema-c", src=os.environ["SRC"] + ".missing")

    names, token, pages = [], None, 0
    while True:
        r = check("ListBatchPredictionJobsResponse", jobs.List(
            M.AiplatformProjectsLocationsBatchPredictionJobsListRequest(
                parent=PARENT, pageSize=1, pageToken=token)))
        pages += 1
        names += [j.name for j in r.batchPredictionJobs]
        token = r.nextPageToken
        if not token:
            break
        expect(pages < 50, "list never ends")
    expect(pages >= 2 and a.name in names and b.name in names, "list: %s" % names)

    def wait(name):
        t0 = time.time()
        while True:
            j = check("BatchPredictionJob(get)", jobs.Get(
                M.AiplatformProjectsLocationsBatchPredictionJobsGetRequest(name=name)))
            if str(j.state) in TERMINAL:
                return j
            expect(time.time() - t0 < 120, "job %s did not end" % name)
            time.sleep(0.2)

    a_end = wait(a.name)
    expect(str(a_end.state) == "JOB_STATE_SUCCEEDED", "job A: %s" % a_end.state)
    expect(a_end.completionStats and a_end.completionStats.successfulCount > 0,
           "completionStats %s" % a_end.completionStats)
    b_end = wait(b.name)
    expect(str(b_end.state) == "JOB_STATE_CANCELLED" and b_end.error.code == 1,
           "job B: %s %s" % (b_end.state, b_end.error))

    c_end = wait(c.name)
    expect(str(c_end.state) == "JOB_STATE_FAILED" and c_end.error.code == 9,
           "job C (missing input): %s %s" % (c_end.state, c_end.error))

    op = check("GoogleLongrunningOperation(delete)", jobs.Delete(
        M.AiplatformProjectsLocationsBatchPredictionJobsDeleteRequest(name=a.name)))
    expect(op.name and "/operations/" in op.name, "operation name %r" % op.name)
    op2 = check("GoogleLongrunningOperation(get)", ai.projects_locations_operations.Get(
        M.AiplatformProjectsLocationsOperationsGetRequest(name=op.name)))
    expect(op2.done, "delete operation not done: %s" % op2)
    try:
        jobs.Get(M.AiplatformProjectsLocationsBatchPredictionJobsGetRequest(name=a.name))
        raise Failure("deleted job still readable")
    except apierr.HttpNotFoundError:
        pass

    # Cloud Storage: the output the job wrote, read with the storage v1 client.
    gcs = storage_client.StorageV1(url=BASE + "/storage/v1/", get_credentials=False,
                                   http=httplib2.Http(timeout=60),
                                   additional_http_headers=headers)
    out = a_end.outputInfo.gcsOutputDirectory
    bucket, _, prefix = out[len("gs://"):].partition("/")
    check("Bucket", gcs.buckets.Get(S.StorageBucketsGetRequest(bucket=bucket)))
    bl = check("Buckets", gcs.buckets.List(S.StorageBucketsListRequest(project="test-project")))
    expect(bucket in [x.name for x in bl.items], "buckets.list misses %s" % bucket)
    ol = check("Objects", gcs.objects.List(S.StorageObjectsListRequest(
        bucket=bucket, prefix=prefix + "/", delimiter="/")))
    names = [o.name for o in ol.items]
    expect(prefix + "/predictions.jsonl" in names, "objects.list: %s %s" % (names, ol.prefixes))
    obj = check("Object", gcs.objects.Get(S.StorageObjectsGetRequest(
        bucket=bucket, object=prefix + "/predictions.jsonl")))
    expect(obj.size > 0 and obj.generation > 0 and obj.md5Hash and obj.crc32c, "object %s" % obj)
    results["ok"] = True


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report library errors too
        results["ok"] = False
        results["error"] = "%s: %s" % (type(e).__name__, e)
        print(json.dumps(results, indent=1))
        traceback.print_exc()
        sys.stderr.write("apitools_schema: %s\n" % results["error"])
        sys.exit(1)
    print(json.dumps(results, indent=1))
