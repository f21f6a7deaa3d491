#!/usr/bin/env bash
# make_corpus.sh - regenerates the emulator half of the seed corpora in
# tests/fuzz/corpus/<target>/ (files named emu-*); hand-made edge cases
# (hand-*) are kept as they are. Needs only the emulator and curl:
#   tests/fuzz/make_corpus.sh
set -euo pipefail
trap 'echo "make_corpus.sh: line $LINENO failed" >&2' ERR
cd "$(dirname "$0")"
C=$PWD/corpus
ROOT=$(cd ../.. && pwd)
DATA=$(mktemp -d)
EMU_PID=
cleanup() {
	[ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null
	rm -rf "$DATA"
}
trap cleanup EXIT

/usr/bin/python3 "$ROOT/scripts/emulator" --port 0 --data "$DATA" --quiet \
	--time-scale 0.3 >"$DATA/out" 2>"$DATA/err" &
EMU_PID=$!
for _ in $(seq 100); do
	B=$(head -1 "$DATA/out" 2>/dev/null || true)
	[ -n "$B" ] && break
	sleep 0.1
done
[ -n "$B" ] || { echo "emulator did not start" >&2; exit 1; }

J=$B/v1/projects/test-project/locations/us-central1/batchPredictionJobs
c() { curl -s --max-time 10 "$@"; }
put() { # target name < data
	mkdir -p "$C/$1"
	cat >"$C/$1/$2"
}
status() { # two big-endian bytes of an HTTP status (fuzz_err's prefix)
	printf "\\x$(printf %02x $(($1 >> 8)))\\x$(printf %02x $(($1 & 255)))"
}
rm -f "$C"/*/emu-*

# Cloud Storage: bucket, input, object resources, list pages.
c -X POST "$B/storage/v1/b?project=test-project" -H 'Content-Type: application/json' \
	-d '{"name":"fuzz-bkt"}' >/dev/null
printf '%s\n' '{"key":"k1","request":{"contents":[{"role":"user","parts":[{"text":"Hello"}]}]}}' \
	'{"key":"k2","request":{"contents":[{"role":"tester","parts":[{"text":"Hi"}]}]}}' >"$DATA/in.jsonl"
c -X POST "$B/upload/storage/v1/b/fuzz-bkt/o?uploadType=media&name=in/req.jsonl" \
	-H 'Content-Type: application/jsonl' --data-binary @"$DATA/in.jsonl" | put fuzz_gcs_object emu-upload.json
c -X POST "$B/upload/storage/v1/b/fuzz-bkt/o?uploadType=media&name=in/a%20b%2F..%2Fc" \
	--data-binary 'x' >/dev/null
c "$B/storage/v1/b/fuzz-bkt/o/in%2Freq.jsonl" | put fuzz_gcs_object emu-get.json
c "$B/storage/v1/b/fuzz-bkt/o?prefix=in/&delimiter=/" | { printf '\x00'; cat; } | put fuzz_gcs_list emu-in.json
c "$B/storage/v1/b/fuzz-bkt/o?delimiter=/" | { printf '\x00'; cat; } | put fuzz_gcs_list emu-root-prefixes.json
c "$B/storage/v1/b/fuzz-bkt/o?prefix=in/&delimiter=/&fields=items(name,size,generation,updated),prefixes,nextPageToken" |
	{ printf '\x00'; cat; } | put fuzz_gcs_list emu-fields.json
c -D "$DATA/h206" -o /dev/null -H 'Range: bytes=0-9' "$B/storage/v1/b/fuzz-bkt/o/in%2Freq.jsonl?alt=media"
tr -d '\r' <"$DATA/h206" | put fuzz_http_hdr emu-206.txt
grep -i '^content-range:' "$DATA/h206" | sed 's/^[^:]*: *//' | tr -d '\r\n' | put fuzz_content_range emu-206
c -D "$DATA/h416" -o /dev/null -H 'Range: bytes=999999-' "$B/storage/v1/b/fuzz-bkt/o/in%2Freq.jsonl?alt=media"
grep -i '^content-range:' "$DATA/h416" | sed 's/^[^:]*: *//' | tr -d '\r\n' | put fuzz_content_range emu-416 || true
LOC=$(c -si -X POST "$B/upload/storage/v1/b/fuzz-bkt/o?uploadType=resumable&name=big.bin" |
	tr -d '\r' | sed -n 's/^[Ll]ocation: *//p')
head -c 262144 /dev/zero >"$DATA/chunk"
c -D "$DATA/h308" -o /dev/null -X PUT "$LOC" -H 'Content-Range: bytes 0-262143/*' --data-binary @"$DATA/chunk"
tr -d '\r' <"$DATA/h308" | put fuzz_http_hdr emu-308.txt
grep -i '^range:' "$DATA/h308" | sed 's/^[^:]*: *//' | tr -d '\r\n' | put fuzz_content_range emu-308
c "$B/storage/v1/b/fuzz-bkt/o/missing" | { status 404; cat; } | put fuzz_err emu-gcs-404

# Vertex: create, get while running and after, list pages, cancel, errors.
BODY='{"displayName":"fz-job","model":"publishers/google/models/gemini-2.5-flash",
 "inputConfig":{"instancesFormat":"jsonl","gcsSource":{"uris":["gs://fuzz-bkt/in/req.jsonl"]}},
 "outputConfig":{"predictionsFormat":"jsonl","gcsDestination":{"outputUriPrefix":"gs://fuzz-bkt/out"}},
 "labels":{"batchfs-token":"tok-1"}}'
printf '%s\n' "$BODY" | put fuzz_request emu-create-body.json
c -X POST "$J" -H 'Content-Type: application/json' -d "$BODY" | put fuzz_job emu-created.json
ID=$(sed -n 's/.*batchPredictionJobs\/\([0-9]*\)".*/\1/p' "$C/fuzz_job/emu-created.json" | head -1)
c -X POST "$J" -H 'Content-Type: application/json' \
	-d "${BODY/fuzz-bkt\/in\/req.jsonl/fuzz-bkt\/missing.jsonl}" >/dev/null
c -X POST "$J" -H 'Content-Type: application/json' -d "${BODY/fz-job/fz-cancel}" >"$DATA/c2"
ID2=$(sed -n 's/.*batchPredictionJobs\/\([0-9]*\)".*/\1/p' "$DATA/c2" | head -1)
c -X POST "$J/$ID2:cancel" -d '{}' >/dev/null
sleep 4
c "$J/$ID" | put fuzz_job emu-succeeded.json
c "$J/$ID2" | put fuzz_job emu-cancelled.json
cp "$C/fuzz_job/emu-succeeded.json" "$DATA/j"
c "$J" | { printf '\x00'; cat; } | put fuzz_vertex_list emu-all.json
c "$J?readMask=name,state,completionStats" | { printf '\x00'; cat; } | put fuzz_vertex_list emu-readmask.json
sed 's/.*"createTime": *"\([^"]*\)".*/\1/' "$C/fuzz_job/emu-succeeded.json" | tr -d '\n' |
	put fuzz_rfc3339 emu-createTime
c -X POST "$J" -H 'Content-Type: application/json' -d '{"displayName":"x"}' |
	{ status 400; cat; } | put fuzz_err emu-vertex-400
c -X POST "$J/$ID:cancel" -d '{}' | { status 400; cat; } | put fuzz_err emu-cancel-done
c -X POST "$B/_emulator/faults" -d '{"path":"batchPredictionJobs","kind":"status","status":429,"retry_after":3}' >/dev/null
c -D "$DATA/h429" "$J" | { status 429; cat; } | put fuzz_err emu-429
tr -d '\r' <"$DATA/h429" | put fuzz_http_hdr emu-429.txt
grep -i '^retry-after:' "$DATA/h429" | sed 's/^[^:]*: *//' | tr -d '\r\n' | put fuzz_retry_after emu-429

# Results: the input as written, the job's output files (final and the
# incremental export) joined back to it, request.json short forms.
{ printf '\x13'; cat "$DATA/in.jsonl"; } | put fuzz_jsonl emu-input
OUT=$(c "$B/storage/v1/b/fuzz-bkt/o?prefix=out/" | tr ',' '\n' |
	sed -n 's/.*"name": *"\([^"]*predictions.jsonl\)".*/\1/p')
: >"$DATA/outputs"
for o in $OUT; do
	c "$B/storage/v1/b/fuzz-bkt/o/$(printf %s "$o" | sed 's#/#%2F#g')?alt=media" >>"$DATA/outputs"
	printf '\xfe' >>"$DATA/outputs"
done
{ cat "$DATA/outputs"; cat "$DATA/in.jsonl"; } | put fuzz_join emu-outputs
printf 'gs://fuzz-bkt/staging\n{"model":"gemini-2.5-flash","src":"gs://fuzz-bkt/in/req.jsonl","dest":"gs://fuzz-bkt/out"}' |
	put fuzz_expand emu-short
printf 'gs://fuzz-bkt\n{"model":"google/gemini-2.5-flash","displayName":"job1"}' | put fuzz_expand emu-staged

# OAuth: token replies (both grants need real credentials; the metadata
# server answers with the same shape) and error replies.
c -H 'Metadata-Flavor: Google' "$B/computeMetadata/v1/instance/service-accounts/default/token" |
	put fuzz_token emu-metadata.json
c -X POST "$B/token" -d grant_type=refresh_token -d client_id=x -d client_secret=y -d refresh_token=z |
	put fuzz_token emu-refresh.json
cp "$C/fuzz_token/emu-refresh.json" "$DATA/r"
c -X POST "$B/token" -d grant_type=bogus | { status 400; cat; } | put fuzz_err emu-oauth-400

# Credential files the emulator writes (fresh RSA key each run; mode byte 0).
{ printf '\x00'; cat "$DATA/service-account.json"; } | put fuzz_creds emu-service-account
{ printf '\x00'; cat "$DATA/authorized-user.json"; } | put fuzz_creds emu-authorized-user

# Object names and display names as the emulator listed them.
printf 'req.jsonl\xffa b\xfffz-job\xfffz-job\xfffz-cancel' | put fuzz_names emu-listing
echo "corpus: $(find "$C" -type f | wc -l) files, $(du -sk "$C" | cut -f1) KiB"
