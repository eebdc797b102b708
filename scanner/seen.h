/*
 * seen.h - the contents already scanned in one message, each with its verdict
 *
 * SUMMARY
 *	A message is read by two parsers: libclamav's own mail parser (the raw
 *	scan) and GMime (the part walk).  Where they agree, a part's decoded
 *	bytes are exactly a file libclamav already extracted and scanned; the
 *	walk looks them up here and takes that verdict instead of paying for a
 *	second scan.  Only where the two disagree - the evasion case - is a part
 *	scanned again.  Contents are compared exactly: small ones by their
 *	bytes, large ones by SHA-256, so no crafted collision can borrow another
 *	part's clean verdict.
 */
#ifndef MQSIFT_SCANNER_SEEN_H
#define MQSIFT_SCANNER_SEEN_H

#include <glib.h>

typedef struct Seen Seen;

/* SeenVerdict - what one scan found in a content and in everything it holds */
typedef struct {
	GPtrArray *names; /* signature names (owned strings) */
	char *blocked;    /* the first policy reason, or NULL */
	gboolean limits;  /* a scan limit was reached in it: the verdict is partial */
	gboolean done;    /* libclamav finished it (a verdict that can be reused) */
} SeenVerdict;

/*
 * seen_new - an empty table.  Contents up to @copy_max bytes are kept as
 * copies while the copies total at most @copy_budget bytes; larger ones (or
 * past the budget) by digest.
 */
Seen *seen_new(gsize copy_max, gsize copy_budget);

/* seen_free - free and clear the caller's pointer */
void seen_free(Seen **seen);

/* seen_free_ptr - seen_free() for g_autoptr(Seen) */
static inline void
seen_free_ptr(Seen *p)
{
	seen_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Seen, seen_free_ptr)

/* seen_lookup - the verdict recorded for these exact bytes (borrowed), or NULL */
SeenVerdict *seen_lookup(Seen *seen, const void *data, gsize len);

/* seen_add - the entry for these bytes, created empty if new (borrowed) */
SeenVerdict *seen_add(Seen *seen, const void *data, gsize len);

/* seen_is_clean - TRUE if @v is a finished scan that found nothing at all */
gboolean seen_is_clean(const SeenVerdict *v);

/* seen_verdict_add_name - record a signature name once */
void seen_verdict_add_name(SeenVerdict *v, const char *name);

/* seen_count - how many distinct contents are recorded */
guint seen_count(const Seen *seen);

#endif
