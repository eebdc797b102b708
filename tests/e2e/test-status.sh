#!/bin/bash
# test-status.sh - the daemon's live view (issue #15): "mqsift status" in
# text, JSON and Prometheus form from the master's socket, its exit status
# when a message is stuck, a socket only root (and daemon.status_group) can
# use, the summary line every daemon.summary_interval instead of a pass line,
# the node_exporter textfile, and the queue depth samples in the store;
# the process titles that say what each process is, idle or scanning.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
relay_start || bail_out "cannot start the test relay"
CONF=$RELAY/etc/mqsift.yaml
sed -i 's/^queue:$/queue:\n  scan_interval: 60s/' "$CONF"
sed -i "s|^daemon:\$|daemon:\n  summary_interval: 2s\n  metrics_file: $RELAY/metrics.prom\n  metrics_interval: 1s\n  sample_interval: 1s\n  stuck_after: 10m|" "$CONF"
python3 "$TOP_SRCDIR/tests/data/samples/make-samples.py" "$RELAY/samples"
LOG=$RELAY/daemon.log
status() { "$MQSIFT" status -c "$CONF" "$@"; }
# title PID - the process title: /proc/PID/cmdline up to its first NUL
title() { tr '\0' '\n' <"/proc/$1/cmdline" | head -n1; }
# title_is PID TEXT - the title is TEXT (within a few seconds)
title_is() { wait_for 5 bash -c "[ \"\$(tr '\\0' '\\n' <'/proc/$1/cmdline' | head -n1)\" = '$2' ]"; }

"$MQSIFT" run --foreground -c "$CONF" 2>>"$LOG" &
daemon=$!
wait_for 10 grep -q "started:" "$LOG"
send_mail alice@example.org bob@example.com "$RELAY/samples/clean-text.eml"
send_mail mallory@example.net bob@example.com "$RELAY/samples/eicar-zip.eml"
ok_if "both messages committed" wait_for 10 bash -c "[ \$(find '$RELAY/out' -name 'qf*' | wc -l) -ge 2 ]"

ok_if "status: exit 0 when nothing is stuck" bash -c "'$MQSIFT' status -c '$CONF' >'$RELAY/status.txt'"
cat "$RELAY/status.txt" >&2
ok_if "status: the master's pid and uptime" grep -q "^master: pid $daemon, up [0-9]* s" "$RELAY/status.txt"
ok_if "status: each worker's state" [ "$(grep -c '^worker [12]: pid [0-9]*, idle$' "$RELAY/status.txt")" -eq 2 ]
ok_if "title: the master reads \"mqsift: master -c FILE\" ($(title $daemon))" title_is $daemon "mqsift: master -c $CONF"
ok_if "title: the master's short name is mqsift-master" [ "$(cat /proc/$daemon/comm)" = mqsift-master ]
for n in 1 2; do
	wpid=$(sed -n "s/^worker $n: pid \([0-9]*\), idle\$/\1/p" "$RELAY/status.txt")
	ok_if "title: worker $n reads \"mqsift: worker $n idle\" ($(title "$wpid"))" \
		title_is "$wpid" "mqsift: worker $n idle"
	ok_if "title: worker $n's short name is mqsift-worker" [ "$(cat /proc/$wpid/comm)" = mqsift-worker ]
done
ok_if "status: the inbound queue, empty" grep -q "^inbound .*: 0 waiting$" "$RELAY/status.txt"
ok_if "status: the outbound queue depth" grep -q "^outbound .*: [0-9]* queued$" "$RELAY/status.txt"
ok_if "status: rates over 1, 5 and 15 minutes" grep -q '^rates: [0-9.]*/min (1 min), [0-9.]*/min (5 min), [0-9.]*/min (15 min)$' "$RELAY/status.txt"
ok_if "status: the counts since start" grep -q '^since start: 2 committed (1 clean, 1 infected, 0 blocked)' "$RELAY/status.txt"
ok_if "status: the engine" grep -q '^engine: [1-9][0-9]* signatures, database version [0-9]*, built .*, loaded 20' "$RELAY/status.txt"
status --json >"$RELAY/status.json"
ok_if "status --json: valid, two workers, two committed" python3 -c "
import json,sys
d=json.load(open(sys.argv[1]))
assert d['pid']==int(sys.argv[2]) and len(d['workers'])==2 and d['counts']['committed']==2, d
assert d['counts']['infected']==1 and d['problems']==[] and 'rates_per_minute' in d" "$RELAY/status.json" "$daemon"
status --prometheus >"$RELAY/status.prom"
ok_if "status --prometheus: counters by verdict" grep -q '^mqsift_messages_total{verdict="infected"} 1$' "$RELAY/status.prom"
ok_if "status --prometheus: the scan-time histogram" grep -q '^mqsift_processing_seconds_bucket{le="+Inf"} 2$' "$RELAY/status.prom"
ok_if "status --prometheus: queue depths and engine age" bash -c "grep -q '^mqsift_queue_messages{queue=\"inbound\"} 0$' '$RELAY/status.prom' && grep -q '^mqsift_engine_database_age_seconds ' '$RELAY/status.prom'"
ok_if "the textfile for node_exporter is written" wait_for 5 grep -q '^mqsift_messages_total{verdict="clean"} 1$' "$RELAY/metrics.prom"
mode=$(stat -c %a "$RELAY/run/status.sock")
ok_if "the socket is not for everybody (mode $mode)" [ "$mode" = 660 -o "$mode" = 600 ]
ok_if "an unprivileged user is refused (exit 2)" bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups '$MQSIFT' status -c '$CONF' 2>'$RELAY/denied.txt'; [ \$? -eq 2 ] && grep -q 'cannot reach the master' '$RELAY/denied.txt'"

# a message waiting longer than daemon.stuck_after: exit 1, and why
qfdir=$RELAY/in; [ -d "$RELAY/in/qf" ] && qfdir=$RELAY/in/qf
: >"$qfdir/qf6AOSTUCK0000001" # empty: an SMTP child "is writing it", so it stays
touch -d '-1 hour' "$qfdir/qf6AOSTUCK0000001"
status >"$RELAY/stuck.txt"; rc=$?
cat "$RELAY/stuck.txt" >&2
ok_if "status: exit 1 when a message is stuck ($rc)" [ "$rc" -eq 1 ]
ok_if "status: it says which" grep -q 'a message has waited [0-9]* s in an inbound queue' "$RELAY/stuck.txt"
ok_if "status: the oldest message's age" grep -q '^inbound .*: 1 waiting, oldest [0-9]* s$' "$RELAY/stuck.txt"
rm -f "$qfdir/qf6AOSTUCK0000001"

ok_if "a summary line every daemon.summary_interval" wait_for 6 grep -q 'summary: [0-9]* message(s) in [0-9]* s: .* clean, .* infected, .* blocked, .* left in queue; .*/min (1 min)' "$LOG"
ok_if "no pass line in daemon mode" bash -c "! grep -q ' pass: ' '$LOG'"
ok_if "queue depths are sampled into the store" wait_for 5 python3 -c "
import sqlite3,sys
assert sqlite3.connect(sys.argv[1]).execute('select count(*) from queue_samples').fetchone()[0] > 0" "$RELAY/db/mqsift.db"
kill -TERM $daemon
wait $daemon
ok_if "the socket is removed at exit" [ ! -e "$RELAY/run/status.sock" ]

# a worker scanning a message says which, in its title (a short timeout:
# a stop waits for the hung worker until then)
: >"$LOG"
sed -i 's/^scanner:$/scanner:\n  message_timeout: 15s/' "$CONF"
MQSIFT_FAULT=worker:hang "$MQSIFT" run --foreground -c "$CONF" 2>>"$LOG" &
daemon=$!
wait_for 10 grep -q "started:" "$LOG"
printf 'From: x@example.org\nTo: bob@example.com\nSubject: hang\nMessage-ID: <hang@test.local>\n\nMQSIFT-TEST-HANG\n' >"$RELAY/hang.eml"
send_mail x@example.org bob@example.com "$RELAY/hang.eml"
wait_for 10 bash -c "'$MQSIFT' status -c '$CONF' | grep -q '^worker [0-9]*: pid [0-9]*, scanning '"
busy=$(status | grep -m1 '^worker [0-9]*: pid [0-9]*, scanning ')
n=$(printf '%s' "$busy" | sed -n 's/^worker \([0-9]*\):.*/\1/p')
wpid=$(printf '%s' "$busy" | sed -n 's/^worker [0-9]*: pid \([0-9]*\),.*/\1/p')
id=$(printf '%s' "$busy" | sed -n 's/.*, scanning \([A-Za-z0-9]*\) for .*/\1/p')
qf=$(cd "$qfdir" && ls qf* 2>/dev/null | head -n1)
ok_if "the hanging message is the one in the inbound queue ($id, $qf)" [ -n "$id" -a "qf$id" = "$qf" ]
ok_if "title: worker $n reads \"mqsift: worker $n scanning $id\" ($(title "$wpid"))" \
	title_is "$wpid" "mqsift: worker $n scanning $id"
other=$((3 - n))
opid=$(status | sed -n "s/^worker $other: pid \([0-9]*\), idle\$/\1/p")
ok_if "title: the other worker stays idle" title_is "$opid" "mqsift: worker $other idle"
kill -TERM $daemon
wait $daemon
done_testing
