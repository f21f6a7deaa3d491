"""SEMANTICS.md names the test that backs each promise; every name it
cites must be a test that exists, so the contract cannot point at a test
that was renamed or removed."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TESTS = os.path.join(ROOT, "tests")


def semantics():
    with open(os.path.join(ROOT, "SEMANTICS.md"), encoding="utf-8") as f:
        return f.read()


def collect_test_files():
    found = {}
    for d, _, files in os.walk(TESTS):
        if "node_modules" in d:
            continue
        for f in files:
            if f.startswith("test_") and f.endswith((".py", ".c")):
                found.setdefault(f.rsplit(".", 1)[0], []).append(
                    os.path.join(d, f))
    return found


def test_every_cited_python_test_exists():
    found = collect_test_files()
    cited = re.findall(r"\b(test_\w+)::(test_\w+)", semantics())
    assert len(cited) > 40, cited  # the parser still sees the citations
    missing = []
    for mod, name in set(cited):
        paths = [p for p in found.get(mod, []) if p.endswith(".py")]
        if not any(re.search(r"^\s*def %s\(" % re.escape(name),
                             open(p, encoding="utf-8").read(), re.M)
                   for p in paths):
            missing.append("%s::%s" % (mod, name))
    assert not missing, "SEMANTICS.md cites tests that do not exist: %s" % (
        sorted(missing))


def test_every_cited_unit_test_exists():
    found = collect_test_files()
    cited = re.findall(r"\bunit (test_\w+)", semantics())
    assert cited
    missing = [c for c in set(cited)
               if not any(p.endswith(".c") for p in found.get(c, []))]
    assert not missing, missing
