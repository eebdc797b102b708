#!/bin/sh
# lint.sh - mqsift's style checks (curl's checksrc in spirit): a rule per
# paragraph, each with a message that says what to do.  Usage:
# scripts/lint.sh [SRCDIR]; exit 1 on any finding.  A justified exception is
# marked on its line (or the line above), visibly: /* lint: allow NAME */.
top=${1:-.}
cd "$top" || exit 2
status=0
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null)
[ -n "$files" ] || files=$(find queue config rules reports scanner tests -name '*.[ch]')
src=$(printf '%s\n' $files | grep -E '^(queue|config|rules|reports|scanner)/')

fail() {
	echo "lint: $*" >&2
	status=1
}

# Functions with a safer replacement (doc/design.md, "How the code reads")
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok|strncpy|tmpnam|mktemp)[[:space:]]*\('
if grep -nE "$banned" $files; then
	fail "banned function used (use g_strlcpy, g_strdup_printf, g_ascii_strtoull, ...)"
fi

# queue/ owns the queue files: nobody else opens, links, renames, unlinks or
# fsyncs a file (a scratch file, the pid file... says so with an escape)
calls='open|openat|rename|renameat|link|linkat|unlink|unlinkat|fsync|fdatasync|syncfs'
for f in $(printf '%s\n' $src | grep -v '^queue/'); do
	hits=$(grep -nE "(^|[^_.>[:alnum:]])($calls)[[:space:]]*\(" "$f" |
		grep -vE '^[0-9]+:[[:space:]]*(/?\*|//)')
	[ -n "$hits" ] || continue
	printf '%s\n' "$hits" | while IFS= read -r hit; do
		name=$(printf '%s' "$hit" | grep -oE "(^|[^_.>[:alnum:]])($calls)[[:space:]]*\(" |
			head -n1 | sed -E 's/^[^a-z]*//; s/[[:space:]]*\($//')
		n=${hit%%:*}
		sed -n "$((n > 1 ? n - 1 : 1)),${n}p" "$f" | grep -q "lint: allow $name" && continue
		echo "$f:$hit"
	done
done >"${TMPDIR:-/tmp}/mqsift-lint.$$"
if [ -s "${TMPDIR:-/tmp}/mqsift-lint.$$" ]; then
	cat "${TMPDIR:-/tmp}/mqsift-lint.$$"
	fail "open/link/rename/unlink/fsync outside queue/: use a queue/ call, or mark a file that is not a queue file with /* lint: allow NAME */ on the line or the one above"
fi
rm -f "${TMPDIR:-/tmp}/mqsift-lint.$$"

# Layers depend one way: queue/ <- config/ <- rules/ <- reports/ <- scanner/
layer_rank() {
	case $1 in queue) echo 1 ;; config) echo 2 ;; rules) echo 3 ;; reports) echo 4 ;; scanner) echo 5 ;; *) echo 0 ;; esac
}
for f in $src; do
	own=$(layer_rank "${f%%/*}")
	for inc in $(sed -n 's|^#include "\([a-z]*\)/.*|\1|p' "$f" | sort -u); do
		if [ "$(layer_rank "$inc")" -gt "$own" ]; then
			fail "$f includes a header of $inc/, a higher layer (queue <- config <- rules <- reports <- scanner)"
		fi
	done
done

# Each "/* name - purpose */" names the function under it
awk -f scripts/lint-names.awk $files || fail "a /* name - purpose */ comment names another function"

# An error domain reads "mqsift-<module>-error-quark": no formatter spaces
if grep -nE 'G_DEFINE_QUARK\([^,]* [^,]*,' $files; then
	fail "G_DEFINE_QUARK's first argument has spaces: fence it with /* clang-format off */"
fi

# Documents are in the repository (doc/), not beside it
if grep -n 'shared/''docs' $files scripts/*.sh README.md doc/*.md 2>/dev/null; then
	fail "a reference to a document outside the repository: point at doc/ instead"
fi

if command -v clang-format >/dev/null 2>&1; then
	for f in $files; do
		if ! clang-format --style=file "$f" | cmp -s - "$f"; then
			fail "$f is not formatted (clang-format -i $f)"
		fi
	done
else
	fail "clang-format not installed; format not checked"
fi
exit $status
