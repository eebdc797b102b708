# lib.sh - what the evasion tests share: paths, TAP, and a scan configuration
# with the test signatures in a private temporary directory.
#
# evasion_setup NAME - sets T (a temporary directory, removed on exit unless
# EVASION_KEEP is set) and writes $T/mqsift.yaml.
here=$(cd "$(dirname "$0")" && pwd)
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$here/../.." && pwd)}
MQSIFT=${MQSIFT:-${TOP_BUILDDIR:-$TOP_SRCDIR}/mqsift}
. "$TOP_SRCDIR/tests/tap.sh"

evasion_setup() {
	T=$(mktemp -d "/tmp/mqsift-$1.XXXXXX")
	if [ -n "${EVASION_KEEP:-}" ]; then
		trap 'echo "kept $T" >&2' EXIT
	else
		trap 'rm -rf "$T"' EXIT
	fi
	mkdir -p "$T/tmp"
	cat >"$T/mqsift.yaml" <<-YAML
	scanner:
	  signatures: $TOP_SRCDIR/tests/signatures
	  tmpdir: $T/tmp
	reports:
	  templates: $TOP_SRCDIR/reports/templates
	YAML
}
