#!/bin/bash
# test-reports.sh - the reports end to end: one postmaster warning per pass,
# sender notices only to local senders and never about worms, the digest lists
# exactly what was caught, the report's numbers match the store, and the HTML
# page renders in headless Chromium with its charts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
relay_start || bail_out "cannot start the test relay"
CONF=$RELAY/etc/mqsift.yaml
cat >>"$CONF" <<'YAML'
notify:
  postmaster: postmaster@example.com
  sender: true
  local_domains: [example.org]
  silent_viruses: ["*ClamExe*"]
YAML
python3 "$TOP_SRCDIR/tests/data/samples/make-samples.py" "$RELAY/samples"
S=$RELAY/samples
send() { send_mail "$1" bob@example.com "$S/$2" || echo "send $2 failed" >&2; }
send alice@example.org clean-text.eml          # local, clean
send alice@example.org banned-exe.eml          # local, blocked: told
send mallory@example.net eicar-zip.eml         # external, infected: not told
send alice@example.org clam-exe.eml            # local, but a "worm": not told
relay_wait_inbound 4
ok_if "mqsift run --once" "$MQSIFT" run --once -c "$CONF"
relay_deliver
to_is() { grep -l "^X-Sink-Rcpt-To: <$1>" "$RELAY"/sink/*.eml 2>/dev/null; }
pm=$(to_is postmaster@example.com)
ok_if "exactly one warning to the postmaster for the pass" [ "$(echo "$pm" | grep -c .)" -eq 1 ]
ok_if "it lists the three caught messages" [ "$(grep -c '^QueueID:' $pm)" -eq 3 ]
ok_if "with the virus report" grep -q "^Report:    Virus 'Mqsift.Test.EICAR" $pm
ok_if "and the release command" grep -q "^Release:   mqsift quarantine release 2" $pm
ok_if "its envelope sender is <>" grep -q '^X-Sink-Mail-From: <>' $pm
alice=$(to_is alice@example.org)
ok_if "the local sender of the banned file is told, once" [ "$(echo "$alice" | grep -c .)" -eq 1 ]
ok_if "about the banned file" grep -q 'invoice.pdf.exe' $alice
ok_if "the external sender is not told" [ -z "$(to_is mallory@example.net)" ]
ok_if "nobody is told about the silent virus" bash -c "! grep -l 'ClamExe' $alice"

ok_if "digest --print" bash -c "'$MQSIFT' digest -c '$CONF' --print >'$RELAY/digest.txt'"
ids=$(python3 -c "
import sqlite3,sys
db=sqlite3.connect(sys.argv[1])
print(' '.join(r[0] for r in db.execute(\"select queue_id from messages where status in ('infected','blocked') order by queue_id\")))" "$RELAY/db/mqsift.db")
listed=$(sed -n 's/^  [0-9-]* [0-9:]*  \([0-9A-Za-z]*\)$/\1/p' "$RELAY/digest.txt" | sort | tr '\n' ' ' | sed 's/ $//')
ok_if "the digest lists exactly the caught messages ($listed)" [ "$listed" = "$ids" ]
ok_if "the digest counts them" grep -q 'Messages: 4 (clean 1, infected 2, blocked 1, errors 0)' "$RELAY/digest.txt"
rm -f "$RELAY"/sink/*
ok_if "digest (mailed)" "$MQSIFT" digest -c "$CONF"
relay_deliver
ok_if "the digest reaches the postmaster" bash -c "grep -l '^Subject: mqsift digest' '$RELAY'/sink/*.eml | xargs grep -q 'X-Sink-Rcpt-To: <postmaster@example.com>'"

"$MQSIFT" report -c "$CONF" >"$RELAY/report.txt"
ok_if "report: totals" grep -q '^Messages:  4 ' "$RELAY/report.txt"
ok_if "report: infected count" grep -q '^Infected:  2$' "$RELAY/report.txt"
ok_if "report: latency percentiles" grep -q '^Processing time: p50 [0-9]* ms' "$RELAY/report.txt"
ok_if "report --html" "$MQSIFT" report -c "$CONF" --html "$RELAY/report.html"
CHROME=$(command -v chromium || command -v chromium-browser)
if [ -z "$CHROME" ]; then
	ok_if "chromium is installed (bootstrap.sh installs it)" false
else
	flags="--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run --user-data-dir=$RELAY/chrome"
	timeout 60 "$CHROME" $flags --dump-dom "file://$RELAY/report.html" >"$RELAY/dom.html" 2>/dev/null
	ok_if "the page renders in Chromium" grep -q '<h1>mqsift report' "$RELAY/dom.html"
	ok_if "its thirteen charts are there" [ "$(grep -o '<svg id="[a-z-]*"' "$RELAY/dom.html" | sort -u | wc -l)" -eq 13 ]
	ok_if "the caught table lists the three caught messages" [ "$(grep -c '<tr class="caught-row">' "$RELAY/dom.html")" -eq 3 ]
	ok_if "its totals match the store" bash -c "grep -q '<td id=\"total\">4</td>' '$RELAY/dom.html' && grep -q '<td id=\"infected\">2</td>' '$RELAY/dom.html' && grep -q '<td id=\"blocked\">1</td>' '$RELAY/dom.html'"
	timeout 60 "$CHROME" $flags --window-size=1000,1400 --screenshot="$RELAY/report.png" "file://$RELAY/report.html" >/dev/null 2>&1
	ok_if "a screenshot is taken" [ -s "$RELAY/report.png" ]
	[ -n "$MQSIFT_KEEP" ] && cp "$RELAY/report.png" /tmp/mqsift-report.png
fi

# --- a batch that fails part way: what was committed before the failure is
# told about as in a whole batch (before: nobody was told, not even the
# postmaster, when any message of the batch failed)
rm -f "$RELAY"/sink/*
send alice@example.org banned-exe.eml
send carol@example.org banned-exe.eml
relay_wait_inbound 2
MQSIFT_FAULT=commit:publish@1 "$MQSIFT" run --once -c "$CONF" 2>"$RELAY/partial.log"
cat "$RELAY/partial.log" >&2
ok_if "the commit failed after the first message was published" \
	bash -c "grep -q 'commit failed: simulated failure (commit:publish)' '$RELAY/partial.log' &&
		[ \$(grep -c 'action=parts-removed' '$RELAY/partial.log') -eq 1 ] &&
		[ \$(grep -c 'action=commit-completed-at-next-pass' '$RELAY/partial.log') -eq 1 ]"
ok_if "both senders were told in that pass" \
	[ "$(grep -c 'the sender .* was told' "$RELAY/partial.log")" -eq 2 ]
ok_if "the next pass completes the second" "$MQSIFT" run --once -c "$CONF"
relay_deliver
ok_if "alice is told once" [ "$(to_is alice@example.org | grep -c .)" -eq 1 ]
ok_if "carol is told once" [ "$(to_is carol@example.org | grep -c .)" -eq 1 ]
pm=$(to_is postmaster@example.com)
ok_if "the postmaster's warning lists both" \
	bash -c "[ \$(echo '$pm' | grep -c .) -eq 1 ] && [ \$(grep -c '^QueueID:' $pm) -eq 2 ]"
ok_if "bob gets each message once" [ "$(to_is bob@example.com | wc -l)" -eq 2 ]

# --- a batch whose journal could be neither written nor removed for sure (the
# directory fsync fails, EIO): in doubt, nobody is told yet; the next pass
# finds the journal gone, scans the message again and tells its sender then,
# once (before, the first pass told her too: two notices, two warnings)
rm -f "$RELAY"/sink/*
send alice@example.org banned-exe.eml
relay_wait_inbound 1
MQSIFT_FAULT=fsync-dir@1 "$MQSIFT" run --once -c "$CONF" 2>"$RELAY/doubt.log"
cat "$RELAY/doubt.log" >&2
ok_if "the commit is in doubt" grep -q 'action=commit-in-doubt' "$RELAY/doubt.log"
ok_if "nobody is told in that pass" \
	bash -c "! grep -Eq 'was told|cannot notify|warning to the postmaster' '$RELAY/doubt.log'"
"$MQSIFT" run --once -c "$CONF" 2>"$RELAY/doubt2.log"
ok_if "the next pass scans it again and delivers it" grep -q 'action=parts-removed' "$RELAY/doubt2.log"
relay_deliver
ok_if "alice is told once" [ "$(to_is alice@example.org | grep -c .)" -eq 1 ]
ok_if "the postmaster is warned once" [ "$(to_is postmaster@example.com | grep -c .)" -eq 1 ]
ok_if "bob gets it once" [ "$(to_is bob@example.com | grep -c .)" -eq 1 ]
done_testing
