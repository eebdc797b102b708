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
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$top -I$top/tests/fuzz-build $(pkg-config --cflags $pkgs)"
libs=$(pkg-config --libs $pkgs)
defs="-DMQSIFT_TEMPLATE_DIR=\"$top/reports/templates\" -DMQSIFT_TEST_SIGNATURES=\"$top/tests/signatures\" -DG_LOG_DOMAIN=\"mqsift\" -DPACKAGE_VERSION=\"fuzz\" -DSENDMAIL_PATH=\"/usr/sbin/sendmail\""
mkdir -p tests/fuzz-build
: >tests/fuzz-build/mqsift-build.h
srcs="queue/durable.c queue/fault.c queue/qf.c queue/qdir.c queue/commit.c rules/config.c rules/ruleset.c rules/policy.c reports/template.c scanner/engine.c scanner/scan.c scanner/tnef.c"
export TOP_SRCDIR=$top
export LSAN_OPTIONS="suppressions=$top/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
status=0
for t in "${@:-qf config mime}"; do
	for target in $t; do
		echo "== fuzz-$target: building"
		clang $cflags $defs -D_GNU_SOURCE -o "$out/fuzz-$target" "tests/fuzz/fuzz-$target.c" $srcs $libs
		mkdir -p "$out/new-$target" "tests/fuzz/corpus/$target"
		echo "== fuzz-$target: running ${secs}s"
		"$out/fuzz-$target" -max_total_time="$secs" -max_len=65536 -timeout=20 \
			-print_final_stats=1 "$out/new-$target" "tests/fuzz/corpus/$target" ||
			status=1
		# keep only inputs that add coverage
		mkdir -p "$out/merged-$target"
		"$out/fuzz-$target" -merge=1 "$out/merged-$target" "tests/fuzz/corpus/$target" \
			"$out/new-$target" >/dev/null 2>&1 || true
		echo "== fuzz-$target: corpus $(ls "$out/merged-$target" | wc -l) inputs (in $out/merged-$target)"
	done
done
rm -rf tests/fuzz-build
exit $status
