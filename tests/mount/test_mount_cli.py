"""The command line: a bad setup fails at the shell, options and help,
unmounting leaves no daemon."""
import os
import subprocess

import pytest

from lib.mounthelp import Mount


def run_batchfs(build_dir, *args, env=None, timeout=30):
    return subprocess.run([os.path.join(build_dir, "fs", "batchfs"), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_bad_credential_fails_the_mount_command(emu, build_dir, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "service_account", "client_email": "x@y", '
                   '"private_key": "not a key", "token_uri": "%s/token"}'
                   % emu.url)
    os.chmod(bad, 0o600)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_batchfs(build_dir, "-f", "-o",
                    "project=test-project,endpoint=%s,storage_endpoint=%s,"
                    "credentials=%s" % (emu.url, emu.url, bad), str(mnt))
    assert r.returncode != 0
    assert "batchfs:" in r.stderr and "credential" in r.stderr, r.stderr
    assert not os.path.ismount(str(mnt))


def test_rejected_credential_fails_the_mount_command(emu, build_dir, tmp_path):
    emu.config(require_auth=True)
    emu.fault(path="/token", kind="status", status=400, times=-1,
              body={"error": "invalid_grant",
                    "error_description": "Invalid JWT Signature."})
    key = tmp_path / "key.json"
    key.write_text(open(emu.key_file).read())
    os.chmod(key, 0o600)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_batchfs(build_dir, "-o",
                    "project=test-project,endpoint=%s,storage_endpoint=%s,"
                    "credentials=%s" % (emu.url, emu.url, key), str(mnt))
    emu.clear_faults()
    emu.config(require_auth=False)
    assert r.returncode != 0
    assert "cannot list batch prediction jobs" in r.stderr, r.stderr
    assert not os.path.ismount(str(mnt))


def test_missing_project_fails_with_hint(emu, build_dir, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT",
                        "CLOUDSDK_CORE_PROJECT")}
    # Not this machine's gcloud configuration either.
    env["CLOUDSDK_CONFIG"] = str(tmp_path / "gcloud")
    r = run_batchfs(build_dir, "-o", "no_auth,endpoint=%s" % emu.url,
                    str(mnt), env=env)
    assert r.returncode != 0
    assert "project" in r.stderr


def test_unreachable_endpoint_fails(build_dir, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_batchfs(build_dir, "-o", "project=p,no_auth,"
                    "endpoint=http://127.0.0.1:9", str(mnt), timeout=120)
    assert r.returncode != 0
    assert "endpoint" in r.stderr


def test_help_lists_every_option(build_dir):
    r = run_batchfs(build_dir, "-h")
    assert r.returncode == 0
    for opt in ("project=", "location=", "endpoint=", "storage_endpoint=",
                "credentials=", "token_file=", "no_auth", "refresh=",
                "list_ttl=", "attr_timeout=", "entry_timeout=",
                "negative_timeout=", "final_timeout=", "max_request=",
                "page_size=", "vertex_rpm=", "readahead=", "readahead_window=",
                "results_cache=",
                "direct_io", "loglevel=", "_netdev", "us-central1"):
        assert opt in r.stdout, opt
    r = run_batchfs(build_dir, "-V")
    assert r.returncode == 0 and "batchfs version" in r.stdout


def test_fstab_options_env_fallbacks_and_fsname(emu, build_dir, tmp_path):
    key = tmp_path / "key.json"
    key.write_text(open(emu.key_file).read())
    os.chmod(key, 0o600)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = dict(os.environ, GOOGLE_CLOUD_PROJECT="test-project",
               GOOGLE_CLOUD_LOCATION="europe-west4",
               GOOGLE_APPLICATION_CREDENTIALS=str(key),
               STORAGE_EMULATOR_HOST=emu.url)
    # Daemonized (no -f): the command returns once mounted.
    r = run_batchfs(build_dir, "-o", "endpoint=%s,_netdev,nofail,noauto,"
                    "user,users,nouser,auto" % emu.url, str(mnt), env=env)
    assert r.returncode == 0, r.stderr
    try:
        assert os.path.ismount(str(mnt))
        with open("/proc/self/mountinfo") as f:
            line = [l for l in f if " %s " % mnt in l][0]
        assert "fuse.batchfs" in line
        assert "batchfs:test-project/europe-west4" in line
        assert sorted(os.listdir(str(mnt))) == ["README", "by-id", "jobs", "outbox"]
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], check=True)
    # No daemon left behind.
    out = subprocess.run(["pgrep", "-f", "batchfs.*%s" % mnt],
                         capture_output=True, text=True).stdout
    for _ in range(50):
        if not out.strip():
            break
        import time
        time.sleep(0.1)
        out = subprocess.run(["pgrep", "-f", "batchfs.*%s" % mnt],
                             capture_output=True, text=True).stdout
    assert out.strip() == "", "daemon still running: " + out


def test_unmount_leaves_no_daemon(emu, build_dir, tmp_path):
    m = Mount(emu, build_dir, str(tmp_path), {})
    m.start()
    pid = m.proc.pid
    os.listdir(m.jobs)
    m.stop()  # fusermount3 -u; the daemon must exit by itself
    assert not os.path.exists("/proc/%d" % pid) or \
        open("/proc/%d/stat" % pid).read().split()[2] == "Z"


def test_version_names_batchfs_first_then_its_libraries(build_dir):
    r = run_batchfs(build_dir, "-V")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("batchfs version "), lines
    text = "\n".join(lines[1:4])
    assert "libfuse version 3." in text
    assert "libcurl version " in text
    assert "OpenSSL " in text


def test_mistyped_option_fails_in_one_line_before_the_network(build_dir,
                                                               tmp_path):
    """The endpoint is unreachable: were it tried first, the error would
    be a transport error after seconds of retries, not the option."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_batchfs(build_dir, "-o", "project=p,no_auth,"
                    "endpoint=http://127.0.0.1:9,"
                    "storage_endpoint=http://127.0.0.1:9,refrehs=1",
                    str(mnt), timeout=120)
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1, r.stderr
    assert "refrehs=1" in r.stderr and r.stderr.startswith("batchfs: ")
    assert "127.0.0.1" not in r.stderr


def test_bad_log_format_and_extra_argument_fail_at_once(build_dir, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_batchfs(build_dir, "-o", "project=p,no_auth,log_format=xml",
                    str(mnt))
    assert r.returncode != 0 and "log_format" in r.stderr
    r = run_batchfs(build_dir, "-o", "project=p,no_auth", "batchfs",
                    str(mnt), "/x")
    assert r.returncode != 0 and "unexpected argument" in r.stderr
    r = run_batchfs(build_dir, "-o", "project=p,no_auth", "sshfs#h:",
                    str(mnt))
    assert r.returncode != 0 and "SOURCE must be" in r.stderr


def test_source_argument_as_mount_fuse3_passes_it(emu, build_dir, tmp_path):
    """mount -t fuse.batchfs (through mount.fuse3) runs
    `batchfs SOURCE MOUNTPOINT -o OPTS`; batchfs:PROJECT/LOCATION gives
    the project and location."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION")}
    r = run_batchfs(build_dir, "batchfs:test-project/europe-west4",
                    str(mnt), "-o", "rw,nosuid,nodev,no_auth,endpoint=%s,"
                    "storage_endpoint=%s" % (emu.url, emu.url), env=env)
    assert r.returncode == 0, r.stderr
    try:
        with open("/proc/self/mountinfo") as f:
            line = [l for l in f if " %s " % mnt in l][0]
        assert "batchfs:test-project/europe-west4" in line
        assert sorted(os.listdir(str(mnt))) == ["README", "by-id", "jobs", "outbox"]
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], check=True)


def test_log_file_json_records(emu, mount_fs, tmp_path):
    log = tmp_path / "batchfs.log"
    m = mount_fs(no_auth=True, credentials=None, loglevel="info",
                 log_file=str(log), log_format="json")
    os.listdir(m.jobs)
    import json
    import time
    deadline = time.time() + 30
    while True:
        lines = log.read_text().splitlines() if log.exists() else []
        recs = [json.loads(l) for l in lines]
        if any("serving" in r["msg"] for r in recs):
            break
        assert time.time() < deadline, lines
        time.sleep(0.05)
    for r in recs:
        assert set(r) == {"time", "level", "pid", "tid", "msg"}, r
        assert r["level"] in ("error", "warn", "info", "debug")
        assert r["time"].endswith("Z")
    # the file got the records, not stderr
    assert "serving" not in m.stderr()


@pytest.mark.parametrize("abstract", [False, True])
def test_sd_notify_ready_once_mounted(emu, build_dir, tmp_path, abstract):
    """As under systemd Type=notify: READY=1 arrives on $NOTIFY_SOCKET once
    the mount is there."""
    import socket
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = "@batchfs-test-%d-%d" % (os.getpid(), id(tmp_path))
        sock.bind("\0" + name[1:])
    else:
        name = str(tmp_path / "notify")
        sock.bind(name)
    sock.settimeout(60)
    m = Mount(emu, build_dir, str(tmp_path), {})
    m.argv = list(m.argv)
    env = dict(os.environ, NOTIFY_SOCKET=name)
    m.err = open(m.stderr_path, "ab")
    m.proc = subprocess.Popen(m.argv, stdout=m.err, stderr=m.err, env=env)
    try:
        msg = sock.recv(4096).decode()
        fields = dict(l.split("=", 1) for l in msg.splitlines())
        assert fields["READY"] == "1", msg
        assert fields["MAINPID"] == str(m.proc.pid)
        assert os.path.ismount(m.path)
        assert sorted(os.listdir(m.path)) == ["README", "by-id", "jobs", "outbox"]
    finally:
        m.stop()
        sock.close()
