/*
 * seen.c - each distinct content of a message, scanned once
 *
 * DESCRIPTION
 *	Entries are grouped by length; within a length a small content is
 *	compared with memcmp against its copy, a large one by SHA-256.  The
 *	digest of the looked-up bytes is computed at most once per call, and
 *	only when an entry of the same length needs it.
 */
#include "mqsift-build.h"

#include "scanner/seen.h"

#include <string.h>

typedef struct {
	gsize len;
	GBytes *copy;   /* the bytes, or NULL */
	guint8 sha[32]; /* SHA-256, when copy is NULL */
	SeenVerdict verdict;
} Entry;

struct Seen {
	GHashTable *by_len; /* gsize* -> GPtrArray of Entry* */
	gsize copy_max;
	gsize copy_left;
	guint count;
};

/* entry_free - GPtrArray free func */
static void
entry_free(gpointer p)
{
	Entry *e = p;

	if (e->copy)
		g_bytes_unref(e->copy);
	if (e->verdict.names)
		g_ptr_array_unref(e->verdict.names);
	g_free(e->verdict.blocked);
	g_free(e);
}

/* seen_new - empty table */
Seen *
seen_new(gsize copy_max, gsize copy_budget)
{
	Seen *s = g_new0(Seen, 1);

	s->by_len = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
	                                  (GDestroyNotify)g_ptr_array_unref);
	s->copy_max = copy_max;
	s->copy_left = copy_budget;
	return s;
}

/* seen_free - free and clear */
void
seen_free(Seen **seen)
{
	if (seen == NULL || *seen == NULL)
		return;
	g_hash_table_destroy((*seen)->by_len);
	g_free(*seen);
	*seen = NULL;
}

/* sha256 - the digest of @data */
static void
sha256(const void *data, gsize len, guint8 out[32])
{
	GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
	gsize n = 32;

	g_checksum_update(c, data, (gssize)len);
	g_checksum_get_digest(c, out, &n);
	g_checksum_free(c);
}

/* find - the entry for @data in @bucket, or NULL; @sha and @have_sha cache the digest */
static Entry *
find(GPtrArray *bucket, const void *data, gsize len, guint8 sha[32], gboolean *have_sha)
{
	for (guint i = 0; bucket && i < bucket->len; i++) {
		Entry *e = g_ptr_array_index(bucket, i);

		if (e->copy != NULL) {
			if (memcmp(g_bytes_get_data(e->copy, NULL), data, len) == 0)
				return e;
			continue;
		}
		if (!*have_sha) {
			sha256(data, len, sha);
			*have_sha = TRUE;
		}
		if (memcmp(e->sha, sha, 32) == 0)
			return e;
	}
	return NULL;
}

/* seen_lookup - exact match */
SeenVerdict *
seen_lookup(Seen *seen, const void *data, gsize len)
{
	gint64 key = (gint64)len;
	guint8 sha[32];
	gboolean have_sha = FALSE;
	Entry *e = find(g_hash_table_lookup(seen->by_len, &key), data, len, sha, &have_sha);

	return e ? &e->verdict : NULL;
}

/* seen_add - find or create */
SeenVerdict *
seen_add(Seen *seen, const void *data, gsize len)
{
	gint64 key = (gint64)len;
	guint8 sha[32];
	gboolean have_sha = FALSE;
	GPtrArray *bucket = g_hash_table_lookup(seen->by_len, &key);
	Entry *e = find(bucket, data, len, sha, &have_sha);

	if (e != NULL)
		return &e->verdict;
	if (bucket == NULL) {
		bucket = g_ptr_array_new_with_free_func(entry_free);
		g_hash_table_insert(seen->by_len, g_memdup2(&key, sizeof key), bucket);
	}
	e = g_new0(Entry, 1);
	e->len = len;
	if (len <= seen->copy_max && len <= seen->copy_left) {
		e->copy = g_bytes_new(data, len);
		seen->copy_left -= len;
	} else {
		if (!have_sha)
			sha256(data, len, sha);
		memcpy(e->sha, sha, 32);
	}
	e->verdict.names = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(bucket, e);
	seen->count++;
	return &e->verdict;
}

/* seen_is_clean - finished, nothing found, nothing left out */
gboolean
seen_is_clean(const SeenVerdict *v)
{
	return v->done && v->names->len == 0 && v->blocked == NULL && !v->limits;
}

/* seen_verdict_add_name - once */
void
seen_verdict_add_name(SeenVerdict *v, const char *name)
{
	for (guint i = 0; i < v->names->len; i++)
		if (strcmp(g_ptr_array_index(v->names, i), name) == 0)
			return;
	g_ptr_array_add(v->names, g_strdup(name));
}

/* seen_count - entries */
guint
seen_count(const Seen *seen)
{
	return seen->count;
}
