"""Bad request.json and input files written into a draft: empty, huge,
binary, truncated, written with seeks. Each gives a clear errno and a
message in `error`, and nothing reaches the server (vertex.create and
gcs.upload stay at 0)."""
import errno
import json
import os

import pytest

from lib.mounthelp import put_input, prompts, request_body

CAP = 8192


def sent(emu):
    r = emu.counters()["routes"]
    return r.get("vertex.create", 0), r.get("gcs.upload", 0)


def draft(m, name):
    os.mkdir(m.job(name))
    return m.job(name, "request.json")


def close_errno(path, chunks, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    """Writes (offset, bytes) chunks with pwrite and returns close()'s
    errno (0 when it succeeds)."""
    fd = os.open(path, flags, 0o644)
    try:
        for off, data in chunks:
            assert os.pwrite(fd, data, off) == len(data)
    except OSError:
        os.close(fd)
        raise
    try:
        os.close(fd)
    except OSError as e:
        return e.errno
    return 0


@pytest.fixture
def m(sec_mount, emu):
    mnt = sec_mount(max_request=str(CAP))
    emu.control("DELETE", "counters")
    return mnt


def good_body(emu, name):
    emu.make_bucket("bkt-out")
    return json.dumps(request_body(put_input(emu, prompts(1)),
                                   displayName=name), indent=1).encode()


def assert_clear(err):
    """The `error` file names request.json and says what is wrong, on one
    short line, with no raw NUL."""
    assert err.startswith("submit failed: EINVAL: request.json"), err
    assert "malformed JSON" in err or "NUL byte" in err, err
    assert "\0" not in err and len(err) < 512 and err.count("\n") == 1, err


def assert_draft_intact(m, name):
    assert m.read(name, "state") == "DRAFT\n"
    assert not os.path.exists(m.job(name, "job.json"))


def test_empty_request_sends_nothing(m, emu):
    p = draft(m, "empty")
    assert close_errno(p, []) == 0  # nothing written: no submit
    with open(p, "w"):
        pass
    assert sent(emu) == (0, 0)
    assert_draft_intact(m, "empty")
    for blank in (b" ", b"\n\n", b"\t \r\n"):
        assert close_errno(p, [(0, blank)]) == errno.EINVAL
        assert_clear(m.read("empty", "error"))
    assert sent(emu) == (0, 0)
    assert_draft_intact(m, "empty")


def test_huge_request_is_efbig(m, emu):
    p = draft(m, "huge")
    with pytest.raises(OSError) as ei:
        close_errno(p, [(0, b" " * (CAP + 1))])
    assert ei.value.errno == errno.EFBIG
    assert m.read("huge", "error") == \
        "request.json: larger than max_request (%d bytes)\n" % CAP
    # A write far past the cap must fail without allocating it.
    for off in (CAP, CAP + 1, 1 << 40, (1 << 62)):
        with pytest.raises(OSError) as ei:
            close_errno(p, [(off, b"{}")])
        assert ei.value.errno in (errno.EFBIG, errno.EINVAL), off
    fd = os.open(p, os.O_WRONLY)
    try:
        with pytest.raises(OSError) as ei:
            os.ftruncate(fd, 1 << 40)
        assert ei.value.errno == errno.EFBIG
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    # Exactly the cap is fine (and invalid JSON: EINVAL at close).
    assert close_errno(p, [(0, b"[" * CAP)]) == errno.EINVAL
    assert_clear(m.read("huge", "error"))
    assert sent(emu) == (0, 0)
    assert_draft_intact(m, "huge")


def test_binary_request_is_einval(m, emu):
    p = draft(m, "bin")
    blobs = [bytes(range(256)), b"\0" * 100, b"\x89PNG\r\n\x1a\n\0\0",
             b"\xff\xfe{\0\"\0", os.urandom(4000)]
    for blob in blobs:
        assert close_errno(p, [(0, blob)]) == errno.EINVAL, blob[:16]
        assert_clear(m.read("bin", "error"))
    # A valid body followed by a NUL and junk is not valid JSON either.
    body = good_body(emu, "bin")
    assert close_errno(p, [(0, body + b"\0junk")]) == errno.EINVAL
    assert sent(emu)[0] == 0
    assert_draft_intact(m, "bin")


def test_truncated_request_is_einval(m, emu):
    p = draft(m, "cut")
    body = good_body(emu, "cut")
    for n in (1, len(body) // 3, len(body) // 2, len(body) - 2):
        assert close_errno(p, [(0, body[:n])]) == errno.EINVAL, n
        assert_clear(m.read("cut", "error"))
    assert sent(emu)[0] == 0
    assert_draft_intact(m, "cut")
    # And the whole body still submits once.
    assert close_errno(p, [(0, body)]) == 0
    assert sent(emu)[0] == 1


def test_seeks_holes_and_out_of_order_writes(m, emu):
    p = draft(m, "seek")
    body = good_body(emu, "seek")
    # A hole before the text: NUL bytes are not JSON.
    assert close_errno(p, [(100, body)]) == errno.EINVAL
    assert_clear(m.read("seek", "error"))
    # A hole in the middle.
    half = len(body) // 2
    assert close_errno(p, [(0, body[:half]), (half + 10, body[half:])]) \
        == errno.EINVAL
    assert_clear(m.read("seek", "error"))
    assert sent(emu)[0] == 0
    assert_draft_intact(m, "seek")
    # Out of order but complete: one job.
    assert close_errno(p, [(half, body[half:]), (0, body[:half])]) == 0
    assert sent(emu)[0] == 1


def test_input_files_in_a_draft_send_nothing(m, emu):
    """Without -o staging, input.jsonl cannot be written at all (EPERM,
    the message names the missing option); whatever is tried,
    nothing reaches Vertex or Cloud Storage and the draft stays intact."""
    d = m.job("inp")
    os.mkdir(d)
    inp = os.path.join(d, "input.jsonl")
    for chunks in ([(0, b"")], [(0, b"\0\1\2" * 100)],
                   [(0, b'{"request": {"contents": [')],
                   [(0, b"not json\n" * 10)], [(0, b"x" * (CAP + 1))],
                   [(1 << 50, b"x")]):
        with pytest.raises(OSError) as ei:
            close_errno(inp, chunks)
        assert ei.value.errno == errno.EPERM, chunks
    with open(os.path.join(d, "error")) as f:
        assert "staging" in f.read()
    assert sent(emu) == (0, 0)
    assert_draft_intact(m, "inp")
