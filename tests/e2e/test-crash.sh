#!/bin/bash
# test-crash.sh - kill -9 mqsift at fixed commit steps and at random moments
# while it moves hundreds of messages, with the real outbound sendmail
# delivering in between; after recovery the sink has every message exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
relay_start || bail_out "cannot start the test relay"
CONF=$RELAY/etc/mqsift.yaml
N=300
sed -i 's/^queue:$/queue:\n  batch_size: 16/' "$CONF"

ok_if "send $N messages" python3 "$E2E_DIR/smtpbulk.py" $N
ok_if "all queued" relay_wait_inbound $N

# fixed points first: each kills the run part way through a batch
for point in commit:after-df@20 commit:after-tf@41 commit:after-sync-out@3 \
	commit:after-journal@1 commit:after-mark@2 commit:after-qf@90 commit:after-unlink-df@5; do
	MQSIFT_FAULT=$point "$MQSIFT" run --once -c "$CONF" >/dev/null 2>&1
	rc=$?
	ok_if "killed at $point (status $rc)" [ $rc -eq 137 ]
	relay_deliver
done
# then random moments
RANDOM=4242
for i in 1 2 3 4 5 6; do
	"$MQSIFT" run --once -c "$CONF" >/dev/null 2>&1 &
	pid=$!
	sleep "0.0$((RANDOM % 9))$((RANDOM % 10))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	[ $((i % 2)) -eq 0 ] && relay_deliver
done
ok_if "a last run completes" "$MQSIFT" run --once -c "$CONF"
relay_deliver
ok_if "nothing left in mqueue.in" [ -z "$(find "$RELAY/in" -type f)" ]
ok_if "nothing left in mqueue" [ -z "$(find "$RELAY/out" -type f)" ]
count() {
	python3 - "$RELAY/sink" "$N" <<-'PY'
	import os, re, sys, collections
	d, n = sys.argv[1], int(sys.argv[2])
	seen = collections.Counter()
	for f in os.listdir(d):
	    m = re.search(rb"(?im)^message-id:\s*<bulk-(\d+)@test.local>", open(os.path.join(d, f), "rb").read())
	    if m:
	        seen[int(m.group(1))] += 1
	missing = [i for i in range(1, n + 1) if seen[i] == 0]
	twice = [i for i, c in seen.items() if c > 1]
	if missing or twice:
	    print("missing %s, more than once %s" % (missing[:20], twice[:20]))
	    sys.exit(1)
	PY
}
ok_if "every message delivered exactly once" count
done_testing
