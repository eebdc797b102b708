#!/bin/bash
# fuzz.sh - build mqsift's libFuzzer targets with clang (ASan+UBSan) and run
# each for $FUZZ_SECONDS, growing tests/fuzz/corpus/<target> with what it
# finds (merged, so the saved corpus stays small).  Usage: fuzz.sh [TARGET...]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
secs=${FUZZ_SECONDS:-60}
out=${FUZZ_BUILD:-/tmp/mqsift-fuzz}
mkdir -p "$out"
pkgs="glib-2.0 gio-2.0 gmime-3.0 libclamav sqlite3 yaml-0.1 libmagic"
# everything built goes to $out, never into the source tree
mkdir -p "$out/include"
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$out/include -I$top $(pkg-config --cflags $pkgs)"
libs=$(pkg-config --libs $pkgs)
defs="-DMQSIFT_TEMPLATE_DIR=\"$top/reports/templates\" -DMQSIFT_TEST_SIGNATURES=\"$top/tests/signatures\" -DMQSIFT_DATADIR=\"$top/etc\" -DG_LOG_DOMAIN=\"mqsift\" -DPACKAGE_VERSION=\"fuzz\" -DSENDMAIL_PATH=\"/usr/sbin/sendmail\""
: >"$out/include/mqsift-build.h"
mkdir -p "$out/include/rules" "$out/include/reports"
sh scripts/embed-text.sh builtin_filename_rules etc/filename.rules >"$out/include/rules/filename-rules-builtin.h"
sh scripts/embed-templates.sh reports/templates/en/*.txt >"$out/include/reports/templates-builtin.h"
srcs="queue/durable.c queue/fdread.c queue/fault.c queue/qf.c queue/qdir.c queue/commit.c config/envelope.c config/rule.c config/config.c rules/policy.c rules/untrusted.c reports/template.c scanner/engine.c scanner/scan.c scanner/seen.c scanner/mime.c scanner/embedded.c scanner/tnef.c scanner/protocol.c"
export TOP_SRCDIR=$top
export LSAN_OPTIONS="suppressions=$top/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
status=0
for t in "${@:-qf config mime reply}"; do
	for target in $t; do
		echo "== fuzz-$target: building"
		clang $cflags $defs -D_GNU_SOURCE -o "$out/fuzz-$target" "tests/fuzz/fuzz-$target.c" $srcs $libs
		mkdir -p "$out/new-$target" "tests/fuzz/corpus/$target"
		echo "== fuzz-$target: running ${secs}s"
		mkdir -p "$out/artifacts-$target"
		"$out/fuzz-$target" -max_total_time="$secs" -max_len=65536 -timeout=20 \
			-artifact_prefix="$out/artifacts-$target/" -print_final_stats=1 \
			"$out/new-$target" "tests/fuzz/corpus/$target" || status=1
		# a crash becomes a corpus file: make check replays it until it is fixed
		for a in "$out/artifacts-$target"/crash-* "$out/artifacts-$target"/timeout-*; do
			[ -f "$a" ] || continue
			sum=$(sha1sum "$a" | cut -c1-40)
			cp "$a" "tests/fuzz/corpus/$target/$sum"
			echo "== fuzz-$target: $(basename "$a") saved as tests/fuzz/corpus/$target/$sum"
		done
		# keep only inputs that add coverage
		mkdir -p "$out/merged-$target"
		"$out/fuzz-$target" -merge=1 "$out/merged-$target" "tests/fuzz/corpus/$target" \
			"$out/new-$target" >/dev/null 2>&1 || true
		echo "== fuzz-$target: corpus $(ls "$out/merged-$target" | wc -l) inputs (in $out/merged-$target)"
	done
done
exit $status
