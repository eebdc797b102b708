#!/bin/bash
# test-golden.sh - the trickiest evasion messages, frozen as files: each must
# come out infected or blocked from "mqsift scan", and for those that
# golden/expect.tsv marks "python yes", Python's email package (pyreader.py,
# an independent reader) must still find the EICAR zip or the banned name:
# the sample stays a real threat, not just odd bytes.
. "$(dirname "$0")/lib.sh"
evasion_setup evasion-golden

G=$here/golden
while IFS=$'\t' read -r f python why; do
	case $f in '#'* | '') continue ;; esac
	[ -f "$G/$f" ] || { ok_if "$f exists" false; continue; }
	out=$("$MQSIFT" scan -c "$T/mqsift.yaml" --json "$G/$f" 2>"$T/err")
	rc=$?
	verdict=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"])' 2>/dev/null)
	status=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null)
	case $verdict in
	infected | blocked) ok_if "${f%.eml}: $status" [ "$rc" = 1 ] ;;
	*) ok_if "${f%.eml}: ${status:-no result, exit $rc} - $why" false ;;
	esac
	if [ "$python" = yes ]; then
		ok_if "${f%.eml}: Python's email package finds the payload" \
			bash -c "! python3 '$here/pyreader.py' '$G/$f' >/dev/null"
	fi
done <"$G/expect.tsv"
ok_if "every golden message is listed in expect.tsv" bash -c \
	"diff <(ls '$G' | grep '\\.eml\$') <(grep -v '^#' '$G/expect.tsv' | cut -f1 | sort)"
done_testing
