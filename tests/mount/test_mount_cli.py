"""The command line: a bad setup fails at the shell, options and help,
unmounting leaves no daemon."""
import os
import subprocess

from mounthelp import Mount


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
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_CLOUD_PROJECT"}
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
                "page_size=", "readahead=", "readahead_window=",
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
        assert sorted(os.listdir(str(mnt))) == ["README", "by-id", "jobs"]
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
