"""Scripted fault rules (POST /_emulator/faults) and their matching.

A rule applies to requests whose method matches (if given) and whose
path+query matches the regex `path` (re.search). `times` counts hits
(-1 = forever). The server consults the first matching rule per request.
Requests made by the emulator's own job runner are exempt unless the rule
sets "internal": true.
"""
import re
import threading

from .util import ApiError

KINDS = {"status", "reset", "stall", "stall_body", "truncate", "ignore_range",
         "wrong_range", "slow", "lose_response"}
# Kinds that only make sense for responses with a body or a range; a rule of
# such a kind is consumed only by requests it can affect.
RANGE_KINDS = {"ignore_range", "wrong_range"}


class Rule:
    def __init__(self, rid, spec):
        self.id = rid
        self.spec = dict(spec)
        self.kind = spec.get("kind")
        if self.kind not in KINDS:
            raise ApiError(400, "unknown fault kind %r (one of %s)" %
                           (self.kind, ", ".join(sorted(KINDS))))
        self.method = (spec.get("method") or "").upper() or None
        try:
            self.regex = re.compile(spec.get("path") or "")
        except re.error as e:
            raise ApiError(400, "bad fault path regex: %s" % e)
        self.times = int(spec.get("times", 1))
        self.internal = bool(spec.get("internal", False))
        self.hits = 0

    def get(self, key, default=None):
        return self.spec.get(key, default)

    def as_json(self):
        d = dict(self.spec)
        d["id"] = self.id
        d["hits"] = self.hits
        d["remaining"] = self.times
        return d


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.next_id = 1

    def add(self, spec):
        if not isinstance(spec, dict):
            raise ApiError(400, "fault rule must be a JSON object")
        with self.lock:
            rule = Rule(self.next_id, spec)
            self.next_id += 1
            self.rules.append(rule)
            return rule.id

    def clear(self):
        with self.lock:
            self.rules = []

    def list(self):
        with self.lock:
            return [r.as_json() for r in self.rules]

    def match(self, method, target, internal=False, ranged=False):
        """Returns the rule to apply to this request (consuming one hit)."""
        with self.lock:
            for rule in self.rules:
                if rule.times == 0:
                    continue
                if internal and not rule.internal:
                    continue
                if rule.method and rule.method != method:
                    continue
                if not rule.regex.search(target):
                    continue
                if rule.kind in RANGE_KINDS and not ranged:
                    continue
                if rule.times > 0:
                    rule.times -= 1
                rule.hits += 1
                return rule
        return None
