#!/usr/bin/env python3
"""pyreader.py - an independent reader: what Python's email package sees.

Usage: pyreader.py [--rules FILE] MESSAGE...
Prints one JSON object per message:
  eicar   TRUE if some decoded part is (or is a zip, at any depth, holding)
          the EICAR test file, under either email policy (compat32, default)
  names   every name a part declares: filename, name and their RFC 2231 and
          RFC 2047 forms, from Content-Type and Content-Disposition; and the
          member names of zips (at any depth)
  banned  the names the filename rules (etc/filename.rules) deny
  parts   leaf parts walked
Exit status 1 if any message carries EICAR or a banned name, else 0.

Used by the evasion tests as the third opinion next to libclamav and GMime,
and by the end-to-end test to check what was delivered.
"""

import email
import email.header
import email.policy
import io
import json
import os
import re
import sys
import unicodedata
import zipfile

EICAR = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
HERE = os.path.dirname(os.path.abspath(__file__))


def load_rules(path):
    rules = []
    for line in open(path, encoding="utf-8"):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f for f in line.rstrip("\n").split("\t") if f != ""]
        rules.append((fields[0], re.compile(fields[1], re.I)))
    return rules


def clean_name(name):
    """as mqsift's rules see a name: no bidi/format characters, no trailing dots/spaces"""
    name = "".join(c for c in name if unicodedata.category(c) != "Cf")
    return name.rstrip(". \t")


def is_banned(rules, name):
    n = clean_name(name)
    for action, rx in rules:
        if rx.search(n):
            return action == "deny"
    return False


def zip_names(data, depth=0):
    """member names of a zip, and of zips inside it"""
    out = []
    if depth > 40 or data[:2] != b"PK":
        return out
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for i in z.infolist()[:100]:
                out.append(i.filename)
                out += zip_names(z.read(i), depth + 1)
    except Exception:
        pass
    return out


def holds_eicar(data, depth=0):
    if not data or depth > 40:
        return False
    if EICAR in data:
        return True
    if data[:2] == b"PK" or b"PK\x05\x06" in data[-4096:]:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return any(holds_eicar(z.read(i), depth + 1) for i in z.infolist()[:100])
        except Exception:
            return False
    return False


def decode_words(value):
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:
        return value


def part_names(part):
    out = []
    for header in ("content-type", "content-disposition"):
        try:
            params = part.get_params(header=header, failobj=[]) or []
        except Exception:
            params = []
        for key, value in params[1:] if params else []:
            if not key.lower().split("*")[0] in ("name", "filename"):
                continue
            value = email.utils.collapse_rfc2231_value(value)
            out.append(value)
            out.append(decode_words(value))
    try:
        fn = part.get_filename()
        if fn:
            out += [fn, decode_words(fn)]
    except Exception:
        pass
    return out


def walk(msg, depth=0):
    for part in msg.walk():
        if part.is_multipart():
            continue
        yield part
        payload = part.get_payload()
        if isinstance(payload, list) and depth < 50:  # message/rfc822 under compat32
            for sub in payload:
                if isinstance(sub, email.message.Message):
                    yield from walk(sub, depth + 1)


def analyze(raw, rules):
    names, eicar, parts = [], False, 0
    for pol in (email.policy.compat32, email.policy.default):
        try:
            msg = email.message_from_bytes(raw, policy=pol)
        except Exception:
            continue
        for part in walk(msg):
            parts += 1
            names += part_names(part)
            try:
                data = part.get_payload(decode=True)
            except Exception:
                data = None
            if isinstance(data, bytes):
                eicar = eicar or holds_eicar(data)
                names += zip_names(data)
    names = sorted(set(n for n in names if n))
    return {"eicar": eicar, "names": names,
            "banned": [n for n in names if is_banned(rules, n)], "parts": parts}


def main():
    args = sys.argv[1:]
    rules_path = os.path.join(HERE, "..", "..", "etc", "filename.rules")
    if args[:1] == ["--rules"]:
        rules_path, args = args[1], args[2:]
    rules = load_rules(rules_path)
    status = 0
    for path in args:
        with open(path, "rb") as f:
            r = analyze(f.read(), rules)
        r["file"] = path
        print(json.dumps(r, ensure_ascii=True))
        if r["eicar"] or r["banned"]:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
