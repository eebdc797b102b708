#!/bin/bash
# bootstrap.sh - set up, build, and either demo or test mqsift.
#
#   ./bootstrap.sh demo     install what is missing, build, run a throwaway relay
#                           (inbound sendmail, mqsift, outbound sendmail, a sink)
#                           on loopback in private namespaces, send sample mail,
#                           show what happened to each message, stop everything.
#   ./bootstrap.sh check    install what is missing, build with -Werror, run the
#                           whole test suite; the last line is "N passed, N failed".
#   ./bootstrap.sh build    install and build only.
#   Options: --sanitize (build with ASan+UBSan), --no-install (skip apt-get).
# Works on a fresh Debian 12 as root, and again where it already ran.
set -u
cd "$(dirname "$0")" || exit 2
TOP=$(pwd)

PACKAGES="build-essential autoconf automake pkg-config libglib2.0-dev libgmime-3.0-dev
	libclamav-dev libsqlite3-dev libyaml-dev libmagic-dev libseccomp-dev sendmail-bin sendmail-cf m4
	clamav-testfiles python3 iproute2 util-linux sqlite3 clang-format chromium
	systemd sysvinit-utils libc-ares-dev spamd spamc spamassassin dnsmasq-base"

mode=${1:-}
shift || true
sanitize=no
install=yes
for a in "$@"; do
	case $a in
	--sanitize) sanitize=yes ;;
	--no-install) install=no ;;
	*) echo "bootstrap.sh: unknown option $a" >&2; exit 2 ;;
	esac
done

say() { printf '==> %s\n' "$*" >&2; }

install_packages() {
	[ "$install" = yes ] || return 0
	local missing=""
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "bootstrap.sh: missing packages:$missing (run as root, or install them)" >&2
		exit 2
	fi
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# never let a package start a real mail daemon on this machine during install
	local had_policy=no
	[ -e /usr/sbin/policy-rc.d ] && had_policy=yes
	if [ "$had_policy" = no ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
	fi
	apt-get update -qq >/dev/null 2>&1 || apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/tmp/mqsift-apt.log 2>&1
	local rc=$?
	[ "$had_policy" = no ] && rm -f /usr/sbin/policy-rc.d
	if [ $rc != 0 ]; then
		tail -n 20 /tmp/mqsift-apt.log >&2
		echo "bootstrap.sh: apt-get install failed" >&2
		exit 2
	fi
}

build() {
	local flags="--enable-werror"
	[ "$sanitize" = yes ] && flags="$flags --enable-sanitizers"
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
		say "autoreconf"
		autoreconf -fi >/tmp/mqsift-autoreconf.log 2>&1 || {
			cat /tmp/mqsift-autoreconf.log >&2
			exit 2
		}
	fi
	if [ ! -f Makefile ] || [ "$(cat .bootstrap-flags 2>/dev/null)" != "$flags" ] ||
		[ configure -nt Makefile ]; then
		say "configure $flags"
		./configure $flags >/tmp/mqsift-configure.log 2>&1 || {
			tail -n 30 /tmp/mqsift-configure.log >&2
			exit 2
		}
		echo "$flags" >.bootstrap-flags
	fi
	say "make"
	make -j"$(nproc)" >/tmp/mqsift-make.log 2>&1 || {
		grep -E 'error|warning' /tmp/mqsift-make.log | head -n 40 >&2
		tail -n 20 /tmp/mqsift-make.log >&2
		exit 2
	}
}

check() {
	say "make check"
	# MQSIFT_CHECK_JOBS: parallel tests (CI runs the sanitizer build one test
	# at a time: its workers, spamd and sendmails are heavy on two cores)
	make -j"${MQSIFT_CHECK_JOBS:-$(nproc)}" check >/tmp/mqsift-check.log 2>&1
	local rc=$?
	grep -E '^(PASS|FAIL|XPASS|ERROR|SKIP|XFAIL):' /tmp/mqsift-check.log
	if [ $rc != 0 ]; then
		for log in $(find tests -name '*.log' ! -name 'test-suite.log'); do
			grep -qE '^(not ok|Bail out)' "$log" 2>/dev/null && {
				echo "---- $log" >&2
				tail -n 40 "$log" >&2
			}
		done
	fi
	local pass fail skip
	pass=$(sed -n 's/^# PASS: *//p' test-suite.log 2>/dev/null | tail -n1)
	fail=$(sed -n 's/^# FAIL: *//p' test-suite.log 2>/dev/null | tail -n1)
	local err
	err=$(sed -n 's/^# ERROR: *//p' test-suite.log 2>/dev/null | tail -n1)
	skip=$(sed -n 's/^# SKIP: *//p' test-suite.log 2>/dev/null | tail -n1)
	pass=${pass:-0}
	fail=$((${fail:-0} + ${err:-0}))
	[ $rc != 0 ] && [ "$fail" = 0 ] && fail=1
	echo "${pass} passed, ${fail} failed, ${skip:-0} skipped"
	return $rc
}

case $mode in
demo)
	install_packages
	build
	exec bash "$TOP/tests/e2e/demo.sh"
	;;
check)
	install_packages
	build
	check
	;;
build)
	install_packages
	build
	;;
*)
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
