/*
 * mimecheck.c - parameter parsing of our own, names, ambiguity findings
 *
 * DESCRIPTION
 *	The parameter parser is deliberately lenient and bounded (at most
 *	MAX_PARAMS parameters a header, MAX_SECTIONS continuations a name): it
 *	must see what a careless reader would see, never stop at the first
 *	oddity the way a strict one does.
 */
#include "mqsift-build.h"

#include "scanner/mimecheck.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 128
#define MAX_SECTIONS 64
#define MAX_NAMES 64
#define MAX_NAME_BYTES 1024

/* Param - one parameter as written */
typedef struct {
	char *base;        /* lower case, without "*N" or "*" */
	int section;       /* N of "name*N", -1 when not a continuation */
	gboolean extended; /* "name*" or "name*N*": charset'lang'percent-encoded */
	char *value;       /* quotes removed, backslash escapes undone */
	guint order;       /* position in the header */
} Param;

/* mime_finding_free - free one finding */
void
mime_finding_free(gpointer p)
{
	MimeFinding *f = p;

	g_free(f->what);
	g_free(f);
}

/* mime_finding_add - append once */
void
mime_finding_add(GPtrArray *findings, gboolean hides, const char *fmt, ...)
{
	va_list ap;
	char *what;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	for (guint i = 0; i < findings->len; i++) {
		MimeFinding *f = g_ptr_array_index(findings, i);
		if (strcmp(f->what, what) == 0) {
			f->hides |= hides;
			g_free(what);
			return;
		}
	}
	MimeFinding *f = g_new0(MimeFinding, 1);
	f->what = what;
	f->hides = hides;
	g_ptr_array_add(findings, f);
}

/* param_free - GPtrArray free func */
static void
param_free(gpointer p)
{
	Param *pa = p;

	g_free(pa->base);
	g_free(pa->value);
	g_free(pa);
}

/* unfold - a raw header value on one line (CR and LF removed) */
static char *
unfold(const char *raw)
{
	GString *s = g_string_new(NULL);

	for (const char *p = raw; p && *p; p++)
		if (*p != '\r' && *p != '\n')
			g_string_append_c(s, *p);
	return g_string_free(s, FALSE);
}

/* parse_params - every "attr=value" after the first ';' of @raw */
static GPtrArray *
parse_params(const char *raw)
{
	GPtrArray *params = g_ptr_array_new_with_free_func(param_free);
	g_autofree char *line = unfold(raw);
	const char *p = line;
	gboolean in_quote = FALSE;

	/* the type: up to the first ';' outside quotes */
	for (; *p && (in_quote || *p != ';'); p++)
		if (*p == '"')
			in_quote = !in_quote;
	while (*p && params->len < MAX_PARAMS) {
		while (*p == ';' || g_ascii_isspace(*p))
			p++;
		const char *a = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		if (*p != '=')
			continue;
		g_autofree char *attr = g_strstrip(g_strndup(a, (gsize)(p - a)));
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		GString *v = g_string_new(NULL);
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				g_string_append_c(v, *p);
			}
			if (*p == '"')
				p++;
			while (*p && *p != ';') /* junk after the quotes: a reader may keep it */
				g_string_append_c(v, *p++);
		} else {
			while (*p && *p != ';')
				g_string_append_c(v, *p++);
			while (v->len > 0 && g_ascii_isspace(v->str[v->len - 1]))
				g_string_truncate(v, v->len - 1);
		}
		if (*attr == '\0') {
			g_string_free(v, TRUE);
			continue;
		}
		Param *pa = g_new0(Param, 1);
		char *star = strchr(attr, '*');
		pa->section = -1;
		if (star != NULL) {
			const char *n = star + 1;
			if (g_ascii_isdigit(*n)) {
				char *end;
				guint64 sec = g_ascii_strtoull(n, &end, 10);
				pa->section =
				    sec < MAX_SECTIONS * 16 ? (int)sec : MAX_SECTIONS * 16;
				pa->extended = *end == '*';
			} else {
				pa->extended = TRUE;
			}
			*star = '\0';
		}
		pa->base = g_ascii_strdown(g_strstrip(attr), -1);
		pa->value = g_string_free(v, FALSE);
		pa->order = params->len;
		g_ptr_array_add(params, pa);
	}
	return params;
}

/* to_utf8 - @len bytes in @charset as UTF-8 (Latin-1 when the charset is unknown) */
static char *
to_utf8(const char *bytes, gsize len, const char *charset)
{
	if (charset && *charset) {
		char *s = g_convert(bytes, (gssize)len, "UTF-8", charset, NULL, NULL, NULL);
		if (s != NULL)
			return s;
	}
	if (g_utf8_validate(bytes, (gssize)len, NULL))
		return g_strndup(bytes, len);
	return g_convert(bytes, (gssize)len, "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
}

/* percent_decode - RFC 2231 %XX, appended to @out */
static void
percent_decode(const char *s, GString *out)
{
	for (const char *p = s; *p; p++) {
		if (*p == '%' && g_ascii_isxdigit(p[1]) && g_ascii_isxdigit(p[2])) {
			g_string_append_c(out, (char)(g_ascii_xdigit_value(p[1]) * 16 +
			                              g_ascii_xdigit_value(p[2])));
			p += 2;
		} else {
			g_string_append_c(out, *p);
		}
	}
}

/* split_charset - "charset'lang'value": *@charset (newly allocated) and the value (borrowed) */
static const char *
split_charset(const char *v, char **charset)
{
	const char *q1 = strchr(v, '\'');
	const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;

	if (q2 == NULL) {
		*charset = NULL;
		return v;
	}
	*charset = g_strndup(v, (gsize)(q1 - v));
	return q2 + 1;
}

/* add_name - one candidate, and its RFC 2047 decoding, quotes stripped, each once */
static void
add_name(GPtrArray *names, const char *name)
{
	if (name == NULL || *name == '\0' || names->len >= MAX_NAMES)
		return;
	g_autofree char *cut = g_utf8_make_valid(name, (gssize)MIN(strlen(name), MAX_NAME_BYTES));
	const char *forms[4] = {cut, NULL, NULL, NULL};
	g_autofree char *decoded = g_mime_utils_header_decode_text(NULL, cut);
	forms[1] = decoded;
	g_autofree char *unquoted = NULL;
	gsize n = strlen(decoded);
	if (n >= 2 && (decoded[0] == '"' || decoded[0] == '\'') && decoded[n - 1] == decoded[0])
		unquoted = g_strndup(decoded + 1, n - 2);
	forms[2] = unquoted;
	for (int f = 0; f < 3; f++) {
		if (forms[f] == NULL || *forms[f] == '\0')
			continue;
		gboolean have = FALSE;
		for (guint i = 0; i < names->len && !have; i++)
			have = strcmp(g_ptr_array_index(names, i), forms[f]) == 0;
		if (!have && names->len < MAX_NAMES)
			g_ptr_array_add(names, g_strdup(forms[f]));
	}
}

/* cmp_section - sort continuations by their number, then by position */
static int
cmp_section(gconstpointer a, gconstpointer b)
{
	const Param *x = *(Param *const *)a, *y = *(Param *const *)b;

	if (x->section != y->section)
		return x->section < y->section ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* join_sections - the continuations in @secs, decoded, as one name */
static char *
join_sections(GPtrArray *secs, gboolean stop_at_gap)
{
	GString *bytes = g_string_new(NULL);
	g_autofree char *charset = NULL;

	for (guint i = 0; i < secs->len; i++) {
		const Param *pa = g_ptr_array_index(secs, i);
		if (stop_at_gap && pa->section != (int)i)
			break;
		const char *v = pa->value;
		if (pa->extended && i == 0 && charset == NULL)
			v = split_charset(v, &charset);
		if (pa->extended)
			percent_decode(v, bytes);
		else
			g_string_append(bytes, v);
	}
	char *s = to_utf8(bytes->str, bytes->len, charset);
	g_string_free(bytes, TRUE);
	return s;
}

/*
 * names_of - the names the parameter @base of the header value @raw gives:
 * appended to @names; the distinct readings to @primary (one per way of
 * writing it: plain, extended, continuations)
 */
static void
names_of(const char *raw, const char *base, GPtrArray *names, GPtrArray *primary)
{
	GPtrArray *params = parse_params(raw);
	GPtrArray *secs = g_ptr_array_new();

	for (guint i = 0; i < params->len; i++) {
		Param *pa = g_ptr_array_index(params, i);
		if (strcmp(pa->base, base) != 0)
			continue;
		if (pa->section >= 0) {
			if (secs->len < MAX_SECTIONS)
				g_ptr_array_add(secs, pa);
			continue;
		}
		char *name;
		if (pa->extended) {
			g_autofree char *charset = NULL;
			const char *v = split_charset(pa->value, &charset);
			GString *bytes = g_string_new(NULL);
			percent_decode(v, bytes);
			name = to_utf8(bytes->str, bytes->len, charset);
			g_string_free(bytes, TRUE);
		} else {
			name = g_mime_utils_header_decode_text(NULL, pa->value);
		}
		if (!pa->extended)
			add_name(names, pa->value);
		add_name(names, name);
		g_ptr_array_add(primary, name);
	}
	if (secs->len > 0) {
		/* in the order given (some readers), then by number (the RFC) and up to
		 * the first gap (others) */
		char *given = join_sections(secs, FALSE);
		add_name(names, given);
		g_free(given);
		g_ptr_array_sort(secs, cmp_section);
		char *sorted = join_sections(secs, FALSE);
		char *to_gap = join_sections(secs, TRUE);
		add_name(names, sorted);
		add_name(names, to_gap);
		g_free(to_gap);
		g_ptr_array_add(primary, sorted);
	}
	g_ptr_array_unref(secs);
	g_ptr_array_unref(params);
}

/* distinct - how many different strings @a holds */
static guint
distinct(GPtrArray *a)
{
	guint n = 0;

	for (guint i = 0; i < a->len; i++) {
		gboolean seen = FALSE;
		for (guint j = 0; j < i && !seen; j++)
			seen = g_strcmp0(g_ptr_array_index(a, i), g_ptr_array_index(a, j)) == 0;
		n += !seen;
	}
	return n;
}

/* same_names - TRUE if every reading in @a is also in @b (case-insensitive) */
static gboolean
same_names(GPtrArray *a, GPtrArray *b)
{
	for (guint i = 0; i < a->len; i++) {
		gboolean found = FALSE;
		g_autofree char *x = g_utf8_casefold(g_ptr_array_index(a, i), -1);
		for (guint j = 0; j < b->len && !found; j++) {
			g_autofree char *y = g_utf8_casefold(g_ptr_array_index(b, j), -1);
			found = strcmp(x, y) == 0;
		}
		if (!found)
			return FALSE;
	}
	return TRUE;
}

/* mime_part_names - see mimecheck.h */
void
mime_part_names(GMimeObject *obj, const char *path, GPtrArray *names, GPtrArray *findings)
{
	GMimeHeaderList *headers = g_mime_object_get_header_list(obj);
	int n = headers ? g_mime_header_list_get_count(headers) : 0;
	GPtrArray *by_type = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *by_disp = g_ptr_array_new_with_free_func(g_free);

	/* GMime's reading first: it is the name the texts show */
	if (GMIME_IS_PART(obj))
		add_name(names, g_mime_part_get_filename(GMIME_PART(obj)));
	for (int i = 0; i < n && i < 256; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(headers, i);
		const char *hname = g_mime_header_get_name(h);
		const char *raw = g_mime_header_get_raw_value(h);
		if (raw == NULL)
			continue;
		if (g_ascii_strcasecmp(hname, "Content-Type") == 0)
			names_of(raw, "name", names, by_type);
		else if (g_ascii_strcasecmp(hname, "Content-Disposition") == 0)
			names_of(raw, "filename", names, by_disp);
	}
	if (distinct(by_type) > 1)
		mime_finding_add(findings, TRUE, "conflicting name parameters (part %s)", path);
	if (distinct(by_disp) > 1)
		mime_finding_add(findings, TRUE, "conflicting filename parameters (part %s)", path);
	if (by_type->len > 0 && by_disp->len > 0 &&
	    !(same_names(by_type, by_disp) && same_names(by_disp, by_type)))
		mime_finding_add(findings, TRUE, "name and filename disagree (part %s)", path);
	g_ptr_array_unref(by_type);
	g_ptr_array_unref(by_disp);
}

/* is_known_encoding - a transfer encoding every reader decodes the same way */
static gboolean
is_known_encoding(const char *v)
{
	static const char *const known[] = {
	    "7bit",       "8bit",     "binary", "base64", "quoted-printable",
	    "x-uuencode", "uuencode", "x-uue",  NULL};

	for (int i = 0; known[i]; i++)
		if (g_ascii_strcasecmp(v, known[i]) == 0)
			return TRUE;
	return FALSE;
}

/* check_boundaries - a multipart's boundary given twice, or with white space around it */
static void
check_boundaries(const char *raw, const char *path, GPtrArray *findings, GPtrArray *all)
{
	GPtrArray *params = parse_params(raw);

	for (guint i = 0; i < params->len; i++) {
		Param *pa = g_ptr_array_index(params, i);
		if (strcmp(pa->base, "boundary") != 0)
			continue;
		if (pa->section >= 0 || pa->extended)
			mime_finding_add(findings, TRUE, "boundary in RFC 2231 form (part %s)",
			                 path);
		gsize len = strlen(pa->value);
		if (len > 0 &&
		    (g_ascii_isspace(pa->value[0]) || g_ascii_isspace(pa->value[len - 1])))
			mime_finding_add(findings, TRUE,
			                 "boundary with leading or trailing white space (part %s)",
			                 path);
		g_ptr_array_add(all, g_strdup(pa->value));
	}
	g_ptr_array_unref(params);
}

/* mime_check_headers - see mimecheck.h */
void
mime_check_headers(GMimeObject *obj, const char *path, GPtrArray *findings)
{
	static const char *const content_headers[] = {"Content-Type", "Content-Transfer-Encoding",
	                                              "Content-Disposition", NULL};
	GMimeHeaderList *headers = g_mime_object_get_header_list(obj);
	int n = headers ? g_mime_header_list_get_count(headers) : 0;
	GPtrArray *boundaries = g_ptr_array_new_with_free_func(g_free);

	for (int k = 0; content_headers[k]; k++) {
		GPtrArray *values = g_ptr_array_new_with_free_func(g_free);
		for (int i = 0; i < n && i < 256; i++) {
			GMimeHeader *h = g_mime_header_list_get_header_at(headers, i);
			const char *raw = g_mime_header_get_raw_value(h);
			if (raw == NULL ||
			    g_ascii_strcasecmp(g_mime_header_get_name(h), content_headers[k]) != 0)
				continue;
			g_ptr_array_add(values, g_strstrip(unfold(raw)));
			if (k == 0 && GMIME_IS_MULTIPART(obj))
				check_boundaries(raw, path, findings, boundaries);
			if (k == 1) {
				const char *v = g_ptr_array_index(values, values->len - 1);
				GMimeContentType *ct = g_mime_object_get_content_type(obj);
				gboolean text = ct && g_mime_content_type_is_type(ct, "text", "*");
				if (!is_known_encoding(v) && !text && GMIME_IS_PART(obj))
					mime_finding_add(
					    findings, TRUE,
					    "unknown transfer encoding on a non-text part "
					    "(part %s)",
					    path);
			}
		}
		if (distinct(values) > 1)
			mime_finding_add(findings, TRUE, "two different %s headers (part %s)",
			                 content_headers[k], path);
		g_ptr_array_unref(values);
	}
	if (distinct(boundaries) > 1)
		mime_finding_add(findings, TRUE, "two different boundary parameters (part %s)",
		                 path);
	g_ptr_array_unref(boundaries);
}

/* mime_check_encoding - see mimecheck.h */
void
mime_check_encoding(GMimePart *part, const char *path, GPtrArray *findings)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);

	if (w == NULL || g_mime_data_wrapper_get_encoding(w) != GMIME_CONTENT_ENCODING_BASE64)
		return;
	GMimeStream *s = g_mime_data_wrapper_get_stream(w);
	if (s == NULL)
		return;
	g_mime_stream_reset(s);
	char buf[4096];
	gboolean padded = FALSE, junk = FALSE, after_pad = FALSE;
	gssize r;
	while (!junk && !after_pad && (r = g_mime_stream_read(s, buf, sizeof buf)) > 0) {
		for (gssize i = 0; i < r; i++) {
			guchar c = (guchar)buf[i];
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
				continue;
			if (c == '=') {
				padded = TRUE;
				continue;
			}
			if (!(g_ascii_isalnum(c) || c == '+' || c == '/')) {
				junk = TRUE;
				break;
			}
			if (padded) {
				after_pad = TRUE;
				break;
			}
		}
	}
	g_mime_stream_reset(s);
	if (junk)
		mime_finding_add(findings, TRUE,
		                 "base64 with characters outside its alphabet (part %s)", path);
	if (after_pad)
		mime_finding_add(findings, TRUE, "base64 with data after the padding (part %s)",
		                 path);
}

/* mime_parser_warning - see mimecheck.h */
void
mime_parser_warning(GMimeParserWarning code, const char *item, GPtrArray *findings)
{
	g_autofree char *it =
	    g_utf8_make_valid(item ? item : "", MIN(strlen(item ? item : ""), 64));
	g_autofree char *lower = g_ascii_strdown(it, -1);

	switch (code) {
	case GMIME_CRIT_CONFLICTING_HEADER:
		/* From, Subject twice: a display question, not a hidden part */
		mime_finding_add(findings, g_str_has_prefix(lower, "content-"),
		                 "conflicting %s headers", it);
		break;
	case GMIME_CRIT_CONFLICTING_PARAMETER:
		mime_finding_add(findings, TRUE, "conflicting parameter %s", it);
		break;
	case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
		mime_finding_add(findings, TRUE, "multipart without a boundary");
		break;
	case GMIME_CRIT_NESTING_OVERFLOW:
		mime_finding_add(findings, TRUE, "MIME nesting too deep");
		break;
	case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
		mime_finding_add(findings, TRUE, "a part without headers or content");
		break;
	case GMIME_CRIT_INVALID_HEADER_NAME:
		mime_finding_add(findings, TRUE, "an invalid header name");
		break;
	case GMIME_WARN_PART_WITHOUT_CONTENT:
		mime_finding_add(findings, TRUE,
		                 "part headers ended by a boundary, not a blank line");
		break;
	case GMIME_WARN_MALFORMED_MULTIPART:
		mime_finding_add(findings, TRUE, "a multipart with no part in it");
		break;
	case GMIME_WARN_INVALID_CONTENT_TYPE:
		mime_finding_add(findings, FALSE, "an invalid content type");
		break;
	case GMIME_WARN_TRUNCATED_MESSAGE:
		mime_finding_add(findings, FALSE, "the message is truncated");
		break;
	case GMIME_WARN_MALFORMED_MESSAGE:
		mime_finding_add(findings, FALSE, "a malformed message");
		break;
	case GMIME_WARN_DUPLICATED_PARAMETER:
	case GMIME_WARN_INVALID_PARAMETER:
	case GMIME_WARN_DUPLICATED_HEADER:
	case GMIME_WARN_UNENCODED_8BIT_HEADER:
	case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE:
	case GMIME_WARN_INVALID_ADDRESS_LIST:
		break; /* seen in ordinary mail; mime_part_names reads every form anyway */
	}
}
