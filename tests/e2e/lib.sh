# lib.sh - shared helpers for mqsift's end-to-end tests and demo.
#
# A test script sources this file and calls relay_enter "$@" first: it re-runs
# the script inside private mount, UTS and network namespaces (so nothing here
# can touch the host's mail system or reach any network), with a hosts file
# that makes the private host name "mx.test.local" resolve without DNS.
# Then relay_start starts the real inbound sendmail (queue-only, noetrn) on
# 127.0.0.1:2525 and an SMTP sink on 127.0.0.2:2526; relay_deliver runs the
# real outbound sendmail over the outgoing queue.  relay_stop (run on EXIT)
# stops everything that was started.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$E2E_DIR/../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR}
MQSIFT=${MQSIFT:-$TOP_BUILDDIR/mqsift}
SENDMAIL=${SENDMAIL:-/usr/sbin/sendmail}

# relay_enter ARGS - re-execute the calling script in private namespaces.
relay_enter() {
	if [ -z "$MQSIFT_IN_NS" ]; then
		export MQSIFT_IN_NS=1
		exec unshare -m -u -n -f --kill-child bash "$0" "$@"
	fi
	mount --make-rprivate / 2>/dev/null || true
	RELAY=$(mktemp -d /tmp/mqsift-e2e.XXXXXX)
	chmod 755 "$RELAY"
	printf '127.0.0.1\tmx.test.local mx localhost\n127.0.0.2\tsink.test.local sink\n::1\tlocalhost\n' >"$RELAY/hosts"
	mount --bind "$RELAY/hosts" /etc/hosts
	hostname mx.test.local
	ip link set lo up
	trap relay_stop EXIT
}

# relay_start - configure, start the sink and the inbound sendmail.
relay_start() {
	relay_prepare || return 1
	"$SENDMAIL" -C "$RELAY/relay.cf" -bd -ODeliveryMode=queueonly \
		-OPrivacyOptions=noetrn -OQueueDirectory="$RELAY/in" \
		-ODaemonPortOptions=Port=2525,Addr=127.0.0.1,Name=MTA-in \
		-OPidFile="$RELAY/in.pid" -L sm-mta-in
	relay_wait_port 127.0.0.1 2525 || { echo "inbound sendmail did not start" >&2; return 1; }
}

# relay_prepare - the queues, the sendmail configuration, mqsift's, and the sink.
relay_prepare() {
	mkdir -p "$RELAY/in" "$RELAY/out" "$RELAY/sink" "$RELAY/etc" "$RELAY/quarantine" "$RELAY/db"
	chmod 0700 "$RELAY/in" "$RELAY/out" "$RELAY/quarantine" "$RELAY/db"
	m4 "$E2E_DIR/relay.mc" >"$RELAY/relay.cf" 2>/dev/null
	python3 "$E2E_DIR/sink.py" --dir "$RELAY/sink" --lifetime 900 \
		--pidfile "$RELAY/sink.pid" 2>"$RELAY/sink.log" &
	relay_wait_port 127.0.0.2 2526 || { echo "sink did not start" >&2; return 1; }
	cat >"$RELAY/etc/mqsift.yaml" <<-YAML
	queue:
	  kick_delivery: false
	  incoming: $RELAY/in
	  outgoing: $RELAY/out
	scanner:
	  signatures: ${MQSIFT_SIGNATURES:-$TOP_SRCDIR/tests/signatures}
	  user: ${MQSIFT_USER:-nobody}
	  workers: 2
	notify:
	  postmaster: postmaster@example.com
	daemon:
	  pid_file: $RELAY/run/mqsift.pid
	  status_socket: $RELAY/run/status.sock
	  off_file: $RELAY/mqsift.off
	quarantine:
	  dir: $RELAY/quarantine
	reports:
	  database: $RELAY/db/mqsift.db
	  templates: $TOP_SRCDIR/reports/templates
	YAML
}

# relay_wait_port ADDR PORT - wait (at most 10 s) until something listens.
relay_wait_port() {
	local i
	for i in $(seq 1 100); do
		python3 - "$1" "$2" 2>/dev/null <<-'PY' && return 0
		import socket, sys
		socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.5).close()
		PY
		sleep 0.1
	done
	return 1
}

# wait_for SECONDS COMMAND... - run COMMAND every 0.1 s until it succeeds (bounded)
wait_for() {
	local n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# relay_deliver - one run of the real outbound sendmail over the outgoing queue.
relay_deliver() {
	timeout 120 "$SENDMAIL" -C "$RELAY/relay.cf" -OQueueDirectory="$RELAY/out" -qf "$@"
}

# relay_wait_inbound N - wait (at most 20 s) until N complete messages are
# queued and the inbound sendmail holds none of them locked any more (a pass
# leaves a locked message for the next one, as it should: a test that runs
# one pass must not start it while sendmail still finishes a message).
relay_wait_inbound() {
	local i n f busy
	for i in $(seq 1 200); do
		n=0 busy=0
		for f in $(find "$RELAY/in" -name 'qf*' -size +0); do
			n=$((n + 1))
			flock -n "$f" true 2>/dev/null || busy=$((busy + 1))
		done
		[ "$n" -ge "$1" ] && [ "$busy" = 0 ] && return 0
		sleep 0.1
	done
	echo "relay_wait_inbound: $n queued ($busy locked), $1 wanted" >&2
	return 1
}

# spamd_start - the real Debian spamd on $RELAY/spamd.sock and 127.0.0.1:7830,
# network tests off (-L), no Bayes, no auto-learning, no user configs; waits
# (at most 60 s) until it answers PING.  spamd_stop stops it.
spamd_start() {
	local site=$RELAY/spamd-site
	mkdir -p "$site" "$RELAY/spamd-home"
	cp /etc/spamassassin/*.pre "$site/" 2>/dev/null
	printf 'use_bayes 0\nbayes_auto_learn 0\nskip_rbl_checks 1\nuse_razor2 0\nuse_pyzor 0\n' >"$site/local.cf"
	chmod 755 "$RELAY/spamd-home"
	rm -f "$RELAY/spamd.sock"
	spamd -L -x -u nobody --siteconfigpath="$site" --helper-home-dir="$RELAY/spamd-home" \
		--listen="$RELAY/spamd.sock" --socketmode=0666 --listen=127.0.0.1:7830 \
		-m "${SPAMD_CHILDREN:-2}" \
		--min-children=1 --min-spare=1 --max-spare="${SPAMD_CHILDREN:-2}" \
		-s "$RELAY/spamd.log" -r "$RELAY/spamd.pid" -d 2>>"$RELAY/spamd.log" || return 1
	local i up=no
	for i in $(seq 1 600); do
		[ -S "$RELAY/spamd.sock" ] && printf 'PING SPAMC/1.5\r\n\r\n' |
			timeout 2 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read()); sys.exit(0 if b"PONG" in s.recv(100) else 1)' "$RELAY/spamd.sock" 2>/dev/null && up=yes && break
		sleep 0.1
	done
	[ "$up" = yes ] || return 1
	# one CHECK per child before the test's own, all at once so that each
	# child takes one, and waited for (their answers are not checked: the
	# tests check theirs): a child's first scan loads what the rules need,
	# which on a loaded machine (the sanitizer build) can outlast a check's
	# timeout
	timeout 90 python3 -c '
import socket, sys
m = b"Subject: warm-up\r\n\r\nwarm-up\r\n"
conns = []
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX); s.settimeout(90); s.connect(sys.argv[1])
    s.sendall(b"CHECK SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(m) + m)
    s.shutdown(socket.SHUT_WR)
    conns.append(s)
for s in conns:
    while s.recv(4096):
        pass' "$RELAY/spamd.sock" "${SPAMD_CHILDREN:-2}" 2>/dev/null
	return 0
}

# spamd_stop - stop spamd and its children (by their ids) if it runs; waits
# (at most 20 s) until all are gone, so that a new spamd can take the sockets
spamd_stop() {
	[ -s "$RELAY/spamd.pid" ] || return 0
	local pid kids p n
	pid=$(head -n1 "$RELAY/spamd.pid")
	kids=$(ps -o pid= --ppid "$pid" 2>/dev/null)
	kill "$pid" $kids 2>/dev/null
	for n in $(seq 1 200); do
		for p in $pid $kids; do kill -0 "$p" 2>/dev/null && break; p=; done
		[ -z "$p" ] && break
		sleep 0.1
	done
	rm -f "$RELAY/spamd.pid"
}

# dnsbl_start PORT ZONE LISTED-IP... - the real dnsmasq on 127.0.0.1:PORT answering
# for ZONE only: each LISTED-IP (and the test entry 127.0.0.2) -> 127.0.0.2,
# anything else in ZONE NXDOMAIN; no upstream, no hosts file.  dnsbl_stop PORT.
dnsbl_start() {
	local port=$1 zone=$2 ip rev args=()
	shift 2
	for ip in 127.0.0.2 "$@"; do
		rev=$(echo "$ip" | awk -F. '{print $4"."$3"."$2"."$1}')
		args+=("--host-record=$rev.$zone,127.0.0.2")
	done
	dnsmasq --port="$port" --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
		--no-hosts --no-poll --local="/$zone/" --user=root --group=root \
		--pid-file="$RELAY/dnsmasq-$port.pid" --log-facility="$RELAY/dnsmasq-$port.log" \
		"${args[@]}" || return 1
	local i
	for i in $(seq 1 50); do [ -s "$RELAY/dnsmasq-$port.pid" ] && return 0; sleep 0.1; done
	return 1
}

dnsbl_stop() {
	[ -s "$RELAY/dnsmasq-$1.pid" ] && kill "$(head -n1 "$RELAY/dnsmasq-$1.pid")" 2>/dev/null
	rm -f "$RELAY/dnsmasq-$1.pid"
}

# relay_stop - stop everything relay_start started (EXIT trap).
relay_stop() {
	local pid
	spamd_stop
	for f in "$RELAY"/dnsmasq-*.pid "$RELAY/silent-dns.pid"; do
		[ -s "$f" ] && kill "$(head -n1 "$f")" 2>/dev/null
	done
	for f in "$RELAY/in.pid" "$RELAY/sink.pid"; do
		[ -s "$f" ] || continue
		pid=$(head -n1 "$f")
		kill "$pid" 2>/dev/null
	done
	sleep 0.2
	if [ -z "$MQSIFT_KEEP" ]; then
		umount /etc/hosts 2>/dev/null
		rm -rf "$RELAY"
	else
		echo "kept $RELAY" >&2
	fi
}

# send_mail FROM TO[,TO...] FILE [SOURCE-IP] - send FILE over SMTP to the inbound
# sendmail (from SOURCE-IP, an address on lo, when given).
send_mail() {
	python3 "$E2E_DIR/smtpsend.py" --from "$1" --to "$2" ${4:+--source "$4"} "$3"
}
