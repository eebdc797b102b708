#!/bin/bash
# test-virus.sh - end to end through the real sendmails with real libclamav:
# an infected attachment never reaches the sink, the warning names the file and
# the signature, the quarantine holds the original, and release delivers it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
relay_start || bail_out "cannot start the test relay"

M=$RELAY/msgs
mkdir -p "$M"
cat >"$M/virus.eml" <<'MSG'
From: mallory@example.org
To: bob@example.com
Subject: your invoice
Message-ID: <virus@test.local>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

--XX
Content-Type: text/plain

Please find the invoice attached.
--XX
Content-Type: application/zip; name="invoice.zip"
Content-Disposition: attachment; filename="invoice.zip"
Content-Transfer-Encoding: base64

MSG
python3 - "$M/virus.eml" <<'PY'
import base64, io, sys, zipfile
eicar = b'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("eicar.com", eicar)
with open(sys.argv[1], "a") as f:
    f.write(base64.encodebytes(buf.getvalue()).decode())
    f.write("--XX--\n")
PY
cat >"$M/clean.eml" <<'MSG'
From: alice@example.org
To: bob@example.com
Subject: clean one
Message-ID: <clean@test.local>

nothing to see
MSG

ok_if "send infected" send_mail mallory@example.org bob@example.com "$M/virus.eml"
ok_if "send clean" send_mail alice@example.org bob@example.com "$M/clean.eml"
ok_if "both queued" relay_wait_inbound 2
ok_if "mqsift run --once" bash -c "'$MQSIFT' run --once -c '$RELAY/etc/mqsift.yaml' 2>'$RELAY/run.log'"
cat "$RELAY/run.log" >&2
relay_deliver
# the log line (issue #15): sendmail's size (headers + body as sent), the
# client, the Message-ID, to= without spaces, the verdict and the quarantine
line=$(grep 'msgid=<clean@test.local>' "$RELAY/run.log")
ok_if "log: size= is sendmail's figure ($(wc -c <"$M/clean.eml") bytes)" \
	grep -q "size=$(wc -c <"$M/clean.eml"), nrcpts=1," <<<"$line"
ok_if "log: relay= names the client" grep -q 'relay=[^,]*\[127\.0\.0\.1\]' <<<"$line"
ok_if "log: from=, to=, verdict, action, ms in order" \
	grep -Eq ': from=<alice@example.org>, size=[0-9]+, .* to=<bob@example.com>, verdict=clean, action=delivered, ms=[0-9]+$' <<<"$line"
vline=$(grep 'msgid=<virus@test.local>' "$RELAY/run.log")
ok_if "log: the signature and the quarantine reference" \
	grep -Eq 'verdict=infected, signatures=Mqsift\.Test\.EICAR[^ ]*, quarantine=[0-9]{8}/[0-9A-Za-z]+, action=parts-removed, ms=' <<<"$vline"
ok_if "log: size= is sendmail's figure for the infected one too" \
	grep -q "size=$(wc -c <"$M/virus.eml")," <<<"$vline"
ok_if "log: no pass line per message, one for the --once pass" [ "$(grep -c ' pass: ' "$RELAY/run.log")" -eq 1 ]
ok_if "clean message delivered untouched" python3 "$E2E_DIR/sinkcheck.py" delivered \
	"$RELAY/sink" "$M/clean.eml" alice@example.org bob@example.com

got=$(python3 "$E2E_DIR/sinkcheck.py" find "$RELAY/sink" '<virus@test.local>')
ok_if "infected message delivered once (rewritten)" [ -n "$got" ]
ok_if "what arrived is clean (rescanned by mqsift scan)" \
	"$MQSIFT" scan -c "$RELAY/etc/mqsift.yaml" "$got"
ok_if "the zip is gone" bash -c "! grep -q '^UEsDB' '$got'"
ok_if "X-Virus-Status names the signature" grep -q '^X-Virus-Status: Infected (Mqsift.Test.EICAR' "$got"
ok_if "subject is tagged" grep -q '^Subject: {Virus?} your invoice' "$got"
ok_if "warning text names the file" grep -q 'invoice.zip' "$got"
ok_if "warning text names the signature" grep -q 'Mqsift.Test.EICAR' "$got"
ok_if "the text part before it is kept" grep -q 'Please find the invoice attached.' "$got"
# mqsift scan reads a large file as a worker reads a df (its body from the
# descriptor, not all in memory): the infected part after 3 MB is still found,
# and from a pipe (read whole) as well
python3 - "$M/virus.eml" "$RELAY/big-virus.eml" <<-'PY'
import sys
head, body = open(sys.argv[1]).read().split("\n\n", 1)
pad = "".join("line %d of a long preamble\n" % i for i in range(120000))
open(sys.argv[2], "w").write(head + "\n\n" + pad + body)
PY
ok_if "mqsift scan: a 3 MB message with the virus at its end: found (file)" \
	bash -c "'$MQSIFT' scan -c '$RELAY/etc/mqsift.yaml' '$RELAY/big-virus.eml'; [ \$? -eq 1 ]"
ok_if "mqsift scan: the same from a pipe: found" \
	bash -c "'$MQSIFT' scan -c '$RELAY/etc/mqsift.yaml' /dev/stdin <'$RELAY/big-virus.eml'; [ \$? -eq 1 ]"
# a FIFO is opened once: its writer may write and close at once (before, it
# was opened a second time, which waited for a writer for ever)
mkfifo "$RELAY/fifo"
python3 -c "
import os, sys
data = open(sys.argv[2], 'rb').read()
fd = os.open(sys.argv[1], os.O_WRONLY)
os.write(fd, data)
os.close(fd)" "$RELAY/fifo" "$M/virus.eml" &
writer=$!
sleep 0.5 # the writer waits in open(): it writes and closes as soon as mqsift opens
ok_if "mqsift scan: a FIFO its writer closes at once: found" \
	bash -c "timeout 20 '$MQSIFT' scan -c '$RELAY/etc/mqsift.yaml' '$RELAY/fifo'; [ \$? -eq 1 ]"
kill $writer 2>/dev/null
wait $writer
# a file that says it is empty but is not (/proc): read, not taken as empty
env -i "MSG=$(cat "$M/virus.eml")" sleep 60 &
holder=$!
ok_if "mqsift scan: a /proc file (size 0 by fstat) holding the message: found" \
	bash -c "'$MQSIFT' scan -c '$RELAY/etc/mqsift.yaml' /proc/$holder/environ; [ \$? -eq 1 ]"
kill $holder
wait $holder 2>/dev/null
ok_if "mqsift scan: a device that never ends is judged by its size (max_message_size)" \
	bash -c "timeout 60 '$MQSIFT' scan -c '$RELAY/etc/mqsift.yaml' /dev/zero | grep -q 'larger than scanner.max_message_size'"

"$MQSIFT" quarantine list -c "$RELAY/etc/mqsift.yaml" >"$RELAY/qlist.txt"
cat "$RELAY/qlist.txt" >&2
ref=$(awk -F'\t' 'NR == 2 {print $1}' "$RELAY/qlist.txt")
ok_if "quarantine list: a header line" grep -q '^REFERENCE	DATE (UTC)	VERDICT	SENDER	RECIPIENTS	SUBJECT$' "$RELAY/qlist.txt"
ok_if "quarantine lists one entry" [ "$(wc -l <"$RELAY/qlist.txt")" -eq 2 ]
ok_if "with its date, verdict, sender and recipients" \
	grep -Pq '^[0-9]{8}/\w+\t20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{8}\tinfected\t<mallory@example.org>\t<bob@example.com>\tyour invoice$' "$RELAY/qlist.txt"
ok_if "quarantine list --verdict blocked: nothing" bash -c "[ \"\$('$MQSIFT' quarantine list --verdict blocked -c '$RELAY/etc/mqsift.yaml' 2>/dev/null | wc -l)\" -eq 1 ]"
ok_if "quarantine list --from mallory --to bob --since 1h: the entry" bash -c "'$MQSIFT' quarantine list --from MALLORY --to bob --since 1h -c '$RELAY/etc/mqsift.yaml' | grep -q '^$ref'"
ok_if "quarantine list --from alice: nothing" bash -c "! '$MQSIFT' quarantine list --from alice -c '$RELAY/etc/mqsift.yaml' 2>/dev/null | grep -q '^[0-9]'"
qdir=$RELAY/quarantine/$ref
ok_if "quarantine holds the original" grep -q '^UEsDB' "$qdir/message.eml"
ok_if "quarantine files are 0600" [ -z "$(find "$qdir" -type f ! -perm 0600)" ]
ok_if "the warning quotes the quarantine reference" grep -q "$ref" "$got"
ok_if "quarantine show" bash -c "'$MQSIFT' quarantine show -c '$RELAY/etc/mqsift.yaml' '$ref' | grep -q 'your invoice'"
ok_if "quarantine show: the date as a date" bash -c "'$MQSIFT' quarantine show -c '$RELAY/etc/mqsift.yaml' '$ref' | grep -Eq '^received: 20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC$'"
chmod 0700 "$RELAY/quarantine"
ok_if "a user who cannot read the quarantine is told so (exit 2)" bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups '$MQSIFT' quarantine list -c '$RELAY/etc/mqsift.yaml' >/dev/null 2>'$RELAY/denied.txt'; [ \$? -eq 2 ] && grep -q 'cannot read the quarantine' '$RELAY/denied.txt'"
ok_if "show refuses a path" bash -c "! '$MQSIFT' quarantine show -c '$RELAY/etc/mqsift.yaml' '../../etc/passwd'"

rm -f "$RELAY"/sink/*.eml
ok_if "quarantine release" "$MQSIFT" quarantine release -c "$RELAY/etc/mqsift.yaml" "$ref"
relay_deliver
rel=$(ls "$RELAY"/sink/*.eml 2>/dev/null | head -n1)
ok_if "released message delivered" [ -n "$rel" ]
ok_if "released message holds the original zip" grep -q '^UEsDB' "$rel"
ok_if "released message is marked" grep -q '^X-Virus-Status: Released from quarantine' "$rel"
rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from messages where status='infected' and detail like 'Mqsift.Test.EICAR%'\").fetchone()[0])" "$RELAY/db/mqsift.db")
ok_if "store: one infected row" [ "$rows" = 1 ]

# --- a release happens once unless asked again (issue #14.5) ----------------
sql() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$RELAY/db/mqsift.db" "$1"; }
ok_if "store: the release is recorded" [ "$(sql "select count(*) from releases where ref='$ref'")" = 1 ]
ok_if "quarantine list: the entry says it was released" \
	bash -c "'$MQSIFT' quarantine list -c '$RELAY/etc/mqsift.yaml' | grep -qP \"^$ref\t.*\t\\w+ \\(released as \""
rm -f "$RELAY"/sink/*.eml
"$MQSIFT" quarantine release -c "$RELAY/etc/mqsift.yaml" "$ref" >"$RELAY/rel2.out" 2>&1
ok_if "a second release is refused (status 2, says --again)" \
	bash -c "[ $? -eq 2 ] && grep -q 'already released.*--again' '$RELAY/rel2.out'"
ok_if "and queues nothing" [ -z "$(find "$RELAY/out" -name 'qf*')" ]
id=${ref#*/}
"$MQSIFT" quarantine release -c "$RELAY/etc/mqsift.yaml" "$id" --again --to postmaster@example.com \
	>"$RELAY/rel3.out" 2>&1
ok_if "--again --to with the bare queue ID" grep -q "released $ref as" "$RELAY/rel3.out"
ok_if "the log line names the recipient and 'again'" \
	grep -q "$ref: released into .* to <postmaster@example.com> (again)" "$RELAY/rel3.out"
relay_deliver
rel=$(ls "$RELAY"/sink/*.eml 2>/dev/null)
ok_if "one copy delivered" [ "$(echo "$rel" | grep -c .)" -eq 1 ]
ok_if "to the --to recipient only" bash -c "grep -q '^X-Sink-Rcpt-To: .*postmaster@example.com' '$rel' && ! grep -q '^X-Sink-Rcpt-To: .*bob@' '$rel'"
ok_if "store: two releases, the second marked again" \
	[ "$(sql "select count(*) || '/' || sum(again) from releases where ref='$ref'")" = 2/1 ]

# purge: entries older than quarantine.keep_days go, recent ones stay
mkdir -p "$RELAY/quarantine/20000101/6AOOLD0000000001"
echo "reference: 20000101/6AOOLD0000000001" >"$RELAY/quarantine/20000101/6AOOLD0000000001/info"
ok_if "quarantine purge" bash -c "'$MQSIFT' quarantine purge -c '$RELAY/etc/mqsift.yaml' 2>'$RELAY/purge.log'"
cat "$RELAY/purge.log" >&2
ok_if "purge logs what it removed" grep -q 'removed 20000101/6AOOLD0000000001 (received 2000-01-01 00:00:00 UTC' "$RELAY/purge.log"
ok_if "the old entry is gone" [ ! -e "$RELAY/quarantine/20000101" ]
ok_if "today's entry stays" [ -f "$qdir/message.eml" ]
done_testing
