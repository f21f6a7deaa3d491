"""One test per behaviour Google leaves undocumented, each against the
unkind answer the emulator can play (scripts/gcemu/README.md, "Unknowns"):
batchfs must be right there too. The workflow tests run against all of
them at once (emu_any); these pin each one down on its own."""
import json
import os
import re
import time

from lib.mounthelp import jobs_created, request_text

from test_mount_workflows import lines, staged, submit_short, unkeyed, write


def results(mnt, name, f):
    with open(mnt.job(name, "results", f)) as fh:
        return [json.loads(l) for l in fh.read().splitlines()]


def run_staged(mount_fs, emu, name, rows):
    mnt = staged(mount_fs, emu)
    os.mkdir(mnt.job(name))
    write(mnt.job(name, "input.jsonl"), lines(rows))
    submit_short(mnt, name)
    assert open(mnt.job(name, "wait")).read() == "JOB_STATE_SUCCEEDED\n"
    return mnt


def test_rows_without_keys_are_matched_by_request(mount_fs, emu):
    emu.config(echo_keys=False, time_scale=0)
    rows = unkeyed(6, bad=(4,))
    rows[2] = rows[4] = rows[5] = dict(rows[1])  # four identical requests
    mnt = run_staged(mount_fs, emu, "nokey", rows)
    by = results(mnt, "nokey", "by-input.jsonl")
    assert [b["key"] for b in by] == ["line-%d" % i for i in range(1, 7)]
    assert all("response" in b and b["status"] == "" for i, b in
               enumerate(by, 1) if i != 4)
    assert by[3]["status"]
    # each identical request got its own row: four answers, not one
    assert len(results(mnt, "nokey", "succeeded.jsonl")) == 5
    # only the failed line is retried: never one that succeeded
    assert [r["key"] for r in results(mnt, "nokey", "retry.jsonl")] == \
        ["line-4"]


def test_numeric_keys_retyped_by_the_importer(mount_fs, emu):
    # the importer was seen echoing "000000" as 0
    emu.config(retype_keys=True, time_scale=0)
    rows = unkeyed(3)
    for i, r in enumerate(rows):
        r["key"] = "%06d" % i
    mnt = run_staged(mount_fs, emu, "retyped", rows)
    assert sorted(r["key"] for r in results(mnt, "retyped",
                                            "succeeded.jsonl")) == [0, 1, 2]
    by = results(mnt, "retyped", "by-input.jsonl")
    assert all("response" in b for b in by), by
    assert results(mnt, "retyped", "retry.jsonl") == []


def test_added_keys_take_the_type_of_number_keys(mount_fs, emu):
    # a member that is a string on one line and a number on another fails
    # the import: keys batchfs adds before the user's number keys are
    # numbers too
    emu.config(retype_keys=True, time_scale=0)
    rows = unkeyed(3)
    rows[1]["key"] = 7
    mnt = run_staged(mount_fs, emu, "mixed", rows)
    got = [json.loads(l)["key"] for l in
           emu.get_object("stage", "pre/mixed/input.jsonl").decode().splitlines()]
    assert got == [1, 7, 3]
    assert [b["key"] for b in results(mnt, "mixed", "by-input.jsonl")] == \
        [1, 7, 3]


def wait_running(mnt, name):
    deadline = time.time() + 30
    while "RUNNING" not in mnt.read(name, "state"):
        assert time.time() < deadline
        time.sleep(0.05)


def test_progress_when_counts_are_not_reported(mount_fs, emu):
    emu.config(row_seconds=0.5)
    mnt = mount_fs()
    for mode in ("absent", "unknown"):
        emu.config(running_stats=mode)
        name = "p-" + mode
        os.mkdir(mnt.job(name))
        write(mnt.job(name, "request.json"), request_text(emu, n=20))
        wait_running(mnt, name)
        time.sleep(1.2)  # some rows done
        prog = mnt.read(name, "progress")
        assert prog.startswith("JOB_STATE_RUNNING counts not reported"), prog
        assert "%" not in prog and "eta=" not in prog and "elapsed=" in prog
        # rows results/ has already read are shown: free to know
        results(mnt, name, "succeeded.jsonl")
        assert "exported=" in mnt.read(name, "progress")
        job = json.loads(mnt.read(name, "job.json"))
        emu.finish_job(job["name"])


def test_elapsed_stops_without_end_time(mount_fs, emu):
    # endTime is documented only for SUCCEEDED, FAILED and CANCELLED
    emu.config(end_time_some_states=True, pending_seconds=30)
    mnt = mount_fs()
    os.mkdir(mnt.job("ps"))
    write(mnt.job("ps", "request.json"), request_text(emu, n=4))
    job = json.loads(mnt.read("ps", "job.json"))
    emu.finish_job(job["name"], "JOB_STATE_PARTIALLY_SUCCEEDED")
    mnt.wait_state("ps", ("JOB_STATE_PARTIALLY_SUCCEEDED",))
    assert "endTime" not in json.loads(mnt.read("ps", "job.json"))
    first = re.search(r"elapsed=(\S+)", mnt.read("ps", "progress")).group(1)
    time.sleep(2.2)
    again = re.search(r"elapsed=(\S+)", mnt.read("ps", "progress")).group(1)
    assert first == again


def test_partial_files_left_beside_the_final_one_count_once(mount_fs, emu):
    emu.config(partials="beside", echo_keys=False, pending_seconds=0,
               queued_seconds=0, row_seconds=0.05, export_interval=0.1)
    rows = unkeyed(20)
    mnt = run_staged(mount_fs, emu, "beside", rows)
    names = os.listdir(mnt.job("beside", "output"))
    assert "predictions.jsonl" in names and len(names) > 1, names
    assert len(results(mnt, "beside", "succeeded.jsonl")) == 20
    by = results(mnt, "beside", "by-input.jsonl")
    assert all("response" in b for b in by)
    assert results(mnt, "beside", "retry.jsonl") == []


def test_failed_rows_with_an_empty_response(mount_fs, emu):
    # Google's own page shows failed rows with "response": {}
    emu.config(failed_response_empty=True, time_scale=0)
    mnt = run_staged(mount_fs, emu, "empty", unkeyed(3, bad=(2,)))
    bad = results(mnt, "empty", "failed.jsonl")
    assert [b["key"] for b in bad] == ["line-2"] and bad[0]["response"] == {}
    assert len(results(mnt, "empty", "succeeded.jsonl")) == 2
    assert [r["key"] for r in results(mnt, "empty", "retry.jsonl")] == \
        ["line-2"]


def test_rmdir_waits_for_the_delete_operation(mount_fs, emu):
    emu.config(delete_seconds=1.0, time_scale=0)
    mnt = mount_fs()
    os.mkdir(mnt.job("del"))
    write(mnt.job("del", "request.json"), request_text(emu, n=2))
    mnt.wait_state("del")
    job = json.loads(mnt.read("del", "job.json"))
    before = emu.counters()["routes"].get("vertex.operation.get", 0)
    os.rmdir(mnt.job("del"))
    # the Operation was done when rmdir returned: the job is gone
    assert emu.request("GET", "/v1/" + job["name"])[0] == 404
    assert emu.counters()["routes"]["vertex.operation.get"] > before
    assert "del" not in os.listdir(mnt.jobs)
    assert jobs_created(emu) == 1
