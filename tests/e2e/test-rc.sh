#!/bin/bash
# test-rc.sh - the rc script and check_mqsift, in private namespaces: start
# brings up the inbound sendmail, the outbound queue runner and mqsift; mail
# flows end to end; a killed mqsift is restarted by check_mqsift, but not
# after "stop" (the off file); status tells each part's state.
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
trap '"$RC" stop >/dev/null 2>&1; relay_stop' EXIT
mqsift_pid() { head -n1 "$RELAY/run/mqsift.pid" 2>/dev/null; }

ok_if "rc start" "$RC" start
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
"$RC" stop >/dev/null
done_testing
