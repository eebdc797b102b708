/*
 * untrusted.c - one place where strings from a message are made safe to show
 *
 * DESCRIPTION
 *	A string is walked one UTF-8 character at a time; each character is
 *	either copied or replaced by a piece (an escape, or '_' in a file
 *	name) that is never split when the result must be cut.  Nothing here
 *	allocates more than the output: the walk stops as soon as the output
 *	is full, so a huge input costs no more than its first @max bytes.
 */
#include "mqsift-build.h"

#include "rules/untrusted.h"

#include <string.h>

#define LINE_MAX_DEFAULT 998
#define FILENAME_MAX_DEFAULT 255
#define EXTENSION_MAX 16
#define ELLIPSIS "..."

/* is_control - C0, DEL and C1 */
static gboolean
is_control(gunichar c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

/* is_hidden - bidi controls, invisible format characters, separators and fillers */
static gboolean
is_hidden(gunichar c)
{
	/* named ones first: they must be caught whatever GLib's Unicode tables say */
	if (c == 0x00AD || c == 0x061C || (c >= 0x200B && c <= 0x200F) ||
	    (c >= 0x202A && c <= 0x202E) || (c >= 0x2060 && c <= 0x2064) ||
	    (c >= 0x2066 && c <= 0x2069) || c == 0xFEFF)
		return TRUE;
	/* line breaks for some readers, blanks that look like nothing for others */
	if (c == 0x2028 || c == 0x2029 || c == 0x034F || c == 0x115F || c == 0x1160 ||
	    c == 0x17B4 || c == 0x17B5 || (c >= 0x180B && c <= 0x180F) || c == 0x3164 ||
	    c == 0xFFA0)
		return TRUE;
	return g_unichar_type(c) == G_UNICODE_FORMAT;
}

/* next_char - the character at @p (before @end), its size in *@n; (gunichar)-1 if not UTF-8 */
static gunichar
next_char(const char *p, const char *end, gsize *n)
{
	gunichar c = g_utf8_get_char_validated(p, end - p);

	if (c == (gunichar)-1 || c == (gunichar)-2) {
		*n = 1;
		return (gunichar)-1;
	}
	*n = (gsize)(g_utf8_next_char(p) - p);
	return c;
}

/* escape - the walk behind untrusted_line (@line) and untrusted_text */
static char *
escape(const char *text, gssize len, gsize max, gboolean line, guint flags)
{
	if (text == NULL)
		return g_strdup("");
	gsize n = len < 0 ? strlen(text) : (gsize)len;
	const char *p = text, *end = text + n;
	gsize ell = max >= strlen(ELLIPSIS) ? strlen(ELLIPSIS) : 0;
	GString *out = g_string_sized_new(MIN(n, max) + 8);
	gsize keep = 0; /* the longest prefix that still leaves room for the ellipsis */
	gboolean cut = FALSE;

	while (p < end) {
		char piece[16];
		const char *src = piece;
		gsize plen, adv;
		gunichar c = next_char(p, end, &adv);

		if (c == (gunichar)-1) {
			plen = (gsize)g_snprintf(piece, sizeof piece, "\\x%02x", (guchar)*p);
		} else if (c == '\\' && line) {
			src = "\\\\";
			plen = 2;
		} else if ((flags & UNTRUSTED_KEEP_NEWLINES) &&
		           (c == '\n' || c == '\t' || (c == '\r' && p + 1 < end && p[1] == '\n'))) {
			src = p;
			plen = 1;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			plen = (gsize)g_snprintf(piece, sizeof piece, "\\%c",
			                         c == '\n'   ? 'n'
			                         : c == '\r' ? 'r'
			                                     : 't');
		} else if (is_control(c)) {
			plen = (gsize)g_snprintf(piece, sizeof piece, "\\x%02x", (guint)c);
		} else if (is_hidden(c)) {
			plen = (gsize)g_snprintf(piece, sizeof piece, "<U+%04X>", (guint)c);
		} else {
			src = p;
			plen = adv;
		}
		if (out->len + plen > max) {
			cut = TRUE;
			break;
		}
		g_string_append_len(out, src, (gssize)plen);
		if (out->len + ell <= max)
			keep = out->len;
		p += adv;
	}
	if (cut) {
		g_string_truncate(out, keep);
		if (ell)
			g_string_append(out, ELLIPSIS);
	}
	return g_string_free(out, FALSE);
}

/* untrusted_line - one safe line */
char *
untrusted_line(const char *text, gssize len, gsize max)
{
	return escape(text, len, max ? max : LINE_MAX_DEFAULT, TRUE, 0);
}

/* untrusted_text - safe again, without escaping twice */
char *
untrusted_text(const char *text, gssize len, gsize max, guint flags)
{
	return escape(text, len, max ? max : G_MAXSIZE, FALSE, flags);
}

/* utf8_cut - the largest character boundary of valid UTF-8 @s that is <= @limit */
static gsize
utf8_cut(const char *s, gsize len, gsize limit)
{
	if (limit >= len)
		return len;
	while (limit > 0 && ((guchar)s[limit] & 0xC0) == 0x80)
		limit--;
	return limit;
}

/* is_space_at - a space (ASCII or Unicode Zs) starts at @p */
static gboolean
is_space_at(const char *p)
{
	return *p == ' ' || g_unichar_type(g_utf8_get_char(p)) == G_UNICODE_SPACE_SEPARATOR;
}

/* mark_end_spaces - leading (and, if @trailing, trailing) spaces of @s each become '_' */
static void
mark_end_spaces(GString *s, gboolean trailing)
{
	GString *t = g_string_sized_new(s->len);
	const char *end = s->str + s->len;
	const char *last = s->str; /* where the trailing spaces start */

	for (const char *q = s->str; q < end; q = g_utf8_next_char(q))
		if (!is_space_at(q))
			last = g_utf8_next_char(q);
	if (!trailing)
		last = end;
	gboolean leading = TRUE;
	for (const char *q = s->str; q < end; q = g_utf8_next_char(q)) {
		gboolean space = is_space_at(q);
		if (!space)
			leading = FALSE;
		if (space && (leading || q >= last))
			g_string_append_c(t, '_');
		else
			g_string_append_len(t, q, g_utf8_next_char(q) - q);
	}
	g_string_assign(s, t->str);
	g_string_free(t, TRUE);
}

/* name_part - @p..@end with every unsafe character as '_', stopping past @bound bytes */
static GString *
name_part(const char *p, const char *end, gsize bound)
{
	GString *s = g_string_sized_new(MIN((gsize)(end - p), bound) + 8);

	while (p < end && s->len <= bound) {
		gsize adv;
		gunichar c = next_char(p, end, &adv);

		if (c == (gunichar)-1 || is_control(c) || is_hidden(c) || c == '/' || c == '\\' ||
		    c == '"')
			g_string_append_c(s, '_');
		else
			g_string_append_len(s, p, (gssize)adv);
		p += adv;
	}
	return s;
}

/* untrusted_filename - a name to show and to put in a MIME parameter */
char *
untrusted_filename(const char *name, gsize max)
{
	if (name == NULL)
		return g_strdup("");
	if (max == 0)
		max = FILENAME_MAX_DEFAULT;
	gsize n = strlen(name);
	GString *s = name_part(name, name + n, max); /* stops once longer than @max */

	if (s->len <= max) {
		if (s->len > 0 && strspn(s->str, ".") == s->len)
			memset(s->str, '_', s->len); /* "." and "..": never a path */
		mark_end_spaces(s, TRUE);
		return g_string_free(s, FALSE);
	}
	/* too long: cut the stem but keep the extension, "very-long-na....exe" */
	mark_end_spaces(s, FALSE);
	const char *dot = strrchr(name, '.');
	GString *ext = NULL;
	if (dot != NULL && dot != name && strlen(dot) <= EXTENSION_MAX)
		ext = name_part(dot, name + n, EXTENSION_MAX);
	gsize ell = strlen(ELLIPSIS), elen = ext ? ext->len : 0;
	if (max < ell + elen + 1) {
		elen = 0;
		if (max < ell + 1)
			ell = 0;
	}
	gsize stem = utf8_cut(s->str, s->len, max - ell - elen);
	g_string_truncate(s, stem);
	g_string_append_len(s, ELLIPSIS, (gssize)ell);
	if (ext != NULL)
		g_string_append_len(s, ext->str, (gssize)elen);
	if (ext != NULL)
		g_string_free(ext, TRUE);
	return g_string_free(s, FALSE);
}

/* untrusted_has_hidden - anything untrusted_line would escape (backslash excepted) */
gboolean
untrusted_has_hidden(const char *utf8)
{
	if (utf8 == NULL)
		return FALSE;
	const char *p = utf8, *end = utf8 + strlen(utf8);

	while (p < end) {
		gsize adv;
		gunichar c = next_char(p, end, &adv);

		if (c == (gunichar)-1 || is_control(c) || is_hidden(c))
			return TRUE;
		p += adv;
	}
	return FALSE;
}
