#!/usr/bin/env python3
"""smtpsend.py - send one RFC 5322 file over SMTP to the test relay (127.0.0.1:2525)."""
import argparse, re, smtplib, sys

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, default=2525)
ap.add_argument("--source", default=None, help="connect from this local address (the client IP)")
ap.add_argument("--from", dest="sender", required=True)
ap.add_argument("--to", required=True, help="comma-separated recipients")
ap.add_argument("--8bit", dest="eightbit", action="store_true")
ap.add_argument("--mail-opt", action="append", default=[], help="e.g. RET=HDRS")
ap.add_argument("--rcpt-opt", action="append", default=[], help="e.g. NOTIFY=SUCCESS,FAILURE")
ap.add_argument("file")
a = ap.parse_args()
with open(a.file, "rb") as f:
    data = f.read()
# SMTP lines end in CRLF (sendmail refuses bare LF since the smuggling fix)
data = re.sub(rb"\r?\n", b"\r\n", data)
opts = ["BODY=8BITMIME"] if a.eightbit or any(b >= 0x80 for b in data) else []
if any(o.upper().startswith("BODY=") for o in a.mail_opt):
    opts = []  # the caller's own BODY= (e.g. lower case, which is legal)
opts += a.mail_opt
src = (a.source, 0) if a.source else None
with smtplib.SMTP(a.host, a.port, local_hostname="client.test.local", timeout=30,
                  source_address=src) as s:
    s.ehlo()
    s.sendmail(a.sender, a.to.split(","), data, mail_options=opts, rcpt_options=a.rcpt_opt)
