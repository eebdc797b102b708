/*
 * tnef.c - a small, bounded reader of TNEF (winmail.dat) attachments
 *
 * DESCRIPTION
 *	Only what the filename policy and the part scan need: each attachment's
 *	title (attAttachTitle), its long file name from the MAPI properties
 *	(PR_ATTACH_LONG_FILENAME, 0x3707) when present, and its data
 *	(attAttachData).  Every length is checked against what remains; any
 *	inconsistency ends the walk (the engine still scans the raw part).
 *	Checksums are not enforced: a sender who breaks one must not hide a
 *	name from the policy.  (libytnef refuses such files, and prints to
 *	stdout, which is why this reader exists.)
 */
#include "mqsift-build.h"

#include "scanner/tnef.h"

#include <string.h>

#define TNEF_SIGNATURE 0x223e9f78u
#define ATT_ATTACH_RENDDATA 0x9002u /* starts an attachment */
#define ATT_ATTACH_TITLE 0x8010u
#define ATT_ATTACH_DATA 0x800fu
#define ATT_ATTACHMENT 0x9005u /* MAPI properties of the attachment */
#define PR_ATTACH_LONG_FILENAME 0x3707u
#define PR_ATTACH_FILENAME 0x3704u
#define PR_DISPLAY_NAME 0x3001u
#define PR_ATTACH_DATA 0x3701u /* PR_ATTACH_DATA_BIN, or _OBJ as PT_OBJECT */
#define MAX_MAPI_PROPS 4096

typedef struct {
	const guint8 *p;
	gsize left;
} Reader;

/* take - advance over @n bytes, or fail */
static gboolean
take(Reader *r, gsize n, const guint8 **out)
{
	if (n > r->left)
		return FALSE;
	if (out)
		*out = r->p;
	r->p += n;
	r->left -= n;
	return TRUE;
}

/* u16, u32 - little-endian reads */
static gboolean
u16(Reader *r, guint *v)
{
	const guint8 *b;

	if (!take(r, 2, &b))
		return FALSE;
	*v = b[0] | (guint)b[1] << 8;
	return TRUE;
}

static gboolean
u32(Reader *r, guint32 *v)
{
	const guint8 *b;

	if (!take(r, 4, &b))
		return FALSE;
	*v = b[0] | (guint32)b[1] << 8 | (guint32)b[2] << 16 | (guint32)b[3] << 24;
	return TRUE;
}

/* tnef_file_free - GPtrArray free func */
static void
tnef_file_free(gpointer p)
{
	TnefFile *f = p;

	g_free(f->name);
	if (f->names)
		g_ptr_array_unref(f->names);
	if (f->data)
		g_bytes_unref(f->data);
	if (f->data_prop)
		g_bytes_unref(f->data_prop);
	g_free(f);
}

/* tnef_is_tnef - by declared type or name */
gboolean
tnef_is_tnef(const char *mime_type, const char *filename)
{
	if (mime_type != NULL && (g_ascii_strcasecmp(mime_type, "application/ms-tnef") == 0 ||
	                          g_ascii_strcasecmp(mime_type, "application/vnd.ms-tnef") == 0))
		return TRUE;
	return filename != NULL && g_ascii_strcasecmp(filename, "winmail.dat") == 0;
}

/* string_value - an 8-bit or UTF-16LE string, as UTF-8 (invalid bytes kept as-is) */
static char *
string_value(const guint8 *b, gsize n, gboolean unicode)
{
	if (unicode) {
		g_autofree gunichar2 *w = g_new0(gunichar2, n / 2 + 1);
		for (gsize i = 0; i + 1 < n; i += 2)
			w[i / 2] = (gunichar2)(b[i] | b[i + 1] << 8);
		char *s = g_utf16_to_utf8(w, (glong)(n / 2), NULL, NULL, NULL);
		if (s != NULL)
			return s;
	}
	while (n > 0 && b[n - 1] == '\0')
		n--;
	return g_strndup((const char *)b, n);
}

/* fixed_size - bytes of one value of a fixed-size MAPI type, 0 if variable, -1 if unknown */
static int
fixed_size(guint type)
{
	switch (type) {
	case 0x0001: /* PT_NULL */
	case 0x0002: /* PT_I2 */
	case 0x0003: /* PT_LONG */
	case 0x0004: /* PT_R4 */
	case 0x000A: /* PT_ERROR */
	case 0x000B: /* PT_BOOLEAN */ return 4;
	case 0x0005: /* PT_DOUBLE */
	case 0x0006: /* PT_CURRENCY */
	case 0x0007: /* PT_APPTIME */
	case 0x0014: /* PT_I8 */
	case 0x0040: /* PT_SYSTIME */ return 8;
	case 0x0048: /* PT_CLSID */ return 16;
	case 0x000D: /* PT_OBJECT */
	case 0x001E: /* PT_STRING8 */
	case 0x001F: /* PT_UNICODE */
	case 0x0102: /* PT_BINARY */ return 0;
	default: return -1;
	}
}

/* add_name - one more name of @f, once */
static void
add_name(TnefFile *f, char *name)
{
	if (name == NULL || *name == '\0') {
		g_free(name);
		return;
	}
	for (guint i = 0; i < f->names->len; i++)
		if (strcmp(g_ptr_array_index(f->names, i), name) == 0) {
			g_free(name);
			return;
		}
	g_ptr_array_add(f->names, name);
}

/*
 * read_props - the names (long and short file names, display name) and the
 * data property of an attAttachment block; a type mqsift cannot size stops
 * the walk and marks @f incomplete (what follows may hide a name)
 */
static void
read_props(const guint8 *data, gsize len, TnefFile *f)
{
	Reader r = {data, len};
	guint32 count;

	if (!u32(&r, &count) || count > MAX_MAPI_PROPS) {
		f->incomplete = TRUE;
		return;
	}
	for (guint32 i = 0; i < count; i++) {
		guint type, id;
		if (!u16(&r, &type) || !u16(&r, &id))
			goto incomplete;
		if (id >= 0x8000) { /* named property: GUID, kind, id or name */
			guint32 kind, v;
			if (!take(&r, 16, NULL) || !u32(&r, &kind) || !u32(&r, &v))
				goto incomplete;
			if (kind == 1 && !take(&r, ((gsize)v + 3) & ~(gsize)3, NULL))
				goto incomplete;
		}
		gboolean multi = (type & 0x1000) != 0;
		guint base = type & 0x0FFF;
		int size = fixed_size(base);
		guint32 nvalues = 1;
		if (size < 0)
			goto incomplete;
		if ((multi || size == 0) && !u32(&r, &nvalues))
			goto incomplete;
		if (nvalues > MAX_MAPI_PROPS)
			goto incomplete;
		for (guint32 k = 0; k < nvalues; k++) {
			if (size > 0) {
				if (!take(&r, (gsize)size, NULL))
					goto incomplete;
				continue;
			}
			guint32 vlen;
			const guint8 *v;
			if (!u32(&r, &vlen) || !take(&r, vlen, &v) ||
			    !take(&r, ((gsize)vlen + 3) / 4 * 4 - vlen, NULL))
				goto incomplete;
			gboolean text = base == 0x001E || base == 0x001F;
			if (text && (id == PR_ATTACH_LONG_FILENAME || id == PR_ATTACH_FILENAME ||
			             id == PR_DISPLAY_NAME)) {
				char *name = string_value(v, vlen, base == 0x001F);
				if (id == PR_ATTACH_LONG_FILENAME && *name != '\0') {
					g_free(f->name);
					f->name = g_strdup(name);
				}
				add_name(f, name);
			} else if (id == PR_ATTACH_DATA && (base == 0x0102 || base == 0x000D) &&
			           k == 0 && f->data_prop == NULL) {
				/* PT_OBJECT data starts with the interface's 16-byte GUID */
				gsize skip = base == 0x000D && vlen >= 16 ? 16 : 0;
				f->data_prop = g_bytes_new(v + skip, vlen - skip);
			}
		}
	}
	return;
incomplete:
	f->incomplete = TRUE;
}

/* tnef_extract - walk the attributes, one TnefFile per attachment */
GPtrArray *
tnef_extract(const void *data, gsize len, guint max_files)
{
	Reader r = {data, len};
	guint32 sig;
	TnefFile *cur = NULL;

	if (!u32(&r, &sig) || sig != TNEF_SIGNATURE || !take(&r, 2, NULL))
		return NULL;
	GPtrArray *files = g_ptr_array_new_with_free_func(tnef_file_free);
	while (r.left > 0) {
		const guint8 *level, *body;
		guint32 attr, alen;

		if (!take(&r, 1, &level) || !u32(&r, &attr) || !u32(&r, &alen) ||
		    !take(&r, alen, &body) || !take(&r, 2, NULL))
			break; /* truncated: keep what was read */
		if (*level != 2)
			continue; /* message-level attribute */
		guint id = attr & 0xFFFF;
		if (id == ATT_ATTACH_RENDDATA || cur == NULL) {
			if (files->len >= max_files)
				break;
			cur = g_new0(TnefFile, 1);
			cur->names = g_ptr_array_new_with_free_func(g_free);
			g_ptr_array_add(files, cur);
		}
		if (id == ATT_ATTACH_TITLE) {
			char *title = string_value(body, alen, FALSE);
			if (cur->name == NULL || *cur->name == '\0') {
				g_free(cur->name);
				cur->name = g_strdup(title);
			}
			add_name(cur, title);
		} else if (id == ATT_ATTACH_DATA && cur->data == NULL) {
			cur->data = g_bytes_new(body, alen);
		} else if (id == ATT_ATTACHMENT) {
			read_props(body, alen, cur);
		}
	}
	for (guint i = 0; i < files->len; i++) {
		TnefFile *f = g_ptr_array_index(files, i);
		if (f->name == NULL)
			f->name = g_strdup("");
		if (f->data == NULL)
			f->data = g_bytes_new(NULL, 0);
		if (f->data_prop != NULL && g_bytes_equal(f->data_prop, f->data)) {
			g_bytes_unref(f->data_prop);
			f->data_prop = NULL;
		}
	}
	return files;
}
