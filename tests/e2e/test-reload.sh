#!/bin/bash
# test-reload.sh - "mqsift run" as a daemon: a changed signature database is
# loaded in the background while mail keeps flowing; a database that fails to
# load is refused with a log line and the old engine keeps scanning; SIGTERM
# stops it cleanly with nothing lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
SIGS=$(mktemp -d /tmp/mqsift-sigs.XXXXXX)
cp "$TOP_SRCDIR/tests/signatures/mqsift-test.hdb" "$SIGS/"
sed -i '/EICAR/d' "$SIGS/mqsift-test.hdb" # only clam.exe at first
MQSIFT_SIGNATURES=$SIGS relay_start || bail_out "cannot start the test relay"
CONF=$RELAY/etc/mqsift.yaml
sed -i 's/^queue:$/queue:\n  scan_interval: 1s/' "$CONF"
# kicks that deliver nothing (relay_deliver delivers): processes to reap
sed -i -e 's/^  kick_delivery: false$/  kick_delivery: true/' \
	-e 's|^queue:$|queue:\n  sendmail: [/bin/true]|' "$CONF"
python3 "$TOP_SRCDIR/tests/data/samples/make-samples.py" "$RELAY/samples"

"$MQSIFT" run --foreground -c "$CONF" 2>"$RELAY/daemon.log" &
daemon=$!
out_has() { [ "$(find "$RELAY/out" -name 'qf*' | wc -l)" -ge "$1" ]; }
ok_if "daemon started" wait_for 10 grep -q 'started:' "$RELAY/daemon.log"

send_mail mallory@example.net bob@example.com "$RELAY/samples/eicar-zip.eml"
ok_if "mail flows while the daemon runs (1)" wait_for 15 out_has 1
relay_deliver
ok_if "without the EICAR signature it passes as clean" \
	grep -q '^X-Virus-Status: Clean' "$RELAY"/sink/*.eml
rm -f "$RELAY"/sink/*

sleep 1.1 # the change detection works at one-second granularity
cp "$TOP_SRCDIR/tests/signatures/mqsift-test.ndb" "$SIGS/"
ok_if "the change is noticed and loaded" wait_for 15 grep -q 'signatures reloaded' "$RELAY/daemon.log"
ok_if "the previous engine is freed once its workers are gone" \
	wait_for 15 grep -q 'previous signatures freed' "$RELAY/daemon.log"
send_mail mallory@example.net bob@example.com "$RELAY/samples/eicar-zip.eml"
ok_if "mail flows after the reload" wait_for 15 out_has 1
relay_deliver
ok_if "the new signature is used" grep -q '^X-Virus-Status: Infected (Mqsift.Test.EICAR' "$RELAY"/sink/*.eml
rm -f "$RELAY"/sink/*

sleep 1.1
printf 'this is not a signature\n' >"$SIGS/broken.ndb"
ok_if "a broken database is refused" wait_for 15 grep -q 'does not load' "$RELAY/daemon.log"
send_mail mallory@example.net bob@example.com "$RELAY/samples/eicar-zip.eml"
ok_if "mail still flows" wait_for 15 out_has 1
relay_deliver
ok_if "with the previous engine" grep -q '^X-Virus-Status: Infected (Mqsift.Test.EICAR' "$RELAY"/sink/*.eml

rm -f "$RELAY"/sink/*

# a database change and a SIGHUP at once ("freshclam && kill -HUP"): the
# reload the change started is finished first and its engine is the one the
# new configuration keeps (before, the kept engine was the old one, counted
# as up to date: the new signatures were never used)
printf 'From: alice@example.org\nTo: bob@example.com\nSubject: marker\n\nhello MQSIFTNEWSIGMARKER42 bye\n' >"$RELAY/marker.eml"
sleep 1.1
rm -f "$SIGS/broken.ndb"
echo "Mqsift.Test.Marker:0:*:$(printf MQSIFTNEWSIGMARKER42 | od -An -tx1 | tr -d ' \n')" >"$SIGS/marker.ndb"
kill -HUP $daemon
ok_if "SIGHUP right after a database change: reloaded" \
	wait_for 15 grep -q 'configuration reloaded' "$RELAY/daemon.log"
# the delivery kicked before it ended long ago: reaped, not left a zombie
# (before, the old runner's kicks were forgotten at a SIGHUP)
ok_if "no kicked delivery is left a zombie by the SIGHUP" \
	wait_for 5 bash -c "[ \$(ps -o stat= --ppid $daemon | grep -c '^Z') -eq 0 ]"
send_mail alice@example.org bob@example.com "$RELAY/marker.eml"
ok_if "mail flows after it" wait_for 15 out_has 1
relay_deliver
ok_if "the new database's signature is used" \
	grep -q '^X-Virus-Status: Infected (Mqsift.Test.Marker' "$RELAY"/sink/*.eml
grep -E 'reload|signatures' "$RELAY/daemon.log" | tail -n 6 | while read -r l; do diag "$l"; done

send_mail alice@example.org bob@example.com "$RELAY/samples/clean-text.eml"
kill -TERM $daemon
wait $daemon
ok_if "SIGTERM: clean exit" [ $? -eq 0 ]
ok_if "SIGTERM: logged" grep -q 'stopping on request' "$RELAY/daemon.log"
n_in=$(find "$RELAY/in" -name 'qf*' | wc -l)
n_out=$(find "$RELAY/out" -name 'qf*' | wc -l)
ok_if "SIGTERM: the last message is in exactly one queue" [ $((n_in + n_out)) -eq 1 ]
rm -rf "$SIGS"
done_testing
