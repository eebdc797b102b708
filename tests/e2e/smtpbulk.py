#!/usr/bin/env python3
"""smtpbulk.py N [--prefix P] - send N small distinct messages over one SMTP
connection to the test relay; Message-ID <P-i@test.local>, i = 1..N."""
import argparse, smtplib

ap = argparse.ArgumentParser()
ap.add_argument("n", type=int)
ap.add_argument("--prefix", default="bulk")
ap.add_argument("--port", type=int, default=2525)
a = ap.parse_args()
with smtplib.SMTP("127.0.0.1", a.port, local_hostname="client.test.local", timeout=30) as s:
    for i in range(1, a.n + 1):
        msg = ("From: bulk@example.org\r\nTo: rcpt@example.com\r\nSubject: bulk %d\r\n"
               "Message-ID: <%s-%d@test.local>\r\n\r\nmessage number %d\r\n" % (i, a.prefix, i, i))
        s.sendmail("bulk@example.org", ["rcpt@example.com"], msg)
