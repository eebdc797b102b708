#!/bin/bash
# test-evasion.sh - every message of the MIME-evasion corpus must be stopped.
#
# gen-evasion.py writes the corpus (a zip holding EICAR, or a banned file
# name, hidden behind a trick that makes MIME readers disagree) into a
# temporary directory; "mqsift scan --json" scans it with the test signatures;
# one TAP line per message: ok when the verdict is infected or blocked (and
# the exit status says so).  Clean is a miss; an error is a miss too: a
# well-built scanner decides.  Issue #12.
#
# EVASION_ONLY=REGEX limits the run to matching file names;
# EVASION_KEEP=1 keeps the temporary directory (corpus, config, results).
. "$(dirname "$0")/lib.sh"
evasion_setup evasion

python3 "$here/gen-evasion.py" "$T/corpus" 2>/dev/null || bail_out "gen-evasion.py failed"
files=$(awk -F'\t' -v re="${EVASION_ONLY:-.}" 'NR > 1 && $1 ~ re { print $1 }' "$T/corpus/manifest.tsv")
[ -n "$files" ] || bail_out "no message selected"

# one scan over all of them; a message that kills the scanner is then
# scanned alone, so the crash is pinned on it
(cd "$T/corpus" && echo "$files" | xargs "$MQSIFT" scan -c "$T/mqsift.yaml" --json) \
	>"$T/results.jsonl" 2>"$T/scan.err"
for f in $files; do
	grep -qF "{\"file\":\"$f\"," "$T/results.jsonl" && continue
	(cd "$T/corpus" && "$MQSIFT" scan -c "$T/mqsift.yaml" --json "$f") >>"$T/results.jsonl" \
		2>>"$T/scan.err"
	echo "exit $? $f" >>"$T/alone.txt"
done

# file, verdict, status for each message of the manifest ("none" if no result)
python3 - "$T/corpus/manifest.tsv" "$T/results.jsonl" >"$T/verdicts.tsv" <<'PY'
import json, sys
res = {}
for line in open(sys.argv[2], encoding="utf-8", errors="replace"):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    res[r["file"]] = r
for row in list(open(sys.argv[1], encoding="utf-8"))[1:]:
    f, cls, variant, expected, desc = row.rstrip("\n").split("\t")
    r = res.get(f, {"verdict": "none", "status": "no result (the scanner died?)"})
    print("\t".join([f, r["verdict"], r["status"].replace("\t", " "), desc]))
PY

while IFS=$'\t' read -r f verdict status desc; do
	echo "$files" | grep -qxF "$f" || continue
	case $verdict in
	infected | blocked) ok_if "${f%.eml}" true ;;
	*)
		ok_if "${f%.eml}: $status ($desc)" false
		;;
	esac
done <"$T/verdicts.tsv"
if [ -s "$T/alone.txt" ]; then
	diag "scanned alone after the batch lost them:"
	while read -r line; do diag "  $line"; done <"$T/alone.txt"
fi
done_testing
