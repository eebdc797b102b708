#!/bin/bash
# test-daemon.sh - "mqsift run" as a daemon with its scan workers: new mail is
# noticed at once (inotify, not the poll), a second master is refused, SIGHUP
# reloads the configuration (a bad one is refused), a killed worker is
# replaced, the workers cannot open the queues, a message that crashes its
# worker is quarantined after N tries while others pass, SIGTERM loses nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
relay_start || bail_out "cannot start the test relay"
CONF=$RELAY/etc/mqsift.yaml
sed -i 's/^queue:$/queue:\n  scan_interval: 60s/' "$CONF"
sed -i 's/^scanner:$/scanner:\n  max_attempts: 2\n  message_timeout: 3s/' "$CONF"
printf 'notify:\n  postmaster: postmaster@example.com\n' >>"$CONF"
python3 "$TOP_SRCDIR/tests/data/samples/make-samples.py" "$RELAY/samples"
LOG=$RELAY/daemon.log

out_count() { find "$RELAY/out" -name 'qf*' | wc -l; }
in_count() { find "$RELAY/in" -name 'qf*' | wc -l; }
out_at_least() { [ "$(out_count)" -ge "$1" ]; }
start_daemon() {
	"$MQSIFT" run --foreground -c "$CONF" "$@" 2>>"$LOG" &
	daemon=$!
	wait_for 10 grep -q "started:" "$LOG"
}
stop_daemon() {
	kill -TERM $daemon 2>/dev/null
	wait $daemon
}

# --- inotify: no waiting for the 60 s poll ------------------------------------
: >"$LOG"
MQSIFT_FAULT=worker:probe start_daemon -v
ok_if "daemon started with two workers" grep -q "2 worker(s) as nobody" "$LOG"
t0=$(date +%s%N)
send_mail alice@example.org bob@example.com "$RELAY/samples/clean-text.eml"
ok_if "a new message is committed within 3 s (scan_interval is 60 s)" wait_for 3 out_at_least 1
t1=$(date +%s%N)
diag "SMTP to outgoing queue: $(((t1 - t0) / 1000000)) ms"
ok_if "the worker runs as nobody and cannot open mqueue.in" \
	grep -q "worker probe (uid 65534): open $RELAY/in: Permission denied" "$LOG"
ok_if "nor mqueue" grep -q "worker probe (uid 65534): open $RELAY/out: Permission denied" "$LOG"
ok_if "nor the quarantine" grep -q "worker probe (uid 65534): open $RELAY/quarantine: Permission denied" "$LOG"
"$MQSIFT" run --once -c "$CONF" 2>"$RELAY/second.log"
ok_if "a second master on the same queues is refused" grep -q "already running" "$RELAY/second.log"

# --- a queue listed twice, or the outgoing one as incoming: refused at start ----
# (another pid file: the daemon above holds the queues' one)
sed -e "s|^  incoming: .*|  incoming: [$RELAY/in, $RELAY/in/]|" \
	-e "s|^  pid_file: .*|  pid_file: $RELAY/run/other.pid|" "$CONF" >"$RELAY/twice.yaml"
"$MQSIFT" run --once -c "$RELAY/twice.yaml" 2>"$RELAY/twice.log"
ok_if "incoming listed twice (with a trailing slash): exit 2" [ $? -eq 2 ]
ok_if "incoming listed twice: named" grep -q "lists the directory .* twice" "$RELAY/twice.log"
sed -e "s|^  incoming: .*|  incoming: $RELAY/out/|" \
	-e "s|^  pid_file: .*|  pid_file: $RELAY/run/other.pid|" "$CONF" >"$RELAY/same.yaml"
"$MQSIFT" run --once -c "$RELAY/same.yaml" 2>"$RELAY/same.log"
ok_if "incoming equal to outgoing after normalisation: exit 2" [ $? -eq 2 ]
ok_if "incoming equal to outgoing: named" grep -q "are the same directory" "$RELAY/same.log"

# --- SIGHUP -------------------------------------------------------------------
cp "$CONF" "$CONF.good"
printf 'queue:\n  scan_intervall: 5s\n' >"$CONF"
kill -HUP $daemon
ok_if "SIGHUP with a bad configuration: refused, named" \
	wait_for 5 grep -q "scan_intervall.*did you mean" "$LOG"
cp "$CONF.good" "$CONF"
sed -i 's/^  scan_interval: 60s$/  scan_interval: 30s/' "$CONF"
kill -HUP $daemon
ok_if "SIGHUP with a good one: reloaded" wait_for 5 grep -q "configuration reloaded" "$LOG"
ok_if "no engine setting changed: the signatures are kept, not loaded again" \
	bash -c "grep -q 'signatures loaded are kept' '$LOG' && [ \$(grep -c 'signatures loaded in' '$LOG') -eq 1 ]"
# a scan limit changed: a new engine, and no new worker is forked before the
# old workers are gone and the old engine freed (a worker forked beside it
# would keep its pages for as long as it lives)
from=$(($(wc -l <"$LOG") + 1))
sed -i 's/^scanner:$/scanner:\n  max_files: 5000/' "$CONF"
kill -HUP $daemon
ok_if "SIGHUP with a new scan limit: reloaded" \
	wait_for 10 bash -c "[ \$(grep -c 'configuration reloaded' '$LOG') -eq 2 ]"
ok_if "a scan limit changed: the signatures are loaded again" \
	[ "$(grep -c 'signatures loaded in' "$LOG")" -eq 2 ]
send_mail alice@example.org bob@example.com "$RELAY/samples/clean-attachment.eml"
ok_if "mail still flows after the reloads" wait_for 5 out_at_least 2
tail -n +"$from" "$LOG" | grep -oE "worker [0-9]+ (started|stopped)|previous signatures freed" >"$RELAY/hup-order"
diag "$(tr '\n' ';' <"$RELAY/hup-order")"
ok_if "the two old workers stopped, then the old engine was freed, then two new workers started" \
	[ "$(sed -E 's/ [0-9]+ / /' "$RELAY/hup-order" | tr '\n' ';')" = \
	"worker stopped;worker stopped;previous signatures freed;worker started;worker started;" ]

# --- a killed worker is replaced ----------------------------------------------
workers=$(pgrep -P $daemon)
ok_if "two worker processes" [ "$(echo "$workers" | wc -w)" -eq 2 ]
kill -9 $(echo "$workers" | head -n1)
sleep 0.3
send_mail alice@example.org bob@example.com "$RELAY/samples/eicar-zip.eml"
send_mail alice@example.org bob@example.com "$RELAY/samples/banned-exe.eml"
ok_if "mail still flows after a worker was killed" wait_for 10 out_at_least 4
ok_if "and there are two workers again" wait_for 5 bash -c "[ \$(pgrep -P $daemon | wc -l) -eq 2 ]"
stop_daemon
ok_if "SIGTERM: clean exit" [ $? -eq 0 ]
ok_if "the pid file is gone" [ ! -e "$RELAY/run/mqsift.pid" ]

# --- the poison guard ---------------------------------------------------------
: >"$LOG"
sed -i 's/^  scan_interval: 30s$/  scan_interval: 1s/' "$CONF"
MQSIFT_FAULT=worker:crash start_daemon
printf 'From: x@example.org\nTo: bob@example.com\nSubject: poison\nMessage-ID: <poison@test.local>\n\nMQSIFT-TEST-CRASH\n' >"$RELAY/poison.eml"
send_mail x@example.org bob@example.com "$RELAY/poison.eml"
for i in 1 2 3; do
	send_mail alice@example.org bob@example.com "$RELAY/samples/clean-text.eml"
done
ok_if "the crash is logged as attempt 1" wait_for 10 grep -q "died while scanning it (attempt 1 of 2)" "$LOG"
ok_if "the other messages pass meanwhile" wait_for 10 out_at_least 7
ok_if "after two attempts it is quarantined whole" wait_for 30 grep -q "quarantined whole as" "$LOG"
ok_if "it left mqueue.in" [ "$(in_count)" -eq 0 ]
ref=$(sed -n 's/.*quarantined whole as \([0-9]*\/[A-Za-z0-9]*\).*/\1/p' "$LOG" | head -n1)
ok_if "the quarantine holds it" grep -q MQSIFT-TEST-CRASH "$RELAY/quarantine/$ref/message.eml"
stop_daemon
relay_deliver
ok_if "the postmaster was told" grep -lq "quarantined (it crashed the scanner)" "$RELAY"/sink/*.eml
ok_if "the poison message itself was not delivered" bash -c "! grep -lq '^Message-ID: <poison@test.local>' '$RELAY'/sink/*.eml"
rm -f "$RELAY"/sink/*

# --- a hanging worker ---------------------------------------------------------
: >"$LOG"
MQSIFT_FAULT=worker:hang start_daemon
printf 'From: x@example.org\nTo: bob@example.com\nSubject: hang\nMessage-ID: <hang@test.local>\n\nMQSIFT-TEST-HANG\n' >"$RELAY/hang.eml"
send_mail x@example.org bob@example.com "$RELAY/hang.eml"
ok_if "a hanging worker is killed after scanner.message_timeout" \
	wait_for 10 grep -q "took longer than scanner.message_timeout (3s): killed" "$LOG"
ok_if "and the message quarantined after two attempts" wait_for 30 grep -q "quarantined whole as" "$LOG"
stop_daemon

# --- memory and CPU bombs: the worker's limits end them, mail keeps flowing ---
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null; }
: >"$LOG"
cp "$CONF" "$CONF.nobomb"
sed -i 's/^scanner:$/scanner:\n  max_memory: 400M/' "$CONF"
MQSIFT_FAULT=worker:membomb start_daemon
printf 'From: x@example.org\nTo: bob@example.com\nSubject: membomb\nMessage-ID: <membomb@test.local>\n\nMQSIFT-TEST-MEMBOMB\n' >"$RELAY/membomb.eml"
send_mail x@example.org bob@example.com "$RELAY/membomb.eml"
for i in 1 2 3; do
	send_mail alice@example.org bob@example.com "$RELAY/samples/clean-text.eml"
done
ok_if "memory bomb: the worker dies at its limit (attempt 1)" \
	wait_for 20 grep -q "died while scanning it (attempt 1 of 2)" "$LOG"
master_rss=$(rss_kb $daemon)
ok_if "memory bomb: the master stays small (${master_rss} kB)" [ "${master_rss:-999999}" -lt 200000 ]
ok_if "memory bomb: the other messages pass meanwhile" wait_for 20 grep -q "pass:.*3 clean\|verdict=clean" "$LOG"
ok_if "memory bomb: quarantined whole after two attempts" wait_for 30 grep -q "quarantined whole as" "$LOG"
stop_daemon
cp "$CONF.nobomb" "$CONF"
: >"$LOG"
sed -i 's/^  message_timeout: 3s$/  message_timeout: 120s\n  max_scan_time: 2s/' "$CONF"
MQSIFT_FAULT=worker:cpubomb start_daemon
printf 'From: x@example.org\nTo: bob@example.com\nSubject: cpubomb\nMessage-ID: <cpubomb@test.local>\n\nMQSIFT-TEST-CPUBOMB\n' >"$RELAY/cpubomb.eml"
send_mail x@example.org bob@example.com "$RELAY/cpubomb.eml"
send_mail alice@example.org bob@example.com "$RELAY/samples/clean-text.eml"
ok_if "CPU bomb: the other worker keeps the queue flowing" \
	wait_for 20 grep -q "verdict=clean" "$LOG"
ok_if "CPU bomb: RLIMIT_CPU ends the worker long before message_timeout" \
	wait_for 40 grep -q "died while scanning it (attempt 1 of 2)" "$LOG"
ok_if "CPU bomb: not the timeout" bash -c "! grep -q 'took longer than scanner.message_timeout' '$LOG'"
stop_daemon
cp "$CONF.nobomb" "$CONF"

# --- a message whose scan always fails is not left unseen for ever -------------
: >"$LOG"
printf 'queue:\n  error_grace: 2s\n' >>"$CONF"
MQSIFT_FAULT=worker:scan-error start_daemon
printf 'From: x@example.org\nTo: bob@example.com\nSubject: unscannable\nMessage-ID: <unscannable@test.local>\n\nMQSIFT-TEST-ERROR\n' >"$RELAY/unscannable.eml"
send_mail x@example.org bob@example.com "$RELAY/unscannable.eml"
send_mail alice@example.org bob@example.com "$RELAY/samples/clean-text.eml"
ok_if "scan error: left in the queue and counted" wait_for 15 grep -q "simulated error (scan error 1)" "$LOG"
ok_if "scan error: quarantined whole after max_attempts over error_grace" \
	wait_for 40 grep -q "its scan failed 2 times" "$LOG"
ok_if "scan error: it left mqueue.in" bash -c "! grep -lqs 'unscannable@test.local' '$RELAY'/in/qf*"
stop_daemon
relay_deliver
ok_if "scan error: the postmaster was told" grep -lq "quarantined (it could not be scanned)" "$RELAY"/sink/*.eml
rm -f "$RELAY"/sink/*
cp "$CONF.nobomb" "$CONF"

# --- stuck files do not make the daemon spin -----------------------------------
# a garbage qf, a qf without its df and a qf locked by another process, for
# 20 s with a 1 s poll: the master stays idle and logs a handful of lines
: >"$LOG"
printf 'garbage that is not a control file\n' >"$RELAY/in/qf6AOZgarbage0001"
printf 'V8\nT1795000000\nK0\nN0\nP30000\nMDeferred\nS<a@example.org>\nRPFD:<b@example.com>\nH??From: a@example.org\n.\n' >"$RELAY/in/qf6AOZnodfxxxx01"
cp "$RELAY/in/qf6AOZnodfxxxx01" "$RELAY/in/qf6AOZlockedxx01"
printf 'body\n' >"$RELAY/in/df6AOZlockedxx01"
flock "$RELAY/in/qf6AOZlockedxx01" sleep 40 &
locker=$!
sleep 0.3
sed -i 's/^  scan_interval: .*$/  scan_interval: 1s/' "$CONF"
start_daemon
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
t0=$(ticks $daemon)
sleep 20
t1=$(ticks $daemon)
hz=$(getconf CLK_TCK)
cpu_pct=$(( (t1 - t0) * 100 * 100 / (20 * hz) ))
lines=$(grep -c 6AOZ "$LOG")
ok_if "stuck files: the master used ${cpu_pct}/100 % of a core (under 2 %)" [ "$cpu_pct" -lt 200 ]
ok_if "stuck files: $lines log lines in 20 s (a handful)" [ "$lines" -le 12 ]
stop_daemon
kill $locker 2>/dev/null
wait $locker 2>/dev/null
rm -f "$RELAY"/in/*6AOZ*

# --- one log sink at a time; a detached daemon without syslog logs to a file ----
# (no /dev/log in this namespace: a daemon that wants syslog says it falls
# back to stderr; in the foreground it must not want syslog at all, or the
# journal shows each line twice)
ok_if "foreground: stderr only, syslog not even tried" \
	bash -c "! grep -q 'no syslog socket' '$LOG'"
cp "$CONF" "$CONF.nolog"
sed -i "s|^daemon:\$|daemon:\n  log_file: $RELAY/mqsift.log|" "$CONF"
"$MQSIFT" run -c "$CONF" 2>"$RELAY/detach.err"
ok_if "detached: started" wait_for 10 grep -q "started:" "$RELAY/mqsift.log"
send_mail alice@example.org bob@example.com "$RELAY/samples/clean-text.eml"
ok_if "detached without syslog: the verdict line is in daemon.log_file" \
	wait_for 10 grep -q "verdict=clean" "$RELAY/mqsift.log"
kill -TERM "$(cat "$RELAY/run/mqsift.pid")"
ok_if "detached: stopped" wait_for 10 grep -q "stopping on request" "$RELAY/mqsift.log"
wait_for 10 test ! -e "$RELAY/run/mqsift.pid"
cp "$CONF.nolog" "$CONF"

# --- a service stop is never a failed attempt ----------------------------------
# systemd (KillMode=control-group) sends SIGTERM to every process of the unit:
# the worker scanning a message ignores it, the master stops it; the message
# stays queued and is not counted against scanner.max_attempts
: >"$LOG"
MQSIFT_FAULT=worker:hang start_daemon
printf 'From: x@example.org\nTo: bob@example.com\nSubject: slow\nMessage-ID: <slow@test.local>\n\nMQSIFT-TEST-HANG\n' >"$RELAY/slow.eml"
send_mail x@example.org bob@example.com "$RELAY/slow.eml"
sleep 1.5
kill -TERM $daemon $(pgrep -P $daemon) 2>/dev/null
wait $daemon
ok_if "SIGTERM to every process: the worker was stopped by the master" \
	grep -q "during shutdown; not counted as a failed attempt" "$LOG"
ok_if "SIGTERM to every process: no attempt counted" bash -c "! grep -q 'attempt 1 of' '$LOG'"
ok_if "SIGTERM to every process: the message is still queued" [ "$(in_count)" -ge 1 ]
rm -f "$RELAY"/in/*slow* 2>/dev/null
find "$RELAY/in" -name 'qf*' -exec grep -l 'slow@test.local' {} + 2>/dev/null | while read -r qf; do
	rm -f "$qf" "$RELAY/in/df${qf##*/qf}"
done

# --- SIGTERM in the middle of a flow loses nothing ----------------------------
: >"$LOG"
python3 "$E2E_DIR/smtpbulk.py" 120 --prefix term
relay_wait_inbound 120
start_daemon
sleep 0.2
stop_daemon
ok_if "SIGTERM mid-flow: stopped on request" grep -q "stopping on request" "$LOG"
ok_if "a last run --once" "$MQSIFT" run --once -c "$CONF"
relay_deliver
n=$(grep -l '^Message-ID: <term-' "$RELAY"/sink/*.eml | wc -l)
u=$(grep -h '^Message-ID: <term-' "$RELAY"/sink/*.eml | sort -u | wc -l)
ok_if "all 120 delivered exactly once ($n deliveries, $u distinct)" [ "$n" -eq 120 -a "$u" -eq 120 ]
done_testing
