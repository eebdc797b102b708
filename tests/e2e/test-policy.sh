#!/bin/bash
# test-policy.sh - the attachment policy end to end through the real sendmails:
# a banned name inside a zip inside a forwarded message, a renamed executable,
# an encrypted archive; and a ruleset that relaxes the filename rules for one
# recipient only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
relay_start || bail_out "cannot start the test relay"
CONF=$RELAY/etc/mqsift.yaml
printf 'allow\t\\.exe$\t-\t-\n' >"$RELAY/etc/tools.rules"
cat >>"$CONF" <<YAML
policy:
  filename_checks:
    - to: dev@example.com
      value: false
    - default: true
  filename_rules:
    - to: tools@example.com
      value: $RELAY/etc/tools.rules
YAML
M=$RELAY/msgs
mkdir -p "$M"
python3 - "$M" <<'PY'
import base64, io, os, sys, zipfile
out = sys.argv[1]
def b64(d): return base64.encodebytes(d).decode()
def zipped(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, d in files:
            z.writestr(n, d)
    return buf.getvalue()
def encrypted(z):
    # set the "encrypted" flag (bit 0) in the local and central headers
    b = bytearray(z)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = b.find(sig)
        while i >= 0:
            b[i + off] |= 1
            i = b.find(sig, i + 4)
    return bytes(b)
def mail(mid, subject, parts):
    b = "b-" + mid
    s = ("From: alice@example.org\nTo: bob@example.com\nSubject: %s\nMessage-ID: <%s@test.local>\n"
         "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"%s\"\n\n" % (subject, mid, b))
    for p in parts:
        s += "--%s\n%s" % (b, p)
    return s + "--%s--\n" % b
def att(name, data, ctype="application/octet-stream"):
    return ('Content-Type: %s; name="%s"\nContent-Disposition: attachment; filename="%s"\n'
            "Content-Transfer-Encoding: base64\n\n%s" % (ctype, name, name, b64(data)))
text = "Content-Type: text/plain\n\nsee attached\n"
tools = zipped([("readme.txt", b"read me"), ("setup.exe", b"harmless but banned by name")])
inner = mail("inner", "the tools", [text, att("tools.zip", tools, "application/zip")])
fwd = mail("fwd", "Fwd: the tools", [text, "Content-Type: message/rfc822\n\n" + inner])
open(os.path.join(out, "fwd.eml"), "w").write(fwd)
open(os.path.join(out, "renamed.eml"), "w").write(
    mail("renamed", "holiday photo", [text, att("photo.jpg", open("/bin/true", "rb").read(), "image/jpeg")]))
open(os.path.join(out, "encrypted.eml"), "w").write(
    mail("encrypted", "secret files", [text, att("secret.zip", encrypted(zipped([("a.txt", b"x" * 100)])), "application/zip")]))
PY
ok_if "send: exe in a zip in a forwarded message" send_mail alice@example.org bob@example.com "$M/fwd.eml"
ok_if "send: an executable named photo.jpg" send_mail alice@example.org bob@example.com "$M/renamed.eml"
ok_if "send: an encrypted zip" send_mail alice@example.org bob@example.com "$M/encrypted.eml"
sed 's/<fwd@test.local>/<fwd-dev@test.local>/' "$M/fwd.eml" >"$M/fwd-dev.eml"
ok_if "send: the same forward to dev@" send_mail alice@example.org dev@example.com "$M/fwd-dev.eml"
ok_if "all queued" relay_wait_inbound 4
ok_if "mqsift run --once" "$MQSIFT" run --once -c "$CONF"
relay_deliver
got() { python3 "$E2E_DIR/sinkcheck.py" find "$RELAY/sink" "$1"; }
fwd=$(got '<fwd@test.local>')
ok_if "forward: blocked for the name inside the zip" \
	grep -q '^X-Virus-Status: Blocked (banned file name setup.exe (Executable file) (inside an attachment))' "$fwd"
ok_if "forward: the zip is gone, the texts stay" \
	bash -c "! grep -q '^UEsDB' '$fwd' && grep -q 'see attached' '$fwd'"
ok_if "forward: the replacement names the zip" grep -q 'tools.zip' "$fwd"
ren=$(got '<renamed@test.local>')
ok_if "renamed executable: blocked by its real type" \
	grep -q '^X-Virus-Status: Blocked (banned file type ELF' "$ren"
enc=$(got '<encrypted@test.local>')
ok_if "encrypted zip: blocked" grep -q '^X-Virus-Status: Blocked (encrypted archive' "$enc"
dev=$(got '<fwd-dev@test.local>')
ok_if "ruleset: for dev@ the filename rules are off, the forward passes" \
	bash -c "grep -q '^X-Virus-Status: Clean' '$dev' && grep -q '^UEsDB' '$dev'"

# a rules file chosen by recipient; with several recipients every file applies
python3 - "$M" <<'PY'
import base64, os, sys
b = "b-tool"
msg = ("From: alice@example.org\nTo: tools@example.com\nSubject: the tool\nMessage-ID: <%%s@test.local>\n"
       "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"%s\"\n\n--%s\nContent-Type: text/plain\n\n"
       "the tool\n--%s\nContent-Type: application/octet-stream; name=\"tool.exe\"\n"
       "Content-Transfer-Encoding: base64\n\n%s--%s--\n") % (b, b, b, base64.encodebytes(b"harmless").decode(), b)
open(os.path.join(sys.argv[1], "tool1.eml"), "w").write(msg % "tool1")
open(os.path.join(sys.argv[1], "tool2.eml"), "w").write(msg % "tool2")
PY
rm -f "$RELAY"/sink/*
ok_if "send tool.exe to tools@ (rules that allow .exe)" send_mail alice@example.org tools@example.com "$M/tool1.eml"
ok_if "send it to tools@ and bob@" send_mail alice@example.org tools@example.com,bob@example.com "$M/tool2.eml"
relay_wait_inbound 2
ok_if "run --once" "$MQSIFT" run --once -c "$CONF"
relay_deliver
t1=$(got '<tool1@test.local>')
t2=$(got '<tool2@test.local>')
ok_if "tools@ alone: its rules allow it" grep -q '^X-Virus-Status: Clean' "$t1"
ok_if "tools@ and bob@: bob's rules block it (the strictest wins)" \
	grep -q '^X-Virus-Status: Blocked (banned file name tool.exe (Executable file))' "$t2"
ok_if "the recipient is told why (the rule's user text)" grep -q 'Windows programs and scripts are not accepted' "$t2"
done_testing
