"""The AIP-160 list-filter subset batchPredictionJobs.list understands.

Grammar (case-sensitive keywords, implicit AND between terms):
    expr   := and ("OR" and)*
    and    := unary (["AND"] unary)*
    unary  := ("NOT" | "-") unary | "(" expr ")" | comparison
    comparison := field op value
    field  := name ("." name)*        (display_name, state, create_time,
                                       update_time, start_time, end_time,
                                       model_display_name, labels.KEY, model)
    op     := "=" | "!=" | ":" | "<" | "<=" | ">" | ">="
    value  := "quoted string" | bare-word | *
compile(text) returns a predicate over job dicts (the API JSON), raising
ValueError with a message for the 400 reply.
"""
import fnmatch
import re

from .util import parse_rfc3339

TOKEN_RE = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|(<=|>=|!=|=|<|>|:)|'
                      r"('(?:[^'\\]|\\.)*')|([^\s()=!<>:\"]+))")

FIELDS = {
    "display_name": "displayName", "displayName": "displayName",
    "state": "state", "create_time": "createTime", "createTime": "createTime",
    "update_time": "updateTime", "updateTime": "updateTime",
    "start_time": "startTime", "startTime": "startTime",
    "end_time": "endTime", "endTime": "endTime",
    "model_display_name": "modelDisplayName",
    "modelDisplayName": "modelDisplayName", "model": "model",
    "name": "name",
}
TIME_FIELDS = {"createTime", "updateTime", "startTime", "endTime"}


def tokenize(text):
    toks = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError("Invalid filter: unexpected character at %d in %r"
                             % (pos, text))
        pos = m.end()
        if m.group(1):
            toks.append(("(", "("))
        elif m.group(2):
            toks.append((")", ")"))
        elif m.group(3) or m.group(5):
            s = (m.group(3) or m.group(5))[1:-1]
            toks.append(("str", re.sub(r"\\(.)", r"\1", s)))
        elif m.group(4):
            toks.append(("op", m.group(4)))
        elif m.group(6):
            toks.append(("word", m.group(6)))
    return toks


class Parser:
    def __init__(self, toks, strict=False):
        self.toks = toks
        self.i = 0
        self.strict = strict

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def parse(self):
        if not self.toks:
            return lambda job: True
        e = self.expr()
        if self.i != len(self.toks):
            raise ValueError("Invalid filter: unexpected %r" % (self.peek()[1],))
        return e

    def expr(self):
        terms = [self.and_()]
        while self.peek() == ("word", "OR"):
            self.take()
            terms.append(self.and_())
        if len(terms) == 1:
            return terms[0]
        return lambda job: any(t(job) for t in terms)

    def and_(self):
        terms = [self.unary()]
        while True:
            k, v = self.peek()
            if k is None or k == ")" or (k, v) == ("word", "OR"):
                break
            if (k, v) == ("word", "AND"):
                self.take()
            terms.append(self.unary())
        if len(terms) == 1:
            return terms[0]
        return lambda job: all(t(job) for t in terms)

    def unary(self):
        k, v = self.peek()
        if (k, v) == ("word", "NOT") or (k == "word" and v == "-"):
            self.take()
            inner = self.unary()
            return lambda job: not inner(job)
        if k == "word" and v.startswith("-") and len(v) > 1:
            self.toks[self.i] = ("word", v[1:])
            inner = self.unary()
            return lambda job: not inner(job)
        if k == "(":
            self.take()
            e = self.expr()
            if self.take()[0] != ")":
                raise ValueError("Invalid filter: missing ')'")
            return e
        return self.comparison()

    def comparison(self):
        k, field = self.take()
        if k != "word":
            raise ValueError("Invalid filter: expected a field name, got %r" % (field,))
        if self.strict and "-" in field:
            # AIP-160: '-' is the negation operator, not a name character.
            raise ValueError("Invalid filter: unexpected '-' in field %r" % field)
        k, op = self.take()
        if k != "op":
            raise ValueError("Invalid filter: expected an operator after %r" % field)
        k, value = self.take()
        if k not in ("str", "word"):
            raise ValueError("Invalid filter: expected a value after %s%s" % (field, op))
        # a bare RFC 3339 value gets split at ':' by the tokenizer; glue it.
        while k == "word" and self.peek()[0] == "op" and self.peek()[1] == ":" \
                and self.i + 1 < len(self.toks) and self.toks[self.i + 1][0] == "word" \
                and re.match(r"^\d", self.toks[self.i + 1][1]):
            self.take()
            value += ":" + self.take()[1]
        return make_cmp(field, op, value)


def make_cmp(field, op, value):
    if field.startswith("labels.") or field == "labels":
        key = field[7:] if field.startswith("labels.") else None
        if key is None:
            if op != ":":
                raise ValueError("Invalid filter: use labels.KEY=VALUE or labels:KEY")

            def has_label(job, v=value):
                return v in (job.get("labels") or {})
            return has_label

        def label_cmp(job):
            labels = job.get("labels") or {}
            if op == ":" and value == "*":
                return key in labels
            if key not in labels:
                return op == "!="
            return compare_str(labels[key], op, value)
        return label_cmp
    api = FIELDS.get(field)
    if api is None:
        raise ValueError("Unsupported field in filter: %s" % field)
    if api in TIME_FIELDS:
        if op == ":" and value == "*":
            return lambda job: api in job
        try:
            want = parse_rfc3339(value)
        except ValueError:
            raise ValueError("Invalid filter: %s needs an RFC 3339 timestamp, got %r"
                             % (field, value))

        def time_cmp(job):
            have = job.get("_" + api)
            if have is None:
                return op == "!="
            return compare_num(have, op, want)
        return time_cmp
    if api == "state" and op not in ("=", "!=", ":"):
        raise ValueError("Invalid filter: state supports only = and !=")

    def str_cmp(job):
        have = job.get(api)
        if have is None:
            have = ""
        return compare_str(have, op, value)
    return str_cmp


def compare_str(have, op, value):
    if op == "=":
        return have == value
    if op == "!=":
        return have != value
    if op == ":":
        if value == "*":
            return have != ""
        if "*" in value or "?" in value:
            return fnmatch.fnmatchcase(have, value)
        return have == value
    return compare_num(have, op, value)


def compare_num(have, op, want):
    if op in ("=", ":"):
        return have == want
    if op == "!=":
        return have != want
    if op == "<":
        return have < want
    if op == "<=":
        return have <= want
    if op == ">":
        return have > want
    if op == ">=":
        return have >= want
    return False


def compile(text, strict=False):
    """strict: refuse a field name holding '-' (a label key with a dash), as
    a server following the AIP-160 grammar may."""
    return Parser(tokenize(text or ""), strict).parse()
