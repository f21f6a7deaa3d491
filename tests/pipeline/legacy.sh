#!/bin/sh
# legacy.sh MOUNTPOINT WORKDIR - a legacy batch pipeline against a batchfs
# mount (mounted with -o staging=...), using only coreutils on the mount:
#
#   1. stage input.jsonl (rows 4, 9 and 15 use role "tester": they fail),
#   2. submit with a one-line request.json, `cat wait`,
#   3. check that line N of results/by-input.jsonl answers prompt N,
#   4. copy results/retry.jsonl into a new job's input.jsonl, submit, wait,
#   5. check that the second job covers exactly the rows that failed.
#
# Checks run on local copies (grep, sed); prints "legacy: OK" at the end and
# exits non-zero at the first failed check.
set -eu

MNT=$1
WORK=$2
N=20
BAD=" 4 9 15 "
J1=legacy-$$
J2=legacy-$$-retry

fail() {
	echo "legacy: FAIL: $*" >&2
	exit 1
}

mkdir -p "$WORK"
: >"$WORK/input.jsonl"
i=1
while [ $i -le $N ]; do
	role=user
	case $BAD in *" $i "*) role=tester ;; esac
	printf '{"request": {"contents": [{"role": "%s", "parts": [{"text": "prompt %d"}]}]}}\n' \
		"$role" "$i" >>"$WORK/input.jsonl"
	i=$((i + 1))
done

# 1-2: stage, submit, wait
mkdir "$MNT/jobs/$J1"
cp "$WORK/input.jsonl" "$MNT/jobs/$J1/input.jsonl"
echo '{"model": "gemini-2.5-flash"}' >"$MNT/jobs/$J1/request.json"
state=$(cat "$MNT/jobs/$J1/wait")
case $state in
JOB_STATE_SUCCEEDED | JOB_STATE_PARTIALLY_SUCCEEDED) ;;
*) fail "first job ended in '$state'" ;;
esac
cat "$MNT/jobs/$J1/progress"

# 3: line N answers prompt N
. "$(dirname "$0")/checkrows.sh"
cp "$MNT/jobs/$J1/results/by-input.jsonl" "$WORK/by-input.jsonl"
check "$WORK/by-input.jsonl" $N "$BAD" prompt

# 4: retry exactly what failed
[ "$(wc -l <"$MNT/jobs/$J1/results/retry.jsonl")" -eq 3 ] ||
	fail "retry.jsonl does not hold the 3 failed rows"
mkdir "$MNT/jobs/$J2"
cp "$MNT/jobs/$J1/results/retry.jsonl" "$MNT/jobs/$J2/input.jsonl"
echo '{"model": "gemini-2.5-flash"}' >"$MNT/jobs/$J2/request.json"
cat "$MNT/jobs/$J2/wait" >/dev/null

# 5: the second job covers exactly the failed rows, in input order
cp "$MNT/jobs/$J2/results/by-input.jsonl" "$WORK/retry-by-input.jsonl"
keys=$(sed -n 's/.*"key": *"line-\([0-9]*\)".*/\1/p' "$WORK/retry-by-input.jsonl" |
	tr '\n' ' ')
[ "$keys" = "4 9 15 " ] || fail "second job covered keys '$keys'"
for k in 4 9 15; do
	grep "\"key\": *\"line-$k\"" "$WORK/retry-by-input.jsonl" |
		grep -q "\"text\": \"prompt $k\"" ||
		fail "retry of row $k is not prompt $k"
done

rmdir "$MNT/jobs/$J1" "$MNT/jobs/$J2"
echo "legacy: OK"
