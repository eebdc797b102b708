#!/usr/bin/env python3
"""gen-corpus.py - a deterministic corpus for mqsift's benchmark.

Writes N messages as qf/df pairs the way the real queue-only sendmail writes
them (V8 T K N P F $_ $r $s ${daemon_flags} S r R H... and the body alone in df),
into QUEUE (flat), and optionally the same messages as .eml files into EML.

Mix (by default): 70% small text or HTML mail (2-20 KB), 20% with an office,
PDF or zip attachment (20-300 KB), 2% large (10-25 MB, only with --large),
3% infected (EICAR or clam.exe, raw, zipped or nested), the rest multipart
newsletters.  --size BYTES makes every message about that size instead.
"""
import argparse, base64, io, os, random, time, zipfile

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
CLAM = open("/usr/share/clamav-testfiles/clam.exe", "rb").read() \
    if os.path.exists("/usr/share/clamav-testfiles/clam.exe") else EICAR
WORDS = ("the of and to in is was for on that with as by at from this be are have "
         "not it or which an were but all had one their has been there more if "
         "invoice meeting report quarter budget project delivery schedule team").split()
QID = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx"

def text(rng, n):
    out, size = [], 0
    while size < n:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 14)))
        out.append(line)
        size += len(line) + 1
    return "\n".join(out) + "\n"

def b64(data):
    return base64.encodebytes(data).decode()

def zipped(name, data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 24, 0, 0, 0)), data)
    return buf.getvalue()

def attachment(name, ctype, data):
    return ('Content-Type: %s; name="%s"\nContent-Disposition: attachment; filename="%s"\n'
            "Content-Transfer-Encoding: base64\n\n%s" % (ctype, name, name, b64(data)))

def multipart(parts, boundary):
    body = "This is a multi-part message in MIME format.\n"
    for p in parts:
        body += "--%s\n%s" % (boundary, p)
    return body + "--%s--\n" % boundary

def body_for(rng, kind, size_hint):
    b = "=-%08x" % rng.getrandbits(32)
    if kind == "text":
        return "text/plain; charset=us-ascii", text(rng, size_hint)
    if kind == "html":
        t = text(rng, size_hint // 2)
        # one paragraph a line, as mail clients write HTML: a line of the
        # message itself never exceeds RFC 5322's 998 characters (libclamav
        # cuts longer ones, so mqsift scans such a part a second time, whole)
        html = "<html><body>\n" + "".join("<p>%s</p>\n" % l for l in t.splitlines()) + "</body></html>\n"
        return ('multipart/alternative; boundary="%s"' % b,
                multipart(["Content-Type: text/plain\n\n" + t,
                           "Content-Type: text/html; charset=utf-8\n\n" + html], b))
    if kind == "attach":
        choice = rng.choice(["pdf", "docx", "zip", "xlsx"])
        n = size_hint
        if choice == "pdf":
            data = b"%PDF-1.4\n" + rng.randbytes(n)
            name, ct = "report-%d.pdf" % rng.randint(1, 999), "application/pdf"
        elif choice == "zip":
            data = zipped("data.csv", text(rng, n).encode())
            name, ct = "data.zip", "application/zip"
        else:
            data = zipped("word/document.xml", text(rng, n).encode())
            name = "document.%s" % choice
            ct = "application/vnd.openxmlformats-officedocument"
        return ('multipart/mixed; boundary="%s"' % b,
                multipart(["Content-Type: text/plain\n\n" + text(rng, 800), attachment(name, ct, data)], b))
    if kind == "large":
        data = rng.randbytes(size_hint)
        return ('multipart/mixed; boundary="%s"' % b,
                multipart(["Content-Type: text/plain\n\nthe file\n",
                           attachment("backup.bin", "application/octet-stream", data)], b))
    if kind == "infected":
        v = rng.choice(["eicar", "eicar-zip", "clam-zip", "nested"])
        if v == "eicar":
            part = attachment("test.com.txt", "application/octet-stream", EICAR)
        elif v == "eicar-zip":
            part = attachment("invoice.zip", "application/zip", zipped("invoice.txt", EICAR))
        elif v == "clam-zip":
            part = attachment("setup.zip", "application/zip", zipped("setup.dat", CLAM))
        else:
            ib = "=-in%06x" % rng.getrandbits(24)
            inner = ("From: x@example.net\nSubject: inner\nMIME-Version: 1.0\nContent-Type: multipart/mixed; "
                     'boundary="%s"\n\n' % ib + multipart(["Content-Type: text/plain\n\nx\n",
                                                           attachment("t.txt", "text/plain", EICAR)], ib))
            part = "Content-Type: message/rfc822\n\n" + inner
        return ('multipart/mixed; boundary="%s"' % b,
                multipart(["Content-Type: text/plain\n\n" + text(rng, 1500), part], b))
    raise ValueError(kind)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--queue", required=True)
    ap.add_argument("--eml")
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--size", type=int, default=0, help="every message about this size")
    ap.add_argument("--large", action="store_true", help="include 10-25 MB messages")
    ap.add_argument("--prefix", default="6AOB")
    ap.add_argument("--small", action="store_true", help="only small text/HTML mail (2-20 KB)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.queue, exist_ok=True)
    if a.eml:
        os.makedirs(a.eml, exist_ok=True)
    now = int(time.time())
    total = 0
    for i in range(a.count):
        if a.size:
            kind, hint = ("text", a.size) if a.size < 16384 else ("attach", a.size * 3 // 4)
        elif a.small:
            r = rng.random()
            kind = "infected" if r < 0.03 else ("text" if r < 0.55 else "html")
            hint = rng.randint(2000, 20000)
        else:
            r = rng.random()
            if r < 0.40: kind, hint = "text", rng.randint(2000, 20000)
            elif r < 0.70: kind, hint = "html", rng.randint(2000, 20000)
            elif r < 0.90: kind, hint = "attach", rng.randint(15000, 220000)
            elif r < 0.93: kind, hint = "infected", 0
            elif r < 0.95 and a.large: kind, hint = "large", rng.randint(10, 25) * 1024 * 1024 * 3 // 4
            else: kind, hint = "html", rng.randint(20000, 60000)
        ctype, body = body_for(rng, kind, hint)
        qid = "%s%010d" % (a.prefix, i)
        sender = "user%d@sender%d.example.org" % (rng.randint(1, 500), rng.randint(1, 50))
        rcpt = "rcpt%d@example.com" % rng.randint(1, 2000)
        headers = [
            ("Received", " from client.example.net (client.example.net [192.0.2.%d])\n\tby mx.example.com "
             "(8.17.1.9/8.17.1.9/Debian-2+deb12u2) with ESMTP id %s\n\tfor <%s>; Tue, 24 Nov 2026 10:00:00 GMT"
             % (rng.randint(1, 254), qid, rcpt)),
            ("From", " <%s>" % sender), ("To", " <%s>" % rcpt),
            ("Subject", " %s %d" % (rng.choice(WORDS), i)),
            ("Date", " Tue, 24 Nov 2026 10:00:00 +0000"),
            ("Message-ID", " <bench-%d@%s>" % (i, "sender.example.org")),
            ("MIME-Version", " 1.0"), ("Content-Type", " " + ctype),
        ]
        df = body.encode()
        qf = ["V8", "T%d" % now, "K0", "N0", "P%d" % (30000 + len(df)), "Fbs",
              "$_client.example.net [192.0.2.1]", "$rESMTP", "$sclient.example.net",
              "${daemon_flags}", "S<%s>" % sender, "rRFC822; %s" % rcpt, "RPFD:<%s>" % rcpt,
              "H?P?Return-Path: <\x81g>"]
        qf += ["H??%s:%s" % (k, v) for k, v in headers]
        qf.append(".")
        with open(os.path.join(a.queue, "df" + qid), "wb") as f:
            f.write(df)
        tmp = os.path.join(a.queue, "tf" + qid)
        with open(tmp, "wb") as f:
            f.write(("\n".join(qf) + "\n").encode("latin-1"))
        os.chmod(tmp, 0o600)
        os.rename(tmp, os.path.join(a.queue, "qf" + qid))
        if a.eml:
            with open(os.path.join(a.eml, qid + ".eml"), "wb") as f:
                f.write(("".join("%s:%s\n" % (k, v) for k, v in headers) + "\n").encode() + df)
        total += len(df)
    print("corpus: messages=%d body_bytes=%d" % (a.count, total))

if __name__ == "__main__":
    main()
