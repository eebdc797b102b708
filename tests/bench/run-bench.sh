#!/bin/bash
# run-bench.sh - mqsift's benchmark (make bench).  Prints one machine-readable
# line per figure ("bench: key=value ...").  Environment:
#   BENCH_SIZES="1000 10000"   corpus sizes (add 100000 for the full scale run)
#   (master_ms_per_msg: the master's CPU per committed message, engine load excluded)
#   BENCH_HASH_SIGS=1000000 BENCH_BODY_SIGS=50000   the synthetic database
#   BENCH_DIR=/tmp/mqsift-bench   work area (signatures are kept between runs)
#   BENCH_FS=loop|dir   where the queues are: a fresh journaled ext4 image (loop,
#     the default as root: a relay's spool has a journal; without one ext4
#     scans recently deleted inodes on every create) or BENCH_DIR itself (dir)
#   BENCH_SECTIONS="throughput small peers latency sizes large official"   what to run
#     (official: a database the size of the official main+daily, about 8.2 M
#     signatures, its load time, memory, a signature reload and two SIGHUPs;
#     several GB and minutes)
#   MQSIFT=/path/to/mqsift   another build to measure (runs alternated by hand
#     compare two builds on the same corpus and database)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${TOP_BUILDDIR:-$TOP}
MQSIFT=${MQSIFT:-$BUILD/mqsift}
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
# target NAME VALUE OP LIMIT UNIT - one figure against the issue's target, kept for the summary
TARGETS=()
target() {
	local met
	met=$(python3 -c "import sys; v, l = float(sys.argv[1]), float(sys.argv[3]); print('yes' if (v <= l if sys.argv[2] == '<=' else v >= l) else 'no')" "$2" "$3" "$4")
	TARGETS+=("bench: target $1 value=$2 target=$3$4 unit=$5 met=$met")
}
# the queues' filesystem
QFS=$DIR
if [ "${BENCH_FS:-loop}" = loop ] && [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null; then
	QFS=$DIR/fs
	mkdir -p "$QFS"
	mountpoint -q "$QFS" && umount "$QFS"
	rm -f "$DIR/fs.img"
	truncate -s "${BENCH_FS_SIZE:-8G}" "$DIR/fs.img"
	if ! mkfs.ext4 -q -F "$DIR/fs.img" || ! mount -o loop "$DIR/fs.img" "$QFS"; then
		QFS=$DIR
	fi
fi
# finish - the figures against the targets, then the loop filesystem goes
finish() {
	local t
	for t in "${TARGETS[@]}"; do say "$t"; done
	if [ "$QFS" != "$DIR" ]; then
		umount "$QFS" 2>/dev/null
		rm -f "$DIR/fs.img"
	fi
}
trap finish EXIT
say "bench: queues_filesystem path=$QFS type=$(stat -f -c %T "$QFS") $(grep -q "^[^ ]* $QFS " /proc/mounts && echo "mount=loop journal=yes" || echo "mount=$(df --output=source "$QFS" | tail -1)")"

# --- the database ---------------------------------------------------------------
SIGS=$DIR/sigs-$HS-$BS
if [ ! -f "$SIGS/bench.hdb" ]; then
	python3 "$HERE/gen-sigs.py" "$SIGS" --hash "$HS" --body "$BS" >/dev/null
fi
say "bench: database hash_sigs=$HS body_sigs=$BS cores=$CORES"
# libclamav's temporary files: on tmpfs for mqsift's workers as for the bare
# scan and clamscan (a Debian /run, mqsift's default scanner.tmpdir, is a
# tmpfs; a container's may not be, and the comparison would be unfair)
SCRATCH=/dev/shm/mqsift-bench-scratch
mkdir -p "$SCRATCH"
chmod 0755 "$SCRATCH"
say "bench: scratch mqsift=$SCRATCH/tmp bare=/dev/shm/mqsift-bare type=$(stat -f -c %T "$SCRATCH")"

# conf WORKERS IN OUT - a configuration for a run
conf() {
	cat <<-YAML
	queue:
	  incoming: $2
	  outgoing: $3
	  batch_size: 64
	  kick_delivery: false
	scanner:
	  signatures: $SIGS
	  workers: $1
	  user: nobody
	  tmpdir: $SCRATCH/tmp
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
	rm -rf "$QFS/in" "$QFS/out" "$DIR/quarantine" "$DIR/db"
	mkdir -p "$QFS/in" "$QFS/out"
	chmod 0700 "$QFS/in" "$QFS/out"
}

# run_once N WORKERS [GEN ARGS] - one mqsift run --once over N fresh messages
run_once() {
	local n=$1 w=$2
	shift 2
	fresh_queues
	python3 "$HERE/gen-corpus.py" --count "$n" --queue "$QFS/in" "$@" >"$DIR/corpus.log"
	local bytes
	bytes=$(($(du -sb "$QFS/in" | cut -f1)))
	conf "$w" "$QFS/in" "$QFS/out" >"$DIR/bench.yaml"
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
	cpum=$(sed -n 's/.*CPU master [0-9.]* s (in passes \([0-9.]*\) s).*/\1/p' "$DIR/run.log")
	cpuw=$(sed -n 's/.*workers \([0-9.]*\) s$/\1/p' "$DIR/run.log")
	out=$(find "$QFS/out" -name 'qf*' | wc -l)
	python3 - "$n" "$w" "$bytes" "$pass" "$load" "$rss" "$wrss" "$cpum" "$cpuw" "$out" "$(((t1 - t0) / 1000000))" <<-'PY'
	import sys
	n, w, b, p, load, rss, wrss, cm, cw, out, wall_ms = sys.argv[1:]
	n, w, b, p = int(n), int(w), int(b), float(p)
	print("bench: throughput messages=%d workers=%d msgs_per_s=%.0f mb_per_s=%.1f pass_s=%.2f "
	      "wall_s=%.2f engine_load_s=%s master_rss_mb=%s worker_rss_mb=%s cpu_ms_per_msg=%.3f "
	      "master_ms_per_msg=%.3f committed=%s"
	      % (n, w, n / p, b / p / 1e6, p, int(wall_ms) / 1000, load, rss, wrss,
	         1000 * (float(cm) + float(cw)) / n,
	         1000 * float(cm) / max(int(out), 1), out))
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
# field KEY LINE - the value of KEY= in LINE
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
small_rate=
small_worker_rss=
if want small; then
	first_rate=
	for n in $SIZES; do
		line=$(run_once "$n" "$CORES" --small)
		say "${line/bench: throughput/bench: small_mix throughput}"
		small_rate=$(field msgs_per_s "$line")
		small_n=$n
		small_worker_rss=$(field worker_rss_mb "$line")
		[ -n "$first_rate" ] || { first_rate=$small_rate; first_n=$n; }
		target "small_mix_${n}_master_ms_per_msg" "$(field master_ms_per_msg "$line")" '<=' 0.15 ms
	done
	target "small_mix_${small_n}_msgs_per_s" "$small_rate" '>=' 2000 msg/s
	if [ "$small_n" != "$first_n" ]; then
		target "flat_rate_${small_n}_over_${first_n}" \
		    "$(python3 -c "print('%.2f' % ($small_rate / $first_rate))")" '>=' 0.9 ratio
	fi
	# the floor under the master's figure: the exactly-once commit alone (queue/),
	# nothing scanned, logged or stored, on the same filesystem and corpus size
	fresh_queues
	python3 "$HERE/gen-corpus.py" --count "$small_n" --queue "$QFS/in" --small >/dev/null
	sync
	say "bench: small_mix $("$BUILD/tests/bench/commit-floor" "$QFS/in" "$QFS/out" 64)"
	# and under that, what the filesystem alone costs for the files any design
	# keeping sendmail's queue files must make and remove per message
	rm -rf "$QFS/fs-floor-0" "$QFS/fs-floor-1" "$QFS/in" "$QFS/out"
	say "bench: small_mix $("$BUILD/tests/bench/fs-floor" "$QFS" "$small_n" 2>&1)"
	rm -rf "$QFS/fs-floor-0" "$QFS/fs-floor-1"
fi

# --- the peers: clamscan and bare libclamav on the same messages ------------------
# (the sections below are not indented: their python3 -c programs must not be)
#
# This machine's speed drifts by 10-20% from one minute to the next (a VM: the
# steal time is printed), so one run of each is not a comparison: mqsift, bare
# libclamav and clamscan run in turn BENCH_PEER_ROUNDS times on the same
# messages, and the targets take the median of each round's ratio.
if want peers; then
N=${BENCH_PEER_COUNT:-2000}
ROUNDS=${BENCH_PEER_ROUNDS:-3}
# steal_s - the CPU time the hypervisor took from this machine so far, in seconds
steal_s() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{printf "%.2f", $9 / hz}' /proc/stat; }
# median V... - the middle value
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
mkdir -p "$DIR/empty" /dev/shm/mqsift-bare
clam_load=
if command -v clamscan >/dev/null; then
	t0=$(date +%s%N)
	clamscan --no-summary -d "$SIGS" "$DIR/empty" >/dev/null 2>&1
	t1=$(date +%s%N)
	clam_load=$(python3 -c "print(($t1-$t0)/1e9)")
	say "bench: clamscan load_s=$(python3 -c "print('%.2f' % $clam_load)")"
else
	say "bench: clamscan not installed (apt-get install clamav) - skipped"
fi
# peer_rounds MIX [GEN ARGS] - the rounds on one mix; sets ratio and speedup (medians)
peer_rounds() {
	local mix=$1 r mq bare mq_cpu bare_cpu mq_rate t1 t2 scan s0
	local ratios=() speedups=() bares=()
	shift
	rm -rf "$DIR/eml" "$DIR/src"
	python3 "$HERE/gen-corpus.py" --count "$N" --queue "$DIR/src" --eml "$DIR/eml" "$@" >/dev/null
	s0=$(steal_s)
	for r in $(seq "$ROUNDS"); do
		mq=$(run_once "$N" "$CORES" "$@")
		say "bench: $mix round=$r ${mq#bench: }"
		mq_cpu=$(field cpu_ms_per_msg "$mq")
		mq_rate=$(field msgs_per_s "$mq")
		# the same scratch directory as mqsift (tmpfs): the floor must not pay for ext4
		bare=$(TMPDIR=/dev/shm/mqsift-bare "$BARE" "$SIGS" "$DIR"/eml/*.eml)
		say "bench: $mix round=$r ${bare}"
		bare_cpu=$(field cpu_ms_per_msg "$bare")
		bares+=("$bare_cpu")
		ratios+=("$(python3 -c "print('%.2f' % ($mq_cpu / $bare_cpu))")")
		if [ -n "$clam_load" ]; then
			t1=$(date +%s%N)
			clamscan --no-summary --infected --tempdir=/dev/shm/mqsift-bare -d "$SIGS" "$DIR/eml" >/dev/null 2>&1
			t2=$(date +%s%N)
			scan=$(python3 -c "print('%.2f' % max(($t2 - $t1) / 1e9 - $clam_load, 1e-3))")
			speedups+=("$(python3 -c "print('%.2f' % ($mq_rate / ($N / $scan)))")")
			say "bench: $mix round=$r clamscan messages=$N scan_s=$scan msgs_per_s=$(python3 -c "print('%.0f' % ($N / $scan))") mqsift_speedup=${speedups[-1]}"
		fi
	done
	ratio=$(median "${ratios[@]}")
	# what the machine allows: libclamav alone on every core, nothing else
	bare_median=$(median "${bares[@]}")
	say "bench: $mix ceiling bare_libclamav_ms_per_msg=$bare_median cores=$CORES max_msgs_per_s=$(python3 -c "print('%.0f' % ($CORES * 1000 / $bare_median))") (libclamav alone on every core: no master, no MIME walk, no commit)"
	say "bench: $mix cpu_ratio rounds=$ROUNDS ratios=$(IFS=,; echo "${ratios[*]}") median=$ratio steal_s=$(python3 -c "print('%.2f' % ($(steal_s) - $s0))")"
	speedup=
	if [ ${#speedups[@]} -gt 0 ]; then
		speedup=$(median "${speedups[@]}")
		say "bench: $mix clamscan_speedup rounds=$ROUNDS speedups=$(IFS=,; echo "${speedups[*]}") median=$speedup"
	fi
}
peer_rounds normal_mix
target normal_mix_cpu_ratio_to_bare_libclamav "$ratio" '<=' 1.25 ratio
peer_rounds small_mix --small
target small_mix_cpu_ratio_to_bare_libclamav "$ratio" '<=' 1.25 ratio
[ -z "$speedup" ] || target small_mix_speedup_over_clamscan "$speedup" '>=' 2.5 ratio
# the union of interpretations must not cost well-formed mail a second scan:
# libclamav scans per clean message (1.00 means every part GMime decoded was
# matched to a file libclamav's own parser had already scanned)
conf 1 "$DIR/src" "$QFS/out" >"$DIR/scan.yaml"
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
rm -rf "$QFS/src"
python3 "$HERE/gen-corpus.py" --count 300 --queue "$QFS/src" --prefix 6AOL >/dev/null
conf "$CORES" "$QFS/in" "$QFS/out" >"$DIR/bench.yaml"
"$MQSIFT" run --foreground -c "$DIR/bench.yaml" 2>"$DIR/daemon.log" &
pid=$!
for i in $(seq 1 600); do grep -q 'started:' "$DIR/daemon.log" && break; sleep 0.1; done
say "bench: $(python3 "$HERE/inject.py" "$QFS/in" "$QFS/out" "$QFS/src" 20)"
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
python3 - "$QFS/in" <<-'PY'
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
cp "$QFS/in/df6AOBIG000000001" "$DIR/big.body"
conf 1 "$QFS/in" "$QFS/out" >"$DIR/bench.yaml"
"$MQSIFT" run --once -c "$DIR/bench.yaml" 2>"$DIR/run.log"
say "bench: large_message size_mb=25 $(sed -n 's/.*\(master max RSS.*\)/\1/p' "$DIR/run.log" | tr ' ,' '_ ')"
big_wrss=$(sed -n 's/.*largest worker max RSS \([0-9]*\) MB.*/\1/p' "$DIR/run.log")
if [ -n "$small_worker_rss" ] && [ -n "$big_wrss" ]; then
	# the growth: what the 25 MB message adds to one worker over the small mix's
	say "bench: large_message worker_rss_mb=$big_wrss small_mix_worker_rss_mb=$small_worker_rss growth_mb=$((big_wrss - small_worker_rss)) limit_mb=50"
	# what libclamav alone adds for the same message: bare-scan of it whole
	# (read into memory, as the file it is: 25 MB of its growth) against
	# bare-scan of one small message
	{ printf 'From: a@example.org\nTo: b@example.com\nSubject: big\nMIME-Version: 1.0\n'
	  printf 'Content-Type: multipart/mixed; boundary="b"\n\n'; cat "$DIR/big.body"; } >"$DIR/big.eml"
	first_small=$(ls "$DIR"/eml/*.eml 2>/dev/null | head -n 1)
	if [ -n "$first_small" ]; then
		b_big=$(TMPDIR=/dev/shm/mqsift-bare "$BARE" "$SIGS" "$DIR/big.eml" | sed -n 's/.*max_rss_mb=\([0-9]*\).*/\1/p')
		b_small=$(TMPDIR=/dev/shm/mqsift-bare "$BARE" "$SIGS" "$first_small" | sed -n 's/.*max_rss_mb=\([0-9]*\).*/\1/p')
		say "bench: large_message bare_libclamav max_rss_mb=$b_big small_message_max_rss_mb=$b_small growth_mb=$((b_big - b_small)) (of which the message read whole: 25)"
	fi
	target large_message_worker_growth_mb "$((big_wrss - small_worker_rss))" '<=' 50 MB
else
	say "bench: large_message worker_rss_mb=${big_wrss:-?} growth_mb=? (run the small section too for the growth)"
fi
rm -f "$DIR/big.eml" "$DIR/big.body"
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
conf "$CORES" "$QFS/in" "$QFS/out" |
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
# one copy of the engine, shared: every process's proportional share summed is
# about what the master alone maps (a worker with a copy of its own would add one)
target official_db_pss_total_over_one_copy "$(python3 -c "print('%.2f' % ($base / max($mrss, 1)))")" '<=' 1.5 ratio
# a reload: the new engine is built beside the old one (twice the memory while
# it loads), then the workers are replaced and the old engine freed; sampled
# until the memory is back under 1.2x (or 120 s after the switch)
touch "$OSIGS/bench.hdb"
t0=$(date +%s%N)
peak=$base
above=0
above_after=0
switch_ns=
for i in $(seq 1 1680); do
	v=$(pss_mb $(tree $pid))
	[ "$v" -gt "$peak" ] && peak=$v
	if [ "$v" -gt $((base * 3 / 2)) ]; then
		above=$((above + 1))
		[ -z "$switch_ns" ] || above_after=$((above_after + 1))
	fi
	if [ -z "$switch_ns" ] && grep -q 'signatures reloaded' "$DIR/daemon.log"; then
		switch_ns=$(date +%s%N)
	fi
	if [ -n "$switch_ns" ] && [ "$v" -le $((base * 6 / 5)) ]; then
		break
	fi
	[ -n "$switch_ns" ] && [ $((($(date +%s%N) - switch_ns) / 1000000000)) -ge 120 ] && break
	sleep 0.25
done
t1=$(date +%s%N)
after=$(pss_mb $(tree $pid))
settled=$(python3 -c "print('%.1f' % (($t1 - ${switch_ns:-$t1}) / 1e9))")
say "bench: official_db reload_s=$(((${switch_ns:-$t1} - t0) / 1000000000)) pss_before_mb=$base pss_peak_mb=$peak pss_after_mb=$after settled_after_switch_s=$settled seconds_above_1.5x=$((above / 4)) seconds_above_1.5x_after_switch=$((above_after / 4))"
for i in $(seq 1 40); do grep -q 'previous signatures freed' "$DIR/daemon.log" && break; sleep 0.25; done
say "bench: official_db $(grep -o 'previous signatures freed.*' "$DIR/daemon.log")"
target official_db_reload_pss_after_over_before "$(python3 -c "print('%.2f' % ($after / max($base, 1)))")" '<=' 1.2 ratio
# "never doubles memory for longer than the switch": the old engine's free
target official_db_reload_seconds_above_1.5x_after_switch "$((above_after / 4))" '<=' 5 s

one_engine=$base
# a configuration reload (SIGHUP) - sighup LABEL: sent, then sampled until the
# reload is logged and every worker is up again
sighup() {
	local n workers v peak=0 t0 t1
	n=$(grep -c 'configuration reloaded' "$DIR/daemon.log")
	# from a steady state: every worker up
	for i in $(seq 1 120); do [ "$(pgrep -P $pid | wc -l)" -ge "$CORES" ] && break; sleep 0.25; done
	sleep 1
	base=$(pss_mb $(tree $pid))
	t0=$(date +%s%N)
	kill -HUP $pid
	for i in $(seq 1 1200); do
		v=$(pss_mb $(tree $pid))
		[ "$v" -gt "$peak" ] && peak=$v
		workers=$(pgrep -P $pid | wc -l)
		[ "$(grep -c 'configuration reloaded' "$DIR/daemon.log")" -gt "$n" ] &&
			[ "$workers" -ge "$CORES" ] && break
		sleep 0.25
	done
	t1=$(date +%s%N)
	sleep 1
	after=$(pss_mb $(tree $pid))
	say "bench: official_db sighup_$1 reload_s=$(python3 -c "print('%.1f' % (($t1 - $t0) / 1e9))") pss_before_mb=$base pss_peak_mb=$peak pss_after_mb=$after workers=$workers"
}
# only scan_interval changes: the loaded signatures are kept
sed -i 's/^  scan_interval: 1s$/  scan_interval: 2s/' "$DIR/bench.yaml"
sighup same_engine_settings
say "bench: official_db sighup $(grep -o 'signatures loaded are kept' "$DIR/daemon.log" | head -n 1)"
target official_db_sighup_same_settings_pss_after_over_one_engine "$(python3 -c "print('%.2f' % ($after / max($one_engine, 1)))")" '<=' 1.2 ratio
# a scan limit changes: a new engine; the old one is freed before new workers fork
sed -i 's/^scanner:$/scanner:\n  max_files: 9999/' "$DIR/bench.yaml"
sighup new_scan_limit
say "bench: official_db sighup $(grep -o 'the previous signatures freed.*' "$DIR/daemon.log" | tail -n 1)"
target official_db_sighup_new_limit_pss_after_over_one_engine "$(python3 -c "print('%.2f' % ($after / max($one_engine, 1)))")" '<=' 1.2 ratio
kill -TERM $pid
wait $pid
