"""Hostile remote names: object names under a job's output directory and
job displayNames in jobs/. Each must map to a safe, unique, stable file
name; no path may leave its directory; content read must be the object's.
(Invalid UTF-8 cannot be stored in GCS or the emulator; the unit test
tests/unit/model/test_names.c and the fuzz target fuzz_names cover it.)"""
import errno
import json
import os
import re
import subprocess
import time

import pytest

from lib.fakeserver import FakeServer
from lib.mounthelp import put_input, prompts

NAME_MAX = 255


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return "%08x" % h


def sanitize(display):
    """SEMANTICS.md "Names": the directory name of a displayName."""
    b = display.encode()
    cut = len(b)
    if cut > NAME_MAX:
        cut = NAME_MAX
        while cut > 0 and (b[cut] & 0xC0) == 0x80:
            cut -= 1
    b = b[:cut]
    if b in (b"", b"."):
        return "_"
    if b == b"..":
        return "__"
    return bytes(0x5F if c == 0x2F or c < 0x20 or c == 0x7F else c
                 for c in b).decode()


def assert_safe(name):
    b = os.fsencode(name)
    assert b not in (b"", b".", b".."), name
    assert len(b) <= NAME_MAX, (len(b), name)
    assert b"/" not in b and b"\0" not in b, name
    assert not any(c < 0x20 or c == 0x7F for c in b), name


def raw_listing(path):
    """Every name readdir returns, "." and ".." included (ls -f -a does
    not filter), so a hostile "." or ".." entry would show twice."""
    out = subprocess.run(["ls", "-1", "-f", "-a", "-b", path],
                         capture_output=True, check=True).stdout
    names = out.decode("utf-8", "surrogateescape").splitlines()
    assert names.count(".") == 1 and names.count(".."), names
    return names


def walk_tree(top):
    """{relative path: bytes} of every file below top; checks every name
    and that every path resolves inside top."""
    real_top = os.path.realpath(top)
    files = {}
    for dirpath, dirnames, filenames in os.walk(top):
        names = dirnames + filenames
        dups = sorted(n for n in set(names) if names.count(n) > 1)
        assert not dups, ("duplicate names", dirpath, dups)
        ls = raw_listing(dirpath)
        assert len(ls) == len(names) + 2, (dirpath, ls, names)
        for n in names:
            assert_safe(n)
            p = os.path.join(dirpath, n)
            rp = os.path.realpath(p)
            assert os.path.commonpath([real_top, rp]) == real_top, p
            assert not os.path.islink(p)
        for n in filenames:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                files[os.path.relpath(p, top)] = f.read()
    return files


# Object names relative to the job's output directory. Each object's
# content is its own name (JSON), so a read proves which object it was.
def hostile_objects():
    ctrl = "a\x01"
    return [
        "..", ".", "...", "plain.txt",
        "d/..", "d/.", "d/x",
        "e//f", "e///g", "/lead",
        "ctl\x01\x02\x1f\x7f", "tab\there", "esc\x1b[31mred",
        "x" * 300, "y" * 254 + "\u00e9" * 10,
        "z" * 300 + "/in-long-dir",
        "a\x01b", "a\x02b", "a_b",        # equal after sanitizing
        ctrl, "a_~" + fnv1a(ctrl.encode()),  # a segment = another's mapped form
        "a_~" + fnv1a(ctrl.encode()) + "~obj",
        "dot/../../escape", "sl/./x",
        "q", "q/r", "q~dir",              # object vs. directory of a name
        "L" * 255, "L" * 255 + "/child",  # the same, at the length limit
    ]


def finished_job_with_objects(emu, objs):
    src = put_input(emu, prompts(1))
    emu.make_bucket("bkt-out")
    job = emu.create_job(src, "gs://bkt-out/out", display_name="hostile")
    job = emu.wait_job(job["name"])
    bucket, _, prefix = job["outputInfo"]["gcsOutputDirectory"][5:].partition("/")
    stored = {}
    for rel in objs:
        name = prefix + "/" + rel
        try:
            emu.put_object(bucket, name, json.dumps(rel).encode())
        except AssertionError:
            continue  # refused by GCS rules (the emulator follows them)
        stored[rel] = json.dumps(rel).encode()
    return job, stored


def check_output_tree(out, stored):
    files = walk_tree(out)
    got = {}
    for path, data in files.items():
        if path == "predictions.jsonl":
            continue
        rel = json.loads(data)
        assert rel not in got, ("object read twice", rel, path, got[rel])
        got[rel] = path
        assert stored[rel] == data
        # Plain segments are shown as they are.
        segs = rel.split("/")
        shown = path.split(os.sep)
        assert len(segs) == len(shown), (rel, path)
        for s, f in zip(segs, shown):
            b = s.encode()
            if b and b not in (b".", b"..") and len(b) <= NAME_MAX and \
                    not any(c < 0x20 or c == 0x7F for c in b):
                # As is, or (when another entry holds it) a prefix of it
                # plus a "~" suffix.
                assert f == s or ("~" in f and
                                  s.startswith(f.rsplit("~", 1)[0])), (rel, path)
    assert sorted(got) == sorted(stored), set(stored) ^ set(got)
    return files


def test_hostile_object_names(sec_mount, emu):
    job, stored = finished_job_with_objects(emu, hostile_objects())
    # The emulator must keep the interesting ones (else the test is void).
    for must in ("..", ".", "e//f", "ctl\x01\x02\x1f\x7f", "x" * 300,
                 "a\x01b", "a_b", "q~dir"):
        assert must in stored, must
    m = sec_mount()
    out = m.job("hostile", "output")
    first = check_output_tree(out, stored)
    again = check_output_tree(out, stored)  # ls twice: same names
    assert sorted(first) == sorted(again)
    m.stop()
    m2 = sec_mount()
    third = check_output_tree(m2.job("hostile", "output"), stored)
    assert sorted(first) == sorted(third)  # stable across a remount
    # Lookups by the shown names work without a listing first.
    m2.stop()
    m3 = sec_mount()
    for path, data in first.items():
        with open(os.path.join(m3.job("hostile", "output"), path), "rb") as f:
            assert f.read() == data
    # Names that would escape resolve to nothing.
    for bad in ("../job.json", "../../hostile", "d/../../state"):
        p = os.path.join(m3.job("hostile", "output"), bad)
        assert os.path.realpath(p).startswith(os.path.realpath(m3.jobs))


def shown_names(out):
    """{object name relative to out: shown path} (each file holds its
    object's name as JSON)."""
    got = {}
    for path, data in walk_tree(out).items():
        if path != "predictions.jsonl":
            got[json.loads(data)] = path
    return got


def reorder_listing(body):
    """An objects.list page with its entries reversed and its members in
    reverse order (prefixes before items): what a server may do."""
    page = json.loads(body)
    for k in ("items", "prefixes"):
        if k in page:
            page[k].reverse()
    return json.dumps(dict(reversed(list(page.items())))).encode()


def test_object_names_do_not_depend_on_listing_order(sec_mount, emu):
    """Which entry keeps a contested name follows a rule, not the order
    in which pages and entries arrive."""
    job, stored = finished_job_with_objects(emu, hostile_objects())
    m = sec_mount()
    first = shown_names(m.job("hostile", "output"))
    m.stop()
    fs = FakeServer(emu.url).start()
    try:
        rule = fs.add("GET", r"/b/bkt-out/o\?", rewrite=reorder_listing)
        m2 = sec_mount(storage_endpoint=fs.url, page_size=3)
        again = shown_names(m2.job("hostile", "output"))
        assert rule.hits > 3  # several small pages, each reordered
        m2.stop()
    finally:
        fs.stop()
    assert again == first
    # The rule itself (SEMANTICS.md "Names"): an object's own name wins over
    # a directory's, and a raw name that looks mapped is mapped again.
    ctrl = "a\x01"
    looks = "a_~" + fnv1a(ctrl.encode())
    assert first[ctrl] == looks
    assert first[looks] == looks + "~" + fnv1a(looks.encode())
    assert first["q"] == "q" and first["q~dir"] == "q~dir"
    assert first["q/r"] == os.path.join("q~dir2", "r")


def hostile_display_names():
    return ["..", ".", "", "a/b", "a_b", "\x01x", "_x", "v" * 300,
            "v" * 300 + "w", "dup", "dup", "dup~1", "new\nline", "/",
            "\u00e9" * 200]


def test_hostile_display_names(sec_mount, emu):
    src = put_input(emu, prompts(1))
    emu.make_bucket("bkt-out")
    ids = {}
    for i, dn in enumerate(hostile_display_names()):
        try:
            job = emu.create_job(src, "gs://bkt-out/o%d" % i, display_name=dn)
        except AssertionError:
            continue  # refused like Vertex does (e.g. the empty name)
        ids[job["name"].rsplit("/", 1)[-1]] = dn
        time.sleep(0.002)  # distinct createTimes
    print("display names the emulator kept:", sorted(ids.values()))
    for must in ("..", ".", "a/b", "\x01x", "v" * 300, "dup"):
        assert must in ids.values(), must
    m = sec_mount()

    def snapshot():
        names = os.listdir(m.jobs)
        assert len(names) == len(set(names))
        raw_listing(m.jobs)
        seen = {}
        for n in names:
            assert_safe(n)
            d = os.path.join(m.jobs, n)
            assert os.path.commonpath([os.path.realpath(d), m.jobs]) == m.jobs
            job = json.loads(m.read(n, "job.json"))
            jid = job["name"].rsplit("/", 1)[-1]
            assert job["displayName"] == ids[jid]
            assert jid not in seen.values()
            seen[n] = jid
        assert sorted(seen.values()) == sorted(ids)
        return seen

    first = snapshot()
    assert snapshot() == first
    # Spot checks of SEMANTICS.md's rules.
    by_id = {v: k for k, v in first.items()}
    named = {ids[j]: n for n, j in first.items() if ids[j] != "dup"}
    assert named[".."] == "__"
    assert named["."] == "_" or named["."].startswith("_~")
    assert named["a/b"] in ("a_b", "a_b~" + [j for j in ids if ids[j] == "a/b"][0])
    assert len(named["v" * 300].encode()) == NAME_MAX
    dups = sorted(n for n, j in first.items() if ids[j] == "dup")
    assert dups[0] == "dup" and dups[1].startswith("dup~")
    for n, j in first.items():
        base = sanitize(ids[j])
        if n != base:  # NAME~ID (or NAME~ID~K), NAME cut to fit 255 bytes
            sfx = re.search(r"~(\d+)(~\d+)?$", n)
            assert sfx and sfx.group(1) == j, (n, j)
            assert base.startswith(n[:sfx.start()]), (n, base)
    assert by_id
    m.stop()
    m2 = sec_mount()
    assert sorted(os.listdir(m2.jobs)) == sorted(first)
    for n, j in first.items():
        job = json.loads(m2.read(n, "job.json"))
        assert job["name"].endswith("/" + j)  # the same name means the same job


def test_crafted_object_list_reply(sec_mount, emu):
    """Names GCS would never send (invalid UTF-8, NUL escapes, names
    outside the listed prefix, the same name twice), served by a fake
    server in front of the emulator: the listing stays safe and unique."""
    from lib.fakeserver import FakeServer

    src = put_input(emu, prompts(1))
    emu.make_bucket("bkt-out")
    job = emu.wait_job(emu.create_job(src, "gs://bkt-out/out",
                                      display_name="crafted")["name"])
    prefix = job["outputInfo"]["gcsOutputDirectory"][5:].partition("/")[2]
    P = prefix.encode() + b"/"

    def item(raw):
        return (b'{"name": "' + raw + b'", "size": "3", "generation": "7", '
                b'"updated": "2026-01-01T00:00:00.000Z"}')

    rel = [b"\xff\xfe", b"\xc3", b"ok\xc3(", b"..", b".", b"",
           b"a\\u0000b", b"nul\\u0000", b"dup", b"dup", b"x" * 300,
           b"tab\\tctl\\u0001", b"sl\\/ash"]
    items = [item(P + r) for r in rel]
    items += [item(b"elsewhere/secret"), item(b"../escape"),
              item(b"out/escape")]
    prefixes = [b'"' + P + p + b'"' for p in
                (b"../", b"./", b"/", b"sub/", b"\xff/", b"sub/")]
    prefixes.append(b'"outside/"')
    body = (b'{"kind": "storage#objects", "items": [' + b",".join(items) +
            b'], "prefixes": [' + b",".join(prefixes) + b"]}")
    fs = FakeServer(emu.url).start()
    try:
        fs.add("GET", r"/b/bkt-out/o\?", body=body)
        m = sec_mount(storage_endpoint=fs.url)
        out = m.job("crafted", "output")
        names = None
        for _ in range(2):
            seen = []
            for dirpath, dirnames, filenames in os.walk(out):
                ns = dirnames + filenames
                dups = sorted(n for n in set(ns) if ns.count(n) > 1)
                assert not dups, (dirpath, dups)
                assert len(raw_listing(dirpath)) == len(ns) + 2
                for n in ns:
                    assert_safe(n)
                    p = os.path.realpath(os.path.join(dirpath, n))
                    assert os.path.commonpath([os.path.realpath(out), p]) \
                        == os.path.realpath(out)
                seen += [os.path.relpath(os.path.join(dirpath, n), out)
                         for n in ns]
            assert names is None or sorted(seen) == names  # stable
            names = sorted(seen)
        top = os.listdir(out)
        # Every listed name under the prefix shows once; nothing from
        # outside it does.
        assert not any("secret" in n or "escape" in n or "outside" in n
                       for n in names), names
        assert "sub" in top and "dup" in top
        assert len(top) >= 12, top
        assert fs.rules[0].hits >= 1
        # A nameless object fails the listing cleanly (EIO), not the daemon.
        fs.clear()
        fs.add("GET", r"/b/bkt-out/o\?", body=b'{"items": [' + item(b"") +
               b"]}")
        with open(os.path.join(m.jobs, "crafted", "ctl"), "w") as f:
            f.write("refresh")
        try:
            os.listdir(out)
        except OSError as e:
            assert e.errno == errno.EIO
        assert os.path.exists(os.path.join(m.path, "README"))
    finally:
        fs.stop()
