#!/usr/bin/env python3
"""gen-sigs.py DIR [--hash N] [--body M] [--section S] [--logical L] [--official]
- a synthetic ClamAV database of realistic size: N random but valid MD5 hash
signatures (.hdb), S PE section hashes (.mdb), M random body signatures (.ndb,
20-40 bytes, some with wildcards) and L logical signatures (.ldb, two to four
body subsignatures joined by & and |, some with a counted condition), plus
mqsift's own test signatures so the infected part of the corpus is found.
--official: the size and mix of the official main+daily (about 8.2 million
signatures: 7.3 M file hashes, 0.7 M section hashes, 150 k body and 80 k
logical signatures)."""
import argparse, os, random, shutil

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--hash", type=int, default=1000000)
ap.add_argument("--body", type=int, default=50000)
ap.add_argument("--section", type=int, default=0)
ap.add_argument("--logical", type=int, default=0)
ap.add_argument("--official", action="store_true")
ap.add_argument("--seed", type=int, default=7)
a = ap.parse_args()
if a.official:
    a.hash, a.section, a.body, a.logical = 7300000, 700000, 150000, 80000
rng = random.Random(a.seed)
os.makedirs(a.dir, exist_ok=True)
with open(os.path.join(a.dir, "bench.hdb"), "w") as f:
    for i in range(a.hash):
        f.write("%032x:%d:Bench.Hash.%d\n" % (rng.getrandbits(128), rng.randint(100, 2000000), i))
if a.section:
    with open(os.path.join(a.dir, "bench.mdb"), "w") as f:
        for i in range(a.section):
            f.write("%d:%032x:Bench.Section.%d\n" % (rng.randint(512, 400000),
                                                      rng.getrandbits(128), i))
targets = [0, 0, 0, 1, 3, 5]  # any file, PE, HTML, mail


def body_hex(lo, hi, wild=0.1):
    n = rng.randint(lo, hi)
    hexs = "%0*x" % (2 * n, rng.getrandbits(8 * n))
    if rng.random() < wild:  # a wildcard in the middle
        cut = 2 * rng.randint(6, n - 6)
        hexs = hexs[:cut] + "{-20}" + hexs[cut:]
    return hexs


with open(os.path.join(a.dir, "bench.ndb"), "w") as f:
    for i in range(a.body):
        f.write("Bench.Body.%d:%d:*:%s\n" % (i, rng.choice(targets), body_hex(20, 40)))
if a.logical:
    with open(os.path.join(a.dir, "bench.ldb"), "w") as f:
        for i in range(a.logical):
            k = rng.randint(2, 4)
            subs = [body_hex(12, 24, 0.2) for _ in range(k)]
            if rng.random() < 0.3:
                cond = "(%s)>1" % "|".join(str(j) for j in range(k))
            else:
                cond = "&".join(str(j) for j in range(k))
            f.write("Bench.Logical.%d;Engine:51-255,Target:%d;%s;%s\n"
                    % (i, rng.choice(targets), cond, ";".join(subs)))
here = os.path.dirname(os.path.abspath(__file__))
for name in ("mqsift-test.hdb", "mqsift-test.ndb"):
    shutil.copy(os.path.join(here, "..", "signatures", name), a.dir)
print("signatures: hash=%d section=%d body=%d logical=%d dir=%s"
      % (a.hash, a.section, a.body, a.logical, a.dir))
