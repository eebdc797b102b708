#!/bin/bash
# test-queue.sh - the queue engine against the real sendmail: every variant of
# control file the inbound daemon writes reads and writes back byte-identical
# and is delivered by the outbound daemon (-d40.4 shows every record read);
# broken files are set aside with a notice; a full or read-only outgoing
# queue leaves the mail safe in mqueue.in until space is back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
relay_start || bail_out "cannot start the test relay"
CONF=$RELAY/etc/mqsift.yaml
printf 'notify:\n  postmaster: postmaster@example.com\n' >>"$CONF"
M=$RELAY/msgs
mkdir -p "$M"

# --- variants of what sendmail writes -----------------------------------------
mk() { # mk NAME HEADERS... (one per argument), then the body on stdin
	local name=$1
	shift
	{
		printf 'Message-ID: <%s@test.local>\n' "$name"
		for h in "$@"; do printf '%s\n' "$h"; done
		printf '\n'
		cat
	} >"$M/$name.eml"
}
mk plain 'From: a@example.org' 'To: b@example.com' 'Subject: plain' <<<'body'
printf '' | mk empty-body 'From: a@example.org' 'To: b@example.com' 'Subject: empty body'
mk folded 'From: a@example.org' 'To: b@example.com' 'Subject: folded' \
	$'X-Folded: one\n\ttwo\n  three' <<<'body'
long=$(printf 'x%.0s' $(seq 1 1500))
mk long-header 'From: a@example.org' 'To: b@example.com' "X-Long: $long" 'Subject: long' <<<'body'
mk eightbit 'From: a@example.org' 'To: b@example.com' \
	$'Subject: Gr\xc3\xbc\xc3\x9fe \xe2\x82\xac \xc3\xff' <<<$'caf\xc3\xa9'
mk dsn 'From: a@example.org' 'To: b@example.com' 'Subject: dsn' <<<'body'
rcpts=$(for i in $(seq 1 40); do printf 'r%02d@example.com,' "$i"; done)
rcpts=${rcpts%,}
mk many 'From: a@example.org' 'To: list@example.com' 'Subject: forty recipients' <<<'body'
mk lowerbody 'From: a@example.org' 'To: b@example.com' 'Subject: BODY=8bitmime' <<<$'na\xc3\xafve'

ok_if "send plain" send_mail a@example.org b@example.com "$M/plain.eml"
ok_if "send empty body" send_mail a@example.org b@example.com "$M/empty-body.eml"
ok_if "send folded" send_mail a@example.org b@example.com "$M/folded.eml"
ok_if "send long header" send_mail a@example.org b@example.com "$M/long-header.eml"
ok_if "send 8-bit headers" send_mail a@example.org b@example.com "$M/eightbit.eml"
ok_if "send DSN options" python3 "$E2E_DIR/smtpsend.py" --from a@example.org \
	--to b@example.com,c@example.com --mail-opt RET=HDRS --mail-opt ENVID=env-42 \
	--rcpt-opt NOTIFY=SUCCESS,FAILURE --rcpt-opt ORCPT=rfc822\;b@example.com "$M/dsn.eml"
ok_if "send forty recipients" send_mail a@example.org "$rcpts" "$M/many.eml"
# BODY= is case-insensitive (RFC 5321); sendmail stores the value as sent
ok_if "send with BODY=8bitmime (lower case)" python3 "$E2E_DIR/smtpsend.py" --from a@example.org \
	--to b@example.com --mail-opt BODY=8bitmime "$M/lowerbody.eml"
ok_if "all eight queued" relay_wait_inbound 8
ok_if "sendmail stored it as B8bitmime" grep -lq '^B8bitmime$' $(find "$RELAY/in" -name 'qf*')

has_records() { # has_records FILES...: the DSN records of the dsn message
	grep -q '^RPNSF:<b@example.com>' "$@" && grep -q '^Zenv-42' "$@" &&
		grep -q '^Qrfc822;b@example.com' "$@" && grep -q '^F.*n' "$@"
}
qfs=$(find "$RELAY/in" -name 'qf*')
ok_if "the DSN options are in a qf (RPNSF, Q, Z, F n)" has_records $qfs
ok_if "every inbound qf reads and writes back byte-identical" \
	"$TOP_BUILDDIR/tests/queue/qf-roundtrip" $qfs
ok_if "mqsift run --once" "$MQSIFT" run --once -c "$CONF"
outqfs=$(find "$RELAY/out" -name 'qf*')
ok_if "every outgoing qf reads back too" "$TOP_BUILDDIR/tests/queue/qf-roundtrip" $outqfs
ok_if "the DSN records went out unchanged" has_records $outqfs
relay_deliver -v -d40.4 >"$RELAY/deliver.log" 2>&1
ok_if "sendmail read every record of all eight (+++++ . seen 8 times)" \
	[ "$(grep -c '^+++++ \.$' "$RELAY/deliver.log")" -eq 8 ]
ok_if "outgoing queue emptied" [ -z "$(ls -A "$RELAY/out")" ]
for n in plain empty-body folded long-header eightbit lowerbody; do
	ok_if "$n: delivered once, identical" python3 "$E2E_DIR/sinkcheck.py" delivered \
		"$RELAY/sink" "$M/$n.eml" a@example.org b@example.com
done
ok_if "dsn: delivered once to both" python3 "$E2E_DIR/sinkcheck.py" delivered \
	"$RELAY/sink" "$M/dsn.eml" a@example.org b@example.com,c@example.com
ok_if "forty recipients, each once" python3 "$E2E_DIR/sinkcheck.py" delivered \
	"$RELAY/sink" "$M/many.eml" a@example.org "$rcpts"
rm -f "$RELAY"/sink/*

# --- a broken control file: left alone, then set aside with a notice ----------
id=6AOBroken0000001
printf 'V8\nT1\nS<a@b>\nXbogus record\nRPFD:<b@example.com>\n.\n' >"$RELAY/in/qf$id"
printf 'body\n' >"$RELAY/in/df$id"
chmod 600 "$RELAY/in/qf$id" "$RELAY/in/df$id"
"$MQSIFT" run --once -c "$CONF" 2>"$RELAY/broken.log"
ok_if "a broken qf is logged with the reason" grep -q "$id.*unknown record type 'X'" "$RELAY/broken.log"
ok_if "and left untouched within the grace time" [ -f "$RELAY/in/qf$id" ] 
cp "$CONF" "$RELAY/etc/grace0.yaml"
printf 'queue:\n  bad_file_grace: 0s\n' >"$RELAY/etc/grace0.yaml.tmp"
python3 - "$RELAY/etc/grace0.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read().replace("queue:\n", "queue:\n  bad_file_grace: 0s\n", 1)
open(p, "w").write(s)
PY
"$MQSIFT" run --once -c "$RELAY/etc/grace0.yaml" 2>>"$RELAY/broken.log"
ok_if "after the grace time it is moved aside" \
	[ -f "$RELAY/quarantine/broken/$id/qf$id" -a -f "$RELAY/quarantine/broken/$id/df$id" -a ! -e "$RELAY/in/qf$id" -a ! -e "$RELAY/in/df$id" ]
ok_if "its content is unchanged" grep -q '^Xbogus record' "$RELAY/quarantine/broken/$id/qf$id"
relay_deliver
ok_if "the postmaster got a notice naming it" grep -lq "unprocessable message $id" "$RELAY"/sink/*.eml
notice=$(grep -l "unprocessable message $id" "$RELAY"/sink/*.eml | head -n1)
ok_if "the notice has envelope sender <> and Auto-Submitted" \
	bash -c "grep -q '^X-Sink-Mail-From: <>' '$notice' && grep -q '^Auto-Submitted: auto-generated' '$notice'"
rm -f "$RELAY"/sink/*

# --- a full outgoing queue ----------------------------------------------------
mount -t tmpfs -o size=64k,mode=0700 tmpfs "$RELAY/out" || bail_out "cannot mount a tmpfs"
python3 -c "print('From: a@example.org\nTo: b@example.com\nSubject: big\nMessage-ID: <big@test.local>\n'); [print('%078d' % i) for i in range(3000)]" >"$M/big.eml"
ok_if "send a 240 kB message" send_mail a@example.org b@example.com "$M/big.eml"
relay_wait_inbound 1
"$MQSIFT" run --once -c "$CONF" 2>"$RELAY/enospc.log"
ok_if "full disk: the error is logged" grep -q 'No space left on device' "$RELAY/enospc.log"
ok_if "full disk: the message stays in mqueue.in" [ "$(find "$RELAY/in" -name 'qf*' | wc -l)" -eq 1 ]
ok_if "full disk: nothing half-written in mqueue" [ -z "$(ls -A "$RELAY/out")" ]
mount -o remount,ro "$RELAY/out"
"$MQSIFT" run --once -c "$CONF" 2>"$RELAY/erofs.log"
ok_if "read-only queue: logged, message kept" \
	bash -c "grep -q 'Read-only file system' '$RELAY/erofs.log' && [ \$(find '$RELAY/in' -name 'qf*' | wc -l) -eq 1 ]"
umount "$RELAY/out"
ok_if "space back: it goes through" "$MQSIFT" run --once -c "$CONF"
relay_deliver
ok_if "and arrives once, identical" python3 "$E2E_DIR/sinkcheck.py" delivered \
	"$RELAY/sink" "$M/big.eml" a@example.org b@example.com
ok_if "nothing left in either queue" [ -z "$(ls -A "$RELAY/in")" -a -z "$(ls -A "$RELAY/out")" ]
done_testing
