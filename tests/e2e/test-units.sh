#!/bin/bash
# test-units.sh - the systemd units: systemd-analyze security (offline, on the
# built unit files) rates mqsift.service 4.0 or better and each sendmail unit
# better than the 9.6 "UNSAFE" of a bare unit; the master alone gets SIGTERM
# (KillMode=mixed); a deliberate stop writes the off file, a crash does not
# (check_mqsift --stopped, as ExecStopPost runs it); start removes it.
# (issue #14.13, #14.14)
. "$(dirname "$0")/../tap.sh"
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR}
U=$TOP_BUILDDIR/etc/systemd
command -v systemd-analyze >/dev/null || bail_out "systemd-analyze is missing (apt-get install systemd)"
T=$(mktemp -d /tmp/mqsift-units.XXXXXX)
trap 'rm -rf "$T"' EXIT

# exposure UNIT - the overall figure systemd-analyze gives the unit file
exposure() {
	systemd-analyze security --offline=yes "$U/$1" 2>/dev/null |
		sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\) .*/\1/p'
}
at_most() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 <= b + 0) }'; }
for unit in mqsift.service:4.0 mqsift-sendmail-in.service:4.0 mqsift-sendmail-out.service:5.0; do
	name=${unit%%:*}
	max=${unit#*:}
	e=$(exposure "$name")
	diag "$name: exposure $e"
	ok_if "$name: systemd-analyze security $e <= $max" at_most "$e" "$max"
done
svc=$U/mqsift.service
ok_if "mqsift.service: KillMode=mixed (SIGTERM to the master only)" grep -q '^KillMode=mixed$' "$svc"
ok_if "mqsift.service: the capabilities the master needs, no more" \
	grep -qx 'CapabilityBoundingSet=CAP_SYS_ADMIN CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_KILL' "$svc"
ok_if "mqsift.service: the namespaces a worker enters are allowed" grep -qx 'RestrictNamespaces=mnt net ipc uts' "$svc"
ok_if "mqsift.service: ExecStopPost marks a deliberate stop" grep -q '^ExecStopPost=-.*/check_mqsift --stopped' "$svc"
ok_if "mqsift.service: ExecStartPre clears it" grep -q '^ExecStartPre=-.*/check_mqsift --started' "$svc"
ok_if "mqsift.service: reload checks the configuration first" grep -q '^ExecReload=.*mqsift config' "$svc"
ok_if "units name no build-time placeholder" bash -c "! grep -q '@[a-zA-Z_]*@' '$U'/*.service"

# what ExecStopPost does: SERVICE_RESULT is systemd's verdict on the end
printf 'daemon:\n  off_file: %s/off\n  pid_file: %s/pid\n' "$T" "$T" >"$T/conf.yaml"
CHECK=$TOP_BUILDDIR/check_mqsift
export MQSIFT MQSIFT_DEFAULTS=/nonexistent RUNDIR=$T/run OFFFILE=$T/default-off PIDFILE=$T/default-pid
SERVICE_RESULT=signal "$CHECK" --stopped -c "$T/conf.yaml"
ok_if "a crash (SERVICE_RESULT=signal) writes no off file" [ ! -e "$T/off" ]
SERVICE_RESULT=exit-code "$CHECK" --stopped -c "$T/conf.yaml"
ok_if "nor a failed exit" [ ! -e "$T/off" ]
SERVICE_RESULT=success "$CHECK" --stopped -c "$T/conf.yaml"
ok_if "systemctl stop (SERVICE_RESULT=success) writes it" [ -e "$T/off" ]
"$CHECK" --started -c "$T/conf.yaml"
ok_if "start removes it" [ ! -e "$T/off" ]
printf 'daemon:\n  off_file: %s/off\n  wokers: 1\n' "$T" >"$T/typo.yaml"
SERVICE_RESULT=success "$CHECK" --stopped -c "$T/typo.yaml"
ok_if "with a typo in the configuration: the default off file (here \$OFFFILE)" [ -e "$T/default-off" ]
done_testing
