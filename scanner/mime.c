/*
 * mime.c - parameter parsing of our own, names, ambiguity findings
 *
 * DESCRIPTION
 *	The parameter parser is deliberately lenient and bounded (at most
 *	MAX_PARAMS parameters a header, MAX_SECTIONS continuations a name): it
 *	must see what a careless reader would see, never stop at the first
 *	oddity the way a strict one does.
 */
#include "mqsift-build.h"

#include "scanner/mime.h"

#include "rules/untrusted.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 128
#define MAX_SECTIONS 64
#define MAX_NAMES 64
#define MAX_NAME_BYTES 8192 /* a longer name is checked by its start and its end */
#define MAX_HEADERS 4096    /* headers read in one part; more is itself a finding */

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
	g_autofree char *raw = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	what = untrusted_line(raw, -1, 400); /* it quotes header values: logs, headers, store */
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
		if (*p != '=') {
			/* "filename=x;.exe": some readers take the rest of the line */
			Param *prev =
			    params->len > 0 ? g_ptr_array_index(params, params->len - 1) : NULL;
			g_autofree char *junk = g_strstrip(g_strndup(a, (gsize)(p - a)));
			if (prev != NULL && *junk != '\0' && params->len < MAX_PARAMS) {
				Param *alt = g_new0(Param, 1);
				alt->base = g_strdup(prev->base);
				alt->section = prev->section;
				alt->extended = prev->extended;
				alt->value = g_strconcat(prev->value, ";", junk, NULL);
				alt->order = params->len;
				g_ptr_array_add(params, alt);
			}
			continue;
		}
		g_autofree char *attr = g_strstrip(g_strndup(a, (gsize)(p - a)));
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		GString *v = g_string_new(NULL);
		gboolean quoted = *p == '"';
		if (quoted) {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				g_string_append_c(v, *p);
			}
			if (*p == '"')
				p++;
			/* junk after the quotes: a careless reader keeps it */
			GString *junk = g_string_new(NULL);
			while (*p && *p != ';')
				g_string_append_c(junk, *p++);
			g_strstrip(junk->str);
			g_string_append(v, junk->str);
			g_string_free(junk, TRUE);
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
		/* "filename=x.exe copy": some readers stop at the space */
		char *space = quoted ? NULL : strpbrk(v->str, " \t");
		g_autofree char *to_space =
		    space ? g_strndup(v->str, (gsize)(space - v->str)) : NULL;
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
		if (to_space != NULL && *to_space != '\0' && params->len < MAX_PARAMS) {
			Param *alt = g_new0(Param, 1);
			alt->base = g_strdup(pa->base);
			alt->section = pa->section;
			alt->extended = pa->extended;
			alt->value = g_steal_pointer(&to_space);
			alt->order = params->len;
			g_ptr_array_add(params, alt);
		}
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

/* add_one - @name once */
static void
add_one(GPtrArray *names, const char *name)
{
	if (name == NULL || *name == '\0' || names->len >= MAX_NAMES)
		return;
	for (guint i = 0; i < names->len; i++)
		if (strcmp(g_ptr_array_index(names, i), name) == 0)
			return;
	g_ptr_array_add(names, g_strdup(name));
}

/*
 * add_readings - what careless readers make of a plain name: percent escapes
 * decoded (a %00 cuts the name, or is dropped), the last path component
 * (C:\dir\x.exe\), the part before an NTFS stream ("x.exe::$DATA")
 */
static void
add_readings(GPtrArray *names, const char *name)
{
	if (strchr(name, '%') != NULL) {
		GString *dec = g_string_new(NULL);
		percent_decode(name, dec);
		g_autofree char *cut = g_utf8_make_valid(dec->str, (gssize)strlen(dec->str));
		add_one(names, cut);
		GString *nonul = g_string_new(NULL);
		for (gsize i = 0; i < dec->len; i++)
			if (dec->str[i] != '\0')
				g_string_append_c(nonul, dec->str[i]);
		g_autofree char *joined = g_utf8_make_valid(nonul->str, (gssize)nonul->len);
		add_one(names, joined);
		g_string_free(nonul, TRUE);
		g_string_free(dec, TRUE);
	}
	g_autofree char *trimmed = g_strdup(name);
	gsize n = strlen(trimmed);
	while (n > 0 && (trimmed[n - 1] == '\\' || trimmed[n - 1] == '/'))
		trimmed[--n] = '\0';
	const char *base = trimmed;
	for (const char *p = trimmed; *p; p++)
		if (*p == '\\' || *p == '/')
			base = p + 1;
	add_one(names, base);
	const char *colon = strchr(base, ':');
	if (colon != NULL && colon > base) {
		g_autofree char *before = g_strndup(base, (gsize)(colon - base));
		add_one(names, before);
	}
}

/* add_name - one candidate, its RFC 2047 decoding, quotes stripped, and their readings */
static void
add_name(GPtrArray *names, const char *name)
{
	if (name == NULL || *name == '\0' || names->len >= MAX_NAMES)
		return;
	gsize full = strlen(name);
	g_autofree char *cut = g_utf8_make_valid(name, (gssize)MIN(full, MAX_NAME_BYTES));
	if (full > MAX_NAME_BYTES) {
		/* the end holds the extension that matters */
		g_autofree char *tail = g_utf8_make_valid(name + full - 256, 256);
		add_one(names, tail);
	}
	g_autofree char *decoded = g_mime_utils_header_decode_text(NULL, cut);
	g_autofree char *unquoted = NULL;
	gsize n = strlen(decoded);
	if (n >= 2 && (decoded[0] == '"' || decoded[0] == '\'') && decoded[n - 1] == decoded[0])
		unquoted = g_strndup(decoded + 1, n - 2);
	const char *forms[3] = {cut, decoded, unquoted};
	for (int f = 0; f < 3; f++) {
		if (forms[f] == NULL || *forms[f] == '\0')
			continue;
		add_one(names, forms[f]);
		add_readings(names, forms[f]);
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
			if (strlen(bytes->str) < bytes->len) {
				/* %00: a C reader stops there, another drops it */
				GString *nonul = g_string_new(NULL);
				for (gsize k = 0; k < bytes->len; k++)
					if (bytes->str[k] != '\0')
						g_string_append_c(nonul, bytes->str[k]);
				g_autofree char *joined = to_utf8(nonul->str, nonul->len, charset);
				add_name(names, joined);
				g_string_free(nonul, TRUE);
			}
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

/* mime_part_names - see mime.h */
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
	for (int i = 0; i < n && i < MAX_HEADERS; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(headers, i);
		const char *hname = g_mime_header_get_name(h);
		const char *raw = g_mime_header_get_raw_value(h);
		if (raw == NULL)
			continue;
		if (g_ascii_strcasecmp(hname, "Content-Type") == 0) {
			names_of(raw, "name", names, by_type);
		} else if (g_ascii_strcasecmp(hname, "Content-Disposition") == 0) {
			names_of(raw, "filename", names, by_disp);
		} else if (g_ascii_strcasecmp(hname, "Content-Name") == 0 ||
		           g_ascii_strcasecmp(hname, "X-Sun-Data-Name") == 0) {
			/* Thunderbird names a part by these when it has no parameter */
			g_autofree char *v = g_strstrip(unfold(raw));
			add_name(names, v);
		}
	}
	if (n > MAX_HEADERS)
		mime_finding_add(findings, TRUE, "more than %d headers in part %s", MAX_HEADERS,
		                 path);
	/* every reading goes through the policy, so a disagreement hides no name:
	 * worth a note (RISC OS and old Macs legitimately send "x,69c" and "x") */
	if (distinct(by_type) > 1)
		mime_finding_add(findings, FALSE, "conflicting name parameters (part %s)", path);
	if (distinct(by_disp) > 1)
		mime_finding_add(findings, FALSE, "conflicting filename parameters (part %s)",
		                 path);
	if (by_type->len > 0 && by_disp->len > 0 &&
	    !(same_names(by_type, by_disp) && same_names(by_disp, by_type)))
		mime_finding_add(findings, FALSE, "name and filename disagree (part %s)", path);
	g_ptr_array_unref(by_type);
	g_ptr_array_unref(by_disp);
}

/* squeeze - @v lower-cased without white space, '-' or '_' ("Base 64" -> "base64") */
static char *
squeeze(const char *v)
{
	GString *s = g_string_new(NULL);

	for (const char *p = v; *p; p++)
		if (!g_ascii_isspace(*p) && *p != '-' && *p != '_' && *p != '"' && *p != '\'')
			g_string_append_c(s, g_ascii_tolower(*p));
	return g_string_free(s, FALSE);
}

/* encoding_kind - 0 identity, 1 a decoding one, -1 unknown; *@disguised: spelt oddly */
static int
encoding_kind(const char *v, gboolean *disguised)
{
	static const char *const identity[] = {"7bit", "8bit", "binary", NULL};
	static const char *const decoding[] = {
	    "base64", "quoted-printable", "x-uuencode", "uuencode", "x-uue", NULL};
	g_autofree char *sq = squeeze(v);

	*disguised = FALSE;
	for (int i = 0; identity[i]; i++)
		if (g_ascii_strcasecmp(v, identity[i]) == 0)
			return 0;
	for (int i = 0; decoding[i]; i++) {
		if (g_ascii_strcasecmp(v, decoding[i]) == 0)
			return 1;
		g_autofree char *d = squeeze(decoding[i]);
		if (strcmp(sq, d) == 0) {
			*disguised = TRUE;
			return 1;
		}
	}
	return -1;
}

/* type_and_boundary - "type/subtype boundary" of a raw Content-Type, for comparing two */
static char *
type_and_boundary(const char *raw)
{
	g_autofree char *line = unfold(raw);
	char *semi = strchr(line, ';');
	if (semi)
		*semi = '\0';
	g_autofree char *type = g_ascii_strdown(g_strstrip(line), -1);
	GPtrArray *params = parse_params(raw);
	GString *out = g_string_new(type);
	for (guint i = 0; i < params->len; i++) {
		Param *pa = g_ptr_array_index(params, i);
		if (strcmp(pa->base, "boundary") == 0 || strcmp(pa->base, "name") == 0)
			g_string_append_printf(out, " %s=%s", pa->base, pa->value);
	}
	g_ptr_array_unref(params);
	return g_string_free(out, FALSE);
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
		g_autofree char *value = NULL;
		if (pa->extended) {
			/* mutt writes boundary*=charset''value: GMime reads it, libclamav
			 * may not (the union covers that): a note */
			g_autofree char *charset = NULL;
			const char *v = split_charset(pa->value, &charset);
			GString *bytes = g_string_new(NULL);
			percent_decode(v, bytes);
			value = to_utf8(bytes->str, bytes->len, charset);
			g_string_free(bytes, TRUE);
			mime_finding_add(findings, FALSE, "boundary in RFC 2231 form (part %s)",
			                 path);
		} else {
			value = g_strdup(pa->value);
		}
		if (pa->section >= 0)
			mime_finding_add(findings, TRUE,
			                 "boundary split in RFC 2231 sections (part %s)", path);
		gsize len = value ? strlen(value) : 0;
		if (len > 0 && (g_ascii_isspace(value[0]) || g_ascii_isspace(value[len - 1])))
			mime_finding_add(findings, TRUE,
			                 "boundary with leading or trailing white space (part %s)",
			                 path);
		if (value != NULL)
			g_ptr_array_add(all, g_steal_pointer(&value));
	}
	g_ptr_array_unref(params);
}

/* mime_check_headers - see mime.h */
void
mime_check_headers(GMimeObject *obj, const char *path, GPtrArray *findings)
{
	GMimeHeaderList *headers = g_mime_object_get_header_list(obj);
	int n = headers ? g_mime_header_list_get_count(headers) : 0;
	GPtrArray *boundaries = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *types = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *encodings = g_ptr_array_new_with_free_func(g_free);
	gboolean container = GMIME_IS_MULTIPART(obj) || GMIME_IS_MESSAGE_PART(obj);
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	gboolean text = ct && g_mime_content_type_is_type(ct, "text", "*");

	for (int i = 0; i < n && i < MAX_HEADERS; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(headers, i);
		const char *raw = g_mime_header_get_raw_value(h);
		const char *name = g_mime_header_get_name(h);
		if (raw == NULL)
			continue;
		if (g_ascii_strcasecmp(name, "Content-Type") == 0) {
			g_autofree char *v = g_strstrip(unfold(raw));
			/* Sun MailTool's format: Thunderbird splits it into named parts at
			 * "----------" lines, GMime and libclamav see one text */
			if (g_ascii_strncasecmp(v, "x-sun-attachment", 16) == 0)
				mime_finding_add(
				    findings, TRUE,
				    "an x-sun-attachment body (part %s): a client splits it "
				    "into parts",
				    path);
			g_ptr_array_add(types, type_and_boundary(raw));
			if (GMIME_IS_MULTIPART(obj))
				check_boundaries(raw, path, findings, boundaries);
		} else if (g_ascii_strcasecmp(name, "Content-Transfer-Encoding") == 0) {
			g_autofree char *v = g_strstrip(unfold(raw));
			gboolean disguised;
			int kind = encoding_kind(v, &disguised);
			g_ptr_array_add(encodings, g_ascii_strdown(v, -1));
			if (disguised)
				mime_finding_add(
				    findings, TRUE,
				    "transfer encoding \"%.40s\" read as a known one by some "
				    "readers only (part %s)",
				    v, path);
			else if (kind < 0 && !text && !container)
				mime_finding_add(
				    findings, FALSE,
				    "unknown transfer encoding on a non-text part (part %s)", path);
			if (kind != 0 && container)
				mime_finding_add(
				    findings, TRUE,
				    "a multipart or message encoded with %.40s: some readers "
				    "decode it first (part %s)",
				    v, path);
		}
	}
	/* a second Content-Type matters when it changes the type, the boundary or the name */
	if (distinct(types) > 1)
		mime_finding_add(findings, TRUE, "two different Content-Type headers (part %s)",
		                 path);
	if (distinct(encodings) > 1)
		mime_finding_add(findings, TRUE,
		                 "two different Content-Transfer-Encoding headers "
		                 "(part %s)",
		                 path);
	if (distinct(boundaries) > 1)
		mime_finding_add(findings, TRUE, "two different boundary parameters (part %s)",
		                 path);
	/* our reading of the boundary against GMime's ("b1"x, an unclosed quote, a fold) */
	if (GMIME_IS_MULTIPART(obj) && boundaries->len > 0) {
		const char *gb = g_mime_multipart_get_boundary(GMIME_MULTIPART(obj));
		const char *ours = g_ptr_array_index(boundaries, 0);
		if (gb != NULL && strcmp(gb, ours) != 0)
			mime_finding_add(findings, TRUE,
			                 "a boundary parameter read two ways (part %s)", path);
	}
	g_ptr_array_unref(boundaries);
	g_ptr_array_unref(types);
	g_ptr_array_unref(encodings);
}

/* has_header_line - does @text hold a line that starts like a MIME part header? */
static gboolean
has_header_line(const char *text)
{
	static const char *const starts[] = {
	    "content-type:", "content-disposition:", "content-transfer-encoding:", NULL};

	for (const char *line = text; line && *line;) {
		for (int i = 0; starts[i]; i++)
			if (g_ascii_strncasecmp(line, starts[i], strlen(starts[i])) == 0)
				return TRUE;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return FALSE;
}

/* mime_check_multipart - see mime.h */
void
mime_check_multipart(GMimeMultipart *mp, const char *message, gsize len, const char *path,
                     GPtrArray *findings)
{
	const char *pre = g_mime_multipart_get_prologue(mp);
	const char *epi = g_mime_multipart_get_epilogue(mp);
	const char *b = g_mime_multipart_get_boundary(mp);

	/* no part at all: the whole text is in the preamble, read again with a
	 * guessed boundary (scan.c) */
	if (g_mime_multipart_get_count(mp) > 0 && pre && has_header_line(pre))
		mime_finding_add(findings, TRUE, "part headers in the preamble (part %s)", path);
	if (epi && has_header_line(epi))
		mime_finding_add(findings, TRUE,
		                 "part headers after the closing boundary (part %s)", path);
	if (b == NULL || *b == '\0' || message == NULL)
		return;
	/* "--b1-not" starts like the delimiter "--b1": a reader matching the prefix
	 * opens a part there (RFC 2046 allows only white space or "--" after it) */
	g_autofree char *delim = g_strconcat("\n--", b, NULL);
	gsize dl = strlen(delim);
	const char *end = message + len;
	for (const char *p = message; p < end;) {
		const char *hit = memmem(p, (gsize)(end - p), delim, dl);
		if (hit == NULL)
			break;
		const char *after = hit + dl;
		if (after < end && *after != '\n' && *after != '\r' && *after != ' ' &&
		    *after != '\t' && !(after + 1 < end && after[0] == '-' && after[1] == '-')) {
			mime_finding_add(findings, TRUE,
			                 "a line that starts like the boundary of part %s", path);
			break;
		}
		p = after;
	}
}

/* mime_check_raw - see mime.h */
void
mime_check_raw(const char *message, gsize len, GPtrArray *findings)
{
	for (const char *cr = memchr(message, '\r', len); cr != NULL && cr + 1 < message + len;
	     cr = memchr(cr + 1, '\r', (gsize)(message + len - cr - 1))) {
		gsize i = (gsize)(cr - message);
		if (message[i + 1] == '\n')
			continue;
		/* a bare CR before what starts a header or a delimiter: readers that end lines
		 * there see another structure */
		if (message[i + 1] == '-' ||
		    g_ascii_strncasecmp(message + i + 1, "content-", MIN(len - i - 1, 8)) == 0) {
			mime_finding_add(findings, TRUE, "bare CR line ends");
			return;
		}
	}
}

/* mime_applefile_name - the real name an AppleSingle/AppleDouble header gives, or NULL */
char *
mime_applefile_name(const guint8 *d, gsize len)
{
	if (len < 26 || !(d[0] == 0 && d[1] == 5 && d[2] == 0x16 && (d[3] == 0 || d[3] == 7)))
		return NULL;
	guint entries = (guint)d[24] << 8 | d[25];
	for (guint i = 0; i < entries && i < 64; i++) {
		gsize at = 26 + (gsize)i * 12;
		if (at + 12 > len)
			return NULL;
		guint32 id = (guint32)d[at] << 24 | (guint32)d[at + 1] << 16 |
		             (guint32)d[at + 2] << 8 | d[at + 3];
		guint32 off = (guint32)d[at + 4] << 24 | (guint32)d[at + 5] << 16 |
		              (guint32)d[at + 6] << 8 | d[at + 7];
		guint32 n = (guint32)d[at + 8] << 24 | (guint32)d[at + 9] << 16 |
		            (guint32)d[at + 10] << 8 | d[at + 11];
		if (id == 3 && off < len && n <= len - off && n > 0)
			return g_utf8_make_valid((const char *)d + off, MIN(n, MAX_NAME_BYTES));
	}
	return NULL;
}

/* mime_guess_boundary - the first "--X" line of @text, as a boundary a reader could guess */
char *
mime_guess_boundary(const char *text)
{
	for (const char *line = text; line && *line;) {
		if (line[0] == '-' && line[1] == '-' && line[2] != '\0' &&
		    !g_ascii_isspace(line[2])) {
			gsize n = strcspn(line + 2, "\r\n");
			char *b = g_strndup(line + 2, MIN(n, 200));
			g_strchomp(b);
			return b;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

/* mime_check_encoding - see mime.h */
void
mime_check_encoding(GMimePart *part, const char *path, GPtrArray *findings)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);

	if (w == NULL)
		return;
	GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(w);
	if (enc != GMIME_CONTENT_ENCODING_BASE64 && enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE)
		return;
	GMimeStream *s = g_mime_data_wrapper_get_stream(w);
	if (s == NULL)
		return;
	g_mime_stream_reset(s);
	char buf[4096];
	gboolean padded = FALSE, junk = FALSE, after_pad = FALSE, soft_ws = FALSE;
	int qp_state = 0; /* 1: after '=', 2: after "=" and white space */
	gssize r;
	while (!after_pad && !soft_ws && (r = g_mime_stream_read(s, buf, sizeof buf)) > 0) {
		for (gssize i = 0; i < r; i++) {
			guchar c = (guchar)buf[i];
			if (enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) {
				/* "=  \n": a soft break to a decoder that trims, "=  " text to
				 * others */
				if (c == '=')
					qp_state = 1;
				else if ((c == ' ' || c == '\t') && qp_state >= 1)
					qp_state = 2;
				else if ((c == '\n' || c == '\r') && qp_state == 2)
					soft_ws = TRUE;
				else
					qp_state = 0;
				continue;
			}
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
				continue;
			if (c == '=') {
				padded = TRUE;
				continue;
			}
			if (!(g_ascii_isalnum(c) || c == '+' || c == '/')) {
				junk = TRUE;
				continue;
			}
			if (padded) {
				after_pad = TRUE;
				break;
			}
		}
	}
	g_mime_stream_reset(s);
	/* junk is skipped by every decoder we know: worth a note only */
	if (junk)
		mime_finding_add(findings, FALSE,
		                 "base64 with characters outside its alphabet (part %s)", path);
	if (after_pad)
		mime_finding_add(findings, TRUE, "base64 with data after the padding (part %s)",
		                 path);
	if (soft_ws)
		mime_finding_add(
		    findings, TRUE,
		    "quoted-printable soft line breaks followed by white space (part %s)", path);
}

/* mime_parser_warning - see mime.h */
void
mime_parser_warning(GMimeParserWarning code, const char *item, GPtrArray *findings)
{
	g_autofree char *it =
	    g_utf8_make_valid(item ? item : "", MIN(strlen(item ? item : ""), 64));

	switch (code) {
	case GMIME_CRIT_CONFLICTING_HEADER:
		/* From, Subject twice: a display question, not a hidden part */
		/* our own checks compare the values: which ones change a reading */
		mime_finding_add(findings, FALSE, "conflicting %s headers", it);
		break;
	case GMIME_CRIT_CONFLICTING_PARAMETER:
		mime_finding_add(findings, TRUE, "conflicting parameter %s", it);
		break;
	case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
		/* read again with a guessed boundary (scan.c): a note here */
		mime_finding_add(findings, FALSE, "multipart without a boundary");
		break;
	case GMIME_CRIT_NESTING_OVERFLOW:
		mime_finding_add(findings, TRUE, "MIME nesting too deep");
		break;
	case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
		/* nothing in it to hide */
		mime_finding_add(findings, FALSE, "a part without headers or content");
		break;
	case GMIME_CRIT_INVALID_HEADER_NAME:
		/* a line without a colon: what it could hide is checked by the header
		 * comparisons (a second Content-Type, ...) */
		mime_finding_add(findings, FALSE, "an invalid header name");
		break;
	case GMIME_WARN_PART_WITHOUT_CONTENT:
		mime_finding_add(findings, TRUE,
		                 "part headers ended by a boundary, not a blank line");
		break;
	case GMIME_WARN_MALFORMED_MULTIPART:
		mime_finding_add(findings, FALSE, "a multipart with no part in it");
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
