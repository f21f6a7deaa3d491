"""Cloud Storage JSON API: buckets, uploads, listing, media, errors."""
import base64
import hashlib
import json
import os
import urllib.parse

import pytest

from lib.emuhelp import q


def md5b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def test_bucket_lifecycle(emu):
    st, _, b = emu.request("POST", "/storage/v1/b?project=test-project", {"name": "bkt-1"})
    assert st == 200 and b["kind"] == "storage#bucket" and b["name"] == "bkt-1"
    assert b["projectNumber"] == "123456789012"
    st, _, e = emu.request("POST", "/storage/v1/b?project=test-project", {"name": "bkt-1"})
    assert st == 409 and e["error"]["errors"][0]["reason"] == "conflict"
    st, _, e = emu.request("POST", "/storage/v1/b?project=test-project", {"name": "ab"})
    assert st == 400 and e["error"]["errors"][0]["reason"] == "invalid"
    st, _, e = emu.request("POST", "/storage/v1/b", {"name": "bkt-x"})
    assert st == 400
    st, _, g = emu.request("GET", "/storage/v1/b/bkt-1")
    assert st == 200 and g["id"] == "bkt-1"
    st, _, lst = emu.request("GET", "/storage/v1/b?project=test-project")
    assert [i["name"] for i in lst["items"]] == ["bkt-1"]
    emu.put_object("bkt-1", "x", b"1")
    st, _, e = emu.request("DELETE", "/storage/v1/b/bkt-1")
    assert st == 409
    st, _, _ = emu.request("DELETE", "/storage/v1/b/bkt-1/o/x")
    assert st == 204
    st, _, _ = emu.request("DELETE", "/storage/v1/b/bkt-1")
    assert st == 204
    st, _, e = emu.request("GET", "/storage/v1/b/bkt-1")
    assert st == 404
    assert e["error"]["message"] == "The specified bucket does not exist."


def test_missing_bucket_writes_refused(emu):
    for path, body, hdr in [
        ("/upload/storage/v1/b/nope-bkt/o?uploadType=media&name=a", b"x", {}),
        ("/upload/storage/v1/b/nope-bkt/o?uploadType=resumable&name=a", b"", {}),
        ("/upload/storage/v1/b/nope-bkt/o?uploadType=multipart",
         b"--B\r\nContent-Type: application/json\r\n\r\n{\"name\":\"a\"}\r\n--B\r\n"
         b"Content-Type: text/plain\r\n\r\nhi\r\n--B--\r\n",
         {"Content-Type": "multipart/related; boundary=B"}),
    ]:
        st, _, e = emu.request("POST", path, body, hdr)
        assert st == 404, path
        assert e["error"]["code"] == 404
        assert e["error"]["message"] == "The specified bucket does not exist."
        assert e["error"]["errors"][0]["domain"] == "global"
        assert e["error"]["errors"][0]["reason"] == "notFound"


def test_media_upload_metadata_and_download(emu):
    emu.make_bucket("bkt")
    data = os.urandom(100000)
    o = emu.put_object("bkt", "dir/file.bin", data, "application/x-test")
    assert o["size"] == "100000" and isinstance(o["generation"], str)
    assert o["metageneration"] == "1" and o["md5Hash"] == md5b64(data)
    assert o["contentType"] == "application/x-test" and o["crc32c"]
    assert o["updated"].endswith("Z")
    st, _, m = emu.request("GET", "/storage/v1/b/bkt/o/" + q("dir/file.bin"))
    assert st == 200 and m["generation"] == o["generation"]
    assert emu.get_object("bkt", "dir/file.bin") == data
    st, h, body = emu.request("GET", "/download/storage/v1/b/bkt/o/%s?alt=media"
                              % q("dir/file.bin"), raw=True)
    assert st == 200 and body == data
    assert h["X-Goog-Generation"] == o["generation"]
    assert "md5=" + o["md5Hash"] in h["X-Goog-Hash"]
    assert "crc32c=" + o["crc32c"] in h["X-Goog-Hash"]


def test_crc32c_known_value(emu):
    emu.make_bucket("bkt")
    o = emu.put_object("bkt", "c", b"123456789")
    assert base64.b64decode(o["crc32c"]).hex() == "e3069283"


def test_multipart_upload(emu):
    emu.make_bucket("bkt")
    meta = {"name": "m/obj.txt", "contentType": "text/plain",
            "metadata": {"k": "v"}}
    body = (b"--XyZ\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" +
            json.dumps(meta).encode() +
            b"\r\n--XyZ\r\nContent-Type: text/plain\r\n\r\nhello\r\nworld\r\n--XyZ--\r\n")
    st, _, o = emu.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=multipart",
                           body, {"Content-Type": 'multipart/related; boundary="XyZ"'})
    assert st == 200, o
    assert o["name"] == "m/obj.txt" and o["size"] == "12"
    assert o["metadata"] == {"k": "v"} and o["contentType"] == "text/plain"
    assert emu.get_object("bkt", "m/obj.txt") == b"hello\r\nworld"
    # a wrong md5 in the metadata is refused
    meta["md5Hash"] = md5b64(b"other")
    body = (b"--B\r\nContent-Type: application/json\r\n\r\n" + json.dumps(meta).encode()
            + b"\r\n--B\r\n\r\nabc\r\n--B--")
    st, _, e = emu.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=multipart",
                           body, {"Content-Type": "multipart/related; boundary=B"})
    assert st == 400


def test_resumable_upload_chunks(emu):
    emu.make_bucket("bkt")
    data = os.urandom(3 * 256 * 1024 + 1000)
    st, h, _ = emu.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=resumable",
                           {"name": "big/r.bin", "contentType": "application/x-r"},
                           {"X-Upload-Content-Length": str(len(data))})
    assert st == 200
    loc = h["Location"]
    assert "upload_id=" in loc
    path = loc[len(emu.url):]
    q256 = 256 * 1024
    # chunk 1: exactly 256 KiB
    st, h, _ = emu.request("PUT", path, data[:q256],
                           {"Content-Range": "bytes 0-%d/*" % (q256 - 1)})
    assert st == 308 and h["Range"] == "bytes=0-%d" % (q256 - 1)
    # an unaligned non-final chunk: only the 256 KiB multiple is persisted
    st, h, _ = emu.request("PUT", path, data[q256:q256 + q256 + 10],
                           {"Content-Range": "bytes %d-%d/*" % (q256, 2 * q256 + 9)})
    assert st == 308 and h["Range"] == "bytes=0-%d" % (2 * q256 - 1)
    # status query
    st, h, _ = emu.request("PUT", path, b"", {"Content-Range": "bytes */*"})
    assert st == 308 and h["Range"] == "bytes=0-%d" % (2 * q256 - 1)
    # re-send overlapping bytes plus the rest: final chunk
    start = 2 * q256 - 100
    st, _, o = emu.request("PUT", path, data[start:],
                           {"Content-Range": "bytes %d-%d/%d" % (start, len(data) - 1,
                                                                 len(data))})
    assert st == 200, o
    assert o["size"] == str(len(data)) and o["md5Hash"] == md5b64(data)
    assert o["contentType"] == "application/x-r"
    assert emu.get_object("bkt", "big/r.bin") == data
    # the finished session answers with the object again
    st, _, o2 = emu.request("PUT", path, b"", {"Content-Range": "bytes */%d" % len(data)})
    assert st == 200 and o2["generation"] == o["generation"]


def test_resumable_single_open_ended_put(emu):
    """@google-cloud/storage sends one PUT with Content-Range bytes 0-*/*."""
    emu.make_bucket("bkt")
    st, h, _ = emu.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=resumable&name=s",
                           b"")
    path = h["Location"][len(emu.url):]
    st, _, o = emu.request("PUT", path, b"x" * 1000, {"Content-Range": "bytes 0-*/*"})
    assert st == 200 and o["size"] == "1000"


def test_resumable_cancel(emu):
    emu.make_bucket("bkt")
    st, h, _ = emu.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=resumable&name=s")
    path = h["Location"][len(emu.url):]
    st, _, _ = emu.request("DELETE", path)
    assert st == 499
    st, _, _ = emu.request("PUT", path, b"x", {"Content-Range": "bytes 0-0/1"})
    assert st == 404


def test_object_names_are_one_encoded_segment(emu):
    emu.make_bucket("bkt")
    names = ["a/b/c.txt", "with space", "ünïcödé/名前", "hash#q?x", "pct%41", "plus+x",
             "out/prediction-model-2026-09-02T20:06:30.166279Z/predictions.jsonl"]
    for n in names:
        emu.put_object("bkt", n, n.encode())
    for n in names:
        assert emu.get_object("bkt", n) == n.encode()
        st, _, m = emu.request("GET", "/storage/v1/b/bkt/o/" + q(n))
        assert st == 200 and m["name"] == n
        assert m["selfLink"].endswith("/o/" + q(n))
    assert sorted(emu.list_objects("bkt")) == sorted(names)


def test_list_prefix_delimiter(emu):
    emu.make_bucket("bkt")
    for n in ["a/b", "a/c", "d", "e", "e/f", "e/g/h"]:
        emu.put_object("bkt", n, b"x")
    st, _, r = emu.request("GET", "/storage/v1/b/bkt/o?delimiter=/")
    assert [i["name"] for i in r["items"]] == ["d", "e"]
    assert r["prefixes"] == ["a/", "e/"]
    st, _, r = emu.request("GET", "/storage/v1/b/bkt/o?delimiter=/&prefix=e/")
    assert [i["name"] for i in r["items"]] == ["e/f"] and r["prefixes"] == ["e/g/"]
    st, _, r = emu.request("GET", "/storage/v1/b/bkt/o?prefix=zzz")
    assert r == {"kind": "storage#objects"}


def test_list_paging_counts_items_and_prefixes(emu):
    emu.make_bucket("bkt")
    names = ["p%02d/x" % i for i in range(5)] + ["f%02d" % i for i in range(7)]
    for n in names:
        emu.put_object("bkt", n, b"")
    seen_items, seen_prefixes, tok, pages = [], [], None, 0
    while True:
        qs = {"delimiter": "/", "maxResults": "3"}
        if tok:
            qs["pageToken"] = tok
        st, _, r = emu.request("GET", "/storage/v1/b/bkt/o?" + urllib.parse.urlencode(qs))
        assert st == 200
        assert len(r.get("items", [])) + len(r.get("prefixes", [])) <= 3
        seen_items += [i["name"] for i in r.get("items", [])]
        seen_prefixes += r.get("prefixes", [])
        pages += 1
        tok = r.get("nextPageToken")
        if not tok:
            break
    assert pages == 4
    assert seen_items == sorted("f%02d" % i for i in range(7))
    assert seen_prefixes == ["p%02d/" % i for i in range(5)]


def test_list_trailing_delimiter_paging(emu):
    emu.make_bucket("bkt")
    for n in ["a/", "a/x", "a/y", "b"]:
        emu.put_object("bkt", n, b"")
    got, tok = [], None
    while True:
        qs = {"delimiter": "/", "maxResults": "1", "includeTrailingDelimiter": "true"}
        if tok:
            qs["pageToken"] = tok
        st, _, r = emu.request("GET", "/storage/v1/b/bkt/o?" + urllib.parse.urlencode(qs))
        got += [("i", i["name"]) for i in r.get("items", [])] + \
            [("p", p) for p in r.get("prefixes", [])]
        tok = r.get("nextPageToken")
        if not tok:
            break
    assert sorted(got) == [("i", "b"), ("p", "a/")] or \
        sorted(got) == [("i", "a/"), ("i", "b"), ("p", "a/")]


def test_list_fields_and_offsets(emu):
    emu.make_bucket("bkt")
    for n in ["a", "b", "c", "d"]:
        emu.put_object("bkt", n, b"xy")
    st, _, r = emu.request("GET", "/storage/v1/b/bkt/o?fields=items(name,size),nextPageToken"
                           "&maxResults=2")
    assert r["items"] == [{"name": "a", "size": "2"}, {"name": "b", "size": "2"}]
    assert set(r) == {"items", "nextPageToken"}
    st, _, r = emu.request("GET", "/storage/v1/b/bkt/o?startOffset=b&endOffset=d"
                           "&fields=items/name")
    assert r == {"items": [{"name": "b"}, {"name": "c"}]}
    st, _, r = emu.request("GET", "/storage/v1/b/bkt/o?matchGlob=%5Bac%5D&fields=items/name")
    assert r == {"items": [{"name": "a"}, {"name": "c"}]}


def test_ranges(emu):
    emu.make_bucket("bkt")
    data = bytes(range(256)) * 40
    emu.put_object("bkt", "r", data)
    path = "/storage/v1/b/bkt/o/r?alt=media"
    st, h, b = emu.request("GET", path, headers={"Range": "bytes=10-19"}, raw=True)
    assert st == 206 and b == data[10:20]
    assert h["Content-Range"] == "bytes 10-19/%d" % len(data)
    st, h, b = emu.request("GET", path, headers={"Range": "bytes=10000-"}, raw=True)
    assert st == 206 and b == data[10000:]
    st, h, b = emu.request("GET", path, headers={"Range": "bytes=-5"}, raw=True)
    assert st == 206 and b == data[-5:]
    st, h, b = emu.request("GET", path, headers={"Range": "bytes=100-999999"}, raw=True)
    assert st == 206 and b == data[100:]
    st, h, b = emu.request("GET", path, headers={"Range": "bytes=%d-" % len(data)})
    assert st == 416 and h["Content-Range"] == "bytes */%d" % len(data)
    assert b["error"]["code"] == 416


def test_generations_and_preconditions(emu):
    emu.make_bucket("bkt")
    o1 = emu.put_object("bkt", "g", b"one")
    o2 = emu.put_object("bkt", "g", b"two")
    assert int(o2["generation"]) > int(o1["generation"])
    st, _, b = emu.request("GET", "/storage/v1/b/bkt/o/g?alt=media&generation=%s"
                           % o2["generation"], raw=True)
    assert st == 200 and b == b"two"
    st, _, e = emu.request("GET", "/storage/v1/b/bkt/o/g?alt=media&generation=%s"
                           % o1["generation"])
    assert st == 404 and e["error"]["errors"][0]["reason"] == "notFound"
    st, _, e = emu.request("GET", "/storage/v1/b/bkt/o/g?alt=media&ifGenerationMatch=%s"
                           % o1["generation"])
    assert st == 412 and e["error"]["errors"][0]["reason"] == "conditionNotMet"
    st, _, _ = emu.request("GET", "/storage/v1/b/bkt/o/g?alt=media&ifGenerationMatch=%s"
                           % o2["generation"], raw=True)
    assert st == 200
    st, _, e = emu.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=media&name=g"
                           "&ifGenerationMatch=0", b"three")
    assert st == 412
    st, _, o = emu.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=media&name=new"
                           "&ifGenerationMatch=0", b"three")
    assert st == 200 and o["size"] == "5"


def test_patch_copy_compose_delete(emu):
    emu.make_bucket("bkt")
    emu.put_object("bkt", "a", b"AAA")
    emu.put_object("bkt", "b", b"BB")
    st, _, o = emu.request("PATCH", "/storage/v1/b/bkt/o/a",
                           {"metadata": {"x": "1"}, "contentType": "text/plain"})
    assert st == 200 and o["metageneration"] == "2" and o["metadata"] == {"x": "1"}
    st, _, o = emu.request("POST", "/storage/v1/b/bkt/o/a/copyTo/b/bkt/o/" + q("c/d"), {})
    assert st == 200 and o["name"] == "c/d" and emu.get_object("bkt", "c/d") == b"AAA"
    st, _, r = emu.request("POST", "/storage/v1/b/bkt/o/a/rewriteTo/b/bkt/o/e", {})
    assert st == 200 and r["done"] is True and r["resource"]["name"] == "e"
    st, _, o = emu.request("POST", "/storage/v1/b/bkt/o/ab/compose",
                           {"sourceObjects": [{"name": "a"}, {"name": "b"}]})
    assert st == 200 and emu.get_object("bkt", "ab") == b"AAABB"
    st, _, _ = emu.request("DELETE", "/storage/v1/b/bkt/o/a")
    assert st == 204
    st, _, e = emu.request("DELETE", "/storage/v1/b/bkt/o/a")
    assert st == 404 and e["error"]["message"] == "No such object: bkt/a"


def test_short_prefix_routes_and_xml_get(emu):
    """@google-cloud/storage with STORAGE_EMULATOR_HOST uses /b/... paths."""
    st, _, b = emu.request("POST", "/b?project=test-project", {"name": "short"})
    assert st == 200
    emu.put_object("short", "x/y", b"data")
    st, _, r = emu.request("GET", "/b/short/o?prefix=x/")
    assert st == 200 and r["items"][0]["name"] == "x/y"
    st, _, b = emu.request("GET", "/b/short/o/%s?alt=media" % q("x/y"), raw=True)
    assert b == b"data"
    st, _, b = emu.request("GET", "/short/x/y", raw=True)
    assert st == 200 and b == b"data"


def test_large_object_streams(emu, tmp_path):
    emu.make_bucket("bkt")
    size = 64 << 20
    chunk = os.urandom(1 << 20)
    data = chunk * 64
    o = emu.put_object("bkt", "big", data)
    assert o["size"] == str(size) and o["md5Hash"] == md5b64(data)
    st, _, b = emu.request("GET", "/storage/v1/b/bkt/o/big?alt=media",
                           headers={"Range": "bytes=%d-%d" % (size - 10, size - 1)}, raw=True)
    assert st == 206 and b == data[-10:]
    assert emu.get_object("bkt", "big") == data


def test_counters(emu):
    emu.make_bucket("bkt")
    emu.put_object("bkt", "a", b"x")
    emu.get_object("bkt", "a")
    emu.list_objects("bkt")
    c = emu.counters()
    assert c["routes"]["gcs.upload"] == 1
    assert c["routes"]["gcs.media"] == 1
    assert c["routes"]["gcs.list"] == 1
    assert c["total"] == 4


def test_gcloud_style_multipart_and_resumable_path(emu):
    """gcloud quotes the boundary with single quotes and uploads resumably
    through /resumable/upload/storage/v1/..."""
    emu.make_bucket("bkt")
    body = (b"--===1==\r\nContent-Type: application/json\r\n\r\n{\"name\": \"g1\"}\r\n"
            b"--===1==\r\nContent-Type: application/octet-stream\r\n\r\nDATA\r\n--===1==--")
    st, _, o = emu.request("POST", "/upload/storage/v1/b/bkt/o?alt=json&uploadType=multipart",
                           body, {"Content-Type": "multipart/related; boundary='===1=='"})
    assert st == 200 and o["size"] == "4", o
    st, h, _ = emu.request("POST", "/resumable/upload/storage/v1/b/bkt/o?alt=json"
                           "&uploadType=resumable", {"name": "g2"})
    assert st == 200
    st, _, o = emu.request("PUT", h["Location"][len(emu.url):], b"abc",
                           {"Content-Range": "bytes 0-2/3"})
    assert st == 200 and o["name"] == "g2"


def test_go_client_no_308(emu):
    """Go clients send X-GUploader-No-308 and get 200 + an override header."""
    emu.make_bucket("bkt")
    st, h, _ = emu.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=resumable&name=go")
    path = h["Location"][len(emu.url):]
    st, h, _ = emu.request("PUT", path, b"x" * 262144,
                           {"Content-Range": "bytes 0-262143/*", "X-GUploader-No-308": "yes"})
    assert st == 200 and h["X-Http-Status-Code-Override"] == "308"
    assert h["Range"] == "bytes=0-262143"


def test_invalid_utf8_name_refused(emu):
    emu.make_bucket("bkt")
    st, _, e = emu.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=media&name=%ff%fe",
                           b"x")
    assert st == 400 and e["error"]["errors"][0]["reason"] == "invalid"
    st, _, e = emu.request("GET", "/storage/v1/b/bkt/o/%ff")
    assert st == 404


def test_unencoded_slash_in_object_path_is_not_found(emu):
    emu.make_bucket("bkt")
    emu.put_object("bkt", "a/b", b"x")
    st, _, e = emu.request("GET", "/storage/v1/b/bkt/o/a/b?alt=media")
    assert st == 404
    st, _, e = emu.request("GET", "/storage/v1/b/bkt/o/a%2Fb?alt=media", raw=True)
    assert st == 200


@pytest.mark.parametrize("name", ["Bad Name!", "ab", "ends-with-dash-", "a..b"])
def test_invalid_bucket_option_is_one_line_and_status_2(name, tmp_path):
    """scripts/emulator --bucket with a name Cloud Storage refuses: one
    line on stderr and exit status 2 (argparse's), not a traceback."""
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    r = subprocess.run(["/usr/bin/python3",
                        os.path.join(root, "scripts", "emulator"), "--port",
                        "0", "--data", str(tmp_path), "--bucket", name],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "--bucket" in r.stderr and repr(name) in r.stderr
    assert r.stdout == ""
