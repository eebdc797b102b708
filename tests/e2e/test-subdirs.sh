#!/bin/bash
# test-subdirs.sh - queues with qf/ df/ xf/ subdirectories, as the real
# sendmail lays them out when they exist at its start: mqsift finds the files
# there and writes the outgoing queue the same way; the outbound sendmail
# delivers.  A qf whose df is in another queue directory (a d record, as
# sendmail writes with several queue directories) is followed there.  Also
# "mqsift lint" against this relay.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
relay_prepare || bail_out "cannot prepare the test relay"
for q in in out; do
	mkdir -m 0700 "$RELAY/$q/qf" "$RELAY/$q/df" "$RELAY/$q/xf"
done
"$SENDMAIL" -C "$RELAY/relay.cf" -bd -ODeliveryMode=queueonly -OPrivacyOptions=noetrn \
	-OQueueDirectory="$RELAY/in" -ODaemonPortOptions=Port=2525,Addr=127.0.0.1,Name=MTA-in \
	-OPidFile="$RELAY/in.pid" -L sm-mta-in
relay_wait_port 127.0.0.1 2525 || bail_out "inbound sendmail did not start"
CONF=$RELAY/etc/mqsift.yaml
printf 'From: a@example.org\nTo: b@example.com\nSubject: subdirs\nMessage-ID: <subdirs@test.local>\n\nhello\n' >"$RELAY/m.eml"
ok_if "send" send_mail a@example.org b@example.com "$RELAY/m.eml"
ok_if "the real sendmail queued into qf/ and df/" \
	wait_for 10 bash -c "ls '$RELAY'/in/qf/qf* && ls '$RELAY'/in/df/df*"
ok_if "mqsift run --once" "$MQSIFT" run --once -c "$CONF"
ok_if "outgoing qf in qf/, df in df/" bash -c "ls '$RELAY'/out/qf/qf* && ls '$RELAY'/out/df/df*"
ok_if "nothing left inbound" [ -z "$(find "$RELAY/in" -type f)" ]
relay_deliver
ok_if "delivered once, identical" python3 "$E2E_DIR/sinkcheck.py" delivered "$RELAY/sink" \
	"$RELAY/m.eml" a@example.org b@example.com

# --- a d record: the df lives in another queue directory (sendmail-queue.md 1.1)
printf 'From: a@example.org\nTo: b@example.com\nSubject: d record\nMessage-ID: <drecord@test.local>\n\nbody elsewhere\n' >"$RELAY/d.eml"
ok_if "send another" send_mail a@example.org b@example.com "$RELAY/d.eml"
ok_if "queued" wait_for 10 bash -c "ls '$RELAY'/in/qf/qf* && ls '$RELAY'/in/df/df*"
mkdir -m 0700 "$RELAY/in2"
qf=$(ls "$RELAY"/in/qf/qf*)
id=${qf##*/qf}
mv "$RELAY/in/df/df$id" "$RELAY/in2/df$id"
# as queueup() writes it: d<queue directory name> after P
sed -i 's/^\(P[0-9]*\)$/\1\ndin2/' "$qf"
ok_if "the qf now says din2" grep -q '^din2$' "$qf"
sed "s|^  incoming: .*|  incoming: [$RELAY/in, $RELAY/in2]|" "$CONF" >"$RELAY/etc/two.yaml"
"$MQSIFT" run --once -c "$RELAY/etc/two.yaml" 2>"$RELAY/drecord.log"
ok_if "mqsift follows the d record (no 'cannot open' of a df)" \
	bash -c "! grep -q 'cannot open' '$RELAY/drecord.log' && [ -z \"\$(find '$RELAY/in' '$RELAY/in2' -type f)\" ]"
ok_if "the outgoing qf has no d record" bash -c "! grep -q '^d' '$RELAY'/out/qf/qf*"
relay_deliver
ok_if "delivered once, with the body from in2" python3 "$E2E_DIR/sinkcheck.py" delivered \
	"$RELAY/sink" "$RELAY/d.eml" a@example.org b@example.com

# lint
"$MQSIFT" lint -c "$CONF" >"$RELAY/lint.out" 2>&1
ok_if "lint: this relay is fine" [ $? -eq 0 ]
ok_if "lint: the engine detects the built-in EICAR message" grep -q 'EICAR test message detected' "$RELAY/lint.out"
sed 's/^queue:$/queue:\n  lock: posix/' "$CONF" >"$RELAY/etc/posix.yaml"
"$MQSIFT" lint -c "$RELAY/etc/posix.yaml" >"$RELAY/lint2.out" 2>&1
ok_if "lint: queue.lock posix is refused for this sendmail (flock)" \
	bash -c "[ $? -eq 1 ] && grep -q 'locks queue files with flock' '$RELAY/lint2.out'"
printf 'queue:\n  outgoing: /x\n  lock: fcntl\nscanner:\n  max_file_size: big\n' >"$RELAY/etc/bad.yaml"
"$MQSIFT" lint -c "$RELAY/etc/bad.yaml" >"$RELAY/lint3.out" 2>&1
ok_if "lint: a bad file gives every problem with its line and column" \
	bash -c "[ $? -eq 1 ] && grep -q 'bad.yaml:3:9: queue.lock must be one of' '$RELAY/lint3.out' && grep -q 'bad.yaml:5:18: scanner.max_file_size' '$RELAY/lint3.out'"
mkdir -p "$RELAY/emptydb"
printf 'this is not a database\n' >"$RELAY/emptydb/broken.ndb"
sed "s|^  signatures: .*|  signatures: $RELAY/emptydb|" "$CONF" >"$RELAY/etc/baddb.yaml"
"$MQSIFT" lint -c "$RELAY/etc/baddb.yaml" >"$RELAY/lint4.out" 2>&1
ok_if "lint: a database that does not load is reported" \
	bash -c "[ $? -eq 1 ] && grep -q 'cannot load the signature database' '$RELAY/lint4.out'"
"$MQSIFT" run --once -c "$RELAY/etc/baddb.yaml" >"$RELAY/run4.out" 2>&1
ok_if "run: refuses to start on it (status 2), touching nothing" \
	bash -c "[ $? -eq 2 ] && grep -q 'cannot start' '$RELAY/run4.out'"
done_testing
