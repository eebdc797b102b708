#!/usr/bin/env python3
"""gen-sigs.py DIR [--hash N] [--body M] - a synthetic ClamAV database of
realistic size: N random but valid MD5 hash signatures (.hdb) and M random
body signatures (.ndb, 20-40 bytes, some with wildcards), plus mqsift's own
test signatures so the infected part of the corpus is found."""
import argparse, os, random, shutil

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--hash", type=int, default=1000000)
ap.add_argument("--body", type=int, default=50000)
ap.add_argument("--seed", type=int, default=7)
a = ap.parse_args()
rng = random.Random(a.seed)
os.makedirs(a.dir, exist_ok=True)
with open(os.path.join(a.dir, "bench.hdb"), "w") as f:
    for i in range(a.hash):
        f.write("%032x:%d:Bench.Hash.%d\n" % (rng.getrandbits(128), rng.randint(100, 2000000), i))
targets = [0, 0, 0, 1, 3, 5]  # any file, PE, HTML, mail
with open(os.path.join(a.dir, "bench.ndb"), "w") as f:
    for i in range(a.body):
        n = rng.randint(20, 40)
        hexs = "%0*x" % (2 * n, rng.getrandbits(8 * n))
        if rng.random() < 0.1:  # a wildcard in the middle
            cut = 2 * rng.randint(6, n - 6)
            hexs = hexs[:cut] + "{-20}" + hexs[cut:]
        f.write("Bench.Body.%d:%d:*:%s\n" % (i, rng.choice(targets), hexs))
here = os.path.dirname(os.path.abspath(__file__))
for name in ("mqsift-test.hdb", "mqsift-test.ndb"):
    shutil.copy(os.path.join(here, "..", "signatures", name), a.dir)
print("signatures: hash=%d body=%d dir=%s" % (a.hash, a.body, a.dir))
