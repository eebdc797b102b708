#!/bin/bash
# test-untrusted.sh - hostile strings end to end: a subject with a terminal
# escape and a line break, a banned file name with a newline; neither forges a
# log line nor reaches the terminal through quarantine list/show or
# digest --print; and a %-routed "local" sender gets no notice.
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
YAML
# a message whose subject changes the terminal title and whose attachment name
# (RFC 2231) holds a newline followed by a would-be log line
python3 - "$RELAY/evil.eml" <<'PY'
import sys
msg = (
    "From: alice@example.org\nTo: bob@example.com\n"
    "Subject: =?utf-8?q?x?= \x1b]0;pwned\x07 hi\n"
    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
    "--b\nContent-Type: text/plain\n\nsee attached\n"
    "--b\nContent-Type: application/octet-stream\n"
    "Content-Disposition: attachment; filename*=utf-8''evil%0Amqsift%3A%20FAKE%20LINE%1B%5B2J.exe\n"
    "Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAAA==\n"
    "--b--\n")
open(sys.argv[1], "w").write(msg)
PY
send_mail alice@example.org bob@example.com "$RELAY/evil.eml" || echo "send 1 failed" >&2
send_mail 'user%evil.example@example.org' bob@example.com "$RELAY/evil.eml" || echo "send 2 failed" >&2
relay_wait_inbound 2
ok_if "mqsift run --once" bash -c "'$MQSIFT' run --once -c '$CONF' 2>'$RELAY/run.log'"
esc=$(printf '\033')
ok_if "no escape byte in the log" bash -c "! grep -q '$esc' '$RELAY/run.log'"
ok_if "no forged log line" bash -c "! grep -q '^mqsift: FAKE LINE' '$RELAY/run.log'"
"$MQSIFT" quarantine list -c "$CONF" >"$RELAY/list.txt" 2>"$RELAY/list.err"; cat "$RELAY/list.txt" "$RELAY/list.err" >&2
ok_if "quarantine list: a header and two entries, three lines" [ "$(wc -l <"$RELAY/list.txt")" -eq 3 ]
ok_if "quarantine list: no escape byte" bash -c "! grep -q '$esc' '$RELAY/list.txt'"
ok_if "quarantine list: the escape shown as text" grep -q '\\x1b\]0;pwned\\x07' "$RELAY/list.txt"
ref=$(cut -f1 "$RELAY/list.txt" | head -1)
"$MQSIFT" quarantine show -c "$CONF" "$ref" >"$RELAY/show.txt" 2>&1
ok_if "quarantine show: no escape byte" bash -c "! grep -q '$esc' '$RELAY/show.txt'"
ok_if "quarantine show: no forged line" bash -c "! grep -q '^mqsift: FAKE LINE' '$RELAY/show.txt'"
"$MQSIFT" digest -c "$CONF" --print >"$RELAY/digest.txt" 2>&1
ok_if "digest --print: no escape byte" bash -c "! grep -q '$esc' '$RELAY/digest.txt'"
relay_deliver
to_is() { grep -l "^X-Sink-Rcpt-To: <$1>" "$RELAY"/sink/*.eml 2>/dev/null; }
ok_if "the plain local sender is told" [ -n "$(to_is alice@example.org)" ]
ok_if "the %-routed sender is not" bash -c "! grep -l '^X-Sink-Rcpt-To:.*evil' '$RELAY'/sink/*.eml"
ok_if "no notice carries an escape byte" bash -c "! grep -l '$esc' \$(grep -l '^From: mqsift' '$RELAY'/sink/*.eml)"
done_testing
