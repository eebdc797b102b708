#!/bin/bash
# run-bench.sh - mqsift's benchmark (make bench).  Prints one machine-readable
# line per figure ("bench: key=value ...").  Environment:
#   BENCH_SIZES="1000 10000"   corpus sizes (add 100000 for the full scale run)
#   (master_ms_per_msg: the master's CPU per committed message, engine load excluded)
#   BENCH_HASH_SIGS=1000000 BENCH_BODY_SIGS=50000   the synthetic database
#   BENCH_DIR=/tmp/mqsift-bench   work area (signatures are kept between runs)
#   BENCH_SECTIONS="throughput small peers latency sizes large official"   what to run
#     (official: a database the size of the official main+daily, about 8.2 M
#     signatures, its load time, memory and a reload; several GB and minutes)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${TOP_BUILDDIR:-$TOP}
MQSIFT=$BUILD/mqsift
BARE=$BUILD/tests/bench/bare-scan
DIR=${BENCH_DIR:-/tmp/mqsift-bench}
SIZES=${BENCH_SIZES:-1000 10000}
HS=${BENCH_HASH_SIGS:-1000000}
BS=${BENCH_BODY_SIGS:-50000}
CORES=$(nproc)
SECTIONS=${BENCH_SECTIONS:-throughput small peers latency sizes large spam official}
# want SECTION - true if SECTION is to be run
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
mkdir -p "$DIR"
say() { printf '%s\n' "$*"; }

# --- the database ---------------------------------------------------------------
SIGS=$DIR/sigs-$HS-$BS
if [ ! -f "$SIGS/bench.hdb" ]; then
	python3 "$HERE/gen-sigs.py" "$SIGS" --hash "$HS" --body "$BS" >/dev/null
fi
say "bench: database hash_sigs=$HS body_sigs=$BS cores=$CORES"

# conf WORKERS IN OUT - a configuration for a run
conf() {
	cat <<-YAML
	queue:
	  incoming: $2
	  outgoing: $3
	  batch_size: 64
	scanner:
	  signatures: $SIGS
	  workers: $1
	  user: nobody
	quarantine:
	  dir: $DIR/quarantine
	reports:
	  database: $DIR/db/mqsift.db
	  templates: $TOP/reports/templates
	notify:
	  postmaster_warnings: false
	daemon:
	  pid_file: $DIR/mqsift.pid
	YAML
}

# fresh_queues - empty inbound and outgoing queues on one filesystem
fresh_queues() {
	rm -rf "$DIR/in" "$DIR/out" "$DIR/quarantine" "$DIR/db"
	mkdir -p "$DIR/in" "$DIR/out"
	chmod 0700 "$DIR/in" "$DIR/out"
}

# run_once N WORKERS [GEN ARGS] - one mqsift run --once over N fresh messages
run_once() {
	local n=$1 w=$2
	shift 2
	fresh_queues
	python3 "$HERE/gen-corpus.py" --count "$n" --queue "$DIR/in" "$@" >"$DIR/corpus.log"
	local bytes
	bytes=$(($(du -sb "$DIR/in" | cut -f1)))
	conf "$w" "$DIR/in" "$DIR/out" >"$DIR/bench.yaml"
	sync
	local t0 t1
	t0=$(date +%s%N)
	"$MQSIFT" run --once -c "$DIR/bench.yaml" 2>"$DIR/run.log"
	t1=$(date +%s%N)
	local pass load rss wrss cpum cpuw out
	pass=$(sed -n 's/.*, in \([0-9.]*\) s$/\1/p' "$DIR/run.log" | tail -n1)
	load=$(sed -n 's/.*loaded in \([0-9.]*\) s.*/\1/p' "$DIR/run.log")
	rss=$(sed -n 's/.*master max RSS \([0-9]*\) MB.*/\1/p' "$DIR/run.log")
	wrss=$(sed -n 's/.*largest worker max RSS \([0-9]*\) MB.*/\1/p' "$DIR/run.log")
	cpum=$(sed -n 's/.*CPU master \([0-9.]*\) s.*/\1/p' "$DIR/run.log")
	cpuw=$(sed -n 's/.*workers \([0-9.]*\) s$/\1/p' "$DIR/run.log")
	out=$(find "$DIR/out" -name 'qf*' | wc -l)
	python3 - "$n" "$w" "$bytes" "$pass" "$load" "$rss" "$wrss" "$cpum" "$cpuw" "$out" "$(((t1 - t0) / 1000000))" <<-'PY'
	import sys
	n, w, b, p, load, rss, wrss, cm, cw, out, wall_ms = sys.argv[1:]
	n, w, b, p = int(n), int(w), int(b), float(p)
	print("bench: throughput messages=%d workers=%d msgs_per_s=%.0f mb_per_s=%.1f pass_s=%.2f "
	      "wall_s=%.2f engine_load_s=%s master_rss_mb=%s worker_rss_mb=%s cpu_ms_per_msg=%.3f "
	      "master_ms_per_msg=%.3f committed=%s"
	      % (n, w, n / p, b / p / 1e6, p, int(wall_ms) / 1000, load, rss, wrss,
	         1000 * (max(float(cm) - float(load), 0) + float(cw)) / n,
	         1000 * max(float(cm) - float(load), 0) / max(int(out), 1), out))
	PY
	[ "$out" -eq "$n" ] || say "bench: WARNING only $out of $n messages committed (see $DIR/run.log)"
}

if want throughput; then
	for n in $SIZES; do
		run_once "$n" 1
		run_once "$n" "$CORES"
	done
fi
# the target's mix: small text and HTML mail only (2-20 KB), 3% infected
if want small; then
	for n in $SIZES; do
		line=$(run_once "$n" "$CORES" --small)
		say "${line/bench: throughput/bench: small_mix throughput}"
	done
fi

# --- the peers: clamscan and bare libclamav on the same messages ------------------
# (the sections below are not indented: their python3 -c programs must not be)
if want peers; then
N=${BENCH_PEER_COUNT:-2000}
rm -rf "$DIR/eml" "$DIR/src"
python3 "$HERE/gen-corpus.py" --count "$N" --queue "$DIR/src" --eml "$DIR/eml" >/dev/null
mq=$(run_once "$N" "$CORES")
say "$mq"
mq_cpu=$(sed -n 's/.*cpu_ms_per_msg=\([0-9.]*\).*/\1/p' <<<"$mq")
mq_rate=$(sed -n 's/.*msgs_per_s=\([0-9]*\).*/\1/p' <<<"$mq")
# the same scratch directory as mqsift (scanner.tmpdir, tmpfs): the floor must not pay for ext4
mkdir -p /dev/shm/mqsift-bare
bare=$(TMPDIR=/dev/shm/mqsift-bare "$BARE" "$SIGS" "$DIR"/eml/*.eml)
say "bench: $bare"
bare_cpu=$(sed -n 's/.*cpu_ms_per_msg=\([0-9.]*\).*/\1/p' <<<"$bare")
if command -v clamscan >/dev/null; then
	mkdir -p "$DIR/empty"
	t0=$(date +%s%N)
	clamscan --no-summary -d "$SIGS" "$DIR/empty" >/dev/null 2>&1
	t1=$(date +%s%N)
	clamscan --no-summary --infected --tempdir=/dev/shm/mqsift-bare -d "$SIGS" "$DIR/eml" >/dev/null 2>&1
	t2=$(date +%s%N)
	python3 -c "
import sys
load=($t1-$t0)/1e9; total=($t2-$t1)/1e9; n=$N
scan=max(total-load,1e-9)
print('bench: clamscan messages=%d load_s=%.2f scan_s=%.2f msgs_per_s=%.0f mqsift_speedup=%.1f' % (n, load, scan, n/scan, $mq_rate/(n/scan)))"
else
	say "bench: clamscan not installed (apt-get install clamav) - skipped"
fi
say "bench: cpu_ratio mqsift_cpu_ms_per_msg=$mq_cpu bare_cpu_ms_per_msg=$bare_cpu ratio=$(python3 -c "print('%.2f' % ($mq_cpu/$bare_cpu))")"
# the same comparison on the small-message mix
rm -rf "$DIR/eml" "$DIR/src"
python3 "$HERE/gen-corpus.py" --count "$N" --queue "$DIR/src" --eml "$DIR/eml" --small >/dev/null
mq=$(run_once "$N" "$CORES" --small)
mq_cpu=$(sed -n 's/.*cpu_ms_per_msg=\([0-9.]*\).*/\1/p' <<<"$mq")
bare=$(TMPDIR=/dev/shm/mqsift-bare "$BARE" "$SIGS" "$DIR"/eml/*.eml)
bare_cpu=$(sed -n 's/.*cpu_ms_per_msg=\([0-9.]*\).*/\1/p' <<<"$bare")
say "bench: small_mix ${mq#bench: }"
say "bench: small_mix $bare"
say "bench: small_mix cpu_ratio mqsift_cpu_ms_per_msg=$mq_cpu bare_cpu_ms_per_msg=$bare_cpu ratio=$(python3 -c "print('%.2f' % ($mq_cpu/$bare_cpu))")"
# the union of interpretations must not cost well-formed mail a second scan:
# libclamav scans per clean message (1.00 means every part GMime decoded was
# matched to a file libclamav's own parser had already scanned)
conf 1 "$DIR/src" "$DIR/out" >"$DIR/scan.yaml"
"$MQSIFT" scan --json -c "$DIR/scan.yaml" "$DIR"/eml/*.eml 2>/dev/null | python3 -c "
import sys, json
clean = [json.loads(l) for l in sys.stdin]
clean = [r for r in clean if r['verdict'] == 'clean']
extra = sum(1 for r in clean if r.get('scans', 1) > 1)
print('bench: small_mix union clean_messages=%d scans_per_clean_msg=%.3f messages_with_extra_scans=%d'
      % (len(clean), sum(r.get('scans', 1) for r in clean) / max(len(clean), 1), extra))"
fi
[ -n "${BENCH_PEERS_ONLY:-}" ] && exit 0

# --- latency in daemon mode on an idle relay --------------------------------------
if want latency; then
fresh_queues
rm -rf "$DIR/src"
python3 "$HERE/gen-corpus.py" --count 300 --queue "$DIR/src" --prefix 6AOL >/dev/null
conf "$CORES" "$DIR/in" "$DIR/out" >"$DIR/bench.yaml"
"$MQSIFT" run --foreground -c "$DIR/bench.yaml" 2>"$DIR/daemon.log" &
pid=$!
for i in $(seq 1 600); do grep -q 'started:' "$DIR/daemon.log" && break; sleep 0.1; done
say "bench: $(python3 "$HERE/inject.py" "$DIR/in" "$DIR/out" "$DIR/src" 20)"
kill -TERM $pid
wait $pid

fi

# --- cost as message size doubles ----------------------------------------------------
if want sizes; then
for size in 8192 16384 32768 65536 131072 262144; do
	line=$(run_once "${BENCH_SIZE_COUNT:-500}" "$CORES" --size "$size")
	say "${line/bench: throughput/bench: size_bytes=$size throughput}"
done

fi

# --- one 25 MB message ----------------------------------------------------------------
if want large; then
fresh_queues
python3 - "$DIR/in" <<-'PY'
import os, sys, base64
q = sys.argv[1]
body = ("This is a multi-part message in MIME format.\n--b\nContent-Type: text/plain\n\nbig\n--b\n"
        "Content-Type: application/octet-stream; name=\"big.bin\"\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(os.urandom(25 * 1024 * 1024 * 3 // 4)).decode() + "--b--\n")
open(os.path.join(q, "df6AOBIG000000001"), "w").write(body)
open(os.path.join(q, "qf6AOBIG000000001"), "w").write(
    "V8\nT1\nK0\nN0\nP30000\nS<a@example.org>\nRPFD:<b@example.com>\nH??Subject: big\n"
    "H??MIME-Version: 1.0\nH??Content-Type: multipart/mixed; boundary=\"b\"\n.\n")
PY
conf 1 "$DIR/in" "$DIR/out" >"$DIR/bench.yaml"
"$MQSIFT" run --once -c "$DIR/bench.yaml" 2>"$DIR/run.log"
say "bench: large_message size_mb=25 $(sed -n 's/.*\(master max RSS.*\)/\1/p' "$DIR/run.log" | tr ' ,' '_ ')"
fi

# --- spam checks (issue #16): spamd in the loop vs spamc one by one; virus-only with spam off
if want spam; then
	TOP_BUILDDIR=$BUILD BENCH_DIR=$DIR bash "$HERE/spam-bench.sh"
fi

# --- a database the size of the official one: load, memory (PSS), reload ------------
want official || exit 0
# pss_mb PID... - the proportional set size of these processes, summed (MB)
pss_mb() {
	local t=0 p v
	for p in "$@"; do
		v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo $((t / 1024))
}
# tree PID - the process and its children
tree() { echo "$1" $(pgrep -P "$1"); }
OSIGS=$DIR/sigs-official
if [ ! -f "$OSIGS/bench.ldb" ]; then
	python3 "$HERE/gen-sigs.py" "$OSIGS" --official >/dev/null
fi
fresh_queues
conf "$CORES" "$DIR/in" "$DIR/out" |
	sed -e "s#signatures: .*#signatures: $OSIGS#" \
	    -e 's#^  batch_size: 64$#  batch_size: 64\n  scan_interval: 1s#' >"$DIR/bench.yaml"
"$MQSIFT" run --foreground -c "$DIR/bench.yaml" 2>"$DIR/daemon.log" &
pid=$!
for i in $(seq 1 3000); do grep -q 'started:' "$DIR/daemon.log" && break; sleep 0.1; done
sleep 1
load=$(sed -n 's/.*signatures loaded in \([0-9.]*\) s.*/\1/p' "$DIR/daemon.log")
nsig=$(sed -n 's/.*engine: \([0-9]*\) signatures loaded.*/\1/p' "$DIR/daemon.log")
base=$(pss_mb $(tree $pid))
mpss=$(pss_mb $pid)
mrss=$(awk '/^VmRSS:/ {print int($2/1024)}' /proc/$pid/status)
say "bench: official_db signatures=$nsig engine_load_s=$load pss_total_mb=$base master_pss_mb=$mpss master_rss_mb=$mrss processes=$(tree $pid | wc -w)"
# a reload: the new engine is built beside the old one, then workers are replaced
touch "$OSIGS/bench.hdb"
t0=$(date +%s%N)
peak=$base
above=0
for i in $(seq 1 1200); do
	v=$(pss_mb $(tree $pid))
	[ "$v" -gt "$peak" ] && peak=$v
	[ "$v" -gt $((base * 3 / 2)) ] && above=$((above + 1))
	if grep -q 'signatures reloaded' "$DIR/daemon.log"; then
		sleep 2
		break
	fi
	sleep 0.25
done
t1=$(date +%s%N)
after=$(pss_mb $(tree $pid))
say "bench: official_db reload_s=$(((t1 - t0) / 1000000000)) pss_before_mb=$base pss_peak_mb=$peak pss_after_mb=$after seconds_above_1.5x=$((above / 4))"
kill -TERM $pid
wait $pid
