#!/bin/sh
# lint.sh - mqsift's style checks: clang-format in check mode, banned functions.
# Usage: scripts/lint.sh [SRCDIR]; exit 1 on any finding.
top=${1:-.}
cd "$top" || exit 2
status=0
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null)
[ -n "$files" ] || files=$(find queue rules reports scanner tests -name '*.[ch]')

# Functions with a safer replacement (see doc/style in shared/docs/style.md)
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok|strncpy|tmpnam|mktemp)[[:space:]]*\('
if grep -nE "$banned" $files; then
	echo "lint: banned function used (use g_strlcpy, g_strdup_printf, g_ascii_strtoull, ...)" >&2
	status=1
fi

if command -v clang-format >/dev/null 2>&1; then
	for f in $files; do
		if ! clang-format --style=file "$f" | cmp -s - "$f"; then
			echo "lint: $f is not formatted (clang-format -i $f)" >&2
			status=1
		fi
	done
else
	echo "lint: clang-format not installed; format not checked" >&2
	status=1
fi
exit $status
