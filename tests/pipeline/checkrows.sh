# checkrows.sh - sourced by the pipeline scripts (which define fail):
# check OUT N BADROWS PREFIX: OUT has N lines, line i keyed line-i, about
# "PREFIX i", failed when " i " is in BADROWS, else answering it.
check() { # check OUT N BADROWS PREFIX
	lines=$(wc -l <"$1")
	[ "$lines" -eq "$2" ] || fail "$1 has $lines lines, not $2"
	i=1
	while [ $i -le "$2" ]; do
		line=$(head -n $i "$1" | tail -n 1)
		printf '%s\n' "$line" | grep -q "\"key\": *\"line-$i\"" ||
			fail "line $i of $1 has another key: $line"
		printf '%s\n' "$line" | grep -q "\"text\": \"$4 $i\"" ||
			fail "line $i of $1 is not about $4 $i"
		case $3 in
		*" $i "*)
			printf '%s\n' "$line" | grep -q '"status": "Bad Request' ||
				fail "line $i of $1 should have failed: $line" ;;
		*)
			printf '%s\n' "$line" | grep -q "to: $4 $i\"" ||
				fail "line $i of $1 does not answer $4 $i: $line" ;;
		esac
		i=$((i + 1))
	done
}
