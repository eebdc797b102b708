/*
 * mime.h - every name a reader could show, and what two readers could
 * read two ways
 *
 * SUMMARY
 *	GMime reads a part's Content-Type and Content-Disposition one way; a
 *	mail client, libclamav or an attacker's target may read them another.
 *	mime_part_names() parses the raw header values itself and returns every
 *	name any reader could take: each duplicate parameter, plain and RFC 2231
 *	forms, continuations in numeric order, in the order given and up to a
 *	gap, RFC 2047 words, declared charsets (UTF-16 and UTF-32 included),
 *	quotes stripped.  The mime_check_* calls report what makes the
 *	structure ambiguous: conflicting parameters or headers, boundaries with
 *	white space, base64 with characters outside its alphabet or data after
 *	the padding, unknown transfer encodings, and GMime's own parser
 *	warnings.  A finding that can hide a part or a name "hides"; the others
 *	are worth a log line only.
 */
#ifndef MQSIFT_SCANNER_MIME_H
#define MQSIFT_SCANNER_MIME_H

#include <gmime/gmime.h>

/* MimeFinding - one ambiguity */
typedef struct {
	char *what;     /* "two different boundary parameters (part 2)" */
	gboolean hides; /* it can hide a part or a name from one reader */
} MimeFinding;

/* mime_finding_free - GPtrArray free func */
void mime_finding_free(gpointer finding);

/* mime_finding_add - append a finding (printf-style text) unless the same text is there */
void mime_finding_add(GPtrArray *findings, gboolean hides, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/*
 * mime_part_names - append to @names (owned strings, each once) every file
 * name @obj's headers give to some reader, GMime's own reading included;
 * conflicts between them are added to @findings, naming @path.
 */
void mime_part_names(GMimeObject *obj, const char *path, GPtrArray *names, GPtrArray *findings);

/*
 * mime_check_headers - duplicate content headers that differ, boundary
 * parameters given twice or with white space, a transfer encoding no
 * reader agrees on; appended to @findings.
 */
void mime_check_headers(GMimeObject *obj, const char *path, GPtrArray *findings);

/*
 * mime_check_multipart - part headers in the preamble or the epilogue, and a
 * line of @message (@len bytes, the whole message) that starts like the
 * multipart's delimiter without being one
 */
void mime_check_multipart(GMimeMultipart *mp, const char *message, gsize len, const char *path,
                          GPtrArray *findings);

/* mime_check_raw - bare CR line ends where a reader could split headers or parts */
void mime_check_raw(const char *message, gsize len, GPtrArray *findings);

/* mime_applefile_name - the real name in an AppleSingle/AppleDouble header, or NULL */
char *mime_applefile_name(const guint8 *data, gsize len);

/* mime_guess_boundary - the first "--X" line of @text (a boundary a reader could guess), or NULL */
char *mime_guess_boundary(const char *text);

/*
 * mime_check_encoding - a base64 body with characters outside its alphabet
 * (a note) or data after the padding; quoted-printable soft breaks followed
 * by white space
 */
void mime_check_encoding(GMimePart *part, const char *path, GPtrArray *findings);

/*
 * mime_parser_warning - GMime's parser warning @code about @item, as a
 * finding appended to @findings (the ones about duplicate or 8-bit
 * headers, invalid addresses and RFC 2047 words hide nothing)
 */
void mime_parser_warning(GMimeParserWarning code, const char *item, GPtrArray *findings);

#endif
