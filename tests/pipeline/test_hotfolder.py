"""Runs tests/pipeline/hotfolder.sh: a cron-style pipeline that drops
batches into inbox/ with cp and polls outbox/ with test -e, knowing nothing
of jobs/ (README.md "Pipelines")."""
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "hotfolder.sh")


def test_hotfolder_pipeline(mount_fs, emu_any, tmp_path):
    # also against the unkind side of every unknown (rows echo no key, ...)
    emu = emu_any
    emu.make_bucket("stage")
    mnt = mount_fs(staging="gs://stage/hot", model="gemini-2.5-flash")
    env = dict(os.environ, POLL="0.2", TRIES="300")
    out = subprocess.run(["sh", SCRIPT, mnt.path, str(tmp_path / "work")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith("hotfolder: OK"), out.stdout
    # two batches submitted; the bad file was refused before any create
    assert emu.counters()["jobs_created"] == 2
    # consumed: both hidden from outbox/, the jobs untouched
    assert os.listdir(os.path.join(mnt.path, "outbox")) == []
    assert len([n for n in os.listdir(mnt.jobs) if n.startswith("hot-")]) == 2


def test_hotfolder_script_knows_no_job_tree():
    # the point of the hot folder: the script needs nothing but inbox/ and
    # outbox/, and no tool but cp, test -e, rm and a polling loop on them
    code = [l for l in open(SCRIPT) if not l.lstrip().startswith("#")]
    text = "".join(code)
    assert "jobs/" not in text and "/wait" not in text
    tools = set()
    for line in code:
        if '"$MNT/' in line:
            words = [w for w in line.split() if w not in ("if", "while", "!")]
            if words[0] != "fail":  # the script's own message function
                tools.add(words[0])
            tools.update(re.findall(r'\$\((\w+) "\$MNT/', line))
    assert tools == {"cp", "test", "rm", "cat"}, tools
