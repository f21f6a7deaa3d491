"""Runs tests/pipeline/legacy.sh: a shell pipeline that stages input,
submits, waits, matches answers to prompts and retries the failed rows,
touching the mount with coreutils only."""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def test_legacy_pipeline(mount_fs, emu_any, tmp_path):
    # also against the unkind side of every unknown: rows without keys,
    # partial files left beside the final one, ...
    emu = emu_any
    emu.make_bucket("stage")
    mnt = mount_fs(staging="gs://stage/legacy")
    out = subprocess.run(["sh", os.path.join(HERE, "legacy.sh"), mnt.path,
                          str(tmp_path / "work")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith("legacy: OK"), out.stdout
    # the failed rows went through retry: two jobs, nothing more
    assert emu.counters()["jobs_created"] == 2
