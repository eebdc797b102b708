# lint-names.awk - scripts/lint.sh: each "/* name - purpose */" comment names the
# function defined or declared right under it (a list "a / b" names several).
function report(f, l, c, d) { printf "%s:%d: comment names %s, the function below is %s\n", f, l, c, d; bad = 1 }
FNR == 1 { state = 0 }
{
	line = $0
	if (state == 0) {
		if (match(line, /^\/\* [A-Za-z_][A-Za-z0-9_]*( \/ [A-Za-z_][A-Za-z0-9_]*)* - /)) {
			names = substr(line, 4, RLENGTH - 6); cline = FNR
			state = (line ~ /\*\/[[:space:]]*$/) ? 2 : 1
			next
		}
		if (line ~ /^\/\*[[:space:]]*$/) { state = 3; next }
		next
	}
	if (state == 3) {	# first line inside a block comment
		if (match(line, /^ \* [A-Za-z_][A-Za-z0-9_]*( \/ [A-Za-z_][A-Za-z0-9_]*)* - /)) {
			names = substr(line, 4, RLENGTH - 6); cline = FNR
			state = (line ~ /\*\/[[:space:]]*$/) ? 2 : 1
		} else state = 0
		next
	}
	if (state == 1) { if (line ~ /\*\//) state = 2; next }
	if (state == 2) {	# the declaration after the comment
		if (line ~ /^\/\* clang-format/ || line ~ /^G_GNUC_/) next
		if (match(line, /^G_DEFINE_QUARK\([^,]*, *[A-Za-z0-9_]+\)/)) {
			q = line; sub(/^[^,]*, */, "", q); sub(/\).*/, "", q)
			state = 0
			if (names != q "_quark") report(FILENAME, cline, names, q "_quark")
			next
		}
		if (line ~ /^(typedef|struct|enum|union|#|static const|const [a-z]+ [a-z_]+\[|[^(]*=)/ || line ~ /^[[:space:]]*$/ || line ~ /^[[:space:]]/) { state = 0; next }
		if (index(line, "(") == 0) { if (++skip > 1) { state = 0; skip = 0 } ; next }
		skip = 0; state = 0
		gsub(/G_GNUC_[A-Z_]+(\([^)]*\))?/, "", line)
		decl = substr(line, 1, index(line, "(") - 1)
		sub(/[[:space:]]+$/, "", decl)
		n = split(decl, w, /[^A-Za-z0-9_]+/)
		fn = w[n]
		if (fn == "") next
		k = split(names, list, / \/ /)
		ok = 0
		for (i = 1; i <= k; i++) if (list[i] == fn) ok = 1
		if (!ok) report(FILENAME, cline, names, fn)
	}
}
END { exit bad }
