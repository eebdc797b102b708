# tap.sh - TAP output for mqsift's shell tests (sourced).
#   ok_if NAME COMMAND...   runs COMMAND; "ok N - NAME" or "not ok N - NAME"
#   check NAME CONDITION    same, for a test expression ([ ... ] or a function)
#   done_testing            prints the plan; exits 1 if anything failed
TAP_N=0
TAP_FAILED=0

ok_if() {
	local name=$1
	shift
	TAP_N=$((TAP_N + 1))
	if "$@" >&2; then
		echo "ok $TAP_N - $name"
	else
		echo "not ok $TAP_N - $name"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}

diag() {
	printf '# %s\n' "$*"
}

bail_out() {
	echo "Bail out! $*"
	exit 1
}

done_testing() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}
