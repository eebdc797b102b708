#!/bin/bash
# test-rc.sh - the rc script and check_mqsift, in private namespaces: start
# brings up the inbound sendmail, the outbound queue runner and mqsift; mail
# flows end to end; a killed mqsift is restarted by check_mqsift, but not
# after "stop" (the off file); status tells each part's state.  With a typo
# in the configuration (issue #14.12) stop still stops mqsift, status still
# sees it, reload says why it does not reload; even with its pid file gone.
# check_mqsift under systemd (a fake systemctl) asks systemd (#14.13).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
relay_prepare || bail_out "cannot prepare the test relay"
CONF=$RELAY/etc/mqsift.yaml
RC=$TOP_BUILDDIR/etc/init.d/mqsift
CHECK=$TOP_BUILDDIR/check_mqsift
export MQSIFT_DEFAULTS=/nonexistent
export SENDMAIL_ARGS="-C $RELAY/relay.cf -ODaemonPortOptions=Port=2525,Addr=127.0.0.1,Name=MTA-in"
export INQ=$RELAY/in OUTQ=$RELAY/out QUEUE_INTERVAL=2s RUNDIR=$RELAY/run CONF MQSIFT
# the fallbacks when neither start's record nor the configuration can tell: the
# test's own, never the host's /run/mqsift or /var/lib/mqsift
export PIDFILE=$RELAY/run/mqsift.pid OFFFILE=$RELAY/mqsift.off
trap '"$RC" stop >/dev/null 2>&1; relay_stop' EXIT
mqsift_pid() { head -n1 "$RELAY/run/mqsift.pid" 2>/dev/null; }

# another mqsift master (its own configuration and queues) runs beside ours:
# the rc script must never take it for ours
D=$RELAY/decoy
mkdir -p "$D/in" "$D/out" "$D/q" "$D/db" && chmod 0700 "$D"/*
sed -e "s|$RELAY/in|$D/in|; s|$RELAY/out|$D/out|; s|$RELAY/run/mqsift.pid|$D/pid|" \
	-e "s|$RELAY/mqsift.off|$D/off|; s|$RELAY/quarantine|$D/q|; s|$RELAY/db/|$D/db/|" \
	"$CONF" >"$RELAY/etc/decoy.yaml"
"$MQSIFT" run --foreground -c "$RELAY/etc/decoy.yaml" 2>/dev/null &
decoy=$!
ok_if "(another mqsift runs, with another configuration)" wait_for 10 test -s "$D/pid"
trap '"$RC" stop >/dev/null 2>&1; kill $decoy 2>/dev/null; relay_stop' EXIT

ok_if "rc start" "$RC" start
ok_if "it started ours, not taking the other one for it" bash -c "[ -s '$RELAY/run/mqsift.pid' ] && [ \"\$(head -n1 '$RELAY/run/mqsift.pid')\" != $decoy ]"
ok_if "status: all three running" "$RC" status
ok_if "the inbound sendmail listens" relay_wait_port 127.0.0.1 2525
python3 "$TOP_SRCDIR/tests/data/samples/make-samples.py" "$RELAY/samples"
send_mail alice@example.org bob@example.com "$RELAY/samples/clean-text.eml"
ok_if "mail goes through all three to the sink" wait_for 20 bash -c "ls '$RELAY'/sink/*.eml >/dev/null 2>&1"

first=$(mqsift_pid)
kill -9 "$first"
rc_status_is() { "$RC" status >/dev/null; [ $? -eq "$1" ]; }
ok_if "status: 3 once mqsift is dead" wait_for 5 rc_status_is 3
ok_if "check_mqsift restarts it" "$CHECK" -c "$CONF"
restarted() { local p; p=$(mqsift_pid); [ -n "$p" ] && [ "$p" != "$first" ] && kill -0 "$p"; }
ok_if "it runs again, with a new pid" wait_for 10 restarted
ok_if "status: all running again" "$RC" status
"$CHECK" -c "$CONF"
second=$(mqsift_pid)
ok_if "check_mqsift leaves a running mqsift alone" [ "$second" = "$(mqsift_pid)" ] 

ok_if "rc stop" "$RC" stop
ok_if "stop writes the off file" [ -e "$RELAY/mqsift.off" ]
"$RC" status >/dev/null
ok_if "status: 3 after stop" [ $? -eq 3 ]
"$CHECK" -c "$CONF"
sleep 0.5
ok_if "check_mqsift does not start it when stopped on purpose" bash -c "! kill -0 \$(head -n1 '$RELAY/run/mqsift.pid' 2>/dev/null) 2>/dev/null"
ok_if "nothing left listening on 2525" bash -c "! relay_wait_port 127.0.0.1 2525 2>/dev/null" 
ok_if "rc start again" "$RC" start
ok_if "which removes the off file" [ ! -e "$RELAY/mqsift.off" ]

# --- a typo in the configuration while it runs (issue #14.12) ----------------
pid=$(mqsift_pid)
ok_if "reload with a good configuration" "$RC" reload
ok_if "the same master runs on" bash -c "[ '$(mqsift_pid)' = '$pid' ] && kill -0 $pid"
cp "$CONF" "$RELAY/etc/good.yaml"
printf 'scanner:\n  wokers: 2\n' >>"$CONF"
ok_if "(the configuration now has a typo)" bash -c "! '$MQSIFT' config -c '$CONF' >/dev/null 2>&1"
"$RC" status >"$RELAY/status.out" 2>&1
ok_if "status still sees mqsift running (0)" [ $? -eq 0 ]
ok_if "status names its pid" grep -q "mqsift is running (pid $pid)" "$RELAY/status.out"
"$RC" reload >"$RELAY/reload.out" 2>&1
ok_if "reload fails (1), not silently" [ $? -eq 1 ]
ok_if "reload says why" bash -c "grep -q 'configuration has errors' '$RELAY/reload.out' && grep -q 'unknown key \"scanner.wokers\"' '$RELAY/reload.out'"
ok_if "mqsift runs on, unharmed" kill -0 "$pid"
ok_if "rc stop" "$RC" stop
ok_if "stop stopped mqsift" wait_for 5 bash -c "! kill -0 $pid 2>/dev/null"
ok_if "and wrote the off file" [ -e "$RELAY/mqsift.off" ]
"$RC" status >/dev/null 2>&1
ok_if "status: 3" [ $? -eq 3 ]
"$RC" reload >/dev/null 2>&1
ok_if "reload of a stopped mqsift: 7 (LSB: not running)" [ $? -eq 7 ]
ok_if "start refuses the broken configuration" bash -c "! '$RC' start >'$RELAY/start.out' 2>&1"
ok_if "and says why" grep -q 'scanner.wokers' "$RELAY/start.out"
"$RC" stop >/dev/null 2>&1

# --- even its pid file lost: stop finds the master by its process -----------
cp "$RELAY/etc/good.yaml" "$CONF"
ok_if "rc start (good configuration)" "$RC" start
pid=$(mqsift_pid)
rm -f "$RELAY/run/mqsift.pid" "$RELAY/run/mqsift.paths"
printf 'scanner:\n  wokers: 2\n' >>"$CONF"
"$RC" status >"$RELAY/status2.out" 2>&1
ok_if "status finds it without a pid file" grep -q "mqsift is running (pid $pid)" "$RELAY/status2.out"
ok_if "rc stop" "$RC" stop
ok_if "stop stopped it" wait_for 5 bash -c "! kill -0 $pid 2>/dev/null"
ok_if "no mqsift master of ours left" bash -c "! pgrep -f '^($MQSIFT run|mqsift: master) -c $CONF' >/dev/null"
ok_if "the other mqsift untouched" kill -0 "$decoy"
kill "$decoy"
wait "$decoy" 2>/dev/null
cp "$RELAY/etc/good.yaml" "$CONF"

# --- check_mqsift when systemd manages mqsift (a fake systemctl) ------------
mkdir -p "$RELAY/fakebin" "$RELAY/systemd"
cat >"$RELAY/fakebin/systemctl" <<'SH'
#!/bin/sh
# fake systemctl: records its calls; mqsift.service is loaded, and active
# when $STATE/active exists
echo "$*" >>"$STATE/calls"
case "$1" in
show) echo loaded ;;
is-active) [ -e "$STATE/active" ] ;;
start) touch "$STATE/active" ;;
*) exit 1 ;;
esac
SH
chmod +x "$RELAY/fakebin/systemctl"
fake() { env PATH="$RELAY/fakebin:$PATH" STATE="$RELAY/systemd" SYSTEMD_RUNTIME="$RELAY/systemd" "$@"; }
rm -f "$RELAY/mqsift.off"
touch "$RELAY/systemd/active"
fake "$CHECK" -c "$CONF"
ok_if "systemd: active: nothing done" bash -c "grep -q '^is-active' '$RELAY/systemd/calls' && ! grep -q '^start' '$RELAY/systemd/calls'"
ok_if "and mqsift was not started behind systemd's back" bash -c "! pgrep -f '^($MQSIFT run|mqsift: master) -c $CONF' >/dev/null"
rm -f "$RELAY/systemd/active"
date >"$RELAY/mqsift.off" # what the unit's ExecStopPost writes on systemctl stop
fake "$CHECK" -c "$CONF"
ok_if "systemd: stopped on purpose (off file): not started" bash -c "! grep -q '^start' '$RELAY/systemd/calls'"
ok_if "nor started by hand" bash -c "! pgrep -f '^($MQSIFT run|mqsift: master) -c $CONF' >/dev/null"
rm -f "$RELAY/mqsift.off"
fake "$CHECK" -c "$CONF" 2>"$RELAY/check.err"
ok_if "systemd: inactive, no off file: systemctl start mqsift.service" grep -q '^start mqsift.service' "$RELAY/systemd/calls"
ok_if "and no mqsift of its own" bash -c "! pgrep -f '^($MQSIFT run|mqsift: master) -c $CONF' >/dev/null"
done_testing
