"""Randomized soak: concurrent readers and submitters on one mount while
fault rules (times=1) are added continuously, drawn at random from every
fault kind the emulator has, against every route the daemon uses.

BATCHFS_SOAK_SECONDS (default 45) bounds the faulty phase; the seed is
printed at the start and BATCHFS_SOAK_SEED replays it (the interleaving of
threads is not replayed, the fault sequence and the operation mix are).

Checks at the end: every successful read byte-exact (sha256 against the
emulator's object) and every state/listing sane; every failure a promised
errno; no operation past its per-op timeout (a hang); every submit that
returned 0 made exactly one job, every failed one at most one, and after the
faults stop each failed draft, submitted again, ends with exactly one job;
jobs_created equals the number of jobs; the daemon still serves, unmounts
by itself, and its stderr has no sanitizer report (mounthelp.Mount.stop).
"""
import json
import os
import random
import threading
import time

from lib.faultlib import (TOKEN_ERRNOS, Hang, bulk, ename, jobs_named,
                      list_jobs, object_path, request_json, run, sha)
from lib.mounthelp import Mount

MiB = 1 << 20
OP_TIMEOUT = 130      # documented: a call 60 s + a token fetch 60 s
SUBMIT_TIMEOUT = 220  # create: 150 s + token fetch 60 s
READERS = 4
SUBMITTERS = 2

# Routes of the daemon: (method, path regex, kinds that apply).
BODY = ["status", "status_ra", "429", "429_ra", "reset", "stall",
        "stall_body", "truncate", "slow"]
ROUTES = [
    ("POST", r"batchPredictionJobs$", BODY + ["lost_503", "lost_reset"]),
    ("GET", r"batchPredictionJobs/\d+($|\?)", BODY),
    ("GET", r"batchPredictionJobs\?", BODY),
    ("GET", r"alt=media", BODY + ["ignore_range", "wrong_range"]),
    ("GET", r"/storage/v1/b/[^/]+/o\?", BODY),
    ("POST", r"^/token", BODY + ["token_down"]),
]


def draw_rule(rng):
    method, path, kinds = rng.choice(ROUTES)
    k = rng.choice(kinds)
    r = {"method": method, "path": path, "times": 1}
    if k == "status":
        r.update(kind="status", status=rng.choice([500, 502, 503, 504]))
    elif k == "status_ra":
        r.update(kind="status", status=503, retry_after=1)
    elif k == "429":
        r.update(kind="status", status=429)
    elif k == "429_ra":
        r.update(kind="status", status=429, retry_after=1)
    elif k == "reset":
        r.update(kind="reset")
    elif k == "stall":
        r.update(kind="stall", seconds=round(rng.uniform(0.5, 2.5), 1))
    elif k == "stall_body":
        r.update(kind="stall_body", seconds=round(rng.uniform(0.5, 2), 1),
                 after_bytes=rng.choice([1, 100, 65536, MiB]))
    elif k == "truncate":
        r.update(kind="truncate", after_bytes=rng.choice([0, 10, 5000, MiB]))
    elif k == "slow":
        # Media reads go at >= 1 MiB/s so that one read does not take the
        # whole 60 s budget (the matrix has the deadline cases).
        r.update(kind="slow", bytes_per_second=rng.choice(
            [MiB, 4 * MiB] if "media" in path else [2000, 200000, 4 * MiB]))
    elif k in ("ignore_range", "wrong_range"):
        r.update(kind=k)
    elif k == "lost_503":
        r.update(kind="lose_response", status=503)
    elif k == "lost_reset":
        r.update(kind="lose_response", reset=True)
    elif k == "token_down":
        r.update(kind="status", status=503, times=rng.randint(2, 6))
    return r


class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.problems = []
        self.counts = {}
        self.submits = {}   # draft name -> list of cp rc

    def count(self, what):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def problem(self, msg):
        with self.lock:
            self.problems.append(msg)


def allowed_failure(log, what, rc, err, eno):
    if eno in TOKEN_ERRNOS:
        log.count(what + " failed " + ename(eno))
        return
    log.problem("%s: rc %d errno %s not promised: %s" % (
        what, rc, ename(eno), err.strip()[-200:]))


def test_soak(femu, fbuild_dir, tmp_path, capsys):
    seed = int(os.environ.get("BATCHFS_SOAK_SEED") or
               random.SystemRandom().randrange(1 << 32))
    secs = float(os.environ.get("BATCHFS_SOAK_SECONDS", "45"))
    with capsys.disabled():
        print("\nsoak: seed %d (BATCHFS_SOAK_SEED=%d to replay), %.0f s, "
              "%d readers, %d submitters" % (seed, seed, secs, READERS,
                                             SUBMITTERS), flush=True)
    master = random.Random(seed)
    e = femu
    e.reset()
    e.config(require_auth=True)
    e.make_bucket("bulk-bucket")
    e.make_bucket("bkt-in")
    e.make_bucket("bkt-out")
    rows = "".join(json.dumps({"key": "k%d" % i, "request": {"contents": [
        {"role": "user", "parts": [{"text": "soak %d" % i}]}]}}) + "\n"
        for i in range(3)).encode()
    e.put_object("bkt-in", "in/input.jsonl", rows)
    req_file = str(tmp_path / "request.json")
    with open(req_file, "w") as f:
        f.write(request_json("gs://bkt-in/in/input.jsonl", "gs://bkt-out/out"))
    out_id = bulk(e, "out", 1, "JOB_STATE_SUCCEEDED")[0]
    gdir = e.get_job(out_id)["outputInfo"]["gcsOutputDirectory"]
    objects = {}
    for i, size in enumerate([3 * MiB, 5 * MiB + 17, 700 * 1024]):
        data = master.randbytes(size)
        e.put_object(*object_path(gdir, "o%d.bin" % i), data)
        objects["o%d.bin" % i] = (sha(data), data)
    bulk(e, "run", 3, "JOB_STATE_RUNNING")
    base_jobs = len(list_jobs(e))
    created0 = e.counters().get("jobs_created", 0)

    workdir = tmp_path / "m"
    workdir.mkdir()
    # direct_io: every read reaches the daemon (no page cache to hide
    # faults behind), as it does for running jobs' objects.
    m = Mount(e, fbuild_dir, str(workdir),
              {"refresh": "0.3", "list_ttl": "0.3", "direct_io": True})
    m.start()
    log = Log()
    stop = threading.Event()

    def reader(rng):
        while not stop.is_set():
            what = rng.choice(["output", "output", "state", "listing"])
            try:
                if what == "output":
                    name = rng.choice(sorted(objects))
                    rc, out, err, eno, ms = run(
                        ["cat", m.job("out0", "output", name)], OP_TIMEOUT)
                    want, data = objects[name]
                    if rc == 0:
                        if sha(out) != want:
                            log.problem("cat %s: %d bytes, wrong content" % (
                                name, len(out)))
                        log.count("output ok")
                    else:
                        if not data.startswith(out):
                            log.problem("failed cat %s gave wrong bytes" %
                                        name)
                        allowed_failure(log, "output", rc, err, eno)
                elif what == "state":
                    job = rng.choice(["run0", "run1", "run2", "out0"])
                    rc, out, err, eno, ms = run(
                        ["cat", m.job(job, "state")], OP_TIMEOUT)
                    if rc == 0:
                        if not out.startswith(b"JOB_STATE_"):
                            log.problem("state of %s: %r" % (job, out))
                        log.count("state ok")
                    else:
                        allowed_failure(log, "state", rc, err, eno)
                else:
                    rc, out, err, eno, ms = run(["ls", "-l", m.jobs],
                                                OP_TIMEOUT)
                    if rc == 0:
                        names = out.decode().split()
                        if "out0" not in names or "run0" not in names:
                            log.problem("listing lost jobs: %r" % out[:300])
                        log.count("listing ok")
                    else:
                        allowed_failure(log, "listing", rc, err, eno)
            except Hang as exc:
                log.problem("hang: %s" % exc)

    def submitter(tid, rng):
        n = 0
        while not stop.is_set():
            name = "soak-%d-%d" % (tid, n)
            n += 1
            try:
                rc, _, err, eno, _ = run(["mkdir", m.job(name)], OP_TIMEOUT)
                if rc != 0:
                    allowed_failure(log, "mkdir", rc, err, eno)
                    continue
                rc, _, err, eno, _ = run(
                    ["cp", req_file, m.job(name, "request.json")],
                    SUBMIT_TIMEOUT)
                with log.lock:
                    log.submits[name] = [rc]
                if rc == 0:
                    log.count("submit ok")
                else:
                    allowed_failure(log, "submit", rc, err, eno)
            except Hang as exc:
                log.problem("hang: %s" % exc)
            time.sleep(rng.uniform(0, 0.3))

    def injector(rng):
        while not stop.is_set():
            rule = draw_rule(rng)
            # Now and then a burst of the same times=1 rule, so that some
            # operations run out of retries and fail (and failed drafts
            # get retried at the end).
            burst = 5 if rng.random() < 0.05 else 1
            for _ in range(burst):
                e.fault(**rule)
            log.count("fault " + rule["kind"])
            if burst > 1:
                log.count("bursts")
            if rule["path"] == r"^/token" and rng.random() < 0.5:
                e.control("POST", "tokens/expire")
                log.count("tokens expired")
            stop.wait(rng.uniform(0.1, 0.6))

    threads = [threading.Thread(target=reader,
                                args=(random.Random(master.random()),))
               for _ in range(READERS)]
    threads += [threading.Thread(target=submitter,
                                 args=(i, random.Random(master.random())))
                for i in range(SUBMITTERS)]
    threads.append(threading.Thread(target=injector,
                                    args=(random.Random(master.random()),)))
    t0 = time.monotonic()
    for t in threads:
        t.start()
    try:
        time.sleep(secs)
    finally:
        stop.set()
        for t in threads:
            t.join(SUBMIT_TIMEOUT + 30)
        e.clear_faults()
    hung = [t for t in threads if t.is_alive()]
    assert not hung, "%d worker threads still running" % len(hung)
    faulty_s = time.monotonic() - t0

    try:
        # Submits: exactly one job per accepted draft; failed drafts are
        # submitted again now that the faults are gone.
        retried = 0
        for name, rcs in sorted(log.submits.items()):
            jobs = jobs_named(e, name)
            if rcs[0] == 0:
                if len(jobs) != 1:
                    log.problem("submit %s returned 0, %d jobs" % (
                        name, len(jobs)))
                continue
            if len(jobs) > 1:
                log.problem("failed submit %s made %d jobs" % (name, len(jobs)))
            rc, _, err, eno, _ = run(["cp", req_file,
                                      m.job(name, "request.json")],
                                     SUBMIT_TIMEOUT)
            retried += 1
            if rc != 0:
                log.problem("retried submit %s: %s" % (name, err.strip()))
            jobs = jobs_named(e, name)
            if len(jobs) != 1:
                log.problem("draft %s ends with %d jobs after its retry" % (
                    name, len(jobs)))
        total = len(list_jobs(e))
        made = e.counters()["jobs_created"] - created0
        if made != total - base_jobs:
            log.problem("jobs_created %d but %d jobs were added" % (
                made, total - base_jobs))
        if made != len(log.submits):
            log.problem("%d drafts submitted, %d jobs created" % (
                len(log.submits), made))
        # Still serving: listing, state and an exact read.
        time.sleep(0.4)
        rc, out, err, _, _ = run(["ls", m.jobs], 60)
        assert rc == 0, err
        missing = {n for n in log.submits} - set(out.decode().split())
        if missing:
            log.problem("jobs/ does not show %s" % sorted(missing))
        for name, (want, _) in objects.items():
            rc, out, err, _, _ = run(["cat", m.job("out0", "output", name)],
                                     60)
            if rc != 0 or sha(out) != want:
                log.problem("after the soak, cat %s: rc %d %s" % (name, rc,
                                                                  err))
    finally:
        m.stop()   # unmounts; the daemon exits; no sanitizer report

    with capsys.disabled():
        print("soak: seed %d, %.1f s with faults, %d drafts (%d retried), "
              "%s" % (seed, faulty_s, len(log.submits), retried,
                      ", ".join("%s %d" % kv for kv in
                                sorted(log.counts.items()))), flush=True)
        for p in log.problems:
            print("soak problem: " + p, flush=True)
    assert not log.problems, "seed %d: %d problems, first: %s" % (
        seed, len(log.problems), log.problems[0])
    assert log.counts.get("output ok", 0) > 0 and \
        log.counts.get("submit ok", 0) > 0, log.counts
