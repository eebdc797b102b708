#!/usr/bin/env python3
"""sinkcheck.py - assertions on what the SMTP sink received (for the e2e tests).

  sinkcheck.py delivered SINKDIR SENT.eml FROM RCPT[,RCPT...]
      exactly one delivery of SENT.eml (matched by Message-ID), with envelope
      sender FROM and exactly the recipients RCPT...; the body byte-identical
      to what was sent; every header sent present unchanged; X-Virus-Scanned
      and "X-Virus-Status: Clean" added.
  sinkcheck.py find SINKDIR MESSAGE-ID
      prints the path of the one delivery with that Message-ID.
Exit status 0 when the assertion holds; otherwise 1 with the reason on stderr.
"""
import os, re, sys

def split(data):
    data = data.replace(b"\r\n", b"\n")
    i = data.find(b"\n\n")
    return data[:i + 1], data[i + 2:]

def header_lines(block):
    """logical header lines (folded lines joined with their newline)"""
    out = []
    for line in block.split(b"\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += b"\n" + line
        else:
            out.append(line)
    return out

def message_id(block):
    m = re.search(rb"(?im)^message-id:\s*(<[^>]*>)", block)
    return m.group(1) if m else None

def deliveries(sinkdir):
    for name in sorted(os.listdir(sinkdir)):
        if not name.endswith(".eml"):
            continue
        path = os.path.join(sinkdir, name)
        with open(path, "rb") as f:
            raw = f.read()
        env, rest = split(raw)
        envd = {}
        for line in header_lines(env):
            k, _, v = line.partition(b": ")
            envd[k.decode()] = v.decode("latin-1")
        head, body = split(rest)
        yield path, envd, head, body

def fail(msg):
    print("sinkcheck: " + msg, file=sys.stderr)
    sys.exit(1)

def cmd_delivered(sinkdir, sent_path, sender, rcpts):
    with open(sent_path, "rb") as f:
        sent_head, sent_body = split(f.read())
    mid = message_id(sent_head)
    if mid is None:
        fail("%s has no Message-ID" % sent_path)
    got = [d for d in deliveries(sinkdir) if message_id(d[2]) == mid]
    if not got:
        fail("%s was not delivered" % mid.decode())
    want_rcpts = sorted("<%s>" % r for r in rcpts.split(","))
    all_rcpts = []
    for path, env, head, body in got:
        if env["X-Sink-Mail-From"] != "<%s>" % sender:
            fail("%s: envelope sender %s, expected <%s>" % (path, env["X-Sink-Mail-From"], sender))
        all_rcpts += env["X-Sink-Rcpt-To"].split()
        if body != sent_body:
            fail("%s: body differs from what was sent (%d vs %d bytes)" % (path, len(body), len(sent_body)))
        lines = header_lines(head)
        for h in header_lines(sent_head):
            if h not in lines:
                fail("%s: header changed or lost: %r" % (path, h))
        if not any(l.startswith(b"X-Virus-Scanned: mqsift ") for l in lines):
            fail("%s: no X-Virus-Scanned header" % path)
        if b"X-Virus-Status: Clean" not in lines:
            fail("%s: no X-Virus-Status: Clean header" % path)
    if sorted(all_rcpts) != want_rcpts:
        fail("%s: recipients %s, expected %s (each exactly once)" % (mid.decode(), sorted(all_rcpts), want_rcpts))

def cmd_find(sinkdir, mid):
    got = [d[0] for d in deliveries(sinkdir) if message_id(d[2]) == mid.encode()]
    if len(got) != 1:
        fail("%s delivered %d times" % (mid, len(got)))
    print(got[0])

if __name__ == "__main__":
    if sys.argv[1] == "delivered":
        cmd_delivered(*sys.argv[2:6])
    elif sys.argv[1] == "find":
        cmd_find(*sys.argv[2:4])
    else:
        fail("unknown command")
