"""Issue 16, round 2: what survives a crash of the daemon, and names that
keep meaning one job for the life of a mount.

A create in flight is journalled in -o state_dir before its POST; a mount
started after a crash settles the journal before it sends a create of the
same name (SEMANTICS.md, "Creates in flight")."""
import errno
import glob
import json
import os
import signal
import subprocess
import time

import pytest

from lib.mounthelp import jobs_created, request_text


def journal_files(state):
    return glob.glob(os.path.join(state, "creates-*", "*.json"))


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(0.05)


def fault_hits(emu):
    return sum(f["hits"] for f in emu.control("GET", "faults")["faults"])


def crash(m):
    """kill -9 the daemon and clear its stale mount."""
    m.proc.send_signal(signal.SIGKILL)
    m.proc.wait(timeout=15)
    subprocess.run(["fusermount3", "-u", "-z", m.path], check=False)


def test_crash_during_create_then_resubmit_makes_one_job(mount_fs, emu,
                                                         tmp_path):
    state = str(tmp_path / "state")
    text = request_text(emu)
    src = tmp_path / "request.json"
    src.write_text(text)
    emu.fault(method="POST", path="batchPredictionJobs$", kind="stall",
              seconds=20)
    a = mount_fs(state_dir=state)
    os.mkdir(a.job("r"))
    cp = subprocess.Popen(["cp", str(src), a.job("r", "request.json")],
                          stderr=subprocess.PIPE)
    wait_for(lambda: fault_hits(emu) == 1, 30, "the create POST")
    t_post = time.time()
    assert len(journal_files(state)) == 1
    crash(a)
    assert cp.wait(timeout=30) != 0  # the user's close() failed
    b = mount_fs(state_dir=state)
    os.mkdir(b.job("r"))
    t0 = time.time()
    with open(b.job("r", "request.json"), "w") as f:
        f.write(text)  # close() settles the journal, then adopts the job
    # The stalled POST makes its job 20 s after it arrived: count after.
    time.sleep(max(0, t_post + 22 - time.time()))
    assert jobs_created(emu) == 1
    jobs = emu.request("GET", emu.jobs_path())[2].get(
        "batchPredictionJobs", [])
    assert len(jobs) == 1, jobs
    with open(b.job("r", "job.json")) as f:
        assert json.load(f)["name"] == jobs[0]["name"]
    assert journal_files(state) == []
    assert time.time() - t0 < 60


def test_resubmit_of_another_request_after_a_crash_is_eexist(mount_fs, emu,
                                                             tmp_path):
    state = str(tmp_path / "state")
    emu.fault(method="POST", path="batchPredictionJobs$", kind="stall",
              seconds=5)
    a = mount_fs(state_dir=state)
    os.mkdir(a.job("r"))
    cp = subprocess.Popen(["cp", "/dev/stdin", a.job("r", "request.json")],
                          stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    cp.stdin.write(request_text(emu, n=2).encode())
    cp.stdin.close()
    wait_for(lambda: fault_hits(emu) == 1, 30, "the create POST")
    crash(a)
    cp.wait(timeout=30)
    b = mount_fs(state_dir=state)
    os.mkdir(b.job("r"))
    with pytest.raises(OSError) as ei:
        with open(b.job("r", "request.json"), "w") as f:
            f.write(request_text(emu, dest="gs://bkt-out/other"))
    assert ei.value.errno == errno.EEXIST
    assert "another request" in b.read("r", "error")
    assert jobs_created(emu) == 1
    assert journal_files(state) == []


def test_stale_journal_entry_does_not_block_a_submit(mount_fs, emu, tmp_path):
    state = str(tmp_path / "state")
    m = mount_fs(state_dir=state)
    assert not os.path.exists(state)  # made at the first create
    os.mkdir(m.job("first"))
    with open(m.job("first", "request.json"), "w") as f:
        f.write(request_text(emu))
    (d,) = glob.glob(os.path.join(state, "creates-*"))
    assert os.listdir(d) == []
    stale = os.path.join(d, "bf-deadbeef.json")
    with open(stale, "w") as f:
        json.dump({"version": 1, "name": "s", "token": "bf-deadbeef",
                   "body_sha256": "0" * 64,
                   "deadline_unix_ms": (time.time() - 1) * 1000}, f)
    old = os.path.join(d, "bf-0ld.json")  # another name, two days old
    with open(old, "w") as f:
        json.dump({"version": 1, "name": "gone", "token": "bf-0ld",
                   "body_sha256": "0" * 64,
                   "deadline_unix_ms": (time.time() - 2 * 86400) * 1000}, f)
    os.mkdir(m.job("s"))
    with open(m.job("s", "request.json"), "w") as f:
        f.write(request_text(emu))
    assert jobs_created(emu) == 2
    assert not os.path.exists(stale)
    assert not os.path.exists(old)


def test_journal_is_private_and_holds_no_secret(mount_fs, emu, tmp_path):
    state = str(tmp_path / "state")
    text = request_text(emu)
    emu.fault(method="POST", path="batchPredictionJobs$", kind="stall",
              seconds=2)
    m = mount_fs(state_dir=state)
    os.mkdir(m.job("p"))
    cp = subprocess.Popen(["cp", "/dev/stdin", m.job("p", "request.json")],
                          stdin=subprocess.PIPE)
    cp.stdin.write(text.encode())
    cp.stdin.close()
    wait_for(lambda: journal_files(state), 30, "the journal entry")
    (path,) = journal_files(state)
    assert os.stat(path).st_mode & 0o077 == 0
    assert os.stat(os.path.dirname(path)).st_mode & 0o077 == 0
    with open(path) as f:
        entry = json.load(f)
    assert entry["name"] == "p"
    assert set(entry) == {"version", "name", "token", "body_sha256",
                          "deadline_unix_ms"}
    with open(emu.key_file) as f:
        key = json.load(f)["private_key"]
    with open(path) as f:
        assert key[40:80] not in f.read()
    assert cp.wait(timeout=60) == 0
    assert journal_files(state) == []


def job_name(m, d):
    with open(m.job(d, "job.json")) as f:
        return json.load(f)["name"]


def relist(m, times=3):
    """A few listing passes (list_ttl is 0.3 s in tests)."""
    for _ in range(times):
        time.sleep(0.4)
        os.listdir(m.jobs)


def test_submitted_name_stays_bound_to_its_job(mount_fs, emu):
    """Two mounts submit the same name at about the same time: each keeps
    its own job as NAME and sees the other's as NAME~ID, listing after
    listing; a cancel through one mount's NAME/ctl cancels its own job."""
    emu.config(row_seconds=0.5)
    text = request_text(emu, n=40)
    a = mount_fs()
    b = mount_fs()
    os.mkdir(a.job("r"))
    os.mkdir(b.job("r"))
    with open(a.job("r", "request.json"), "w") as f:
        f.write(text)
    with open(b.job("r", "request.json"), "w") as f:
        f.write(text)  # the newer of the two
    ja, jb = job_name(a, "r"), job_name(b, "r")
    assert ja != jb
    ida, idb = ja.rsplit("/", 1)[1], jb.rsplit("/", 1)[1]
    for _ in range(3):
        relist(a, 1)
        relist(b, 1)
        assert job_name(a, "r") == ja
        assert job_name(b, "r") == jb
        assert job_name(a, "r~" + idb) == jb
        assert job_name(b, "r~" + ida) == ja
    with open(b.job("r", "ctl"), "w") as f:
        f.write("cancel\n")
    b.wait_state("r", ("JOB_STATE_CANCELLED",))
    assert emu.get_job(ja)["state"] != "JOB_STATE_CANCELLED"


def test_name_of_a_deleted_job_is_not_given_to_another(mnt, emu):
    """The oldest of jobs listed together gets NAME; when it is deleted,
    the other keeps NAME~ID for the life of the mount."""
    from lib.mounthelp import prompts, put_input
    src = put_input(emu, prompts(1))
    emu.config(time_scale=0)
    x = emu.create_job(src, "gs://bkt-in/out", display_name="d")
    time.sleep(0.01)
    y = emu.create_job(src, "gs://bkt-in/out", display_name="d")
    idy = y["name"].rsplit("/", 1)[1]
    relist(mnt, 1)
    assert job_name(mnt, "d") == x["name"]
    assert job_name(mnt, "d~" + idy) == y["name"]
    st = emu.request("DELETE", "/v1/" + x["name"])[0]
    assert st == 200, st
    deadline = time.time() + 10
    while "d" in os.listdir(mnt.jobs):
        assert time.time() < deadline
        time.sleep(0.1)
    relist(mnt)
    assert "d" not in os.listdir(mnt.jobs)
    assert job_name(mnt, "d~" + idy) == y["name"]


def test_symlink_link_and_mknod_are_eperm(mnt, emu):
    os.mkdir(mnt.job("draft"))
    with open(mnt.job("draft", "request.json"), "w"):
        pass
    for where in (mnt.jobs, mnt.job("draft"), mnt.path):
        with pytest.raises(OSError) as ei:
            os.symlink("x", os.path.join(where, "l"))
        assert ei.value.errno == errno.EPERM
        with pytest.raises(OSError) as ei:
            os.mkfifo(os.path.join(where, "f"))
        assert ei.value.errno == errno.EPERM
    with pytest.raises(OSError) as ei:
        os.link(mnt.job("draft", "request.json"), mnt.job("draft", "h"))
    assert ei.value.errno == errno.EPERM
    # Asked again: the kernel did not turn it into a remembered ENOSYS.
    with pytest.raises(OSError) as ei:
        os.symlink("x", os.path.join(mnt.jobs, "l"))
    assert ei.value.errno == errno.EPERM


def test_input_jsonl_after_acceptance_is_eperm_to_write(mount_fs, emu):
    """Right after the submit (while the kernel may still know the name)
    and later: writing input.jsonl is EPERM, reading it ENOENT."""
    emu.make_bucket("stage")
    emu.make_bucket("bkt-out")
    m = mount_fs(staging="gs://stage/pre", attr_timeout=5, entry_timeout=5)
    os.mkdir(m.job("i"))
    with open(m.job("i", "input.jsonl"), "w") as f:
        f.write('{"request":{"contents":[1]}}\n')
    os.stat(m.job("i", "input.jsonl"))
    with open(m.job("i", "request.json"), "w") as f:
        f.write(json.dumps({"model": "gemini-2.5-flash",
                            "dest": "gs://bkt-out/i/"}))
    for _ in range(2):
        with pytest.raises(OSError) as ei:
            open(m.job("i", "input.jsonl"), "w")
        assert ei.value.errno == errno.EPERM
        with pytest.raises(OSError) as ei:
            os.open(m.job("i", "input.jsonl"), os.O_WRONLY | os.O_APPEND)
        assert ei.value.errno in (errno.EPERM, errno.ENOENT)
        with pytest.raises(OSError) as ei:
            open(m.job("i", "input.jsonl"))
        assert ei.value.errno == errno.ENOENT
        time.sleep(1.2)


@pytest.mark.parametrize("listed_first", [True, False])
def test_own_job_deleted_elsewhere_goes_within_list_ttl(mount_fs, emu,
                                                        listed_first):
    emu.config(time_scale=0)
    m = mount_fs(list_ttl=1)
    os.mkdir(m.job("own"))
    with open(m.job("own", "request.json"), "w") as f:
        f.write(request_text(emu))
    name = job_name(m, "own")
    emu.wait_job(name)  # a running job cannot be deleted
    if listed_first:
        relist(m, 4)
        assert "own" in os.listdir(m.jobs)
    st = emu.request("DELETE", "/v1/" + name)[0]
    assert st == 200, st
    deadline = time.time() + 1 + 3  # list_ttl, and room for a slow machine
    while "own" in os.listdir(m.jobs):
        assert time.time() < deadline, "deleted job still listed"
        time.sleep(0.1)
    with pytest.raises(FileNotFoundError):
        os.stat(m.job("own", "state"))


def test_rotated_key_file_is_read_again(mnt, emu):
    """The key is rotated (the old one refused) and the file replaced in
    place: the mount goes on without a remount."""
    emu.config(require_auth=True)
    os.mkdir(mnt.job("k"))
    key = mnt.argv[3].split("credentials=")[1].split(",")[0]
    emu.control("POST", "keys:rotate")
    emu.control("POST", "tokens:expire")
    time.sleep(0.4)
    with pytest.raises(OSError) as ei:
        os.listdir(mnt.jobs)  # the old key is refused
    assert ei.value.errno == errno.EACCES
    tmp = key + ".new"
    with open(emu.key_file) as src, open(tmp, "w") as dst:
        dst.write(src.read())
    os.chmod(tmp, 0o600)
    os.replace(tmp, key)
    time.sleep(0.4)
    assert "k" in os.listdir(mnt.jobs)


def read_tree(root):
    n = 0
    for d, _, files in os.walk(root):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                fh.read()
            n += 1
    return n


def gcs_requests(emu):
    return sum(v for k, v in emu.counters()["routes"].items()
               if k.startswith("gcs."))


def test_walking_many_finished_jobs_twice_costs_one_pass(mount_fs, emu):
    """A find | xargs cat over more jobs than the results cache held (64):
    each job's results are computed once, and a second walk makes no
    Cloud Storage request."""
    n = 100
    emu.make_bucket("bulk-bucket")
    emu.control("POST", "jobs:bulk", {"count": n})
    m = mount_fs(list_ttl=3600)
    before = gcs_requests(emu)
    files = read_tree(m.jobs)
    first = gcs_requests(emu) - before
    assert files >= n * 8
    assert first <= 3 * n, first
    before = gcs_requests(emu)
    assert read_tree(m.jobs) == files
    assert gcs_requests(emu) - before == 0


def test_ctrl_c_ends_the_wait_for_an_earlier_create(mount_fs, emu, tmp_path):
    state = str(tmp_path / "state")
    text = request_text(emu)
    src = tmp_path / "request.json"
    src.write_text(text)
    emu.fault(method="POST", path="batchPredictionJobs$", kind="stall",
              seconds=10)
    a = mount_fs(state_dir=state)
    os.mkdir(a.job("r"))
    cp = subprocess.Popen(["cp", str(src), a.job("r", "request.json")],
                          stderr=subprocess.PIPE)
    wait_for(lambda: fault_hits(emu) == 1, 30, "the create POST")
    crash(a)
    cp.wait(timeout=30)
    b = mount_fs(state_dir=state)
    os.mkdir(b.job("r"))
    t0 = time.time()
    r = subprocess.run(["timeout", "-s", "INT", "2", "cp", str(src),
                        b.job("r", "request.json")], stderr=subprocess.PIPE)
    assert r.returncode != 0
    assert time.time() - t0 < 15
    assert len(journal_files(state)) == 1  # still unresolved
    # Let the stalled create land before the emulator is reset.
    wait_for(lambda: jobs_created(emu) == 1, 30, "the stalled create")
