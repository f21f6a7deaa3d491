#!/bin/sh
# hotfolder.sh MOUNTPOINT WORKDIR - a cron-style batch pipeline against a
# batchfs mount with a hot folder (-o staging=...,model=...). It knows only
# inbox/ and outbox/ and uses only cp, test -e and a polling loop on the
# mount (plus rm to consume a result); it never looks at the job tree.
#
#   1. drop two batches into inbox/ with cp (rows 3 and 8 of the first use
#      role "tester": they fail), and a bad file, which cp must refuse with
#      inbox/NAME.error explaining why;
#   2. poll until outbox/NAME.jsonl exists for both (stop at NAME.error);
#   3. check that line N of each answers prompt N of that batch;
#   4. consume the results: rm outbox/NAME.jsonl, and it is gone.
#
# Checks run on local copies (grep, sed); prints "hotfolder: OK" at the end
# and exits non-zero at the first failed check. POLL (seconds between polls,
# default 1) and TRIES (polls before giving up, default 600) may be set.
set -eu

MNT=$1
WORK=$2
POLL=${POLL:-1}
TRIES=${TRIES:-600}
A=hot-$$-a
B=hot-$$-b
BADNAME=hot-$$-bad
NA=10
NB=4
BAD=" 3 8 "

fail() {
	echo "hotfolder: FAIL: $*" >&2
	exit 1
}

# batch FILE N BADROWS PREFIX: N prompts "PREFIX I", the BADROWS failing
batch() {
	: >"$1"
	i=1
	while [ $i -le "$2" ]; do
		role=user
		case $3 in *" $i "*) role=tester ;; esac
		printf '{"request": {"contents": [{"role": "%s", "parts": [{"text": "%s %d"}]}]}}\n' \
			"$role" "$4" "$i" >>"$1"
		i=$((i + 1))
	done
}

mkdir -p "$WORK"
batch "$WORK/$A.jsonl" $NA "$BAD" "alpha"
batch "$WORK/$B.jsonl" $NB " " "beta"
printf '{"request": {"contents": []}}\n' >"$WORK/$BADNAME.jsonl"

# 1: drop the files in
cp "$WORK/$A.jsonl" "$MNT/inbox/$A.jsonl"
cp "$WORK/$B.jsonl" "$MNT/inbox/$B.jsonl"
if cp "$WORK/$BADNAME.jsonl" "$MNT/inbox/$BADNAME.jsonl" 2>"$WORK/cp.err"; then
	fail "cp of a bad file succeeded"
fi
test -e "$MNT/inbox/$BADNAME.error" || fail "no inbox/$BADNAME.error"
cp "$MNT/inbox/$BADNAME.error" "$WORK/bad.error"
grep -q "$BADNAME.jsonl:1:" "$WORK/bad.error" ||
	fail "inbox/$BADNAME.error does not name the line: $(cat "$WORK/bad.error")"
rm "$MNT/inbox/$BADNAME.error"

# 2: poll for the results, as a cron job would
for name in $A $B; do
	n=0
	while ! test -e "$MNT/outbox/$name.jsonl"; do
		if test -e "$MNT/outbox/$name.error"; then
			fail "$name failed: $(cat "$MNT/outbox/$name.error")"
		fi
		n=$((n + 1))
		[ $n -le "$TRIES" ] || fail "no outbox/$name.jsonl after $TRIES polls"
		sleep "$POLL"
	done
	cp "$MNT/outbox/$name.jsonl" "$WORK/$name.out"
done

# 3: line N answers prompt N
. "$(dirname "$0")/checkrows.sh"
check "$WORK/$A.out" $NA "$BAD" alpha
check "$WORK/$B.out" $NB " " beta

# 4: consume
for name in $A $B; do
	rm "$MNT/outbox/$name.jsonl"
	! test -e "$MNT/outbox/$name.jsonl" || fail "outbox/$name.jsonl still there"
done
echo "hotfolder: OK"
