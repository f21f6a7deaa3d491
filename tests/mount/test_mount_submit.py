"""Submitting through request.json: every common writer submits exactly
once, close() returns the result, failures leave the draft for another try."""
import errno
import json
import os
import subprocess

import pytest

from lib.mounthelp import (MODEL, is_readonly, jobs_created, put_input, prompts,
                       request_body, request_text)


def submit_with(mnt, emu, tmp_path, name, argv_fn):
    text = request_text(emu)
    src = tmp_path / ("%s.json" % name)
    src.write_text(text)
    os.mkdir(mnt.job(name))
    assert mnt.read(name, "state") == "DRAFT\n"
    dst = mnt.job(name, "request.json")
    r = subprocess.run(argv_fn(str(src), dst), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.parametrize("tool", ["cp", "cat", "redirect", "tee", "install"])
def test_writers_submit_exactly_once(mnt, emu, tmp_path, tool):
    argv = {
        "cp": lambda s, d: ["cp", s, d],
        "cat": lambda s, d: ["bash", "-c", 'cat > "$1" < "$0"', s, d],
        # A shell writing line by line through one redirection.
        "redirect": lambda s, d: ["bash", "-c",
                                  'while IFS= read -r l; do printf "%s\\n" "$l"; '
                                  'done < "$0" > "$1"', s, d],
        "tee": lambda s, d: ["bash", "-c", 'tee "$1" < "$0" > /dev/null', s, d],
        "install": lambda s, d: ["install", "-m", "644", s, d],
    }[tool]
    submit_with(mnt, emu, tmp_path, "w-" + tool, argv)
    assert is_readonly(mnt.job("w-" + tool, "request.json"))  # at once
    state = mnt.read("w-" + tool, "state").strip()
    assert state.startswith("JOB_STATE_"), state
    assert jobs_created(emu) == 1
    mnt.wait_state("w-" + tool)
    assert jobs_created(emu) == 1
    assert is_readonly(mnt.job("w-" + tool, "request.json"))
    spec = json.loads(mnt.read("w-" + tool, "request.json"))
    assert spec["displayName"] == "w-" + tool
    assert spec["model"] == MODEL


def test_editor_rename_submits(mnt, emu):
    text = request_text(emu)
    os.mkdir(mnt.job("ed"))
    tmp = mnt.job("ed", ".request.json.swp")
    with open(tmp, "w") as f:
        f.write(text)
    assert jobs_created(emu) == 0  # scratch files never submit
    os.rename(tmp, mnt.job("ed", "request.json"))
    assert is_readonly(mnt.job("ed", "request.json"))  # at once
    assert jobs_created(emu) == 1
    assert not os.path.exists(tmp)
    assert mnt.read("ed", "state").startswith("JOB_STATE_")
    mnt.wait_state("ed")


def test_editor_rename_bad_json_fails_the_rename(mnt, emu):
    os.mkdir(mnt.job("ed2"))
    tmp = mnt.job("ed2", "tmp.json")
    with open(tmp, "w") as f:
        f.write("{ nope")
    with pytest.raises(OSError) as ei:
        os.rename(tmp, mnt.job("ed2", "request.json"))
    assert ei.value.errno == errno.EINVAL
    assert os.path.exists(tmp)  # nothing moved
    assert "request.json:1:" in mnt.read("ed2", "error")
    assert jobs_created(emu) == 0


def test_bad_json_cp_fails_with_einval_and_draft_survives(mnt, emu, tmp_path):
    os.mkdir(mnt.job("bad"))
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "model": "x",\n  oops\n}\n')
    r = subprocess.run(["cp", str(bad), mnt.job("bad", "request.json")],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "Invalid argument" in r.stderr
    err = mnt.read("bad", "error")
    assert "request.json:3:" in err and "malformed JSON" in err, err
    assert mnt.read("bad", "state") == "DRAFT\n"
    assert jobs_created(emu) == 0
    # The draft is intact: fix the file and submit again.
    good = tmp_path / "good.json"
    good.write_text(request_text(emu))
    subprocess.run(["cp", str(good), mnt.job("bad", "request.json")], check=True)
    assert jobs_created(emu) == 1
    assert mnt.read("bad", "error") == ""
    mnt.wait_state("bad")


def test_python_close_returns_submit_result(mnt, emu):
    os.mkdir(mnt.job("py"))
    body = request_body(put_input(emu, prompts(2)))
    del body["inputConfig"]
    f = open(mnt.job("py", "request.json"), "w")
    f.write(json.dumps(body))
    with pytest.raises(OSError) as ei:
        f.close()
    assert ei.value.errno == errno.EINVAL
    assert 'missing field "inputConfig"' in mnt.read("py", "error")
    # displayName must match the directory.
    body = request_body(put_input(emu, prompts(2)), displayName="other")
    f = open(mnt.job("py", "request.json"), "w")
    f.write(json.dumps(body))
    with pytest.raises(OSError) as ei:
        f.close()
    assert ei.value.errno == errno.EINVAL
    assert "displayName" in mnt.read("py", "error")
    # And a good one: close() returns 0 only once Vertex accepted it.
    emu.make_bucket("bkt-out")
    body = request_body(put_input(emu, prompts(2)), displayName="py")
    with open(mnt.job("py", "request.json"), "w") as f:
        f.write(json.dumps(body))
    assert jobs_created(emu) == 1
    assert mnt.read("py", "state").startswith("JOB_STATE_")


def test_server_rejection_maps_errno(mnt, emu):
    os.mkdir(mnt.job("rej"))
    body = request_body(put_input(emu, prompts(1)),
                        model="publishers/google/models/no-such-model")
    f = open(mnt.job("rej", "request.json"), "w")
    f.write(json.dumps(body))
    with pytest.raises(OSError) as ei:
        f.close()
    assert ei.value.errno in (errno.ENOENT, errno.EINVAL)
    assert "submit failed" in mnt.read("rej", "error")
    assert mnt.read("rej", "state") == "DRAFT\n"


def test_mkdir_taken_name_is_eexist(mnt, emu):
    os.mkdir(mnt.job("dup"))
    with pytest.raises(FileExistsError):
        os.mkdir(mnt.job("dup"))
    src = put_input(emu, prompts(1))
    emu.create_job(src, "gs://bkt-in/o", display_name="remote")
    with pytest.raises(FileExistsError):
        os.mkdir(mnt.job("remote"))


def test_request_size_cap_is_efbig(mount_fs, emu):
    m = mount_fs(max_request=4096)
    os.mkdir(m.job("big"))
    with pytest.raises(OSError) as ei:
        with open(m.job("big", "request.json"), "w") as f:
            f.write("x" * 10000)
    assert ei.value.errno == errno.EFBIG
    assert jobs_created(emu) == 0


def test_accepted_request_is_read_only(mnt, emu, tmp_path):
    submit_with(mnt, emu, tmp_path, "ro", lambda s, d: ["cp", s, d])
    with pytest.raises(PermissionError):
        open(mnt.job("ro", "request.json"), "w")
    with pytest.raises(PermissionError):
        open(mnt.job("ro", "state"), "w")
    with pytest.raises(PermissionError):
        os.unlink(mnt.job("ro", "state"))
    assert jobs_created(emu) == 1


def test_draft_rmdir_and_scratch_files(mnt, emu):
    os.mkdir(mnt.job("gone"))
    with open(mnt.job("gone", "notes.txt"), "w") as f:
        f.write("hello")
    assert sorted(os.listdir(mnt.job("gone"))) == [
        "error", "notes.txt", "request.json", "state"]
    with open(mnt.job("gone", "notes.txt")) as f:
        assert f.read() == "hello"
    os.unlink(mnt.job("gone", "notes.txt"))
    os.rmdir(mnt.job("gone"))
    assert "gone" not in os.listdir(mnt.jobs)
    assert jobs_created(emu) == 0


def test_lost_create_response_makes_one_job(mount_fs, emu_any, tmp_path):
    # pessimistic: the list filter refuses '-' in a label key
    emu = emu_any
    mnt = mount_fs()
    text = request_text(emu)
    src = tmp_path / "r.json"
    src.write_text(text)
    os.mkdir(mnt.job("lost"))
    emu.fault(method="POST", path="batchPredictionJobs$", kind="lose_response",
              status=503)
    r = subprocess.run(["cp", str(src), mnt.job("lost", "request.json")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        # Ambiguous outcome reported: trying again must find the job the
        # first attempt made, not make a second one.
        subprocess.run(["cp", str(src), mnt.job("lost", "request.json")],
                       check=True)
    assert jobs_created(emu) == 1
    assert mnt.read("lost", "state").startswith("JOB_STATE_")
    mnt.wait_state("lost")
    assert jobs_created(emu) == 1


def test_rename_between_drafts_is_exdev(mnt):
    os.mkdir(mnt.job("xa"))
    os.mkdir(mnt.job("xb"))
    with open(mnt.job("xa", "t.json"), "w") as f:
        f.write("{}")
    with pytest.raises(OSError) as ei:
        os.rename(mnt.job("xa", "t.json"), mnt.job("xb", "t.json"))
    assert ei.value.errno == errno.EXDEV
    with pytest.raises(OSError) as ei:
        os.rename(mnt.job("xa"), mnt.job("xc"))
    assert ei.value.errno == errno.EPERM


def test_scratch_file_limit_is_enospc(mnt):
    os.mkdir(mnt.job("many"))
    for i in range(64):
        with open(mnt.job("many", "s%d" % i), "w") as f:
            f.write("x")
    with pytest.raises(OSError) as ei:
        open(mnt.job("many", "one-too-many"), "w")
    assert ei.value.errno == errno.ENOSPC


def test_vim_style_backup_then_write(mnt, emu):
    os.mkdir(mnt.job("vim"))
    with pytest.raises(OSError) as ei:
        with open(mnt.job("vim", "request.json"), "w") as f:
            f.write("{")  # a first, broken save
    assert ei.value.errno == errno.EINVAL
    # Now vim saves again, keeping a backup.
    os.rename(mnt.job("vim", "request.json"), mnt.job("vim", "request.json~"))
    assert not os.path.exists(mnt.job("vim", "request.json"))
    with open(mnt.job("vim", "request.json~")) as f:
        assert f.read() == "{"
    with open(mnt.job("vim", "request.json"), "w") as f:
        f.write(request_text(emu))
    os.unlink(mnt.job("vim", "request.json~"))
    assert jobs_created(emu) == 1


def test_flush_from_other_processes_never_submits(mnt, emu, tmp_path):
    """A child that inherits the descriptor and exits mid-write sends a
    FLUSH too; only the opener's close submits."""
    src = tmp_path / "r.json"
    src.write_text(request_text(emu))
    os.mkdir(mnt.job("kids"))
    r = subprocess.run(
        ["bash", "-c", '{ printf "{"; sleep 0.3; tail -c +2 "$0"; '
         '/bin/true; } > "$1"', str(src), mnt.job("kids", "request.json")],
        capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert mnt.read("kids", "error") == ""
    assert jobs_created(emu) == 1
    assert mnt.read("kids", "state").startswith("JOB_STATE_")


def test_uris_as_a_string_is_accepted(mnt, emu):
    # Google's own REST example writes "uris": "gs://..." (proto3 JSON
    # takes a single value for a repeated field); so does batchfs.
    body = json.loads(request_text(emu))
    src = body["inputConfig"]["gcsSource"]["uris"][0]
    body["inputConfig"]["gcsSource"]["uris"] = src
    body["instanceConfig"] = {"excluded_fields": "key"}
    os.mkdir(mnt.job("one-uri"))
    with open(mnt.job("one-uri", "request.json"), "w") as f:
        f.write(json.dumps(body))
    assert mnt.read("one-uri", "error") == ""
    spec = json.loads(mnt.read("one-uri", "job.json"))
    assert spec["inputConfig"]["gcsSource"]["uris"] == [src]
    ic = spec["instanceConfig"]
    assert ic.get("excludedFields", ic.get("excluded_fields")) == ["key"]


def test_more_than_63_labels_is_einval_before_sending(mnt, emu):
    body = json.loads(request_text(emu))
    body["labels"] = {"l%d" % i: "v" for i in range(64)}
    os.mkdir(mnt.job("labels"))
    with pytest.raises(OSError) as ei:
        with open(mnt.job("labels", "request.json"), "w") as f:
            f.write(json.dumps(body))
    assert ei.value.errno == errno.EINVAL
    assert "labels" in mnt.read("labels", "error")
    assert emu.counters()["routes"].get("vertex.create", 0) == 0
    del body["labels"]["l63"]
    with open(mnt.job("labels", "request.json"), "w") as f:
        f.write(json.dumps(body))
    job = json.loads(mnt.read("labels", "job.json"))
    assert len(job["labels"]) == 64 and "batchfs_token" in job["labels"]


def test_lost_create_with_a_strict_filter_makes_one_job(mnt, emu, tmp_path):
    # A server that refuses '-' in a filter's label key (AIP-160 makes '-'
    # an operator) must still find the job by its token.
    emu.config(strict_filter=True)
    src = tmp_path / "r.json"
    src.write_text(request_text(emu))
    os.mkdir(mnt.job("strict"))
    emu.fault(method="POST", path="batchPredictionJobs$", kind="lose_response",
              status=503)
    subprocess.run(["cp", str(src), mnt.job("strict", "request.json")],
                   check=True)
    assert jobs_created(emu) == 1
    assert emu.counters()["routes"]["vertex.create"] == 1
    mnt.wait_state("strict")
    assert jobs_created(emu) == 1
