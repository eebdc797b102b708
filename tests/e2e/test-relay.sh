#!/bin/bash
# test-relay.sh - end to end through the real sendmails: clean mail passes
# unchanged (body byte-identical, headers intact plus ours), exactly once, to
# every recipient, with nothing left in either queue.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
relay_start || bail_out "cannot start the test relay"

M=$RELAY/msgs
mkdir -p "$M"
cat >"$M/plain.eml" <<'MSG'
From: Alice <alice@example.org>
To: bob@example.com
Subject: plain text
Message-ID: <plain@test.local>
Date: Tue, 24 Nov 2026 10:00:00 +0000

Hello Bob,
.leading dot and trailing spaces   
From the beginning of a line.

MSG
cat >"$M/multipart.eml" <<'MSG'
From: alice@example.org
To: bob@example.com
Subject: with an attachment
Message-ID: <multipart@test.local>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=-b1"

preamble
--=-b1
Content-Type: text/plain; charset=us-ascii

See the report.
--=-b1
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl
Y29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAw0DMwslAwtTTVMzI3UjA0MDRRKErlCtdSyOMKVAAA
--=-b1--
epilogue
MSG
printf 'From: =?UTF-8?Q?J=C3=BCrgen?= <juergen@example.org>\nTo: bob@example.com\nSubject: Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln \xe2\x82\xac\nMessage-ID: <utf8@test.local>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nSch\xc3\xb6ne Gr\xc3\xbc\xc3\x9fe \xe2\x80\x94 \xc3\xff\x80 bytes\n' >"$M/utf8.eml"
cat >"$M/many.eml" <<'MSG'
From: list@example.org
To: a@example.com, b@example.com, c@example.net
Cc: d@example.net
Subject: several recipients
Message-ID: <many@test.local>
X-Folded: first part
	second part
    third part

One message, four recipients.
MSG

ok_if "send plain" send_mail alice@example.org bob@example.com "$M/plain.eml"
ok_if "send multipart" send_mail alice@example.org bob@example.com "$M/multipart.eml"
ok_if "send 8-bit UTF-8" send_mail juergen@example.org bob@example.com "$M/utf8.eml"
ok_if "send to several recipients" send_mail list@example.org \
	a@example.com,b@example.com,c@example.net,d@example.net "$M/many.eml"
ok_if "inbound sendmail queued all four" relay_wait_inbound 4

ok_if "mqsift run --once exits 0" "$MQSIFT" run --once -c "$RELAY/etc/mqsift.yaml"
ok_if "nothing left in mqueue.in" [ -z "$(ls -A "$RELAY/in")" ]
ok_if "four messages in the outgoing queue" [ "$(ls "$RELAY/out" | grep -c '^qf')" -eq 4 ]
ok_if "outgoing qf files are 0640" [ -z "$(find "$RELAY/out" -name 'qf*' ! -perm 0640)" ]

relay_deliver
ok_if "outbound sendmail emptied its queue" [ -z "$(ls -A "$RELAY/out")" ]
check() { python3 "$E2E_DIR/sinkcheck.py" delivered "$RELAY/sink" "$@"; }
ok_if "plain: once, body identical, headers kept" check "$M/plain.eml" alice@example.org bob@example.com
ok_if "multipart: once, body identical, headers kept" check "$M/multipart.eml" alice@example.org bob@example.com
ok_if "UTF-8: once, body identical, headers kept" check "$M/utf8.eml" juergen@example.org bob@example.com
ok_if "four recipients, each once" check "$M/many.eml" list@example.org \
	a@example.com,b@example.com,c@example.net,d@example.net

# the store has one row per message
rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from messages where status='clean'\").fetchone()[0])" "$RELAY/db/mqsift.db")
ok_if "store: four clean rows" [ "$rows" = 4 ]

# a second run finds nothing and changes nothing
ok_if "second run --once is a no-op" "$MQSIFT" run --once -c "$RELAY/etc/mqsift.yaml"
ok_if "no duplicate appeared" [ "$(ls "$RELAY/sink" | wc -l)" -eq 4 ]

# queue.kick_delivery: sendmail -qI<id> right after the commit, no queue run needed
# (the tests' configuration turns kicking off; the default is on)
sed -e '/^  kick_delivery: false$/d' -e 's/^queue:$/queue:\n  sendmail: [\/usr\/sbin\/sendmail, -C, '"${RELAY//\//\\/}"'\/relay.cf]/' \
	"$RELAY/etc/mqsift.yaml" >"$RELAY/etc/kick.yaml"
sed 's/<plain@test.local>/<kick@test.local>/' "$M/plain.eml" >"$M/kick.eml"
send_mail alice@example.org bob@example.com "$M/kick.eml"
relay_wait_inbound 1
ok_if "kick_delivery: run --once" "$MQSIFT" run --once -c "$RELAY/etc/kick.yaml"
kicked() { grep -lq '^Message-ID: <kick@test.local>' "$RELAY"/sink/*.eml 2>/dev/null; }
for i in $(seq 1 100); do kicked && break; sleep 0.1; done
ok_if "kick_delivery: delivered without waiting for a queue run" kicked

# several inbound queues, by glob
mkdir -m 0700 "$RELAY/in2"
sed 's/<plain@test.local>/<second-queue@test.local>/' "$M/plain.eml" >"$M/q2.eml"
send_mail alice@example.org bob@example.com "$M/q2.eml"
relay_wait_inbound 1
for f in "$RELAY"/in/*; do mv "$f" "$RELAY/in2/"; done
sed "s|^  incoming: .*|  incoming: $RELAY/in*|" "$RELAY/etc/mqsift.yaml" >"$RELAY/etc/glob.yaml"
ok_if "a glob of inbound queues" "$MQSIFT" run --once -c "$RELAY/etc/glob.yaml"
relay_deliver
ok_if "the message from the second queue is delivered" \
	grep -lq '^Message-ID: <second-queue@test.local>' "$RELAY"/sink/*.eml
done_testing
