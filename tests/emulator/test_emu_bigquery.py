"""BigQuery sources and destinations: the bq:// forms accepted and refused,
the dataset's region, input tables (fixture or labels), outputInfo and the
output table."""
import json
import re
import time

import pytest

from lib.emuhelp import jsonl, rows

from gcemu import model

JOBS = "/v1/projects/test-project/locations/us-central1/batchPredictionJobs"
MODEL = "publishers/google/models/gemini-2.5-flash"
STAMP = r"\d{4}_\d\d_\d\dT\d\d_\d\d_\d\d_\d{3}Z"


def bq_in(uri="bq://test-project.ds.requests"):
    return {"instancesFormat": "bigquery", "bigquerySource": {"inputUri": uri}}


def bq_out(uri="bq://test-project.results"):
    return {"predictionsFormat": "bigquery", "bigqueryDestination": {"outputUri": uri}}


def gcs_in(uri="gs://bkt/in.jsonl"):
    return {"instancesFormat": "jsonl", "gcsSource": {"uris": [uri]}}


def gcs_out(prefix="gs://bkt/out"):
    return {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": prefix}}


def body(ic=None, oc=None, labels=None, **over):
    b = {"displayName": "bq", "model": MODEL, "inputConfig": ic or bq_in(),
         "outputConfig": oc or bq_out()}
    if labels:
        b["labels"] = labels
    b.update(over)
    return b


def create(emu, b, path=JOBS):
    st, _, j = emu.request("POST", path, b)
    assert st == 200, j
    return j


def table(emu, ds_uri, name):
    return emu.control("GET", "bigquery/tables/%s.%s" % (ds_uri[len("bq://"):], name))["rows"]


def test_states_stats_and_output_info(emu):
    emu.config(pending_seconds=0.1, queued_seconds=0.1, row_seconds=0.05)
    j = create(emu, body(labels={"emulator_rows": "5", "emulator_failed_rows": "1"}))
    assert j["state"] == "JOB_STATE_PENDING" and "outputInfo" not in j
    assert j["inputConfig"] == bq_in() and j["outputConfig"] == bq_out()
    seen = set()
    deadline = time.time() + 10
    while True:
        g = emu.get_job(j["name"])
        seen.add(g["state"])
        if g["state"] == "JOB_STATE_RUNNING":
            assert set(g["outputInfo"]) == {"bigqueryOutputDataset", "bigqueryOutputTable"}
        if g["state"] == "JOB_STATE_SUCCEEDED":
            break
        assert time.time() < deadline, g
        time.sleep(0.01)
    assert {"JOB_STATE_PENDING", "JOB_STATE_QUEUED", "JOB_STATE_RUNNING"} <= seen
    assert g["completionStats"] == {"successfulCount": "4", "failedCount": "1"}
    info = g["outputInfo"]
    assert info["bigqueryOutputDataset"] == "bq://test-project.results"
    stamp = g["createTime"][:23].replace("-", "_").replace(":", "_").replace(".", "_") + "Z"
    assert info["bigqueryOutputTable"] == "predictions_" + stamp
    assert re.match("^predictions_%s$" % STAMP, info["bigqueryOutputTable"])
    assert "gcsOutputDirectory" not in info
    out = table(emu, info["bigqueryOutputDataset"], info["bigqueryOutputTable"])
    assert len(out) == 5
    for r in out:
        st, resp = model.predict(r["request"], "gemini-2.5-flash")
        assert r["status"] == st and r.get("response") == resp
    assert sum(1 for r in out if r["status"]) == 1


def test_running_counts_grow_and_table_fills(emu):
    emu.config(pending_seconds=0, queued_seconds=0, row_seconds=0.05, export_interval=0.1)
    j = create(emu, body(labels={"emulator_rows": "30"}))
    counts = []
    deadline = time.time() + 10
    while True:
        g = emu.get_job(j["name"])
        if g["state"] == "JOB_STATE_RUNNING" and "completionStats" in g:
            cs = g["completionStats"]
            counts.append(int(cs.get("successfulCount", "0")))
            assert int(cs.get("successfulCount", "0")) + int(cs["incompleteCount"]) == 30
        if g["state"] == "JOB_STATE_SUCCEEDED":
            break
        assert time.time() < deadline, g
        time.sleep(0.02)
    assert len(set(counts)) >= 2 and counts == sorted(counts)
    assert g["completionStats"] == {"successfulCount": "30"}


@pytest.mark.parametrize("uri,dataset,tbl", [
    ("bq://test-project", r"bq://test-project\.prediction_gemini_2_5_flash_" + STAMP,
     "predictions_" + STAMP),
    ("bq://test-project.mine", r"bq://test-project\.mine", "predictions_" + STAMP),
    ("bq://other-project.mine.my_table", r"bq://other-project\.mine", "my_table"),
])
def test_output_uri_forms(emu, uri, dataset, tbl):
    emu.config(time_scale=0)
    g = emu.wait_job(create(emu, body(oc=bq_out(uri), labels={"emulator_rows": "2"}))["name"])
    assert g["state"] == "JOB_STATE_SUCCEEDED", g
    info = g["outputInfo"]
    assert re.match("^%s$" % dataset, info["bigqueryOutputDataset"]), info
    assert re.match("^%s$" % tbl, info["bigqueryOutputTable"]), info
    assert len(table(emu, info["bigqueryOutputDataset"], info["bigqueryOutputTable"])) == 2


def test_table_output_must_not_exist(emu):
    emu.config(time_scale=0)
    emu.control("POST", "bigquery/tables", {"table": "test-project.mine.taken", "rows": 1})
    g = emu.wait_job(create(emu, body(oc=bq_out("bq://test-project.mine.taken"),
                                      labels={"emulator_rows": "2"}))["name"])
    assert g["state"] == "JOB_STATE_FAILED"
    assert g["error"] == {"code": 9, "message": "Table test-project:mine.taken already exists."}
    assert "outputInfo" not in g


def test_input_table_fixture(emu):
    emu.config(time_scale=0)
    fixture = [{"id": 7, "request": {"contents": [{"role": "user", "parts": [{"text": "a"}]}]}},
               {"id": 8, "request": json.dumps(
                   {"contents": [{"role": "user", "parts": [{"text": "b"}]}]})}]
    r = emu.control("POST", "bigquery/tables", {"table": "test-project.ds.requests",
                                                "rows": fixture})
    assert r == {"table": "test-project.ds.requests", "rows": 2}
    g = emu.wait_job(create(emu, body())["name"])
    assert g["completionStats"] == {"successfulCount": "2"}
    out = table(emu, g["outputInfo"]["bigqueryOutputDataset"],
                g["outputInfo"]["bigqueryOutputTable"])
    # other columns are copied; a STRING request column is read as JSON
    assert sorted(r["id"] for r in out) == [7, 8]
    assert all(isinstance(r["request"], dict) and r["status"] == "" for r in out)
    # a count as fixture
    emu.control("POST", "bigquery/tables", {"table": "test-project.ds.requests", "rows": 3})
    g = emu.wait_job(create(emu, body())["name"])
    assert g["completionStats"] == {"successfulCount": "3"}


def test_missing_input_table_fails_code_3(emu):
    emu.config(time_scale=0)
    j = create(emu, body(ic=bq_in("bq://test-project.ds.nothing")))
    assert j["state"] == "JOB_STATE_PENDING"
    g = emu.wait_job(j["name"])
    assert g["state"] == "JOB_STATE_FAILED"
    assert g["error"] == {"code": 3, "message": "Failed to import data. Not found: Table "
                          "test-project:ds.nothing was not found in location us-central1"}


def test_mixed_gcs_in_bq_out_and_bq_in_gcs_out(emu):
    emu.config(time_scale=0)
    emu.make_bucket("bkt")
    emu.put_object("bkt", "in.jsonl", jsonl(rows(3)))
    g = emu.wait_job(create(emu, body(ic=gcs_in()))["name"])
    assert g["completionStats"] == {"successfulCount": "3"}
    out = table(emu, g["outputInfo"]["bigqueryOutputDataset"],
                g["outputInfo"]["bigqueryOutputTable"])
    assert sorted(r["key"] for r in out) == ["row-0", "row-1", "row-2"]
    assert emu.list_objects("bkt", "out") == []
    g = emu.wait_job(create(emu, body(oc=gcs_out(), labels={"emulator_rows": "4"}))["name"])
    assert g["completionStats"] == {"successfulCount": "4"}
    assert set(g["outputInfo"]) == {"gcsOutputDirectory"}
    assert len(emu.job_output(g)) == 4


def test_cancel_keeps_the_rows_done_in_the_table(emu):
    emu.config(pending_seconds=0, queued_seconds=0, row_seconds=0.05, export_interval=0.1)
    j = create(emu, body(labels={"emulator_rows": "40"}))
    deadline = time.time() + 10
    while int(emu.get_job(j["name"]).get("completionStats", {})
              .get("successfulCount", "0")) < 3:
        assert time.time() < deadline
        time.sleep(0.02)
    st, _, _ = emu.request("POST", "/v1/" + j["name"] + ":cancel", {})
    assert st == 200
    g = emu.wait_job(j["name"])
    assert g["state"] == "JOB_STATE_CANCELLED"
    done = int(g["completionStats"]["successfulCount"])
    out = table(emu, g["outputInfo"]["bigqueryOutputDataset"],
                g["outputInfo"]["bigqueryOutputTable"])
    assert 3 <= len(out) == done < 40


def test_control_finish_bq_job(emu):
    emu.config(pending_seconds=30)
    j = create(emu, body(labels={"emulator_rows": "4"}))
    emu.finish_job(j["name"], "JOB_STATE_PARTIALLY_SUCCEEDED")
    g = emu.get_job(j["name"])
    assert g["completionStats"] == {"successfulCount": "2", "incompleteCount": "2"}
    assert g["outputInfo"]["bigqueryOutputTable"].startswith("predictions_")


IN_FIELD = "batch_prediction_job.input_config.bigquery_source.input_uri"
OUT_FIELD = "batch_prediction_job.output_config.bigquery_destination.output_uri"


@pytest.mark.parametrize("mutate,field,text", [
    (lambda b: b.update(inputConfig=bq_in("bq://test-project.ds")), IN_FIELD,
     "Invalid BigQuery source path: bq://test-project.ds"),
    (lambda b: b.update(inputConfig=bq_in("bq://test-project.ds.t.x")), IN_FIELD,
     "Invalid BigQuery source path"),
    (lambda b: b.update(inputConfig=bq_in("bq://Test-Project.ds.t")), IN_FIELD,
     "Invalid BigQuery source path"),
    (lambda b: b.update(inputConfig=bq_in("bq://test-project..t")), IN_FIELD,
     "Invalid BigQuery source path"),
    (lambda b: b.update(inputConfig=bq_in("gs://bkt/in.jsonl")), IN_FIELD,
     "Invalid BigQuery source path"),
    (lambda b: b.update(inputConfig=bq_in("bq://test-project.d-s.t")), IN_FIELD,
     "Invalid BigQuery source path"),
    (lambda b: b.update(outputConfig=bq_out("bq://")), OUT_FIELD,
     "Invalid BigQuery destination path: bq://"),
    (lambda b: b.update(outputConfig=bq_out("bq://test-project.a.b.c")), OUT_FIELD,
     "Invalid BigQuery destination path"),
    (lambda b: b.update(outputConfig=bq_out("test-project.ds")), OUT_FIELD,
     "Invalid BigQuery destination path"),
    (lambda b: b.update(inputConfig=bq_in("")), IN_FIELD, "Required field is not set"),
    (lambda b: b["inputConfig"].update(instancesFormat="jsonl"),
     "batch_prediction_job.input_config.instances_format", "use \"bigquery\""),
    (lambda b: b["outputConfig"].update(predictionsFormat="jsonl"),
     "batch_prediction_job.output_config.predictions_format", "use \"bigquery\""),
    (lambda b: b["inputConfig"].update(gcsSource={"uris": ["gs://bkt/in.jsonl"]}),
     "batch_prediction_job.input_config", "Oneof field 'source' is already set"),
    (lambda b: b["outputConfig"].update(gcsDestination={"outputUriPrefix": "gs://b/o"}),
     "batch_prediction_job.output_config", "Oneof field 'destination' is already set"),
])
def test_refused_forms(emu, mutate, field, text):
    b = body(labels={"emulator_rows": "1"})
    mutate(b)
    st, _, e = emu.request("POST", JOBS, b)
    assert st == 400, e
    assert e["error"]["status"] == "INVALID_ARGUMENT"
    assert text in e["error"]["message"]
    assert e["error"]["details"][0]["fieldViolations"][0]["field"] == field
    assert emu.counters()["jobs_created"] == 0


def test_snake_case_bigquery_fields(emu):
    emu.config(time_scale=0)
    b = {"display_name": "snake", "model": MODEL,
         "input_config": {"instances_format": "bigquery",
                          "bigquery_source": {"input_uri": "bq://test-project.ds.t"}},
         "output_config": {"predictions_format": "bigquery",
                           "bigquery_destination": {"output_uri": "bq://test-project.o"}},
         "labels": {"emulator_rows": "1"}}
    j = create(emu, b)
    assert j["inputConfig"] == bq_in("bq://test-project.ds.t")
    assert emu.wait_job(j["name"])["state"] == "JOB_STATE_SUCCEEDED"


@pytest.mark.parametrize("where", ["input", "output"])
def test_dataset_in_another_region_is_refused(emu, where):
    emu.control("POST", "bigquery/datasets",
                {"dataset": "test-project.eu_data", "location": "europe-west4"})
    b = body(labels={"emulator_rows": "1"})
    if where == "input":
        b["inputConfig"] = bq_in("bq://test-project.eu_data.t")
        field = "batch_prediction_job.input_config.bigquery_source"
    else:
        b["outputConfig"] = bq_out("bq://test-project.eu_data")
        field = "batch_prediction_job.output_config.bigquery_destination"
    st, _, e = emu.request("POST", JOBS, b)
    assert st == 400 and e["error"]["status"] == "INVALID_ARGUMENT", e
    assert e["error"]["details"][0]["fieldViolations"][0]["field"] == field
    assert ("BigQuery dataset test-project.eu_data is in location europe-west4, but the "
            "job is in us-central1. The dataset must be in the job's region."
            ) in e["error"]["message"]
    # the same job in the dataset's region is accepted
    emu.config(time_scale=0)
    g = emu.wait_job(create(emu, b, JOBS.replace("us-central1", "europe-west4"))["name"])
    assert g["state"] == "JOB_STATE_SUCCEEDED"


def test_multi_region_dataset_is_another_region(emu):
    emu.control("POST", "bigquery/datasets", {"dataset": "test-project.us_multi",
                                              "location": "US"})
    st, _, e = emu.request("POST", JOBS, body(oc=bq_out("bq://test-project.us_multi")))
    assert st == 400 and "is in location US" in e["error"]["message"]


def test_region_checked_at_run_when_configured(emu):
    emu.config(time_scale=0, bq_region_check="run")
    emu.control("POST", "bigquery/datasets", {"dataset": "test-project.eu_data",
                                              "location": "europe-west4"})
    j = create(emu, body(ic=bq_in("bq://test-project.eu_data.t"),
                         labels={"emulator_rows": "2"}))
    g = emu.wait_job(j["name"])
    assert g["state"] == "JOB_STATE_FAILED" and g["error"]["code"] == 9
    assert "must be in the job's region" in g["error"]["message"]
    # pessimistic plays the same side
    emu.config(bq_region_check=None)
    assert emu.config(pessimistic=True)["bq_region_check"] == "run"


def test_global_job_takes_any_region(emu):
    emu.config(time_scale=0)
    emu.control("POST", "bigquery/datasets", {"dataset": "test-project.eu_data",
                                              "location": "europe-west4"})
    g = emu.wait_job(create(emu, body(oc=bq_out("bq://test-project.eu_data"),
                                      labels={"emulator_rows": "1"}),
                            JOBS.replace("us-central1", "global"))["name"])
    assert g["state"] == "JOB_STATE_SUCCEEDED"


def test_reset_clears_bigquery(emu):
    emu.control("POST", "bigquery/datasets", {"dataset": "test-project.d", "location": "x"})
    emu.control("POST", "bigquery/tables", {"table": "test-project.d.t", "rows": 1})
    emu.reset()
    assert emu.control("GET", "bigquery") == {"datasets": {}, "tables": {}}
    st, _, _ = emu.request("POST", "/_emulator/bigquery/tables", {"table": "bad", "rows": 1})
    assert st == 400
