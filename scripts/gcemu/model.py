"""The deterministic fake Gemini used by batch jobs.

predict(request, model=DEFAULT_MODEL) -> (status, response_or_None) is a pure
function of the request (and the model id, which only shows in
modelVersion), so tests can import this module and predict every output row:

    from gcemu import model
    status, response = model.predict(row["request"], "gemini-2.5-flash")

Rules:
- contents must be a non-empty list and every role must be "user" or
  "model" (a missing role counts as "user"); otherwise the row fails with
  the status string Vertex writes ("Bad Request: {...INVALID_ARGUMENT...}")
  and no response.
- The reply text is "Emulated answer <h8> to: <prompt>" where <h8> is the
  first 8 hex digits of sha256(canonical JSON of the request) and <prompt>
  the joined text parts of the last user turn, cut to 200 characters.
- generationConfig.maxOutputTokens (if set) caps the candidate tokens; a cut
  reply ends with finishReason MAX_TOKENS instead of STOP.
- avgLogprobs is -(int(h[8:16], 16) / 2**32); token counts are
  ceil(chars/4) for text plus 258 per fileData/inlineData part.
"""
import hashlib
import json
import math
import re

DEFAULT_MODEL = "gemini-2.0-flash-001"

KNOWN_MODELS = {
    "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite",
    "gemini-2.5-flash-preview-09-2025", "gemini-2.5-flash-lite-preview-09-2025",
    "gemini-2.5-flash-image", "gemini-2.0-flash", "gemini-2.0-flash-001",
    "gemini-2.0-flash-lite", "gemini-2.0-flash-lite-001",
    "gemini-1.5-pro", "gemini-1.5-pro-001", "gemini-1.5-pro-002",
    "gemini-1.5-flash", "gemini-1.5-flash-001", "gemini-1.5-flash-002",
    "gemini-3-pro-preview", "gemini-3-flash-preview",
    "text-embedding-005", "gemini-embedding-001",
}

MEDIA_TOKENS = 258


def bad_request(message):
    err = {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}
    return "Bad Request: " + json.dumps(err)


def model_version(model):
    """modelVersion as batch output rows show it, e.g.
    gemini-2.0-flash-001@default; an unversioned id gets -001."""
    mid = (model or DEFAULT_MODEL).rsplit("/", 1)[-1].split("@", 1)[0]
    if not mid[-3:].isdigit():
        mid += "-001"
    return mid + "@default"


def get(d, camel, snake):
    if not isinstance(d, dict):
        return None
    v = d.get(camel)
    return v if v is not None else d.get(snake)


def tokens(text):
    return int(math.ceil(len(text) / 4.0)) if text else 0


def predict(request, model=DEFAULT_MODEL):
    if not isinstance(request, dict):
        return bad_request("Request must be a JSON object."), None
    contents = request.get("contents")
    if not isinstance(contents, list) or not contents:
        return bad_request("Unable to submit request because it has an empty "
                           "contents field. Learn more: https://cloud.google.com/"
                           "vertex-ai/generative-ai/docs/model-reference/gemini"), None
    prompt_tokens = 0
    last_user_text = ""
    for c in contents:
        if not isinstance(c, dict):
            return bad_request("Invalid content."), None
        role = c.get("role", "user")
        if role not in ("user", "model"):
            return bad_request("Please use a valid role: user, model."), None
        texts = []
        for p in c.get("parts") or []:
            if not isinstance(p, dict):
                continue
            t = p.get("text")
            if isinstance(t, str):
                texts.append(t)
                prompt_tokens += tokens(t)
            if get(p, "fileData", "file_data") or get(p, "inlineData", "inline_data"):
                prompt_tokens += MEDIA_TOKENS
        if role == "user":
            last_user_text = " ".join(texts)
    si = get(request, "systemInstruction", "system_instruction")
    if isinstance(si, dict):
        for p in si.get("parts") or []:
            if isinstance(p, dict) and isinstance(p.get("text"), str):
                prompt_tokens += tokens(p["text"])
    h = hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False).encode()).hexdigest()
    text = "Emulated answer %s to: %s" % (h[:8], last_user_text[:200])
    finish = "STOP"
    gc = get(request, "generationConfig", "generation_config") or {}
    max_tokens = get(gc, "maxOutputTokens", "max_output_tokens")
    if isinstance(max_tokens, (int, float)) and max_tokens > 0 and \
            tokens(text) > max_tokens:
        text = text[:int(max_tokens) * 4]
        finish = "MAX_TOKENS"
    cand_tokens = tokens(text)
    response = {
        "candidates": [{
            "avgLogprobs": -(int(h[8:16], 16) / 2 ** 32),
            "content": {"parts": [{"text": text}], "role": "model"},
            "finishReason": finish,
        }],
        "modelVersion": model_version(model),
        "usageMetadata": {
            "candidatesTokenCount": cand_tokens,
            "promptTokenCount": prompt_tokens,
            "totalTokenCount": prompt_tokens + cand_tokens,
        },
    }
    return "", response


def reserialize(request):
    """The request as output rows echo it: keys sorted, and within each
    content the union members of parts (text / fileData / ...) filled with
    null, as the BigQuery-style exporter writes them."""
    if not isinstance(request, dict):
        return request
    out = json.loads(json.dumps(request))
    union = ("text", "fileData", "file_data", "inlineData", "inline_data",
             "functionCall", "function_call", "functionResponse",
             "function_response")
    contents = out.get("contents")
    if isinstance(contents, list):
        keys = set()
        for c in contents:
            if isinstance(c, dict):
                for p in c.get("parts") or []:
                    if isinstance(p, dict):
                        keys.update(k for k in p if k in union)
        for c in contents:
            if isinstance(c, dict):
                for p in c.get("parts") or []:
                    if isinstance(p, dict):
                        for k in keys:
                            p.setdefault(k, None)
    return sort_keys(out)


def sort_keys(v):
    if isinstance(v, dict):
        return {k: sort_keys(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [sort_keys(x) for x in v]
    return v


NUMERIC_RE = re.compile(r"^-?(0|[0-9]+)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")


def numeric_looking(v):
    return isinstance(v, str) and bool(NUMERIC_RE.match(v))


def as_number(v):
    f = float(v)
    return int(f) if f.is_integer() and "." not in v and "e" not in v.lower() \
        else f


def retype_numbers(v):
    """Integers inside the echoed request come back as floats (1 -> 1.0), as
    an importer with one FLOAT column type would write them."""
    if isinstance(v, dict):
        return {k: retype_numbers(x) for k, x in v.items()}
    if isinstance(v, list):
        return [retype_numbers(x) for x in v]
    if isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    return v


def output_row(line, model, processed_time, echo_keys=True, retype=None,
               empty_failed=False):
    """Builds the output row (dict) for one parsed input line.
    echo_keys=False: only status, processed_time, request and response.
    retype: the set of top-level members whose numeric-looking strings come
    back as numbers (the importer typed that column as a number), or None.
    empty_failed: a failed row carries "response": {}."""
    req = line.get("request")
    status, response = predict(req, model)
    echoed = reserialize(req)
    if retype is not None:
        echoed = retype_numbers(echoed)
    row = {"status": status, "processed_time": processed_time,
           "request": echoed}
    if response is not None:
        row["response"] = response
    elif empty_failed:
        row["response"] = {}
    if echo_keys:
        for k, v in line.items():
            if k != "request":
                if retype is not None and k in retype and numeric_looking(v):
                    v = as_number(v)
                row[k] = v
    return row


def column_types(lines):
    """The importer's view of the top-level members of the input: one type
    per member across the file. Returns (retyped, conflict): the members
    whose numeric-looking strings become numbers, and the first member that
    is a number on one line and a string on another (None when none)."""
    kinds = {}
    for obj in lines:
        for k, v in obj.items():
            if k == "request":
                continue
            if isinstance(v, bool) or v is None:
                kind = "other"
            elif isinstance(v, (int, float)):
                kind = "num"
            elif numeric_looking(v):
                kind = "numstr"
            elif isinstance(v, str):
                kind = "str"
            else:
                kind = "other"
            kinds.setdefault(k, set()).add(kind)
    retyped = set()
    for k, ks in sorted(kinds.items()):
        if "num" in ks and "str" in ks:
            return set(), k
        if ks <= {"num", "numstr"} and "numstr" in ks:
            retyped.add(k)
    return retyped, None
