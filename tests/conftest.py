"""Shared pytest fixtures: the local Google Cloud emulator.

`emu` starts scripts/emulator once per session (port 0, a temporary data
directory) and resets its state, faults and counters before each test that
uses it. The control API lives under /_emulator/, a path no Google API uses.

Over TLS: the `emu_scheme` fixture ("http" or "https") picks which of two
session emulators `emu` is; the second runs with --tls and `emu.ca_file` is
its CA. It is "http" unless BATCHFS_TEST_TLS=1 (then a whole suite runs over
TLS); a test runs both ways when it parametrizes the fixture, as
@pytest.mark.parametrize("emu_scheme", ["http", "https"]) (TLS_TOO in
tests/lib/mounthelp.py).
"""
import os
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
# The one place that extends sys.path: tests/ for the helper package
# tests/lib, scripts/ for the emulator's own modules (gcemu).
sys.path[:0] = [TESTS, os.path.join(ROOT, "scripts")]

from lib.emulator import Emulator, start_emulator, stop_emulator  # noqa: E402,F401


# Under pytest-xdist (scripts/test: --dist loadgroup) a file's tests stay
# on one worker, as with --dist loadfile, unless they name their own
# xdist_group (a long file may spread groups that share nothing). Workers
# take files in collection order, and the run lasts as long as its slowest
# worker: the files that take longest (measured, --durations=0) go first,
# so that none of them starts last. (Seconds, 6 workers, a loaded 2-core
# machine.)
SLOW_FIRST = [
    "faults/test_matrix.py",          # 300
    "install/test_package.py",        # 150, builds the .deb
    "core/test_gcs.py",               # 140
    "conformance/test_clients.py",    # 135
    "mount/test_mount_quota.py",      # 125
    "mount/test_mount_workflows.py",  # 115
    "mount/test_mount_faults.py",     # 90
    "security/test_sec_responses.py", # 85
    "mount/test_mount_output.py",     # 85
    "core/test_vertex.py",            # 65
    "mount/test_mount_hang.py",       # 65
    "core/test_gcs_wan.py",           # 65
    "mount/test_mount_durable.py",    # 65
    "faults/test_soak.py",            # 50
]


def _test_file(item):
    return os.path.relpath(str(item.fspath), TESTS)  # e.g. faults/test_soak.py


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(_test_file(item)[:-3]))

    def rank(item):
        f = _test_file(item)
        return SLOW_FIRST.index(f) if f in SLOW_FIRST else len(SLOW_FIRST)
    items.sort(key=rank)


@pytest.fixture(scope="session")
def emu_session(tmp_path_factory):
    data = tmp_path_factory.mktemp("emulator")
    proc, url = start_emulator(data)
    yield Emulator(proc, url, str(data))
    stop_emulator(proc)


@pytest.fixture(scope="session")
def emu_tls_session(tmp_path_factory):
    """A second session emulator serving HTTPS (--tls, CA in DATA/ca.pem)."""
    data = tmp_path_factory.mktemp("emulator-tls")
    proc, url = start_emulator(data, "--tls")
    yield Emulator(proc, url, str(data))
    stop_emulator(proc)


@pytest.fixture
def emu_scheme():
    """Which emulator `emu` is: https with BATCHFS_TEST_TLS=1, else http;
    a test may parametrize it."""
    return "https" if os.environ.get("BATCHFS_TEST_TLS") == "1" else "http"


@pytest.fixture
def emu(emu_scheme, request):
    """The session's emulator, reset to a clean state for this test."""
    emu_session = request.getfixturevalue(
        "emu_tls_session" if emu_scheme == "https" else "emu_session")
    assert emu_session.proc.poll() is None, "emulator died"
    emu_session.reset()
    yield emu_session
    assert emu_session.proc.poll() is None, "emulator died during the test"


@pytest.fixture(scope="session")
def build_dir():
    d = os.environ.get("BATCHFS_BUILD", os.path.join(ROOT, "build"))
    if not os.path.isdir(d):
        pytest.fail("build directory %s missing: run scripts/test" % d)
    return d


DAEMON_TAIL = 80


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    from lib import mounthelp
    mounthelp.STARTED.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows the end of the stderr of the daemons it mounted
    (a CI log is the only trace of a flake there)."""
    from lib import mounthelp
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and call.when in ("call", "teardown"):
        for i, m in enumerate(mounthelp.STARTED):
            lines = m.stderr().splitlines()[-DAEMON_TAIL:]
            rep.sections.append(("daemon %d stderr (last %d lines)" % (
                i, len(lines)), "\n".join(lines)))
