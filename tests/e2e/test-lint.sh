#!/bin/bash
# test-lint.sh - "mqsift lint" fails (status 1, one line per problem) on a
# configuration that would be unsafe or fail in production: only the test
# signatures (scanner.signatures wrong), a missing scan user, a missing
# rules file, missing queue, quarantine or store directories, duplicate
# keys; and passes on the test relay's own configuration.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
relay_prepare || bail_out "cannot prepare the test relay"
CONF=$RELAY/etc/mqsift.yaml

# lint_fails NAME FILE PATTERN - status 1, PATTERN on a line of its own, every
# stderr line a problem (no header or blank lines)
lint_fails() {
	"$MQSIFT" lint -c "$2" >"$RELAY/lint.out" 2>"$RELAY/lint.err"
	local st=$?
	[ "$st" -eq 1 ] || { echo "status $st" >&2; cat "$RELAY/lint.err" >&2; return 1; }
	grep -q -- "$3" "$RELAY/lint.err" || { cat "$RELAY/lint.err" >&2; return 1; }
	! grep -qvE '^[^ ].*' "$RELAY/lint.err" || { echo "a line that is not a problem" >&2; return 1; }
}
# variant NAME SED-EXPRESSION - a copy of the relay's configuration, edited
variant() {
	sed "$2" "$CONF" >"$RELAY/etc/$1.yaml"
	echo "$RELAY/etc/$1.yaml"
}

"$MQSIFT" lint -c "$CONF" >"$RELAY/lint.out" 2>&1
ok_if "the test relay's configuration passes" [ $? -eq 0 ]

f=$(variant typo "s|^  signatures: .*|  signatures: $RELAY/clamav-typo|")
# installed, the TEST signatures stand in (lint names that); in the build tree
# they are not installed and the engine cannot load at all: a problem either way
ok_if "a wrong scanner.signatures (only the TEST signatures, or none) fails" \
	lint_fails typo "$f" "no ClamAV database \(there\|in\).*$RELAY/clamav-typo\|$RELAY/clamav-typo: no ClamAV database"
mkdir -m 0755 "$RELAY/emptyclam"
f=$(variant emptydb "s|^  signatures: .*|  signatures: $RELAY/emptyclam|")
ok_if "an empty ClamAV directory (freshclam never ran) fails the same way" \
	lint_fails emptydb "$f" "no ClamAV database \(there\|in\).*$RELAY/emptyclam\|$RELAY/emptyclam: no ClamAV database"
f=$(variant nouser "s|^  user: .*|  user: mqsift-no-such-user|")
ok_if "a missing scanner.user fails" lint_fails nouser "$f" "scanner.user mqsift-no-such-user does not exist"
f=$(variant norules "s|^policy:|policy:|")
printf 'policy:\n  filename_rules: %s\n' "$RELAY/etc/site.rules" >>"$f"
ok_if "a missing rules file fails" lint_fails norules "$f" "policy.filename_rules $RELAY/etc/site.rules: No such file"
f=$(variant noquar "s|^  dir: .*|  dir: $RELAY/nonexistent/quarantine|")
ok_if "a missing quarantine directory fails" lint_fails noquar "$f" "quarantine.dir $RELAY/nonexistent/quarantine"
f=$(variant nodb "s|^  database: .*|  database: $RELAY/nonexistent/mqsift.db|")
ok_if "a missing store directory fails" lint_fails nodb "$f" "reports.database: directory $RELAY/nonexistent"
f=$(variant noout "s|^  outgoing: .*|  outgoing: $RELAY/nonexistent-out|")
ok_if "a missing outgoing queue fails" lint_fails noout "$f" "queue.outgoing $RELAY/nonexistent-out"
f=$(variant noin "s|^  incoming: .*|  incoming: $RELAY/nonexistent-q*|")
ok_if "an incoming glob that matches nothing fails" lint_fails noin "$f" "matches no directory"
cp "$CONF" "$RELAY/etc/dup.yaml"
printf 'scanner:\n  workers: 3\n  workers: 4\n' >>"$RELAY/etc/dup.yaml"
ok_if "duplicate keys fail, each named with its line" \
	lint_fails dup "$RELAY/etc/dup.yaml" 'dup.yaml:[0-9]*:3: duplicate key "scanner.workers" (first at line'
ok_if "a repeated section too" grep -q 'duplicate section "scanner"' "$RELAY/lint.err"
printf 'quarantine:\n  keep_days: -3\n' >"$RELAY/etc/neg.yaml"
ok_if "keep_days: -3 says it must not be negative" \
	lint_fails neg "$RELAY/etc/neg.yaml" 'neg.yaml:2:14: quarantine.keep_days must not be negative'
# several at once: one line each
f=$(variant many "s|^  user: .*|  user: mqsift-no-such-user|; s|^  dir: .*|  dir: $RELAY/nonexistent/q|")
"$MQSIFT" lint -c "$f" >/dev/null 2>"$RELAY/many.err"
ok_if "two problems, two lines" [ "$(wc -l <"$RELAY/many.err")" -eq 2 ]
done_testing
