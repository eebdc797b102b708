/*
 * qf.c - Sendmail 8.17 control file reader and writer
 *
 * DESCRIPTION
 *	Records are kept with their exact bytes; nothing is reformatted, so an
 *	unchanged file serializes to itself.  The accepted record letters and
 *	the fatal cases follow readqf() in sendmail's queue.c (see
 *	doc/design.md, "Sendmail queue files").
 */
#include "mqsift-build.h"

#include "queue/qf.h"

#include <string.h>

#define METAQUOTE 0xFF

struct Qf {
	GArray *records; /* of QfRecord */
};

/* qf_error_quark - the error domain of this module */
/* clang-format off */
G_DEFINE_QUARK(mqsift-qf-error-quark, qf_error)
/* clang-format on */

/* record_clear - free a record's value (GArray clear func) */
static void
record_clear(gpointer p)
{
	QfRecord *r = p;

	g_free(r->value);
}

/* is_known_letter - the record letters readqf accepts (queue.c:4274-4606) */
static gboolean
is_known_letter(char c)
{
	return c != '\0' && strchr("ABCDdEFHIKLMNPqQrRSTVZ!$", c) != NULL;
}

/* qf_free - free and clear */
void
qf_free(Qf **qf)
{
	if (qf == NULL || *qf == NULL)
		return;
	g_array_unref((*qf)->records);
	g_free(*qf);
	*qf = NULL;
}

/* qf_new - an empty control file */
static Qf *
qf_new(void)
{
	Qf *qf = g_new0(Qf, 1);

	qf->records = g_array_new(FALSE, TRUE, sizeof(QfRecord));
	g_array_set_clear_func(qf->records, record_clear);
	return qf;
}

/* qf_copy - deep copy */
Qf *
qf_copy(const Qf *qf)
{
	Qf *c = qf_new();

	for (guint i = 0; i < qf->records->len; i++) {
		QfRecord r = g_array_index(qf->records, QfRecord, i);

		r.value = g_memdup2(r.value, r.len + 1);
		g_array_append_val(c->records, r);
	}
	return c;
}

/* qf_parse - parse a whole control file */
Qf *
qf_parse(const char *data, gsize len, GError **error)
{
	Qf *qf = qf_new();
	GString *cur = NULL; /* value being collected */
	char cur_type = 0;
	gboolean seen_end = FALSE;
	guint lineno = 0;
	gsize pos = 0;

	if (len == 0) {
		g_set_error(error, QF_ERROR, QF_ERROR_INCOMPLETE, "empty control file");
		goto fail;
	}
	if (memchr(data, '\0', len) != NULL) {
		g_set_error(error, QF_ERROR, QF_ERROR_MALFORMED, "NUL byte in control file");
		goto fail;
	}
	while (pos < len) {
		const char *line = data + pos;
		const char *nl = memchr(line, '\n', len - pos);
		gsize llen = nl ? (gsize)(nl - line) : len - pos;

		pos += llen + (nl ? 1 : 0);
		lineno++;
		if (llen > 0 && line[llen - 1] == '\r')
			llen--; /* fgetfolded reads CRLF as LF */
		if (seen_end) {
			g_set_error(error, QF_ERROR, QF_ERROR_MALFORMED,
			            "line %u: data after the final \".\" record", lineno);
			goto fail;
		}
		if (llen == 0) {
			g_set_error(error, QF_ERROR, QF_ERROR_MALFORMED, "line %u: empty line",
			            lineno);
			goto fail;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (cur == NULL) {
				g_set_error(error, QF_ERROR, QF_ERROR_MALFORMED,
				            "line %u: continuation line with no record before it",
				            lineno);
				goto fail;
			}
			g_string_append_c(cur, '\n');
			g_string_append_len(cur, line, (gssize)llen);
			continue;
		}
		if (cur != NULL) {
			QfRecord r = {cur_type, NULL, cur->len};

			r.value = g_string_free(cur, FALSE);
			g_array_append_val(qf->records, r);
			cur = NULL;
		}
		if (line[0] == '.' && llen == 1) {
			seen_end = TRUE;
			continue;
		}
		if (!is_known_letter(line[0])) {
			g_set_error(error, QF_ERROR, QF_ERROR_MALFORMED,
			            "line %u: unknown record type '%c' (0x%02x)", lineno,
			            g_ascii_isprint(line[0]) ? line[0] : '?', (guchar)line[0]);
			goto fail;
		}
		if (lineno == 1 && line[0] != 'V') {
			g_set_error(error, QF_ERROR, QF_ERROR_VERSION,
			            "line 1: the first record is not V (version)");
			goto fail;
		}
		if (line[0] == 'V' && (llen != 2 || line[1] != '8')) {
			g_set_error(error, QF_ERROR, QF_ERROR_VERSION,
			            "line %u: unsupported control file version \"%.*s\" (only V8)",
			            lineno, (int)MIN(llen, 20), line);
			goto fail;
		}
		cur_type = line[0];
		cur = g_string_new_len(line + 1, (gssize)(llen - 1));
	}
	if (cur != NULL) {
		g_string_free(cur, TRUE);
		cur = NULL;
	}
	if (!seen_end) {
		g_set_error(error, QF_ERROR, QF_ERROR_INCOMPLETE,
		            "no final \".\" record (incomplete control file)");
		goto fail;
	}
	for (guint i = 0; i < qf->records->len; i++) {
		const QfRecord *r = &g_array_index(qf->records, QfRecord, i);

		/* check_bodytype() compares without case: BODY=8bitmime is stored as sent */
		if (r->type == 'B' && g_ascii_strcasecmp(r->value, "7BIT") != 0 &&
		    g_ascii_strcasecmp(r->value, "8BITMIME") != 0) {
			g_set_error(error, QF_ERROR, QF_ERROR_MALFORMED, "bad body type B%s",
			            r->value);
			goto fail;
		}
	}
	if (qf_first(qf, 'S') == NULL) {
		g_set_error(error, QF_ERROR, QF_ERROR_MALFORMED, "no S (sender) record");
		goto fail;
	}
	return qf;
fail:
	if (cur != NULL)
		g_string_free(cur, TRUE);
	qf_free(&qf);
	return NULL;
}

/* qf_serialize - records in order, then "." */
GString *
qf_serialize(const Qf *qf)
{
	GString *out = g_string_sized_new(1024);

	for (guint i = 0; i < qf->records->len; i++) {
		const QfRecord *r = &g_array_index(qf->records, QfRecord, i);

		g_string_append_c(out, r->type);
		g_string_append_len(out, r->value, (gssize)r->len);
		g_string_append_c(out, '\n');
	}
	g_string_append(out, ".\n");
	return out;
}

/* qf_n_records - number of records */
guint
qf_n_records(const Qf *qf)
{
	return qf->records->len;
}

/* qf_record - record @index (borrowed) */
const QfRecord *
qf_record(const Qf *qf, guint index)
{
	g_return_val_if_fail(index < qf->records->len, NULL);
	return &g_array_index(qf->records, QfRecord, index);
}

/* qf_first - first record of a type */
const QfRecord *
qf_first(const Qf *qf, char type)
{
	for (guint i = 0; i < qf->records->len; i++) {
		const QfRecord *r = &g_array_index(qf->records, QfRecord, i);

		if (r->type == type)
			return r;
	}
	return NULL;
}

/* qf_sender - the S record's value */
const char *
qf_sender(const Qf *qf)
{
	const QfRecord *r = qf_first(qf, 'S');

	return r ? r->value : "";
}

/* qf_recipients - addresses of the R records */
GPtrArray *
qf_recipients(const Qf *qf)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < qf->records->len; i++) {
		const QfRecord *r = &g_array_index(qf->records, QfRecord, i);
		const char *colon;

		if (r->type != 'R')
			continue;
		colon = strchr(r->value, ':');
		g_ptr_array_add(out, g_strdup(colon ? colon + 1 : r->value));
	}
	return out;
}

/* qf_recipients_text - "a, b" */
char *
qf_recipients_text(const Qf *qf)
{
	g_autoptr(GPtrArray) rcpts = qf_recipients(qf);

	g_ptr_array_add(rcpts, NULL);
	return g_strjoinv(", ", (char **)rcpts->pdata);
}

/* qf_macro - a persistent macro's value */
const char *
qf_macro(const Qf *qf, const char *name)
{
	gsize nlen = strlen(name);

	for (guint i = 0; i < qf->records->len; i++) {
		const QfRecord *r = &g_array_index(qf->records, QfRecord, i);

		if (r->type == '$' && r->len >= nlen && strncmp(r->value, name, nlen) == 0)
			return r->value + nlen;
	}
	return NULL;
}

/* qf_client_ip - the address between [] in $_ */
char *
qf_client_ip(const Qf *qf)
{
	const char *m = qf_macro(qf, "_");
	const char *lb, *rb;

	if (m == NULL || (lb = strrchr(m, '[')) == NULL || (rb = strchr(lb, ']')) == NULL)
		return NULL;
	char *ip = g_strndup(lb + 1, (gsize)(rb - lb - 1));
	if (g_str_has_prefix(ip, "IPv6:")) {
		char *v6 = g_strdup(ip + 5);
		g_free(ip);
		ip = v6;
	}
	return ip;
}

/* parse_header - split an H record into cond, name, value */
static gboolean
parse_header(const QfRecord *r, QfHeader *out)
{
	const char *p = r->value, *end = r->value + r->len;

	memset(out, 0, sizeof *out);
	if (p < end && *p == '?') {
		const char *q = memchr(p + 1, '?', (gsize)(end - p - 1));

		if (q == NULL)
			return FALSE;
		out->cond = p + 1;
		out->cond_len = (gsize)(q - p - 1);
		p = q + 1;
	}
	out->name = p;
	while (p < end && *p != ':' && *p != ' ' && *p != '\t')
		p++;
	out->name_len = (gsize)(p - out->name);
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p != ':' || out->name_len == 0)
		return FALSE;
	out->value = p + 1;
	out->value_len = (gsize)(end - p - 1);
	return TRUE;
}

/* qf_header_at - header view of record @index */
gboolean
qf_header_at(const Qf *qf, guint index, QfHeader *out)
{
	const QfRecord *r = qf_record(qf, index);

	return r != NULL && r->type == 'H' && parse_header(r, out);
}

/* header_is - case-insensitive name comparison */
static gboolean
header_is(const QfHeader *h, const char *name)
{
	return strlen(name) == h->name_len && g_ascii_strncasecmp(h->name, name, h->name_len) == 0;
}

/* qf_dequote - remove METAQUOTE as putxline(PXLF_STRIPMQUOTE) does */
char *
qf_dequote(const char *value, gsize len, gsize *out_len)
{
	char *out = g_malloc(len + 1);
	gsize o = 0;

	for (gsize i = 0; i < len; i++) {
		if ((guchar)value[i] == METAQUOTE) {
			if (i + 1 < len)
				out[o++] = value[++i];
			continue;
		}
		out[o++] = value[i];
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;
}

/* qf_quote - add METAQUOTE before 0x80-0x9F and 0xFF */
char *
qf_quote(const char *value, gsize len)
{
	GString *s = g_string_sized_new(len + 8);

	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)value[i];

		if (c == METAQUOTE || (c & 0xE0) == 0x80)
			g_string_append_c(s, (char)METAQUOTE);
		g_string_append_c(s, (char)c);
	}
	return g_string_free(s, FALSE);
}

/* qf_header_get - dequoted, unfolded value of the first header @name */
char *
qf_header_get(const Qf *qf, const char *name)
{
	for (guint i = 0; i < qf->records->len; i++) {
		QfHeader h;

		if (!qf_header_at(qf, i, &h) || !header_is(&h, name))
			continue;
		char *v = qf_dequote(h.value, h.value_len, NULL);
		GString *s = g_string_new(NULL);
		for (char *p = v; *p; p++)
			if (*p != '\n')
				g_string_append_c(s, *p);
		g_free(v);
		g_strchug(s->str);
		s->len = strlen(s->str);
		return g_string_free(s, FALSE);
	}
	return NULL;
}

/* qf_headers_text - headers as delivered, for MIME parsing */
GString *
qf_headers_text(const Qf *qf)
{
	GString *out = g_string_sized_new(2048);

	for (guint i = 0; i < qf->records->len; i++) {
		QfHeader h;

		if (!qf_header_at(qf, i, &h) || header_is(&h, "Return-Path"))
			continue;
		gsize vlen;
		char *v = qf_dequote(h.value, h.value_len, &vlen);
		g_string_append_len(out, h.name, (gssize)h.name_len);
		g_string_append_c(out, ':');
		g_string_append_len(out, v, (gssize)vlen);
		g_string_append_c(out, '\n');
		g_free(v);
	}
	return out;
}

/* insert_index_for_header - index after the last H record (or the end) */
static guint
insert_index_for_header(const Qf *qf)
{
	guint at = qf->records->len;

	for (guint i = 0; i < qf->records->len; i++)
		if (g_array_index(qf->records, QfRecord, i).type == 'H')
			at = i + 1;
	return at;
}

/* qf_add_header - append a new, quoted, unconditional header */
void
qf_add_header(Qf *qf, const char *name, const char *value)
{
	gsize vlen = strlen(value);
	GString *clean = g_string_sized_new(vlen);

	/* denlstring(): a newline must be followed by SP or TAB, else it becomes a space */
	for (gsize i = 0; i < vlen; i++) {
		char c = value[i];

		if (c == '\r')
			continue;
		if (c == '\n' && !(i + 1 < vlen && (value[i + 1] == ' ' || value[i + 1] == '\t')))
			c = ' ';
		g_string_append_c(clean, c);
	}
	char *quoted = qf_quote(clean->str, clean->len);
	char *text = g_strdup_printf("??%s: %s", name, quoted);
	QfRecord r = {'H', text, strlen(text)};

	g_array_insert_val(qf->records, insert_index_for_header(qf), r);
	g_free(quoted);
	g_string_free(clean, TRUE);
}

/* qf_remove_header - drop every header @name */
guint
qf_remove_header(Qf *qf, const char *name)
{
	guint n = 0;

	for (guint i = 0; i < qf->records->len;) {
		QfHeader h;

		if (qf_header_at(qf, i, &h) && header_is(&h, name)) {
			g_array_remove_index(qf->records, i);
			n++;
		} else {
			i++;
		}
	}
	return n;
}

/* qf_set_header - replace or add */
void
qf_set_header(Qf *qf, const char *name, const char *value)
{
	qf_remove_header(qf, name);
	qf_add_header(qf, name, value);
}

/* qf_has_8bit_headers - any 8-bit byte in header values, quoting aside */
gboolean
qf_has_8bit_headers(const Qf *qf)
{
	for (guint i = 0; i < qf->records->len; i++) {
		QfHeader h;

		if (!qf_header_at(qf, i, &h))
			continue;
		for (gsize k = 0; k < h.value_len; k++) {
			guchar c = (guchar)h.value[k];

			if (c == METAQUOTE && k + 1 < h.value_len) {
				k++;
				if ((guchar)h.value[k] >= 0x80)
					return TRUE;
				continue;
			}
			/* the \x81g of Return-Path is a macro, not 8-bit text */
			if (c >= 0x80 && !(c == 0x81 && header_is(&h, "Return-Path")))
				return TRUE;
		}
	}
	return FALSE;
}

/* qf_set_flag - edit the F record */
void
qf_set_flag(Qf *qf, char flag, gboolean on)
{
	for (guint i = 0; i < qf->records->len; i++) {
		QfRecord *r = &g_array_index(qf->records, QfRecord, i);

		if (r->type != 'F')
			continue;
		char *p = strchr(r->value, flag);
		if (on && p == NULL) {
			char *v = g_strdup_printf("%c%s", flag, r->value);
			g_free(r->value);
			r->value = v;
			r->len++;
		} else if (!on && p != NULL) {
			memmove(p, p + 1, strlen(p));
			r->len--;
		}
		return;
	}
	if (!on)
		return;
	/* no F record: put one before the first $ or S record, where queueup() writes it */
	guint at = 0;
	for (guint i = 0; i < qf->records->len; i++) {
		char t = g_array_index(qf->records, QfRecord, i).type;

		if (t == '$' || t == 'S') {
			at = i;
			break;
		}
	}
	QfRecord r = {'F', g_strdup_printf("%c", flag), 1};
	g_array_insert_val(qf->records, at, r);
}

/* qf_set_body_type - B record for a rewritten body */
void
qf_set_body_type(Qf *qf, gboolean eight_bit)
{
	const char *want = eight_bit ? "8BITMIME" : "7BIT";

	for (guint i = 0; i < qf->records->len; i++) {
		QfRecord *r = &g_array_index(qf->records, QfRecord, i);

		if (r->type != 'B')
			continue;
		g_free(r->value);
		r->value = g_strdup(want);
		r->len = strlen(want);
		return;
	}
	if (!eight_bit)
		return;
	/* queueup() writes B after P (and I): before the first of q M F $ S */
	guint at = qf->records->len;
	for (guint i = 0; i < qf->records->len; i++) {
		char t = g_array_index(qf->records, QfRecord, i).type;

		if (strchr("qMF$S", t) != NULL) {
			at = i;
			break;
		}
	}
	QfRecord r = {'B', g_strdup(want), strlen(want)};
	g_array_insert_val(qf->records, at, r);
}

/* qf_sanitize_for_outbound - drop I, d, q */
void
qf_sanitize_for_outbound(Qf *qf)
{
	for (guint i = 0; i < qf->records->len;) {
		char t = g_array_index(qf->records, QfRecord, i).type;

		if (t == 'I' || t == 'd' || t == 'q')
			g_array_remove_index(qf->records, i);
		else
			i++;
	}
}

/* qf_set_recipients - new R records in place of the old ones */
void
qf_set_recipients(Qf *qf, const char *const *addrs)
{
	guint at = G_MAXUINT;

	for (guint i = 0; i < qf->records->len;) {
		char t = g_array_index(qf->records, QfRecord, i).type;

		if (t == 'R' || t == 'Q' || t == 'r' || t == 'C') {
			if (at == G_MAXUINT)
				at = i;
			g_array_remove_index(qf->records, i);
		} else {
			i++;
		}
	}
	if (at == G_MAXUINT) {
		at = qf->records->len;
		for (guint i = 0; i < qf->records->len; i++)
			if (g_array_index(qf->records, QfRecord, i).type == 'H') {
				at = i;
				break;
			}
	}
	for (guint k = 0; addrs[k] != NULL; k++) {
		const char *a = addrs[k];
		char *text =
		    a[0] == '<' ? g_strdup_printf("PFD:%s", a) : g_strdup_printf("PFD:<%s>", a);
		QfRecord r = {'R', text, strlen(text)};

		g_array_insert_val(qf->records, at + k, r);
	}
}

/* qf_new_notice - the minimal control file of a message mqsift writes itself */
Qf *
qf_new_notice(const char *to, gboolean eight_bit, gint64 now, GError **error)
{
	g_autoptr(GString) text = g_string_new(NULL);

	/* what sendmail 8.17's queueup() writes for a local submission, no more */
	g_string_append_printf(text, "V8\nT%" G_GINT64_FORMAT "\nK0\nN0\nP30000\n", now);
	if (eight_bit)
		g_string_append(text, "B8BITMIME\nF8\n");
	g_string_append_printf(text, "S<>\nRPFD:<%s>\n.\n", to);
	return qf_parse(text->str, text->len, error);
}

/* qf_add_recipient - an R record after the last one */
void
qf_add_recipient(Qf *qf, const char *addr)
{
	guint at = G_MAXUINT, first_h = qf->records->len;

	for (guint i = 0; i < qf->records->len; i++) {
		char t = g_array_index(qf->records, QfRecord, i).type;
		if (t == 'R')
			at = i + 1;
		else if (t == 'H' && first_h == qf->records->len)
			first_h = i;
	}
	if (at == G_MAXUINT)
		at = first_h;
	char *text = g_strdup_printf("PF:%s", addr);
	QfRecord r = {'R', text, strlen(text)};
	g_array_insert_val(qf->records, at, r);
}

/* qf_remove_recipients - R records and the Q/r records that describe them */
guint
qf_remove_recipients(Qf *qf)
{
	guint n = 0;

	for (guint i = 0; i < qf->records->len;) {
		char t = g_array_index(qf->records, QfRecord, i).type;
		if (t == 'R' || t == 'Q' || t == 'r') {
			n += t == 'R';
			g_array_remove_index(qf->records, i);
		} else {
			i++;
		}
	}
	return n;
}
