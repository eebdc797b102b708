#!/bin/bash
# test-clean-corpus.sh - real harmless mail (tests/evasion/clean, see its
# README) must come out Clean: any other verdict - infected, blocked (for
# instance "Blocked (ambiguous MIME ...)"), an error - is a false positive.
# A message listed in clean/exclusions.tsv may have the verdict given there;
# each applied exclusion is reported, with its reason.
. "$(dirname "$0")/lib.sh"
evasion_setup clean-corpus

C=$here/clean
cd "$C" || bail_out "no $C"
files=$(ls python/msg_* enmime/*.raw 2>/dev/null)
[ -n "$files" ] || bail_out "empty clean corpus"
echo "$files" | xargs "$MQSIFT" scan -c "$T/mqsift.yaml" --json >"$T/results.jsonl" 2>"$T/err"

python3 - "$T/results.jsonl" "$C/exclusions.tsv" $files >"$T/verdicts.tsv" <<'PY'
import json, sys
res = {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    res[r["file"]] = r
excl = {}
for line in open(sys.argv[2], encoding="utf-8"):
    if line.startswith("#") or not line.strip():
        continue
    f, verdict, reason = line.rstrip("\n").split("\t", 2)
    excl[f] = (verdict, reason)
for f in sys.argv[3:]:
    r = res.get(f, {"verdict": "none", "status": "no result (the scanner died?)"})
    allowed, reason = excl.get(f, ("clean", ""))
    print("\t".join([f, r["verdict"], r["status"].replace("\t", " "), allowed, reason]))
PY

while IFS=$'\t' read -r f verdict status allowed reason; do
	if [ "$verdict" = clean ]; then
		ok_if "$f" true
	elif [ "$verdict" = "$allowed" ]; then
		ok_if "$f: $status (excluded: $reason)" true
	else
		ok_if "$f: false positive: $status" false
	fi
done <"$T/verdicts.tsv"
done_testing
