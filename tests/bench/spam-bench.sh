#!/bin/bash
# spam-bench.sh - the spam figures of make bench (issue #16), one "bench:" line each:
#   spam_off      virus-only throughput: no spam section, and spamd configured with
#                 spam.check: false (must not be slower)
#   spam_mqsift   messages per second with the real spamd in the loop (checks run
#                 concurrently, spam.max_in_flight)
#   spam_spamc    the same messages checked one by one with spamc, for comparison
# Runs in a private network namespace (spamd listens on a unix socket only, -L).
# Environment: BENCH_SPAM_COUNT (default 100), BENCH_DIR, BENCH_SPAMD_CHILDREN
# (default: the number of cores), TOP_BUILDDIR.
set -u
if [ -z "${MQSIFT_SPAM_BENCH_NS:-}" ]; then
	export MQSIFT_SPAM_BENCH_NS=1
	exec unshare -n -f --kill-child bash "$0" "$@"
fi
ip link set lo up
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${TOP_BUILDDIR:-$TOP}
MQSIFT=$BUILD/mqsift
DIR=${BENCH_DIR:-/tmp/mqsift-bench}/spam
N=${BENCH_SPAM_COUNT:-100}
CORES=$(nproc)
CHILDREN=${BENCH_SPAMD_CHILDREN:-$CORES}
say() { printf '%s\n' "$*"; }
command -v spamd >/dev/null || { say "bench: spam skipped (apt-get install spamd spamc)"; exit 0; }
rm -rf "$DIR"
mkdir -p "$DIR/site" "$DIR/home"
chmod 755 "$DIR" "$DIR/home"
cp /etc/spamassassin/*.pre "$DIR/site/"
printf 'use_bayes 0\nbayes_auto_learn 0\nskip_rbl_checks 1\n' >"$DIR/site/local.cf"
spamd -L -x -u nobody --siteconfigpath="$DIR/site" --helper-home-dir="$DIR/home" \
	--socketpath="$DIR/spamd.sock" --socketmode=0666 -m "$CHILDREN" --min-children="$CHILDREN" \
	--min-spare=1 --max-spare="$CHILDREN" -s "$DIR/spamd.log" -r "$DIR/spamd.pid" -d 2>>"$DIR/spamd.log"
trap '[ -s "$DIR/spamd.pid" ] && kill "$(cat "$DIR/spamd.pid")"' EXIT
for i in $(seq 1 600); do
	[ -S "$DIR/spamd.sock" ] && printf 'Subject: x\n\nx\n' | spamc -U "$DIR/spamd.sock" -c >/dev/null 2>&1
	[ $? -le 1 ] && [ -S "$DIR/spamd.sock" ] && break
	sleep 0.1
done
rm -rf "$DIR/src" "$DIR/eml"
python3 "$HERE/gen-corpus.py" --count "$N" --queue "$DIR/src" --eml "$DIR/eml" --small >/dev/null

# conf SPAM-YAML - a configuration over fresh queues
conf() {
	rm -rf "$DIR/in" "$DIR/out" "$DIR/quarantine" "$DIR/db"
	mkdir -p "$DIR/in" "$DIR/out"
	chmod 0700 "$DIR/in" "$DIR/out"
	cp "$DIR"/src/* "$DIR/in/"
	cat >"$DIR/bench.yaml" <<-YAML
	queue:
	  incoming: $DIR/in
	  outgoing: $DIR/out
	  batch_size: 64
	  kick_delivery: false
	scanner:
	  signatures: $TOP/tests/signatures
	  workers: $CORES
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
	$1
	YAML
	sync
}

# run LABEL - one run --once; prints the bench line
run() {
	"$MQSIFT" run --once -c "$DIR/bench.yaml" 2>"$DIR/run-$1.log"
	local pass out checked
	pass=$(sed -n 's/.*, in \([0-9.]*\) s$/\1/p' "$DIR/run-$1.log" | tail -n1)
	out=$(find "$DIR/out" -name 'qf*' | wc -l)
	checked=$(grep -c ' spam=' "$DIR/run-$1.log")
	python3 -c "print('bench: $1 messages=$N workers=$CORES msgs_per_s=%.0f pass_s=%.2f committed=$out spam_checked=$checked' % ($N / $pass, $pass))"
}

# virus only, three ways; best of three each (the machine is shared)
best() {
	local label=$1 yaml=$2 line best_line="" best_rate=0 rate
	for k in 1 2 3; do
		conf "$yaml"
		line=$(run "$label")
		rate=$(sed -n 's/.*msgs_per_s=\([0-9]*\).*/\1/p' <<<"$line")
		[ "$rate" -gt "$best_rate" ] && best_rate=$rate && best_line=$line
	done
	say "$best_line"
}
off1=$(best spam_off_none "")
off2=$(best spam_off_check_false "$(printf 'spam:\n  spamd: unix:%s\n  check: false' "$DIR/spamd.sock")")
say "$off1"
say "$off2"
r1=$(sed -n 's/.*msgs_per_s=\([0-9]*\).*/\1/p' <<<"$off1")
r2=$(sed -n 's/.*msgs_per_s=\([0-9]*\).*/\1/p' <<<"$off2")
say "bench: spam_off ratio_check_false_to_none=$(python3 -c "print('%.2f' % ($r2 / $r1))")"

# spamd in the loop
for inflight in 1 $((CHILDREN * 2)); do
	conf "$(printf 'spam:\n  spamd: unix:%s\n  max_in_flight: %s\n  max_size: 1M' "$DIR/spamd.sock" "$inflight")"
	line=$(run spam_mqsift)
	say "${line/bench: spam_mqsift/bench: spam_mqsift max_in_flight=$inflight spamd_children=$CHILDREN}"
done
mq=$(sed -n 's/.*msgs_per_s=\([0-9]*\).*/\1/p' <<<"$line")

# the same messages, one by one with spamc
t0=$(date +%s%N)
for f in "$DIR"/eml/*.eml; do spamc -U "$DIR/spamd.sock" -c <"$f" >/dev/null; done
t1=$(date +%s%N)
python3 -c "
s = ($t1 - $t0) / 1e9
print('bench: spam_spamc one_by_one messages=$N msgs_per_s=%.0f total_s=%.2f mqsift_speedup=%.1f' % ($N / s, s, $mq / ($N / s)))"
