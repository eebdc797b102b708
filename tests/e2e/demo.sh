#!/bin/bash
# demo.sh - a throwaway relay on loopback, in private namespaces: the real
# inbound sendmail (queue-only), mqsift, the real outbound sendmail and a sink.
# Sends the sample mail, runs one pass, delivers, and shows what happened.
# Everything it starts is stopped when it ends.  Run it with ./bootstrap.sh demo.
. "$(dirname "$0")/lib.sh"
relay_enter "$@"
relay_start || { echo "demo: cannot start the test relay" >&2; exit 1; }
CONF=$RELAY/etc/mqsift.yaml
S=$RELAY/samples
python3 "$TOP_SRCDIR/tests/data/samples/make-samples.py" "$S"

echo
echo "== 1. sending $(ls "$S" | wc -l) sample messages to the inbound sendmail (127.0.0.1:2525)"
for f in "$S"/*.eml; do
	from=$(sed -n 's/^From: //p' "$f" | head -n1)
	send_mail "$from" bob@example.com "$f" && printf '   sent %s\n' "$(basename "$f")"
done
relay_wait_inbound "$(ls "$S" | wc -l)"
echo "   mqueue.in now holds $(ls "$RELAY/in" | grep -c '^qf') control files"

echo
echo "== 2. mqsift run --once (built-in defaults plus the throwaway queues)"
"$MQSIFT" run --once -c "$CONF" 2>&1 | sed 's/^/   /'

echo
echo "== 3. the outbound sendmail delivers to the sink (127.0.0.2:2526)"
relay_deliver
echo "   mqueue.in: $(ls "$RELAY/in" | wc -l) files, mqueue: $(ls "$RELAY/out" | wc -l) files, sink: $(ls "$RELAY/sink" | wc -l) messages"

echo
echo "== 4. what each message became (the sink also got the postmaster's warning)"
printf '   %-22s %-45s %s\n' "MESSAGE" "SUBJECT AS DELIVERED" "X-VIRUS-STATUS"
for f in $(grep -l '^Message-ID: <.*@demo.test>' "$RELAY"/sink/*.eml); do
	mid=$(grep -i -m1 '^Message-ID:' "$f" | sed 's/.*<\(.*\)@demo.test>.*/\1/')
	subj=$(grep -m1 '^Subject:' "$f" | cut -c10- | tr -d '\r')
	status=$(grep -m1 '^X-Virus-Status:' "$f" | cut -c17- | tr -d '\r')
	printf '   %-22s %-45s %s\n' "$mid" "${subj:0:45}" "$status"
done

echo
echo "== 5. mqsift quarantine list"
"$MQSIFT" quarantine list -c "$CONF" | sed 's/^/   /'
echo
echo "== 6. the store ($RELAY/db/mqsift.db)"
sqlite3 -column -header "$RELAY/db/mqsift.db" \
	"select queue_id, status, coalesce(detail,'') as detail, action, ms from messages" 2>/dev/null |
	sed 's/^/   /'
echo
echo "demo finished; the relay is stopped and its files removed."
