/*
 * embedded.c - uuencode, yEnc and BinHex 4.0 blocks inside text
 *
 * DESCRIPTION
 *	Decoders as lenient as the readers that show such blocks: a bad
 *	character is skipped, a block without its end line ends with the text.
 *	Every loop is bounded by the input length.
 */
#include "mqsift-build.h"

#include "scanner/embedded.h"

#include <string.h>

/* file_free - GPtrArray free func */
static void
file_free(gpointer p)
{
	EmbeddedFile *f = p;

	g_free(f->name);
	if (f->data)
		g_bytes_unref(f->data);
	g_free(f);
}

/* next_line - the line at *@pos (without its newline); advances *@pos; FALSE at the end */
static gboolean
next_line(const char *text, gsize len, gsize *pos, const char **line, gsize *line_len)
{
	if (*pos >= len)
		return FALSE;
	const char *start = text + *pos;
	const char *nl = memchr(start, '\n', len - *pos);
	gsize n = nl ? (gsize)(nl - start) : len - *pos;

	*line = start;
	*line_len = n > 0 && start[n - 1] == '\r' ? n - 1 : n;
	*pos += n + (nl != NULL);
	return TRUE;
}

/* append_byte - add one decoded byte unless the file is full */
static void
append_byte(GByteArray *out, guint8 b, gsize max_size, gboolean *truncated)
{
	if (out->len < max_size)
		g_byte_array_append(out, &b, 1);
	else
		*truncated = TRUE;
}

/* add_file - record a decoded block */
static void
add_file(GPtrArray *files, const char *name, gsize name_len, const char *kind, GByteArray *data,
         gboolean truncated)
{
	EmbeddedFile *f = g_new0(EmbeddedFile, 1);

	f->name = g_strstrip(g_strndup(name, MIN(name_len, 1024)));
	f->kind = kind;
	f->data = g_byte_array_free_to_bytes(data);
	f->truncated = truncated;
	g_ptr_array_add(files, f);
}

/* uu_char - the 6-bit value of a uuencoded character */
static guint
uu_char(char c)
{
	return ((guint)(guchar)c - 32) & 63;
}

/* decode_uu - lines after "begin": until "end" */
static void
decode_uu(const char *text, gsize len, gsize *pos, GByteArray *out, gsize max_size,
          gboolean *truncated)
{
	const char *line;
	gsize n;

	while (next_line(text, len, pos, &line, &n)) {
		if (n >= 3 && strncmp(line, "end", 3) == 0 && (n == 3 || g_ascii_isspace(line[3])))
			return;
		if (n == 0)
			continue;
		guint count = uu_char(line[0]);
		for (gsize i = 1; i + 3 < n + 3 && count > 0; i += 4) {
			guint c[4];
			for (int k = 0; k < 4; k++)
				c[k] = i + (gsize)k < n ? uu_char(line[i + (gsize)k]) : 0;
			guint8 b[3] = {(guint8)(c[0] << 2 | c[1] >> 4),
			               (guint8)(c[1] << 4 | c[2] >> 2), (guint8)(c[2] << 6 | c[3])};
			for (int k = 0; k < 3 && count > 0; k++, count--)
				append_byte(out, b[k], max_size, truncated);
		}
	}
}

/* decode_b64_lines - lines after "begin-base64": until "====" */
static void
decode_b64_lines(const char *text, gsize len, gsize *pos, GByteArray *out, gsize max_size,
                 gboolean *truncated)
{
	const char *line;
	gsize n;
	GString *b64 = g_string_new(NULL);

	while (next_line(text, len, pos, &line, &n) && !(n >= 4 && strncmp(line, "====", 4) == 0))
		if (b64->len < max_size * 2)
			g_string_append_len(b64, line, (gssize)n);
	gsize dlen = 0;
	guchar *d = g_base64_decode(b64->str, &dlen);
	for (gsize i = 0; i < dlen; i++)
		append_byte(out, d[i], max_size, truncated);
	g_free(d);
	g_string_free(b64, TRUE);
}

/* decode_yenc - lines after "=ybegin": until "=yend" */
static void
decode_yenc(const char *text, gsize len, gsize *pos, GByteArray *out, gsize max_size,
            gboolean *truncated)
{
	const char *line;
	gsize n;

	while (next_line(text, len, pos, &line, &n)) {
		if (n >= 5 && strncmp(line, "=yend", 5) == 0)
			return;
		if (n >= 6 && strncmp(line, "=ypart", 6) == 0)
			continue;
		for (gsize i = 0; i < n; i++) {
			guint8 c = (guint8)line[i];
			if (c == '=' && i + 1 < n)
				c = (guint8)(line[++i] - 64);
			append_byte(out, (guint8)(c - 42), max_size, truncated);
		}
	}
}

/* BinHex 4.0's 64 characters */
static const char binhex_alphabet[] =
    "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";

/* decode_binhex - the data between the two colons: 6-bit groups, then run-length */
static void
decode_binhex(const char *text, gsize len, gsize *pos, GPtrArray *files, gsize max_size)
{
	const char *start = memchr(text + *pos, ':', len - *pos);
	if (start == NULL)
		return;
	GByteArray *raw = g_byte_array_new();
	guint acc = 0, bits = 0;
	gsize i = (gsize)(start - text) + 1;
	for (; i < len && text[i] != ':' && raw->len < max_size + 4096; i++) {
		const char *at = strchr(binhex_alphabet, text[i]);
		if (at == NULL || text[i] == '\0')
			continue; /* newlines and junk */
		acc = acc << 6 | (guint)(at - binhex_alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			guint8 b = (guint8)(acc >> bits);
			g_byte_array_append(raw, &b, 1);
		}
	}
	*pos = i < len ? i + 1 : len;
	/* run-length: 0x90 n repeats the previous byte n-1 more times; 0x90 0 is 0x90 */
	GByteArray *d = g_byte_array_new();
	gboolean truncated = FALSE;
	guint8 prev = 0;
	for (guint k = 0; k < raw->len; k++) {
		guint8 b = raw->data[k];
		if (b == 0x90 && k + 1 < raw->len) {
			guint8 n = raw->data[++k];
			if (n == 0) {
				append_byte(d, 0x90, max_size + 4096, &truncated);
				prev = 0x90;
			} else {
				for (guint r = 1; r < n; r++)
					append_byte(d, prev, max_size + 4096, &truncated);
			}
			continue;
		}
		append_byte(d, b, max_size + 4096, &truncated);
		prev = b;
	}
	g_byte_array_unref(raw);
	/* header: name length, name, 0, type 4, creator 4, flags 2, data length 4, ... */
	if (d->len < 1 || d->len < 1u + d->data[0] + 1 + 4 + 4 + 2 + 4 + 4 + 2) {
		g_byte_array_unref(d);
		return;
	}
	guint nlen = d->data[0];
	const guint8 *h = d->data + 1 + nlen + 1 + 4 + 4 + 2;
	guint32 dlen = (guint32)h[0] << 24 | (guint32)h[1] << 16 | (guint32)h[2] << 8 | h[3];
	gsize data_at = 1 + nlen + 1 + 4 + 4 + 2 + 4 + 4 + 2;
	gsize have = d->len > data_at ? d->len - data_at : 0;
	GByteArray *data = g_byte_array_new();
	g_byte_array_append(data, d->data + data_at, (guint)MIN(MIN(have, dlen), max_size));
	add_file(files, (const char *)d->data + 1, nlen, "BinHex", data,
	         truncated || dlen > max_size);
	g_byte_array_unref(d);
}

/* embedded_may_hold - any of the three header lines, anywhere */
gboolean
embedded_may_hold(const char *text, gsize len)
{
	/* "begin" also finds "=ybegin" and "begin-base64"; memmem is far faster
	 * than g_strstr_len on every text part of every message */
	return memmem(text, len, "begin", 5) != NULL || memmem(text, len, "BinHex", 6) != NULL;
}

/* begin_line - "begin[-base64] MODE NAME": the name, or NULL */
static const char *
begin_line(const char *line, gsize n, gboolean *b64, gsize *name_len)
{
	gsize i;

	/* uudecode reads "begin %o %s": any number of octal digits, any blanks */
	*b64 = n > 12 && strncmp(line, "begin-base64", 12) == 0;
	if (*b64)
		i = 12;
	else if (n > 5 && strncmp(line, "begin", 5) == 0)
		i = 5;
	else
		return NULL;
	if (i >= n || (line[i] != ' ' && line[i] != '\t'))
		return NULL;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	gsize digits = 0;
	while (i < n && line[i] >= '0' && line[i] <= '7') {
		i++;
		digits++;
	}
	if (digits < 1 || digits > 12 || i >= n || (line[i] != ' ' && line[i] != '\t'))
		return NULL;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	*name_len = n - i;
	return line + i;
}

/* embedded_files - every block */
GPtrArray *
embedded_files(const char *text, gsize len, guint max, gsize max_size)
{
	GPtrArray *files = g_ptr_array_new_with_free_func(file_free);
	gsize pos = 0;
	const char *line;
	gsize n;

	if (!embedded_may_hold(text, len))
		return files;
	while (files->len < max && next_line(text, len, &pos, &line, &n)) {
		gboolean b64, truncated = FALSE;
		gsize name_len = 0;
		const char *name = begin_line(line, n, &b64, &name_len);

		if (name != NULL) {
			GByteArray *out = g_byte_array_new();
			if (b64)
				decode_b64_lines(text, len, &pos, out, max_size, &truncated);
			else
				decode_uu(text, len, &pos, out, max_size, &truncated);
			add_file(files, name, name_len, "uuencode", out, truncated);
		} else if (n > 7 && strncmp(line, "=ybegin", 7) == 0) {
			const char *nm = g_strstr_len(line, (gssize)n, " name=");
			GByteArray *out = g_byte_array_new();
			decode_yenc(text, len, &pos, out, max_size, &truncated);
			add_file(files, nm ? nm + 6 : "", nm ? n - (gsize)(nm + 6 - line) : 0,
			         "yEnc", out, truncated);
		} else if (g_strstr_len(line, (gssize)n,
		                        "(This file must be converted with BinHex") != NULL) {
			decode_binhex(text, len, &pos, files, max_size);
		}
	}
	return files;
}
