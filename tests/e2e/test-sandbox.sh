#!/bin/bash
# test-sandbox.sh - the scan workers' sandbox and scratch space, end to end:
# a worker cannot reach the network, the master, a sibling, a new user
# namespace, /etc/passwd or the queues, while real mail still scans; a worker
# that answers with /dev/zero, an unsealed memfd or garbage is killed and its
# message stays queued (the master stays small); a full, pre-created or
# symlinked scratch directory never lets an infected message out as Clean,
# and no root directory is chmodded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
relay_start || bail_out "cannot start the test relay"
CONF=$RELAY/etc/mqsift.yaml
G=$TOP_SRCDIR/tests/golden
LOG=$RELAY/run.log
CLEAN_ID=$(sed -n 's/^Message-ID: <\(.*\)>.*/\1/Ip' "$G/clean-multipart.eml" | head -n1)
mkdir -p "$RELAY/scratch"
chmod 0755 "$RELAY/scratch"
cp "$CONF" "$CONF.orig"

# use_tmpdir DIR - scanner.tmpdir: DIR (and a fresh copy of the base configuration)
use_tmpdir() {
	cp "$CONF.orig" "$CONF"
	sed -i "s|^scanner:$|scanner:\n  tmpdir: $1\n  max_attempts: 50|" "$CONF"
}
in_count() { find "$RELAY/in" -name 'qf*' | wc -l; }
out_count() { find "$RELAY/out" -name 'qf*' | wc -l; }
clean_out() {
	# the clean sample (not a notice) delivered with X-Virus-Status: Clean
	grep -l 'X-Virus-Status: Clean' "$RELAY"/out/qf* 2>/dev/null | xargs -r grep -l "$CLEAN_ID" | wc -l
}
infected_clean() {
	# an outbound message carrying EICAR that is marked Clean
	local f
	for f in "$RELAY"/out/qf*; do
		[ -e "$f" ] || continue
		grep -q 'X-Virus-Status: Clean' "$f" || continue
		grep -q 'zip@golden.test' "$f" && return 0
	done
	return 1
}
no_infected_clean() { ! infected_clean; }
none_allowed() { ! grep -q 'worker probe.*ALLOWED' "$LOG"; }
caught_or_queued() { grep -qi 'infected' "$LOG" || [ "$(in_count)" -ge 1 ]; }
nothing_out_two_queued() { [ "$(out_count)" -eq 0 ] && [ "$(in_count)" -eq 2 ]; }
send_pair() {
	send_mail alice@example.org bob@example.com "$G/eicar-zip-base64.eml"
	send_mail alice@example.org bob@example.com "$G/clean-multipart.eml"
	relay_wait_inbound "$1"
}
empty_out() { rm -rf "$RELAY"/out/*; }
# forget_attempts - drop the store, so a failed message is not held back by its backoff
forget_attempts() { rm -f "$RELAY"/db/mqsift.db*; }

# --- the probe: every reach outside is refused, real mail still scans ---------
use_tmpdir "$RELAY/scratch/tmp"
send_pair 2 || bail_out "mail not queued"
MQSIFT_FAULT=worker:probe "$MQSIFT" run --once -v -c "$CONF" >"$LOG" 2>&1
probe() { grep -q "worker probe (uid 65534): $1" "$LOG"; }
ok_if "socket(AF_INET) refused" probe "socket(AF_INET): refused"
ok_if "socket(AF_INET6) refused" probe "socket(AF_INET6): refused"
ok_if "kill of the master refused" probe "kill master [0-9]*: refused"
ok_if "kill of a sibling refused" probe "kill sibling [0-9]*: refused"
ok_if "unshare(CLONE_NEWUSER) refused" probe "unshare(CLONE_NEWUSER): refused"
ok_if "fork refused" probe "fork: refused"
ok_if "/etc/passwd out of reach" probe "open /etc/passwd: Permission denied"
ok_if "mqueue.in out of reach" probe "open $RELAY/in: Permission denied"
ok_if "mqueue out of reach" probe "open $RELAY/out: Permission denied"
ok_if "nothing was allowed" none_allowed
ok_if "EICAR still found" grep -qi "infected" "$LOG"
ok_if "the clean message passed Clean" [ "$(clean_out)" -eq 1 ]
ok_if "the infected one did not" no_infected_clean
ok_if "the scratch directory is the workers', 0700" \
	[ "$(stat -c '%U %a' "$RELAY/scratch/tmp")" = "nobody 700" ]
"$MQSIFT" lint -c "$CONF" >"$RELAY/lint.out" 2>&1
ok_if "lint names the protections" grep -q "worker sandbox: network namespace.*seccomp.*Landlock ABI" "$RELAY/lint.out"
ok_if "lint reports the scratch space" grep -q "scratch: $RELAY/scratch/tmp.*free" "$RELAY/lint.out"
empty_out

# --- answers the master must refuse -------------------------------------------
send_mail alice@example.org bob@example.com "$G/clean-multipart.eml"
relay_wait_inbound 1
for fault in reply-devzero reply-unsealed reply-garbage reply-verdict; do
	forget_attempts
	MQSIFT_FAULT=worker:$fault /usr/bin/time -f 'maxrss %M' \
		"$MQSIFT" run --once -c "$CONF" >"$LOG" 2>&1
	ok_if "$fault: refused, the worker killed" \
		grep -qE "not a regular file|not a sealed memfd|normal form|out of bounds" "$LOG"
	ok_if "$fault: the message stays in mqueue.in" [ "$(in_count)" -eq 1 ]
	ok_if "$fault: nothing delivered" [ "$(out_count)" -eq 0 ]
	rss=$(sed -n 's/^maxrss //p' "$LOG")
	ok_if "$fault: the master stayed small (${rss} KiB)" [ "${rss:-9999999}" -lt 300000 ]
done
forget_attempts
"$MQSIFT" run --once -c "$CONF" >"$LOG" 2>&1
ok_if "without the fault it is delivered (retried, not lost)" [ "$(clean_out)" -eq 1 ]
empty_out

# --- a full scratch filesystem ------------------------------------------------
mkdir -p "$RELAY/small"
mount -t tmpfs -o size=64k,mode=0755 tmpfs "$RELAY/small"
mkdir -m 0700 "$RELAY/small/tmp" && chown nobody "$RELAY/small/tmp"
dd if=/dev/zero of="$RELAY/small/filler" bs=4k count=100 2>/dev/null
use_tmpdir "$RELAY/small/tmp"
send_pair 2
"$MQSIFT" run --once -c "$CONF" >"$LOG" 2>&1
ok_if "full scratch: the infected message is not delivered Clean" no_infected_clean
ok_if "full scratch: the infected message is caught or still queued" caught_or_queued
umount "$RELAY/small"
use_tmpdir "$RELAY/scratch/tmp"
"$MQSIFT" run --once -c "$CONF" >/dev/null 2>&1 # drain
empty_out

# --- a scratch directory pre-created by another user --------------------------
mkdir -p "$RELAY/pre" && chmod 0755 "$RELAY/pre"
mkdir -m 0777 "$RELAY/pre/tmp" && chown 12345:12345 "$RELAY/pre/tmp"
use_tmpdir "$RELAY/pre/tmp"
send_pair 2
"$MQSIFT" run --once -c "$CONF" >"$LOG" 2>&1
ok_if "pre-created by another user: refused" grep -q "belongs to uid 12345" "$LOG"
ok_if "pre-created: nothing delivered, both still queued" nothing_out_two_queued
ok_if "pre-created: left as it was" [ "$(stat -c '%u %a' "$RELAY/pre/tmp")" = "12345 777" ]

# --- a symlink planted where the scratch directory goes -----------------------
mkdir -p "$RELAY/victim" "$RELAY/sym" && chmod 0755 "$RELAY/victim" "$RELAY/sym"
ln -s "$RELAY/victim" "$RELAY/sym/tmp"
use_tmpdir "$RELAY/sym/tmp"
"$MQSIFT" run --once -c "$CONF" >"$LOG" 2>&1
ok_if "symlink: refused" grep -q "not a directory (a symlink?)" "$LOG"
ok_if "symlink: the target was not chmodded or chowned" \
	[ "$(stat -c '%u %a' "$RELAY/victim")" = "0 755" ]
ok_if "symlink: nothing delivered" [ "$(out_count)" -eq 0 ]
done_testing
