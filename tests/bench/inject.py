#!/usr/bin/env python3
"""inject.py IN OUT SRC RATE - move the qf/df pairs of SRC into the inbound queue
IN at RATE messages per second (df first, qf by rename, as sendmail does) and
report, for each, the time until its qf appears in the outgoing queue OUT."""
import os, sys, time

inq, outq, src, rate = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
ids = sorted(n[2:] for n in os.listdir(src) if n.startswith("qf"))
sent = {}
pending = set()
lat = []
t_next = time.monotonic()
i = 0
deadline = time.monotonic() + len(ids) / rate + 60
while (i < len(ids) or pending) and time.monotonic() < deadline:
    now = time.monotonic()
    if i < len(ids) and now >= t_next:
        qid = ids[i]
        os.rename(os.path.join(src, "df" + qid), os.path.join(inq, "df" + qid))
        os.rename(os.path.join(src, "qf" + qid), os.path.join(inq, "qf" + qid))
        sent[qid] = time.monotonic()
        pending.add(qid)
        i += 1
        t_next += 1.0 / rate
    for qid in list(pending):
        if os.path.exists(os.path.join(outq, "qf" + qid)):
            lat.append((time.monotonic() - sent[qid]) * 1000)
            pending.discard(qid)
    time.sleep(0.0005)
lat.sort()
def pct(p):
    return lat[min(len(lat) - 1, int(len(lat) * p / 100))] if lat else float("nan")
print("latency: messages=%d rate_per_s=%.0f p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f lost=%d"
      % (len(lat), rate, pct(50), pct(90), pct(99), lat[-1] if lat else float("nan"), len(pending)))
