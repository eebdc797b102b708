/*
 * embedded.h - files pasted into the text of a part: uuencode, yEnc, BinHex
 *
 * SUMMARY
 *	GMime does not split these out of a text part, and a mail client may
 *	still show them as attachments (Outlook and Thunderbird do for
 *	uuencode).  embedded_files() finds each block, with the name its header
 *	line gives and the decoded content, so both go through the same policy
 *	and scans as a MIME attachment.  Bounded: at most @max files, and each
 *	decoded file at most @max_size bytes (a longer one is cut and marked).
 */
#ifndef MQSIFT_SCANNER_EMBEDDED_H
#define MQSIFT_SCANNER_EMBEDDED_H

#include <glib.h>

/* EmbeddedFile - one block */
typedef struct {
	char *name;         /* as its header line gives it (may be empty) */
	const char *kind;   /* "uuencode", "yEnc", "BinHex" (static) */
	GBytes *data;       /* decoded content */
	gboolean truncated; /* longer than @max_size: only the start is in @data */
} EmbeddedFile;

/* embedded_files - the blocks of @text; a new array of EmbeddedFile* (never NULL) */
GPtrArray *embedded_files(const char *text, gsize len, guint max, gsize max_size);

/* embedded_may_hold - cheap test: could @text hold a block at all? */
gboolean embedded_may_hold(const char *text, gsize len);

#endif
