"""Concurrency: listings, renders, refreshes, submissions and deletions
running at once must neither crash the daemon nor confuse it (run it under
the ASan build: BUILD=build-asan SANITIZE=1 scripts/test)."""
import json
import os
import threading
import time

from lib.mounthelp import jobs_created, put_input, prompts, request_body


def test_concurrent_use(mount_fs, emu):
    emu.config(time_scale=0)
    src = put_input(emu, prompts(2))
    for i in range(8):
        emu.create_job(src, "gs://bkt-in/o%d" % i, display_name="s%d" % (i % 3))
    # Refreshes every 50 ms on purpose: the call budget (tested in
    # test_mount_quota) would hold them to 2 a second and starve d1.
    m = mount_fs(page_size=3, refresh=0.05, list_ttl=0.05, vertex_rpm=0)
    errors = []
    stop = threading.Event()

    def guard(fn):
        def run():
            try:
                while not stop.is_set():
                    fn()
            except Exception as exc:  # reported below
                errors.append(exc)
        return run

    def quiet(fn, *a):
        try:
            return fn(*a)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return None

    def readers():
        for d in quiet(os.listdir, m.jobs) or []:
            for f in ("state", "progress", "job.json", "error"):
                quiet(lambda p: open(p).read(), m.job(d, f))
            for o in quiet(os.listdir, m.job(d, "output")) or []:
                quiet(lambda p: open(p, "rb").read(), m.job(d, "output", o))

    def refreshers():
        for d in quiet(os.listdir, m.jobs) or []:
            if d.startswith("s"):
                quiet(lambda p: open(p, "w").write("refresh"), m.job(d, "ctl"))

    def listers():
        for d in quiet(os.listdir, m.jobs) or []:
            quiet(os.listdir, m.job(d))

    threads = [threading.Thread(target=guard(f))
               for f in (readers, readers, refreshers, listers)]
    for t in threads:
        t.start()
    try:
        for k in range(10):
            os.mkdir(m.job("d%d" % k))
            with open(m.job("d%d" % k, "request.json"), "w") as f:
                f.write(json.dumps(request_body(src, "gs://bkt-in/d%d" % k)))
        for k in range(10):
            m.wait_state("d%d" % k)
            os.rmdir(m.job("d%d" % k))
        time.sleep(2)  # keep the readers going over the settled tree
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    assert jobs_created(emu) == 18
    names = os.listdir(m.jobs)
    assert len(names) == 8
    assert {"s0", "s1", "s2"} <= set(names)
