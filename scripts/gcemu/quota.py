"""Vertex AI request quotas, as Google enforces them per project and region:
get/list/cancel/delete together ("CRUD") and create, each at most N in any
rolling minute. Past the limit a call is answered 429 RESOURCE_EXHAUSTED
without Retry-After (Google sends none for per-minute quotas). 0 = off.
"""
import collections
import threading
import time

from .util import ApiError

WINDOW = 60.0


class Quota:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.calls = {}  # (kind, project, location) -> deque of times
        self.throttled = 0

    def reset(self):
        with self.lock:
            self.calls = {}
            self.throttled = 0

    def reset_counters(self):
        with self.lock:
            self.throttled = 0

    def check(self, kind, project, location):
        """Counts one call of kind ("crud" or "create"); raises the 429
        when it is past the limit. A refused call does not count. Calls are
        counted with the quota off too, so turning it on sees the minute
        before."""
        limit = int(self.app.cfg.get("%s_quota_per_minute" % kind) or 0)
        now = time.monotonic()
        with self.lock:
            q = self.calls.setdefault((kind, project, location),
                                      collections.deque())
            while q and q[0] <= now - WINDOW:
                q.popleft()
            if 0 < limit <= len(q):
                self.throttled += 1
                over = True
            else:
                q.append(now)
                over = False
        if over:
            what = ("Job or LRO submission requests" if kind == "create"
                    else "Resource management (CRUD) requests")
            raise ApiError(
                429, "Quota exceeded for aiplatform.googleapis.com/%s per "
                "minute per region (%s, limit %d)." % (what, location, limit),
                "RESOURCE_EXHAUSTED")
