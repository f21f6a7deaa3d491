"""Unit tests of the deterministic model and the list filter parser."""
import json

import pytest

from gcemu import filters, model
from gcemu.util import parse_rfc3339


def test_predict_deterministic():
    req = {"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]}
    a = model.predict(req, "gemini-2.5-flash")
    b = model.predict(json.loads(json.dumps(req)), "gemini-2.5-flash")
    assert a == b and a[0] == ""
    c = a[1]["candidates"][0]
    assert c["finishReason"] == "STOP" and -1 < c["avgLogprobs"] <= 0
    assert c["content"]["role"] == "model"
    assert c["content"]["parts"][0]["text"].endswith("to: Hello")
    u = a[1]["usageMetadata"]
    assert u["totalTokenCount"] == u["promptTokenCount"] + u["candidatesTokenCount"]
    other = model.predict({"contents": [{"role": "user", "parts": [{"text": "Bye"}]}]})
    assert other[1]["candidates"][0]["avgLogprobs"] != c["avgLogprobs"]


def test_predict_bad_role_and_empty():
    st, resp = model.predict({"contents": [{"role": "tester", "parts": [{"text": "x"}]}]})
    assert resp is None
    assert st == ('Bad Request: {"error": {"code": 400, "message": "Please use a valid '
                  'role: user, model.", "status": "INVALID_ARGUMENT"}}')
    st, resp = model.predict({"contents": []})
    assert resp is None and st.startswith("Bad Request: ")


def test_model_version():
    assert model.model_version("publishers/google/models/gemini-2.0-flash-001") == \
        "gemini-2.0-flash-001@default"
    assert model.model_version("gemini-2.5-flash") == "gemini-2.5-flash-001@default"


JOBS = [
    {"displayName": "my_job_1", "state": "JOB_STATE_SUCCEEDED", "labels": {"a": "1"},
     "_createTime": parse_rfc3339("2025-01-01T00:00:00Z")},
    {"displayName": "my_job_2", "state": "JOB_STATE_FAILED", "labels": {"a": "2"},
     "_createTime": parse_rfc3339("2025-06-01T00:00:00.5Z")},
    {"displayName": "other", "state": "JOB_STATE_RUNNING",
     "_createTime": parse_rfc3339("2026-01-01T00:00:00+01:00")},
]


@pytest.mark.parametrize("f,want", [
    ('', ["my_job_1", "my_job_2", "other"]),
    ('state="JOB_STATE_SUCCEEDED"', ["my_job_1"]),
    ('state=JOB_STATE_FAILED', ["my_job_2"]),
    ('state!="JOB_STATE_FAILED" OR display_name="my_job_2"',
     ["my_job_1", "my_job_2", "other"]),
    ('NOT display_name="other"', ["my_job_1", "my_job_2"]),
    ('-display_name="other"', ["my_job_1", "my_job_2"]),
    ('display_name:"my_job_*"', ["my_job_1", "my_job_2"]),
    ('labels.a=1', ["my_job_1"]),
    ('labels.a:*', ["my_job_1", "my_job_2"]),
    ('labels:a', ["my_job_1", "my_job_2"]),
    ('create_time>"2025-03-01T00:00:00Z"', ["my_job_2", "other"]),
    ('create_time>=2025-06-01T00:00:00.5Z AND create_time<2025-12-31T23:00:00Z',
     ["my_job_2"]),
    ('(state="JOB_STATE_RUNNING" OR labels.a="2") AND NOT display_name="my_job_2"',
     ["other"]),
    ('display_name="my_job_1" display_name:"my*"', ["my_job_1"]),
])
def test_filters(f, want):
    pred = filters.compile(f)
    assert [j["displayName"] for j in JOBS if pred(j)] == want


@pytest.mark.parametrize("f", ['display_name=', '(state="x"', 'nofield="x"',
                               'create_time>"yesterday"', 'state<"x"'])
def test_filter_errors(f):
    with pytest.raises(ValueError):
        filters.compile(f)
