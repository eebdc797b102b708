#!/usr/bin/env python3
# gen-report-data.py - fill an mqsift store (schema made by mqsift itself) with a
# year of messages of every verdict and queue samples, for the report's graphs.
#   gen-report-data.py DB [PER_DAY]
# Messages: PER_DAY a day (default 48), one every 24h/PER_DAY; among each 24 in
# a row: 15 clean, 3 spam (2 yes, 1 high, quarantined), 3 infected, 2 blocked,
# 1 error.  The last 7 days carry hostile senders, subjects and signature names.
# Queue samples: one every 10 minutes.  Prints the time it took as "now".
import sqlite3
import sys
import time

db = sqlite3.connect(sys.argv[1])
per_day = int(sys.argv[2]) if len(sys.argv) > 2 else 48
now = int(time.time())
start = now - 365 * 86400
step = 86400 // per_day
pattern = (["clean"] * 15 + ["spam-yes", "spam-yes", "spam-high"] + ["infected"] * 3 +
           ["blocked"] * 2 + ["error"])
evil_subject = '<img src=x onerror="document.title=1">Invoice & <b>bold</b>'
evil_sender = '<"<script>alert(1)</script>"@evil.example>'
evil_sig = 'Win.Trojan.<svg onload=alert(2)>-' + 'Very.Long.Signature.Name' * 4
rows = []
n = 0
t = start + 1
while t < now:
    kind = pattern[n % len(pattern)]
    recent = t > now - 7 * 86400
    status, spam, detail, quar = "clean", None, None, None
    if kind.startswith("spam"):
        spam = "yes" if kind == "spam-yes" else "high"
        quar = "q%d" % n
    elif kind == "infected":
        status = "infected"
        detail = evil_sig if recent and n % 2 else "Eicar-Test-Signature"
        quar = "q%d" % n
    elif kind == "blocked":
        status = "blocked"
        detail = "banned file name <x>.exe" if n % 2 else "banned type application/x-msdownload"
        quar = "q%d" % n
    elif kind == "error":
        status = "error"
        detail = "limits"
    sender = evil_sender if recent and n % 3 == 0 else "<user%d@sender%d.example>" % (n % 7, n % 5)
    subject = evil_subject if recent else "message %d" % n
    rows.append(("ID%08d" % n, t, sender, "<bob@rcpt%d.example>, <eve@other.example>" % (n % 3),
                 subject, 1000 + n % 5000, status, detail, "delivered", quar,
                 5 + (n * 37) % 400, spam, 7.5 if spam else None))
    n += 1
    t += step
db.executemany(
    "INSERT INTO messages (queue_id, received, sender, recipients, subject, size, status, "
    "detail, action, quarantine, ms, spam, spam_score) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
db.executemany("INSERT INTO queue_samples (t, inbound, outbound) VALUES (?,?,?)",
               [(s, (s // 600) % 37, (s // 600) % 11) for s in range(start, now, 600)])
db.commit()
print(now)
