#!/usr/bin/env python3
"""gen-evasion.py - write MIME-evasion test messages for mqsift.

Usage: gen-evasion.py [--list] OUTDIR

Every message hides something a mail scanner must not let through, behind a
trick that makes one MIME reader split or decode the bytes differently from
another (libclamav's mail parser, GMime, Python's email package, a mail
client).  Each case is written in two variants:

  virus  an attachment that is a zip holding the EICAR test file (deflated,
         so the EICAR string appears nowhere in the message as written: a
         scanner must undo the transfer encoding and the zip to see it);
         its declared name is harmless ("documents.zip").
  name   an attachment whose content is harmless text but whose name (in
         some reader's view) is banned by mqsift's default filename rules
         (invoice.exe, x.bat, a.scr, ...).

OUTDIR/manifest.tsv lists file, class, variant, expected, description;
expected is "not-clean" for every message: a well-built scanner says
Infected or Blocked, and an error is not an acceptable answer.

Deterministic (no clock, no randomness beyond a fixed seed) and Python 3
standard library only, so the same messages come out everywhere.
"""

import base64
import io
import os
import quopri
import random
import sys
import urllib.parse
import zipfile
import zlib

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
HARMLESS = b"This is a harmless test attachment of the mqsift evasion corpus.\n"
FIXED_DATE = (2024, 1, 1, 0, 0, 0)

# names the shipped filename rules ban (etc/filename.rules), used in turn
BANNED = ["invoice.exe", "x.bat", "a.scr", "setup.cmd", "run.js", "macro.vbs",
          "update.pif", "tool.com", "install.msi", "script.ps1", "link.lnk",
          "help.hta", "launch.jar", "cfg.reg", "page.wsf"]


def zip_of(name, data):
    """a deflated zip with one member, byte-for-byte reproducible"""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        z.writestr(info, data)
    return buf.getvalue()


EICAR_ZIP = zip_of("readme.txt", EICAR)


def nested_zip(depth, inner_name, data):
    """inner_name (data) in a zip, in a zip, ... depth zips in all"""
    blob = zip_of(inner_name, data)
    for level in range(depth - 1, 0, -1):
        blob = zip_of("layer%d.zip" % level, blob)
    return blob


def L(b):
    """bytes -> str, one char per byte (the message is assembled as latin-1)"""
    return b.decode("latin-1")


def U(s):
    """a unicode name as raw UTF-8 bytes in the latin-1 assembly"""
    return L(s.encode("utf-8"))


def b64(data, width=76):
    s = base64.b64encode(data).decode()
    return "".join(s[i:i + width] + "\n" for i in range(0, len(s), width))


def qp(data):
    return L(quopri.encodestring(data))


def uuencode(data, name, mode="644"):
    out = ["begin %s %s\n" % (mode, name)]
    for i in range(0, len(data), 45):
        chunk = data[i:i + 45]
        line = [chr(32 + len(chunk))]
        chunk += b"\0" * (-len(chunk) % 3)
        for j in range(0, len(chunk), 3):
            n = (chunk[j] << 16) | (chunk[j + 1] << 8) | chunk[j + 2]
            for shift in (18, 12, 6, 0):
                c = (n >> shift) & 63
                line.append(chr(96 if c == 0 else 32 + c))
        out.append("".join(line) + "\n")
    out.append("`\nend\n")
    return "".join(out)


def yenc(data, name, line=128):
    lines, cur = [], bytearray()
    for byte in data:
        c = (byte + 42) & 0xFF
        if c in (0, 10, 13, 61) or (not cur and c in (9, 32, 46)):
            cur += bytes([61, (c + 64) & 0xFF])
        else:
            cur.append(c)
        if len(cur) >= line:
            lines.append(bytes(cur))
            cur = bytearray()
    if cur:
        lines.append(bytes(cur))
    body = "".join(L(x) + "\n" for x in lines)
    return ("=ybegin line=%d size=%d name=%s\n%s=yend size=%d crc32=%08x\n"
            % (line, len(data), name, body, len(data), zlib.crc32(data)))


def binhex(data, name):
    """BinHex 4.0 text of a file with a data fork only"""
    def crc(b):
        c = 0
        for byte in b:
            c ^= byte << 8
            for _ in range(8):
                c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
                c &= 0xFFFF
        return c.to_bytes(2, "big")
    n = name.encode("latin-1")
    hdr = (bytes([len(n)]) + n + b"\0" + b"BINA" + b"????" + b"\0\0"
           + len(data).to_bytes(4, "big") + (0).to_bytes(4, "big"))
    stream = hdr + crc(hdr) + data + crc(data) + crc(b"")
    stream = stream.replace(b"\x90", b"\x90\x00")  # RLE90 escape, no runs
    alphabet = "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr"
    bits, nbits, chars = 0, 0, []
    for byte in stream:
        bits = (bits << 8) | byte
        nbits += 8
        while nbits >= 6:
            nbits -= 6
            chars.append(alphabet[(bits >> nbits) & 63])
    if nbits:
        chars.append(alphabet[(bits << (6 - nbits)) & 63])
    text = ":" + "".join(chars) + ":"
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return "(This file must be converted with BinHex 4.0)\n\n" + "\n".join(lines) + "\n"


def pct(s, enc="utf-8", all_chars=False):
    b = s.encode(enc)
    if all_chars:
        return "".join("%%%02X" % x for x in b)
    return urllib.parse.quote_from_bytes(b, safe="")


def ew_b(s, charset="utf-8"):
    return "=?%s?B?%s?=" % (charset, base64.b64encode(s.encode(charset)).decode())


def ew_q(s, charset="utf-8"):
    out = []
    for x in s.encode(charset):
        c = chr(x)
        out.append(c if c.isalnum() else "=%02X" % x)
    return "=?%s?Q?%s?=" % (charset, "".join(out))


class Payload:
    """what a case hides: variant "virus" (EICAR zip) or "name" (banned name)"""

    def __init__(self, variant, index):
        self.variant = variant
        self.virus = variant == "virus"
        self.data = EICAR_ZIP if self.virus else HARMLESS
        self.name = "documents.zip" if self.virus else BANNED[index % len(BANNED)]
        self.ctype = "application/zip" if self.virus else "application/octet-stream"
        self.decoy = "notes.txt"
        stem, ext = self.name.rsplit(".", 1)
        self.stem, self.ext = stem, ext

    def b64(self, width=76):
        return b64(self.data, width)


HEAD = ("From: Mallory <mallory@example.org>\n"
        "To: bob@example.com\n"
        "Subject: evasion %(case)s (%(variant)s)\n"
        "Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
        "Message-ID: <%(case)s.%(variant)s@evasion.test>\n")


def message(p, top_headers, body, mime_version=True):
    """a whole message: common headers, the case's top-level headers, body"""
    h = HEAD % {"case": p.case, "variant": p.variant}
    if mime_version:
        h += "MIME-Version: 1.0\n"
    return h + top_headers + "\n" + body


def att(p, ct=None, cd=None, cte="base64", body=None, extra=""):
    """an attachment part: headers and body (no delimiter)"""
    if ct is None:
        ct = '%s; name="%s"' % (p.ctype, p.name)
    if cd is None:
        cd = 'attachment; filename="%s"' % p.name
    h = ""
    if ct is not False:
        h += "Content-Type: %s\n" % ct
    if cd is not False:
        h += "Content-Disposition: %s\n" % cd
    if cte is not False:
        h += "Content-Transfer-Encoding: %s\n" % cte
    h += extra
    return h + "\n" + (p.b64() if body is None else body)


TEXT = "Content-Type: text/plain; charset=us-ascii\n\nPlease see the attachment.\n"


def multipart(parts, boundary="b1", ct=None, preamble="", epilogue=""):
    """(top headers, body) of a multipart/mixed"""
    if ct is None:
        ct = 'multipart/mixed; boundary="%s"' % boundary
    body = preamble
    for part in parts:
        body += "--%s\n%s" % (boundary, part)
        if not part.endswith("\n"):
            body += "\n"
    body += "--%s--\n%s" % (boundary, epilogue)
    return "Content-Type: %s\n" % ct, body


def mp_msg(p, parts, **kw):
    top, body = multipart(parts, **kw)
    return message(p, top, body)


def simple(p, ct=None, cd=None, cte="base64", body=None):
    """text + one attachment, the attachment's headers set by the case"""
    return mp_msg(p, [TEXT, att(p, ct=ct, cd=cd, cte=cte, body=body)])


def names(p, cd):
    """text + attachment whose Content-Type carries no name: only @cd names it"""
    return simple(p, ct=p.ctype, cd=cd)


def inner_message(p, parts=None, subject="forwarded"):
    """an RFC 822 message (text) holding the payload as an attachment"""
    top, body = multipart(parts or [TEXT, att(p)], boundary="inner-%d" % len(subject))
    return ("From: someone@example.net\nTo: mallory@example.org\nSubject: %s\n"
            "MIME-Version: 1.0\n%s\n%s" % (subject, top, body))


# --------------------------------------------------------------------------
# the cases: name -> (class, description, function(p) -> message text)
CASES = []


def case(cls, name, desc):
    def reg(fn):
        CASES.append((cls, name, desc, fn))
        return fn
    return reg


# ---- RFC 2231 parameters ---------------------------------------------------
@case("rfc2231", "cont-plain", "filename*0/filename*1 continuations")
def _(p):
    return names(p, 'attachment; filename*0="%s"; filename*1=".%s"' % (p.stem, p.ext))


@case("rfc2231", "cont-encoded", "filename*0*/filename*1* with charset and percent-encoding")
def _(p):
    return names(p, "attachment; filename*0*=utf-8''%s; filename*1*=%s"
                 % (pct(p.stem[:3]), pct(p.stem[3:] + "." + p.ext, all_chars=True)))


@case("rfc2231", "cont-odd-order", "continuations listed in reverse order")
def _(p):
    return names(p, 'attachment; filename*2="%s"; filename*1="."; filename*0="%s"'
                 % (p.ext, p.stem))


@case("rfc2231", "cont-gap", "continuation *1 missing: readers stop or join")
def _(p):
    return names(p, 'attachment; filename*0="%s"; filename*2=".%s"' % (p.stem, p.ext))


@case("rfc2231", "cont-no-zero", "only filename*1, no *0")
def _(p):
    return names(p, 'attachment; filename*1="%s"' % p.name)


@case("rfc2231", "cont-mixed", "first section encoded, second plain quoted")
def _(p):
    return names(p, "attachment; filename*0*=utf-8''%s; filename*1=\".%s\""
                 % (pct(p.stem), p.ext))


@case("rfc2231", "charset-lang", "charset and language prefix, dot percent-encoded")
def _(p):
    return names(p, "attachment; filename*=us-ascii'en-us'%s%%2E%s" % (p.stem, p.ext))


@case("rfc2231", "all-percent", "every character percent-encoded, empty charset")
def _(p):
    return names(p, "attachment; filename*=''%s" % pct(p.name, all_chars=True))


@case("rfc2231", "unknown-charset", "an unknown charset in the extended value")
def _(p):
    return names(p, "attachment; filename*=x-unknown-cs''%s" % pct(p.name, all_chars=True))


@case("rfc2231", "ct-name-cont", "name*0*/name*1 in Content-Type, no disposition")
def _(p):
    return simple(p, ct="%s; name*0*=utf-8''%s; name*1=\".%s\"" % (p.ctype, pct(p.stem), p.ext),
                  cd=False)


@case("rfc2231", "case-mixed", "parameter names in mixed case: FileName*0, FILENAME*1")
def _(p):
    return names(p, 'attachment; FileName*0="%s"; FILENAME*1=".%s"' % (p.stem, p.ext))


@case("rfc2231", "boundary-cont", "the boundary itself given as boundary*0/boundary*1")
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="cont-part-one-cont-part-two")
    top = ('Content-Type: multipart/mixed; boundary*0="cont-part-one";\n'
           ' boundary*1="-cont-part-two"\n')
    return message(p, top, body)


@case("rfc2231", "boundary-encoded", "the boundary given as boundary*=''percent-encoded")
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="enc=bound")
    top = "Content-Type: multipart/mixed; boundary*=''enc%3Dbound\n"
    return message(p, top, body)


# ---- whitespace and quoting in boundaries ----------------------------------
@case("boundary-quoting", "trailing-space", 'boundary="b1 " (space inside the quotes)')
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="b1 ")
    return message(p, 'Content-Type: multipart/mixed; boundary="b1 "\n', body)


@case("boundary-quoting", "leading-space", 'boundary=" b1", delimiters "-- b1"')
def _(p):
    top, body = multipart([TEXT, att(p)], boundary=" b1")
    return message(p, 'Content-Type: multipart/mixed; boundary=" b1"\n', body)


@case("boundary-quoting", "unquoted-space", "boundary=b1 x unquoted: b1 or 'b1 x'")
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="b1 x")
    return message(p, "Content-Type: multipart/mixed; boundary=b1 x\n", body)


@case("boundary-quoting", "unclosed-quote", 'boundary="b1 with no closing quote')
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="b1")
    return message(p, 'Content-Type: multipart/mixed; boundary="b1\n', body)


@case("boundary-quoting", "single-quotes", "boundary='b1': delimiters use the quotes")
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="'b1'")
    return message(p, "Content-Type: multipart/mixed; boundary='b1'\n", body)


@case("boundary-quoting", "escaped-quote", 'boundary="b\\"1": backslash kept or removed')
def _(p):
    top, body = multipart([TEXT, att(p)], boundary='b"1')
    return message(p, 'Content-Type: multipart/mixed; boundary="b\\"1"\n', body)


@case("boundary-quoting", "spaces-around-equals", 'boundary = "b1" with spaces around =')
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="b1")
    return message(p, 'Content-Type: multipart/mixed ; boundary = "b1" \n', body)


@case("boundary-quoting", "delimiter-trailing-ws", "delimiter lines with trailing tabs/spaces")
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="b1")
    body = body.replace("--b1\n", "--b1 \t \n")
    return message(p, top, body)


@case("boundary-quoting", "quoted-vs-unquoted", 'boundary="b1"x: the quoted part or all of it')
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="b1")
    # lines for the reader that keeps "b1x" hold the payload; "b1" readers see text
    body = ("--b1\n" + TEXT + "--b1x\n" + att(p) + "--b1x--\n--b1--\n")
    return message(p, 'Content-Type: multipart/mixed; boundary="b1"x\n', body)


# ---- a boundary defined twice ----------------------------------------------
def two_views(p, first, second):
    """payload under boundary @second, hidden in a text part under @first"""
    return ("--%s\n" % first + TEXT + "--%s\n" % second + att(p) + "--%s--\n" % second
            + "--%s--\n" % first)


@case("boundary-dup", "param-twice-last", "two boundary params; the payload under the last")
def _(p):
    return message(p, 'Content-Type: multipart/mixed; boundary="AAA"; boundary="BBB"\n',
                   two_views(p, "AAA", "BBB"))


@case("boundary-dup", "param-twice-first", "two boundary params; the payload under the first")
def _(p):
    return message(p, 'Content-Type: multipart/mixed; boundary="BBB"; boundary="AAA"\n',
                   two_views(p, "AAA", "BBB"))


@case("boundary-dup", "ct-twice-boundaries", "two Content-Type headers, different boundaries")
def _(p):
    return message(p, 'Content-Type: multipart/mixed; boundary="AAA"\n'
                      'Content-Type: multipart/mixed; boundary="BBB"\n',
                   two_views(p, "AAA", "BBB"))


@case("boundary-dup", "ct-twice-text-first", "Content-Type text/plain, then multipart")
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="b1")
    return message(p, 'Content-Type: text/plain\n' + top, body)


@case("boundary-dup", "ct-twice-multipart-first", "Content-Type multipart, then text/plain")
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="b1")
    return message(p, top + 'Content-Type: text/plain\n', body)


@case("boundary-dup", "same-as-outer", "a nested multipart reusing the outer boundary")
def _(p):
    inner = ('Content-Type: multipart/mixed; boundary="b1"\n\n--b1\n' + att(p) + "--b1--\n")
    return mp_msg(p, [TEXT, inner])


# ---- a boundary that is a prefix of another line ---------------------------
@case("boundary-prefix", "inner-extends-outer", 'outer "abc", inner "abcdef"')
def _(p):
    inner = ('Content-Type: multipart/mixed; boundary="abcdef"\n\n--abcdef\n' + TEXT
             + "--abcdef\n" + att(p) + "--abcdef--\n")
    return mp_msg(p, [TEXT, inner], boundary="abc")


@case("boundary-prefix", "line-with-suffix", "a '--b1-not' line inside text opens the payload")
def _(p):
    body = ("--b1\n" + TEXT + "--b1-not-a-delimiter\n" + att(p) + "--b1--\n")
    return message(p, 'Content-Type: multipart/mixed; boundary="b1"\n', body)


@case("boundary-prefix", "close-with-junk", "'--b1--junk' closes for some, is text for others")
def _(p):
    body = ("--b1\n" + TEXT + "--b1--junk\n--b1\n" + att(p) + "--b1--\n")
    return message(p, 'Content-Type: multipart/mixed; boundary="b1"\n', body)


@case("boundary-prefix", "empty-boundary", 'boundary="": delimiters are bare "--"')
def _(p):
    body = "--\n" + TEXT + "--\n" + att(p) + "----\n"
    return message(p, 'Content-Type: multipart/mixed; boundary=""\n', body)


@case("boundary-prefix", "overlong-boundary", "a 200-character boundary (RFC limit 70)")
def _(p):
    bnd = "L" * 70 + "M" * 130
    body = "--%s\n%s--%s\n%s--%s--\n" % (bnd, TEXT, bnd, att(p), bnd)
    return message(p, 'Content-Type: multipart/mixed; boundary="%s"\n' % bnd, body)


@case("boundary-prefix", "outer-is-prefix-close", "inner close '--abc--' also closes outer 'abc'")
def _(p):
    inner = ('Content-Type: multipart/alternative; boundary="abc--x"\n\n--abc--x\n' + TEXT
             + "--abc--x--\n")
    body = "--abc\n" + inner + "--abc\n" + att(p) + "--abc--\n"
    return message(p, 'Content-Type: multipart/mixed; boundary="abc"\n', body)


# ---- base64 ------------------------------------------------------------------
@case("base64", "junk-chars", "characters outside the alphabet inside the lines")
def _(p):
    lines = p.b64(60).splitlines()
    junk = "!#*~"
    return simple(p, body="".join(
        line[:20] + junk[i % 4] + line[20:40] + "." + line[40:] + "\n"
        for i, line in enumerate(lines)))


@case("base64", "no-padding", "the final = padding removed")
def _(p):
    return simple(p, body=p.b64().rstrip("=\n") + "\n")


@case("base64", "data-after-padding", "two separately padded chunks back to back")
def _(p):
    a = base64.b64encode(p.data[:31]).decode()
    b = base64.b64encode(p.data[31:]).decode()
    s = a + b
    return simple(p, body="".join(s[i:i + 76] + "\n" for i in range(0, len(s), 76)))


@case("base64", "extra-padding", "'==' after every line")
def _(p):
    return simple(p, body="".join(line + "==\n" for line in p.b64(76).splitlines()))


@case("base64", "whitespace", "spaces and tabs inside every line")
def _(p):
    return simple(p, body="".join(" ".join(line[i:i + 8] for i in range(0, len(line), 8))
                                  + "\t\n" for line in p.b64(64).splitlines()))


@case("base64", "one-long-line", "the whole content on one line")
def _(p):
    return simple(p, body=base64.b64encode(p.data).decode() + "\n")


@case("base64", "tiny-lines", "four characters a line")
def _(p):
    return simple(p, body=p.b64(4))


@case("base64", "leading-junk-line", "a line of non-alphabet junk before the base64 data")
def _(p):
    return simple(p, body="-- !! -- !! --\n" + p.b64())


@case("base64", "blank-lines", "blank lines between base64 lines")
def _(p):
    return simple(p, body="\n".join(p.b64(40).splitlines()) .replace("\n", "\n\n") + "\n")


# ---- quoted-printable --------------------------------------------------------
def qp_odd(data, soft="=\n", every=3, lower=False):
    out, col = [], 0
    for i, x in enumerate(data):
        c = chr(x)
        if c.isalnum():
            tok = c
        else:
            tok = ("=%02x" if lower else "=%02X") % x
        out.append(tok)
        col += 1
        if col % every == 0:
            out.append(soft)
    return "".join(out) + "\n"


@case("qp", "soft-breaks", "soft line breaks after every 3 characters")
def _(p):
    return simple(p, cte="quoted-printable", body=qp_odd(p.data))


@case("qp", "lowercase-hex", "lowercase hex in every escape")
def _(p):
    return simple(p, cte="quoted-printable", body=qp_odd(p.data, every=50, lower=True))


@case("qp", "crlf-soft", "'=\\r\\n' soft breaks in an LF message")
def _(p):
    return simple(p, cte="quoted-printable", body=qp_odd(p.data, soft="=\r\n", every=40))


@case("qp", "soft-trailing-ws", "'= ' soft breaks followed by spaces")
def _(p):
    return simple(p, cte="quoted-printable", body=qp_odd(p.data, soft="=  \n", every=40))


@case("qp", "all-escaped", "every byte escaped")
def _(p):
    s = "".join("=%02X" % x for x in p.data)
    return simple(p, cte="quoted-printable",
                  body="".join(s[i:i + 72] + "=\n" for i in range(0, len(s), 72)) + "\n")


@case("qp", "rfc822-qp", "a message/rfc822 part (holding the payload) sent quoted-printable")
def _(p):
    inner = inner_message(p)
    enc = qp_odd(inner.encode("latin-1"), every=30)
    part = "Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n" + enc
    return mp_msg(p, [TEXT, part])


# ---- Content-Transfer-Encoding ----------------------------------------------
@case("cte", "base-space-64", "'base 64'")
def _(p):
    return simple(p, cte="base 64")


@case("cte", "upper-trailing", "'BASE64 ' with a trailing space")
def _(p):
    return simple(p, cte="BASE64 ")


@case("cte", "folded", "the header folded before its value")
def _(p):
    return simple(p, cte="\n base64")


@case("cte", "comment", "'(encoded) base64' with a comment")
def _(p):
    return simple(p, cte="(encoded) base64")


@case("cte", "quoted", "'\"base64\"' in quotes")
def _(p):
    return simple(p, cte='"base64"')


@case("cte", "unknown-base64", "unknown encoding x-foo on a non-text part, base64 content")
def _(p):
    return simple(p, cte="x-foo")


@case("cte", "unknown-raw", "unknown encoding x-foo, the content raw")
def _(p):
    return simple(p, cte="x-foo", body=L(p.data) + "\n")


@case("cte", "binary-raw", "binary encoding: the content raw")
def _(p):
    return simple(p, cte="binary", body=L(p.data) + "\n")


@case("cte", "two-7bit-first", "two CTE headers: 7bit then base64")
def _(p):
    return simple(p, cte="7bit\nContent-Transfer-Encoding: base64")


@case("cte", "two-base64-first", "two CTE headers: base64 then 7bit")
def _(p):
    return simple(p, cte="base64\nContent-Transfer-Encoding: 7bit")


@case("cte", "x-uuencode", "x-uuencode as the transfer encoding")
def _(p):
    return simple(p, cte="x-uuencode", body=uuencode(p.data, p.name))


# ---- uuencode and yEnc in text ----------------------------------------------
def text_with(p, block, ct="text/plain; charset=us-ascii", cte="7bit"):
    body = "Hello,\n\nthe file is below.\n\n" + block + "\nRegards\n"
    return message(p, "Content-Type: %s\nContent-Transfer-Encoding: %s\n" % (ct, cte), body)


@case("uuencode-yenc", "uu-text", "uuencoded block in a single-part text message")
def _(p):
    return text_with(p, uuencode(p.data, p.name))


@case("uuencode-yenc", "uu-in-multipart-text", "uuencoded block in a text part of a multipart")
def _(p):
    part = ("Content-Type: text/plain\n\nsee below\n\n" + uuencode(p.data, p.name))
    return mp_msg(p, [part])


@case("uuencode-yenc", "uu-html", "uuencoded block in a text/html part")
def _(p):
    return text_with(p, "<pre>\n" + uuencode(p.data, p.name) + "</pre>\n",
                     ct="text/html; charset=us-ascii")


@case("uuencode-yenc", "uu-mode-0755", "begin 0755 (four-digit mode)")
def _(p):
    return text_with(p, uuencode(p.data, p.name, mode="0755"))


@case("uuencode-yenc", "uu-crlf", "uuencoded block with CRLF lines in an LF message")
def _(p):
    return text_with(p, uuencode(p.data, p.name).replace("\n", "\r\n"))


@case("uuencode-yenc", "uu-base64", "begin-base64 (GNU uuencode -m)")
def _(p):
    return text_with(p, "begin-base64 644 %s\n%s====\n" % (p.name, p.b64(60)))


@case("uuencode-yenc", "uu-qp-text", "uuencoded block in a quoted-printable text part")
def _(p):
    return text_with(p, qp(uuencode(p.data, p.name).encode()), cte="quoted-printable")


@case("uuencode-yenc", "uu-b64-text", "uuencoded block in a base64 text part")
def _(p):
    body = "Hello,\n\n" + uuencode(p.data, p.name)
    return message(p, "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n",
                   b64(body.encode()))


@case("uuencode-yenc", "yenc-text", "yEnc block in a text message")
def _(p):
    return text_with(p, yenc(p.data, p.name), ct="text/plain; charset=x-user-defined",
                     cte="8bit")


@case("uuencode-yenc", "yenc-multipart-text", "yEnc block in a text part of a multipart")
def _(p):
    part = ("Content-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n"
            + yenc(p.data, p.name))
    return mp_msg(p, [TEXT, part])


# ---- BinHex ------------------------------------------------------------------
@case("binhex", "attachment", "application/mac-binhex40 attachment")
def _(p):
    return simple(p, ct='application/mac-binhex40; name="%s.hqx"' % p.stem,
                  cd='attachment; filename="%s.hqx"' % p.stem, cte="7bit",
                  body=binhex(p.data, p.name))


@case("binhex", "in-text", "BinHex 4.0 block pasted in text/plain")
def _(p):
    return text_with(p, binhex(p.data, p.name))


@case("binhex", "octet-stream", "BinHex content labelled application/octet-stream")
def _(p):
    return simple(p, ct="application/octet-stream", cd="attachment", cte="7bit",
                  body=binhex(p.data, p.name))


# ---- message/rfc822 and message/global nesting -------------------------------
def nest(p, levels, ctype="message/rfc822", cte=None):
    inner = inner_message(p)
    for i in range(levels - 1):
        top, body = multipart(["Content-Type: %s\n\n%s" % (ctype, inner)],
                              boundary="lvl%d" % i)
        inner = ("From: a%d@example.net\nTo: b@example.net\nSubject: fwd %d\n"
                 "MIME-Version: 1.0\n%s\n%s" % (i, i, top, body))
    hdr = "Content-Type: %s\n" % ctype
    if cte == "base64":
        return mp_msg(p, [TEXT, hdr + "Content-Transfer-Encoding: base64\n\n"
                          + b64(inner.encode("latin-1"))])
    return mp_msg(p, [TEXT, hdr + "\n" + inner])


@case("nesting", "rfc822-1", "one forwarded message/rfc822")
def _(p):
    return nest(p, 1)


@case("nesting", "rfc822-4", "four levels of message/rfc822")
def _(p):
    return nest(p, 4)


@case("nesting", "rfc822-10", "ten levels of message/rfc822")
def _(p):
    return nest(p, 10)


@case("nesting", "global-1", "message/global")
def _(p):
    return nest(p, 1, "message/global")


@case("nesting", "global-3", "three levels of message/global")
def _(p):
    return nest(p, 3, "message/global")


@case("nesting", "global-base64", "message/global sent base64 (allowed by RFC 6532)")
def _(p):
    return nest(p, 1, "message/global", cte="base64")


@case("nesting", "rfc822-base64", "message/rfc822 sent base64 (not allowed, clients decode)")
def _(p):
    return nest(p, 2, cte="base64")


@case("nesting", "digest-default", "multipart/digest part without Content-Type (= rfc822)")
def _(p):
    top, body = multipart(["\n" + inner_message(p)], boundary="dg",
                          ct='multipart/digest; boundary="dg"')
    return message(p, top, body)


@case("nesting", "message-news", "message/news (legacy alias of rfc822)")
def _(p):
    return nest(p, 1, "message/news")


@case("nesting", "partial-whole", "message/partial number=1 total=1 holding the whole message")
def _(p):
    return message(p, 'Content-Type: message/partial; id="x@evasion.test"; number=1; '
                      'total=1\n', inner_message(p))


@case("nesting", "top-rfc822", "the top level itself is message/rfc822")
def _(p):
    return message(p, "Content-Type: message/rfc822\n", inner_message(p))


# ---- name and filename disagree ------------------------------------------------
@case("name-vs-filename", "ct-benign-cd-bad", "Content-Type name benign, disposition filename the payload's")
def _(p):
    return simple(p, ct='%s; name="%s"' % (p.ctype, p.decoy),
                  cd='attachment; filename="%s"' % p.name)


@case("name-vs-filename", "ct-bad-cd-benign", "Content-Type name the payload's, disposition filename benign")
def _(p):
    return simple(p, ct='%s; name="%s"' % (p.ctype, p.name),
                  cd='attachment; filename="%s"' % p.decoy)


@case("name-vs-filename", "text-type-zip", "declared text/plain readme.txt, the content the payload")
def _(p):
    return simple(p, ct='text/plain; name="%s"' % p.decoy,
                  cd='inline; filename="%s"' % (p.decoy if p.virus else p.name))


@case("name-vs-filename", "ct-2231-cd-plain", "name*= in Content-Type vs plain filename=")
def _(p):
    return simple(p, ct="%s; name*=utf-8''%s" % (p.ctype, pct(p.name)),
                  cd='attachment; filename="%s"' % p.decoy)


# ---- duplicate parameters ----------------------------------------------------------
@case("dup-params", "filename-twice-bad-last", "filename= twice, the banned one last")
def _(p):
    return names(p, 'attachment; filename="%s"; filename="%s"' % (p.decoy, p.name))


@case("dup-params", "filename-twice-bad-first", "filename= twice, the banned one first")
def _(p):
    return names(p, 'attachment; filename="%s"; filename="%s"' % (p.name, p.decoy))


@case("dup-params", "name-twice", "name= twice in Content-Type")
def _(p):
    return simple(p, ct='%s; name="%s"; name="%s"' % (p.ctype, p.decoy, p.name), cd=False)


@case("dup-params", "cd-twice", "two Content-Disposition headers")
def _(p):
    return simple(p, ct=p.ctype, cd='attachment; filename="%s"\nContent-Disposition: '
                  'attachment; filename="%s"' % (p.decoy, p.name))


@case("dup-params", "plain-then-2231", "filename= benign then filename*= banned")
def _(p):
    return names(p, "attachment; filename=\"%s\"; filename*=utf-8''%s" % (p.decoy, pct(p.name)))


@case("dup-params", "2231-then-plain", "filename*= banned then filename= benign")
def _(p):
    return names(p, "attachment; filename*=utf-8''%s; filename=\"%s\"" % (pct(p.name), p.decoy))


@case("dup-params", "plain-and-continuation", "filename= benign and filename*0/*1 banned")
def _(p):
    return names(p, 'attachment; filename="%s"; filename*0="%s"; filename*1=".%s"'
                 % (p.decoy, p.stem, p.ext))


@case("dup-params", "extended-and-continuation", "filename*= benign and filename*0*/*1* banned")
def _(p):
    return names(p, "attachment; filename*=utf-8''%s; filename*0*=utf-8''%s; filename*1*=.%s"
                 % (p.decoy, pct(p.stem), p.ext))


# ---- RFC 2047 encoded words in names ---------------------------------------------
@case("rfc2047", "b-word", "filename as one B encoded word")
def _(p):
    return names(p, 'attachment; filename="%s"' % ew_b(p.name))


@case("rfc2047", "q-word", "filename as one Q encoded word")
def _(p):
    return names(p, 'attachment; filename="%s"' % ew_q(p.name))


@case("rfc2047", "split-words", "name split over three encoded words, B and Q")
def _(p):
    return names(p, 'attachment; filename="%s %s %s"'
                 % (ew_q(p.stem[:2]), ew_b(p.stem[2:]), ew_q("." + p.ext)))


@case("rfc2047", "unquoted", "an encoded word as an unquoted parameter value")
def _(p):
    return names(p, "attachment; filename=%s" % ew_b(p.name))


@case("rfc2047", "inside-word", "an encoded word inside a token: stem=?..?=ext")
def _(p):
    return names(p, 'attachment; filename="%s%s%s"' % (p.stem, ew_q("."), p.ext))


@case("rfc2047", "ct-name-only", "Content-Type name as encoded word, no disposition")
def _(p):
    return simple(p, ct='%s; name="%s"' % (p.ctype, ew_b(p.name)), cd=False)


@case("rfc2047", "lang-suffix", "encoded word with an RFC 2231 language: utf-8*en")
def _(p):
    return names(p, 'attachment; filename="=?utf-8*en?Q?%s?="' % p.name.replace(".", "=2E"))


@case("rfc2047", "in-2231", "an RFC 2231 value that decodes to an encoded word")
def _(p):
    return names(p, "attachment; filename*=utf-8''%s" % pct(ew_b(p.name)))


@case("rfc2047", "folded-words", "encoded words folded over two header lines")
def _(p):
    return names(p, 'attachment;\n filename="%s\n %s"' % (ew_b(p.stem), ew_b("." + p.ext)))


@case("rfc2047", "percent-not-2231", "filename=\"stem%2Eext\" (percent-escapes, not RFC 2231)")
def _(p):
    return names(p, 'attachment; filename="%s%%2E%s"' % (p.stem, p.ext))


# ---- UTF-16 / UTF-32 / UTF-7 names -----------------------------------------------
@case("wide-charset", "2231-utf16le", "filename*=utf-16le''...")
def _(p):
    return names(p, "attachment; filename*=utf-16le''%s" % pct(p.name, "utf-16-le", True))


@case("wide-charset", "2231-utf16-bom", "filename*=utf-16'' with a BOM")
def _(p):
    return names(p, "attachment; filename*=utf-16''%s" % pct(p.name, "utf-16", True))


@case("wide-charset", "2231-utf32be", "filename*=utf-32be''...")
def _(p):
    return names(p, "attachment; filename*=utf-32be''%s" % pct(p.name, "utf-32-be", True))


@case("wide-charset", "2047-utf16", "=?utf-16?B?...?= encoded word")
def _(p):
    return names(p, 'attachment; filename="%s"' % ew_b(p.name, "utf-16"))


@case("wide-charset", "2047-utf32", "=?utf-32?B?...?= encoded word")
def _(p):
    return names(p, 'attachment; filename="%s"' % ew_b(p.name, "utf-32"))


@case("wide-charset", "2047-utf7", "=?utf-7?Q?stem+AC4-ext?=: the dot in UTF-7")
def _(p):
    return names(p, 'attachment; filename="=?utf-7?Q?%s+AC4-%s?="' % (p.stem, p.ext))


# ---- quotes around names ------------------------------------------------------------
@case("quotes", "single-quotes", "filename='x.exe'")
def _(p):
    return names(p, "attachment; filename='%s'" % p.name)


@case("quotes", "unbalanced", 'filename="x.exe (no closing quote)')
def _(p):
    return names(p, 'attachment; filename="%s' % p.name)


@case("quotes", "backslash-escapes", 'filename="x.e\\xe" (quoted-pair)')
def _(p):
    return names(p, 'attachment; filename="%s.%s\\%s"' % (p.stem, p.ext[:-1], p.ext[-1]))


@case("quotes", "windows-path", 'filename="C:\\\\temp\\\\x.exe\\\\" (path, trailing backslash)')
def _(p):
    return names(p, 'attachment; filename="C:\\\\temp\\\\%s\\\\"' % p.name)


@case("quotes", "quoted-then-token", 'filename="x".exe (a token after the quotes)')
def _(p):
    return names(p, 'attachment; filename="%s"%s' % (p.stem, "." + p.ext))


@case("quotes", "unquoted-semicolon", "filename=x;.exe unquoted")
def _(p):
    return names(p, "attachment; filename=%s;.%s" % (p.stem, p.ext))


# ---- trailing dots and spaces ---------------------------------------------------------
@case("trailing", "dot", "x.exe.")
def _(p):
    return names(p, 'attachment; filename="%s."' % p.name)


@case("trailing", "space", "x.exe followed by a space")
def _(p):
    return names(p, 'attachment; filename="%s "' % p.name)


@case("trailing", "dots-spaces", "x.exe . . .")
def _(p):
    return names(p, 'attachment; filename="%s . . ."' % p.name)


@case("trailing", "tab-2231", "x.exe%09 (a tab) in RFC 2231")
def _(p):
    return names(p, "attachment; filename*=utf-8''%s%%09" % pct(p.name))


@case("trailing", "ntfs-stream", "x.exe::$DATA (NTFS stream name)")
def _(p):
    return names(p, 'attachment; filename="%s::$DATA"' % p.name)


@case("trailing", "nul-then-txt", "x.exe%00.txt: NUL in the middle of the name")
def _(p):
    return names(p, "attachment; filename*=utf-8''%s%%00.txt" % pct(p.name))


@case("trailing", "txt-nul-exe", "x.txt%00.exe: a C string stops at the NUL")
def _(p):
    return names(p, "attachment; filename*=utf-8''notes.txt%%00%s" % pct(p.name))


# ---- bidi and zero-width characters ----------------------------------------------------
@case("bidi-zw", "rlo-real-exe", "photo\\u202Egpj.exe: shows photoexe.jpg")
def _(p):
    return names(p, "attachment; filename*=utf-8''%s" % pct(p.stem + "\u202egpj." + p.ext))


@case("bidi-zw", "rlo-doc", "readme.txt\\u202Eexe.doc: shows readme.txtcod.exe")
def _(p):
    n = "readme.txt\u202eexe.doc" if not p.virus else "readme.txt\u202epiz.doc"
    return names(p, "attachment; filename*=utf-8''%s" % pct(n))


@case("bidi-zw", "rlo-raw-utf8", "RLO as raw UTF-8 in a quoted filename")
def _(p):
    return names(p, 'attachment; filename="%s"' % U(p.stem + "\u202etxt." + p.ext))


@case("bidi-zw", "rlo-2047", "RLO name in an encoded word, Content-Type name only")
def _(p):
    return simple(p, ct='%s; name="%s"' % (p.ctype, ew_b("report\u202efdp." + p.ext)), cd=False)


@case("bidi-zw", "isolates", "U+2066/U+2069 isolates and U+200F in the name")
def _(p):
    return names(p, "attachment; filename*=utf-8''%s"
                 % pct(p.stem + "\u2066.pdf\u2069\u200f." + p.ext))


@case("bidi-zw", "zwsp-before-dot", "zero-width space before the dot")
def _(p):
    return names(p, "attachment; filename*=utf-8''%s" % pct(p.stem + "\u200b." + p.ext))


@case("bidi-zw", "zw-in-ext", "zero-width joiner inside the extension")
def _(p):
    return names(p, "attachment; filename*=utf-8''%s"
                 % pct(p.stem + "." + p.ext[0] + "\u200d" + p.ext[1:]))


@case("bidi-zw", "zw-trailing", "zero-width no-break space (BOM) after the extension")
def _(p):
    return names(p, "attachment; filename*=utf-8''%s" % pct(p.name + "\ufeff"))


# ---- missing blank line between part headers and body -----------------------------------
@case("no-blank-line", "part-base64", "base64 body right after the part headers")
def _(p):
    part = att(p).replace("base64\n\n", "base64\n", 1)
    return mp_msg(p, [TEXT, part])


@case("no-blank-line", "whitespace-line", "a line of spaces instead of the blank line")
def _(p):
    part = att(p).replace("base64\n\n", "base64\n   \n", 1)
    return mp_msg(p, [TEXT, part])


@case("no-blank-line", "top-level", "no blank line after the message headers")
def _(p):
    top, body = multipart([TEXT, att(p)])
    return (HEAD % {"case": p.case, "variant": p.variant}) + "MIME-Version: 1.0\n" + top + body


@case("no-blank-line", "headers-in-body", "the part's name headers after an early blank line")
def _(p):
    part = ("Content-Type: %s\n\nContent-Disposition: attachment; filename=\"%s\"\n"
            "Content-Transfer-Encoding: base64\n\n%s" % (p.ctype, p.name, p.b64()))
    return mp_msg(p, [TEXT, part])


# ---- header folding ----------------------------------------------------------------------
@case("folding", "blank-continuation", "Content-Type folded over a whitespace-only line")
def _(p):
    top, body = multipart([TEXT, att(p)])
    return message(p, 'Content-Type: multipart/mixed;\n \n boundary="b1"\n', body)


@case("folding", "fold-in-quoted-name", "the quoted filename folded in the middle")
def _(p):
    return names(p, 'attachment; filename="%s\n\t.%s"' % (p.stem, p.ext))


@case("folding", "fold-in-boundary", "the quoted boundary folded in the middle")
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="b1b2")
    return message(p, 'Content-Type: multipart/mixed; boundary="b1\n b2"\n', body)


@case("folding", "space-before-colon", "'Content-Type :' with a space before the colon")
def _(p):
    top, body = multipart([TEXT, att(p)])
    return message(p, top.replace("Content-Type:", "Content-Type :"), body)


@case("folding", "no-space-after-colon", "'Content-Type:multipart/mixed;boundary=b1'")
def _(p):
    top, body = multipart([TEXT, att(p)])
    return message(p, "Content-Type:multipart/mixed;boundary=b1\n", body)


@case("folding", "bare-cr-fold", "headers folded with a bare CR")
def _(p):
    top, body = multipart([TEXT, att(p)])
    return message(p, 'Content-Type: multipart/mixed;\r boundary="b1"\n', body)


@case("folding", "continuation-first", "a continuation line before any header in a part")
def _(p):
    return mp_msg(p, [TEXT, " folded-nothing\n" + att(p)])


@case("folding", "nul-in-header", "a NUL byte inside the Content-Type header")
def _(p):
    top, body = multipart([TEXT, att(p)])
    return message(p, 'Content-Type: multipart/mixed;\0 boundary="b1"\n', body)


# ---- multipart without a usable boundary ----------------------------------------------------
@case("no-boundary", "missing", "multipart/mixed with no boundary parameter")
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="hidden")
    return message(p, "Content-Type: multipart/mixed\n", body)


@case("no-boundary", "unused", "the declared boundary never appears; another one does")
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="real")
    return message(p, 'Content-Type: multipart/mixed; boundary="declared"\n', body)


@case("no-boundary", "missing-semicolon", "'multipart/mixed boundary=b1' (no semicolon)")
def _(p):
    top, body = multipart([TEXT, att(p)])
    return message(p, 'Content-Type: multipart/mixed boundary="b1"\n', body)


@case("no-boundary", "comma-separator", "'multipart/mixed, boundary=b1'")
def _(p):
    top, body = multipart([TEXT, att(p)])
    return message(p, 'Content-Type: multipart/mixed, boundary="b1"\n', body)


@case("no-boundary", "nested-missing", "a nested multipart without boundary")
def _(p):
    top, inner = multipart([TEXT, att(p)], boundary="inner")
    return mp_msg(p, [TEXT, "Content-Type: multipart/mixed\n\n" + inner])


# ---- CRLF vs LF --------------------------------------------------------------------------------
@case("crlf-lf", "mixed-lines", "CRLF and LF alternating line by line")
def _(p):
    m = simple(p)
    lines = m.split("\n")
    return "".join(l + ("\r\n" if i % 2 else "\n") for i, l in enumerate(lines[:-1])) + lines[-1]


@case("crlf-lf", "crlf-headers-lf-body", "CRLF headers, LF body")
def _(p):
    m = simple(p)
    h, b = m.split("\n\n", 1)
    return h.replace("\n", "\r\n") + "\r\n\r\n" + b


@case("crlf-lf", "cr-only-delimiters", "delimiter lines ended by a bare CR")
def _(p):
    m = simple(p)
    return m.replace("--b1\n", "--b1\r").replace("--b1--\n", "--b1--\r")


@case("crlf-lf", "cr-only-everywhere", "the whole message with bare CR line ends")
def _(p):
    return simple(p).replace("\n", "\r")


@case("crlf-lf", "crcrlf", "CR CR LF line ends")
def _(p):
    return simple(p).replace("\n", "\r\r\n")


@case("crlf-lf", "crlf-blank-lf-delims", "CRLF in the body, LF on delimiter lines")
def _(p):
    m = simple(p)
    h, b = m.split("\n\n", 1)
    b = b.replace("\n", "\r\n").replace("--b1\r\n", "--b1\n")
    return h + "\n\n" + b


# ---- nested archives beyond the recursion budget ---------------------------------------------
def deep(p, depth, mail_levels=0):
    inner_name = "readme.txt" if p.virus else p.name
    data = nested_zip(depth, inner_name, EICAR if p.virus else HARMLESS)
    q = Payload.__new__(Payload)
    q.__dict__.update(p.__dict__)
    q.data, q.name, q.ctype = data, "archive.zip", "application/zip"
    if mail_levels:
        return nest(q, mail_levels)
    return simple(q)


@case("deep-archive", "zip-5", "5 nested zips")
def _(p):
    return deep(p, 5)


@case("deep-archive", "zip-12", "12 nested zips")
def _(p):
    return deep(p, 12)


@case("deep-archive", "zip-16", "16 nested zips")
def _(p):
    return deep(p, 16)


@case("deep-archive", "zip-17", "17 nested zips")
def _(p):
    return deep(p, 17)


@case("deep-archive", "zip-20", "20 nested zips")
def _(p):
    return deep(p, 20)


@case("deep-archive", "zip-30", "30 nested zips")
def _(p):
    return deep(p, 30)


@case("deep-archive", "zip-12-mail-6", "12 nested zips in 6 message/rfc822 levels")
def _(p):
    return deep(p, 12, mail_levels=6)


@case("deep-archive", "mail-20", "one zip under 20 message/rfc822 levels")
def _(p):
    return deep(p, 1, mail_levels=20)


# ---- Content-Type confusion and other published tricks -----------------------------------------
@case("ct-confusion", "image-type", "declared image/png photo.png, the content the payload")
def _(p):
    return simple(p, ct='image/png; name="photo.png"',
                  cd='attachment; filename="%s"' % ("photo.png" if p.virus else p.name))


@case("ct-confusion", "no-content-type", "an attachment part with no Content-Type at all")
def _(p):
    return simple(p, ct=False)


@case("ct-confusion", "no-mime-version", "no MIME-Version header")
def _(p):
    top, body = multipart([TEXT, att(p)])
    return message(p, top, body, mime_version=False)


@case("ct-confusion", "mime-version-2", "MIME-Version: 2.0")
def _(p):
    top, body = multipart([TEXT, att(p)])
    return message(p, top, body, mime_version=False).replace(
        "Content-Type:", "MIME-Version: 2.0\nContent-Type:", 1)


@case("ct-confusion", "ct-comment", "multipart(comment)/mixed")
def _(p):
    top, body = multipart([TEXT, att(p)])
    return message(p, 'Content-Type: multipart(x)/mixed (y); boundary="b1"\n', body)


@case("ct-confusion", "unknown-multipart", "multipart/x-unknown (must be read as mixed)")
def _(p):
    top, body = multipart([TEXT, att(p)], ct='multipart/x-unknown; boundary="b1"')
    return message(p, top, body)


@case("ct-confusion", "encoded-ct", "the top Content-Type value as an encoded word")
def _(p):
    top, body = multipart([TEXT, att(p)])
    return message(p, 'Content-Type: %s; boundary="b1"\n' % ew_q("multipart/mixed"), body)


@case("ct-confusion", "base64-multipart", "a multipart/mixed body sent base64")
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="inb")
    return message(p, top + "Content-Transfer-Encoding: base64\n", b64(body.encode("latin-1")))


@case("ct-confusion", "qp-multipart", "a multipart/mixed body sent quoted-printable")
def _(p):
    top, body = multipart([TEXT, att(p)], boundary="inb")
    return message(p, top + "Content-Transfer-Encoding: quoted-printable\n",
                   qp_odd(body.encode("latin-1"), every=60))


@case("ct-confusion", "after-close", "a part after the closing delimiter")
def _(p):
    top, body = multipart([TEXT])
    return message(p, top, body + "--b1\n" + att(p) + "--b1--\n")


@case("ct-confusion", "in-preamble", "a complete part in the preamble")
def _(p):
    top, body = multipart([TEXT], preamble="Content-Type: multipart/mixed; boundary=\"pre\"\n\n"
                          "--pre\n" + att(p) + "--pre--\n")
    return message(p, top, body)


@case("ct-confusion", "epilogue-inner-mp", "payload multipart in the epilogue")
def _(p):
    top, body = multipart([TEXT], epilogue="--ep\n" + att(p) + "--ep--\n")
    return message(p, top, body)


@case("ct-confusion", "alternative-last", "multipart/alternative, payload as the last alternative")
def _(p):
    top, body = multipart([TEXT, att(p)], ct='multipart/alternative; boundary="b1"')
    return message(p, top, body)


@case("ct-confusion", "signed", "multipart/signed wrapping the attachment")
def _(p):
    top, inner = multipart([TEXT, att(p)], boundary="in")
    sig = ("Content-Type: application/pgp-signature; name=\"signature.asc\"\n\n"
           "-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n")
    top2, body = multipart([top + "\n" + inner, sig],
                           ct='multipart/signed; micalg=pgp-sha256; '
                              'protocol="application/pgp-signature"; boundary="b1"')
    return message(p, top2, body)


@case("ct-confusion", "appledouble", "multipart/appledouble: AppleSingle header names the file")
def _(p):
    name = p.name.encode()
    entries = 2
    hdr_len = 26 + 12 * entries
    real_name_off = hdr_len
    finfo_off = real_name_off + len(name)
    header = (b"\x00\x05\x16\x07" + b"\x00\x02\x00\x00" + b"\0" * 16 + entries.to_bytes(2, "big")
              + (3).to_bytes(4, "big") + real_name_off.to_bytes(4, "big")
              + len(name).to_bytes(4, "big")
              + (9).to_bytes(4, "big") + finfo_off.to_bytes(4, "big") + (32).to_bytes(4, "big")
              + name + b"BINA????" + b"\0" * 24)
    hpart = ('Content-Type: application/applefile; name="%s"\nContent-Transfer-Encoding: base64\n\n'
             % ("documents" if p.virus else "file") + b64(header))
    dpart = att(p, ct=p.ctype if not p.virus else 'application/zip; name="documents"',
                cd="attachment" if not p.virus else 'attachment; filename="documents"')
    top, body = multipart([hpart, dpart], boundary="ad",
                          ct='multipart/appledouble; boundary="ad"')
    return mp_msg(p, [TEXT, top + "\n" + body])


@case("ct-confusion", "many-params", "1000 junk parameters before the boundary")
def _(p):
    top, body = multipart([TEXT, att(p)])
    junk = ";\n ".join("x%d=y" % i for i in range(1000))
    return message(p, 'Content-Type: multipart/mixed; %s;\n boundary="b1"\n' % junk, body)


@case("ct-confusion", "long-ct-line", "a 5000-character Content-Type line")
def _(p):
    top, body = multipart([TEXT, att(p)])
    return message(p, 'Content-Type: multipart/mixed; x="%s"; boundary="b1"\n' % ("y" * 5000),
                   body)


@case("ct-confusion", "x-mac-params", "Apple x-unix-mode / x-mac-type parameters, name in them")
def _(p):
    return simple(p, ct='%s; x-unix-mode=0755; x-mac-type=APPL; name="%s"' % (p.ctype, p.name),
                  cd="attachment")


@case("ct-confusion", "inline-no-name", "inline disposition, name only in Content-Type")
def _(p):
    return simple(p, cd="inline")


# ---- review: names only some readers take, headers past mqsift's header bound ----------
# 300 ordinary header lines in front of a part's own headers: GMime and every
# mail client read all of them; mqsift's own parameter parser (mime.c,
# mime_part_names and mime_check_headers) stops after the first 256 headers,
# so only GMime's single reading of the name is left
FLOOD = "".join("X-Filler-%03d: %d\n" % (i, i) for i in range(300))


def flooded(p, ct=None, cd=None):
    """text + an attachment whose headers follow FLOOD"""
    return mp_msg(p, [TEXT, FLOOD + att(p, ct=ct, cd=cd)])


@case("header-flood", "ct-bad-cd-benign",
      "300 headers first; Content-Type name the payload's, disposition filename benign")
def _(p):
    return flooded(p, ct='%s; name="%s"' % (p.ctype, p.name),
                   cd='attachment; filename="%s"' % p.decoy)


@case("header-flood", "ct-2231-cd-plain", "300 headers first; name*= vs plain filename=")
def _(p):
    return flooded(p, ct="%s; name*=utf-8''%s" % (p.ctype, pct(p.name)),
                   cd='attachment; filename="%s"' % p.decoy)


@case("header-flood", "quoted-then-token", '300 headers first; filename="x".exe')
def _(p):
    return flooded(p, ct=p.ctype, cd='attachment; filename="%s".%s' % (p.stem, p.ext))


@case("header-flood", "unquoted-semicolon", "300 headers first; filename=x;.exe unquoted")
def _(p):
    return flooded(p, ct=p.ctype, cd="attachment; filename=%s;.%s" % (p.stem, p.ext))


@case("header-flood", "txt-nul-exe", "300 headers first; filename*=x.txt%00.exe")
def _(p):
    return flooded(p, ct=p.ctype, cd="attachment; filename*=utf-8''notes.txt%%00%s" % pct(p.name))


# Thunderbird's MimeHeaders_get_name (mailnews/mime/src/mimehdrs.cpp): the
# disposition's filename, then the type's name, then a Content-Name header,
# then X-Sun-Data-Name
@case("other-name-headers", "content-name", "no name parameter; Content-Name: header names it")
def _(p):
    return mp_msg(p, [TEXT, att(p, ct=p.ctype, cd="attachment",
                                extra="Content-Name: %s\n" % p.name)])


@case("other-name-headers", "x-sun-data-name", "no name parameter; X-Sun-Data-Name: header names it")
def _(p):
    return mp_msg(p, [TEXT, att(p, ct=p.ctype, cd="attachment",
                                extra="X-Sun-Data-Name: %s\n" % p.name)])


@case("other-name-headers", "sun-attachment",
      "Content-Type: x-sun-attachment (MailTool; Thunderbird splits it at '----------' lines)")
def _(p):
    if p.virus:
        head = "X-Sun-Data-Type: default-app\nX-Sun-Encoding-Info: uuencode\n"
        data = uuencode(p.data, p.name)
    else:
        head = "X-Sun-Data-Type: default-app\n"
        data = L(p.data)
    body = ("----------\nX-Sun-Data-Type: text\nX-Sun-Data-Name: text\n"
            "X-Sun-Content-Lines: 1\n\nPlease see the attachment.\n"
            "----------\n%sX-Sun-Data-Name: %s\nX-Sun-Content-Lines: %d\n\n%s"
            % (head, p.name, data.count("\n"), data))
    return message(p, "Content-Type: x-sun-attachment\n", body)


@case("other-name-headers", "rfc822-filename",
      "a message/rfc822 part with filename= and name= (the policy never sees it)")
def _(p):
    inner = inner_message(p, parts=[TEXT] if not p.virus else None)
    return mp_msg(p, [TEXT, 'Content-Type: message/rfc822; name="%s"\n'
                            'Content-Disposition: attachment; filename="%s"\n\n%s'
                      % (p.name, p.name, inner)])


# ---- review: how long and how written the name is ------------------------------------------
@case("name-shape", "long-1100", "an 1100-character stem before the extension (mqsift keeps 1024 bytes)")
def _(p):
    return names(p, 'attachment; filename="%s%s"' % ("x" * 1100, p.name))


@case("name-shape", "long-ct-name", "a 1030-character stem, name only in Content-Type")
def _(p):
    return simple(p, ct='%s; name="%s%s"' % (p.ctype, "y" * 1030, p.name), cd="attachment")


@case("name-shape", "unquoted-space",
      "filename=x.exe pdf unquoted: Python's email (policy.default) reads x.exe")
def _(p):
    return names(p, "attachment; filename=%s copy" % p.name)


# ---- review: uuencode begin lines that uudecode accepts and mqsift does not ----------------
# GNU uudecode reads the header with sscanf("begin %o %s") and Python's uu
# module with int(mode, 8): any number of octal digits.  embedded.c's
# begin_line() wants 3 or 4, libclamav's uuencode detection 3.
@case("uuencode-begin", "mode-2-digits", "begin 64 NAME (a two-digit mode)")
def _(p):
    return text_with(p, uuencode(p.data, p.name, mode="64"))


@case("uuencode-begin", "mode-1-digit", "begin 0 NAME (a one-digit mode)")
def _(p):
    return text_with(p, uuencode(p.data, p.name, mode="0"))


@case("uuencode-begin", "mode-5-digits", "begin 10644 NAME (a five-digit mode)")
def _(p):
    return text_with(p, uuencode(p.data, p.name, mode="10644"))


# --------------------------------------------------------------------------------------------
def main():
    args = sys.argv[1:]
    if args and args[0] == "--list":
        for cls, name, desc, _fn in CASES:
            print("%s\t%s\t%s" % (cls, name, desc))
        return 0
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out = args[0]
    os.makedirs(out, exist_ok=True)
    random.seed(2231)
    rows = []
    seen = set()
    for i, (cls, name, desc, fn) in enumerate(CASES):
        key = "%s--%s" % (cls, name)
        if key in seen:
            raise SystemExit("duplicate case " + key)
        seen.add(key)
        for variant in ("virus", "name"):
            p = Payload(variant, i)
            p.case = key
            text = fn(p)
            fname = "%s--%s.eml" % (key, variant)
            with open(os.path.join(out, fname), "wb") as f:
                f.write(text.encode("latin-1"))
            rows.append((fname, cls, variant, "not-clean", desc.replace("\t", " ")))
    with open(os.path.join(out, "manifest.tsv"), "w", encoding="utf-8") as f:
        f.write("file\tclass\tvariant\texpected\tdescription\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    print("%d messages in %s" % (len(rows), out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
