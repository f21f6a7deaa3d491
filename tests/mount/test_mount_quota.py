"""Many running jobs watched under Vertex's request quota (SEMANTICS.md, Call budget): the
mount keeps its calls under its budget (-o vertex_rpm), serves the cache
(progress marked stale) while the budget is spent or the service answers
429, never fails a read because of the quota, and still shows a state
change within the documented bound (SEMANTICS.md, Consistency windows)."""
import os
import threading
import time

import pytest

STATES = {"JOB_STATE_RUNNING", "JOB_STATE_FAILED"}


def running_jobs(emu, n, prefix="w"):
    ids = emu.control("POST", "jobs:bulk", {
        "count": n, "state": "JOB_STATE_RUNNING",
        "display_name_prefix": prefix})["ids"]
    return ["%s%d" % (prefix, i) for i in range(n)], ids


def vertex_calls(emu):
    return sum(v for k, v in emu.counters()["routes"].items()
               if k.startswith("vertex."))


class Watchers:
    """Threads reading state and progress of every job in turn, as a
    dashboard would; every failure and the slowest read are kept."""

    def __init__(self, m, names, threads=6, pause=0.05):
        self.m, self.names, self.pause = m, names, pause
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.reads = 0
        self.failed = []
        self.slowest = 0.0
        self.stale_seen = 0
        self.final_at = {}
        self.threads = [threading.Thread(target=self.run, args=(names[i::threads],),
                                         daemon=True) for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, part):
        while not self.stop.is_set():
            for name in part:
                for f in ("state", "progress"):
                    t0 = time.monotonic()
                    try:
                        text = self.m.read(name, f)
                        err = None
                    except OSError as e:
                        text, err = "", e
                    dt = time.monotonic() - t0
                    with self.lock:
                        self.reads += 1
                        self.slowest = max(self.slowest, dt)
                        if err is not None:
                            self.failed.append("%s/%s: %r" % (name, f, err))
                            continue
                        word = text.split()[0] if text.split() else ""
                        if word not in STATES:
                            self.failed.append("%s/%s: %r" % (name, f, text))
                        if " stale=" in text:
                            self.stale_seen += 1
                        if word == "JOB_STATE_FAILED":
                            self.final_at.setdefault(name, time.monotonic())
                if self.stop.wait(self.pause):
                    return

    def wait_final(self, name, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if name in self.final_at:
                    return self.final_at[name]
            time.sleep(0.05)
        return None

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a read hangs"


def wait_listed(m, names, timeout=30):
    deadline = time.time() + timeout
    while not set(names) <= set(os.listdir(m.jobs)):
        assert time.time() < deadline, "jobs/ does not list every job"
        time.sleep(0.2)


@pytest.mark.parametrize("rpm", ["0", "120"])
def test_watched_jobs_under_the_quota_no_read_fails(mount_fs, emu, rpm):
    """The service's quota (40 a minute) is far below what the watchers ask
    for: with no budget of its own (vertex_rpm=0) the mount lives on 429s,
    with the default one it meets them too. Either way every read gives a
    state, none waits out a back-off (old code: 429s retried for up to 60 s
    per read), and the quota is hit (the test does test something)."""
    names, _ = running_jobs(emu, 150)
    emu.config(crud_quota_per_minute=40)
    m = mount_fs(refresh="1", list_ttl="2", vertex_rpm=rpm)
    wait_listed(m, names)
    w = Watchers(m, names)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and emu.counters()["throttled"] < 1:
        time.sleep(0.5)
    time.sleep(8)  # and reads go on while throttled
    w.finish()
    assert emu.counters()["throttled"] >= 1
    assert w.failed == []
    assert w.reads > 300
    assert w.slowest < 10, "a read waited %.1f s" % w.slowest
    assert w.stale_seen > 0  # the cache was shown, and said so


def test_budget_holds(mount_fs, emu):
    """150 running jobs, refresh every 0.5 s asked for by 6 watchers: the
    mount makes at most its budget of 30 calls a minute (plus the burst of
    5 and the calls in flight), where the old code made one get per job
    and refresh (hundreds)."""
    names, ids = running_jobs(emu, 150)
    m = mount_fs(refresh="0.5", list_ttl="1", vertex_rpm="30")
    wait_listed(m, names)
    w = Watchers(m, names)
    time.sleep(3)
    c0, t0 = vertex_calls(emu), time.monotonic()
    time.sleep(30)
    c1, t1 = vertex_calls(emu), time.monotonic()
    w.finish()
    allowed = 30 * (t1 - t0) / 60 + 5 + 8
    assert c1 - c0 <= allowed, "%d Vertex calls in %.0f s" % (c1 - c0, t1 - t0)
    assert c1 - c0 >= 5  # it did refresh
    assert w.failed == []
    assert w.stale_seen > 0


def test_state_change_shows_within_the_bound(mount_fs, emu):
    """With the budget not spent, a change shows within `refresh` (plus the
    watchers' own pace and a loaded machine's slack); with it spent (a
    budget of 30 a minute against 150 jobs and refresh 0.5 s), within the
    spent-budget bound: refresh + (pages of the jobs/ listing + 2 x pages
    of the list of unfinished jobs + 1) x 60 / vertex_rpm = 0.5 + 5 x 2 s."""
    names, ids = running_jobs(emu, 150)
    m = mount_fs(refresh="2", list_ttl="10")
    wait_listed(m, names)
    w = Watchers(m, names)
    time.sleep(2)
    for i in (7, 77, 140):
        t0 = time.monotonic()
        emu.control("POST", "jobs/%s:finish" % ids[i], {"state": "JOB_STATE_FAILED"})
        seen = w.wait_final(names[i], 30)
        assert seen is not None, "%s never showed as finished" % names[i]
        assert seen - t0 <= 2 + 1 + 5, "shown after %.1f s" % (seen - t0)
    w.finish()
    assert w.failed == []

    names2, ids2 = running_jobs(emu, 150, prefix="s")
    m2 = mount_fs(refresh="0.5", list_ttl="1", vertex_rpm="30")
    wait_listed(m2, names2)
    w2 = Watchers(m2, names2)
    time.sleep(5)  # the budget is spent by now
    for i in (3, 99):
        t0 = time.monotonic()
        emu.control("POST", "jobs/%s:finish" % ids2[i], {"state": "JOB_STATE_FAILED"})
        seen = w2.wait_final(names2[i], 60)
        assert seen is not None, "%s never showed as finished" % names2[i]
        assert seen - t0 <= 0.5 + 5 * 2 + 5, "shown after %.1f s" % (seen - t0)
    w2.finish()
    assert w2.failed == []


def test_refused_list_of_unfinished_jobs_falls_back_to_gets(mount_fs, emu):
    """A service that does not take the filter (400) gets the list asked
    once; running jobs are then refreshed one get each, and a change still
    shows."""
    names, ids = running_jobs(emu, 5)
    f = emu.fault(method="GET", path=r"filter=state", kind="status", status=400,
                  times=-1)
    m = mount_fs(refresh="0.5", list_ttl="30")
    wait_listed(m, names)
    w = Watchers(m, names, threads=2)
    time.sleep(3)  # a few refresh intervals
    emu.control("POST", "jobs/%s:finish" % ids[2], {"state": "JOB_STATE_FAILED"})
    assert w.wait_final(names[2], 30) is not None
    w.finish()
    assert w.failed == []
    hits = [x["hits"] for x in emu.control("GET", "faults")["faults"]
            if x["id"] == f["id"]]
    assert hits == [1]
    assert emu.counters()["routes"].get("vertex.get", 0) >= 5
    assert "refreshed one by one" in m.stderr()
