/*
 * qf.h - Sendmail 8.17 queue control files (qf): parse, edit, serialize
 *
 * SUMMARY
 *	A Qf holds the records of one control file in file order, each with its
 *	exact bytes, so that a file read and written back unchanged is
 *	byte-identical.  Headers (H records) are exposed with their ?cond?,
 *	name and raw value; values are METAQUOTE'd as sendmail stores them:
 *	qf_dequote() gives the text to analyse, qf_add_header() quotes what it
 *	writes.
 *
 * DESCRIPTION
 *	The parser accepts exactly what readqf() of sendmail 8.17 accepts and
 *	refuses the rest with a reason: the first record must be V8, every line
 *	must start with a known record letter (or SP/TAB for a continuation),
 *	there are no empty lines, and the file ends with a "." line with
 *	nothing after it.  CRLF reads as LF, as in sendmail's fgetfolded().
 *
 *	The writer emits records in the order held, "." last, and never writes
 *	I, d or q records (qf_sanitize_for_outbound() drops them).
 */
#ifndef MQSIFT_QUEUE_QF_H
#define MQSIFT_QUEUE_QF_H

#include <glib.h>

#define QF_ERROR (qf_error_quark())
GQuark qf_error_quark(void);

typedef enum {
	QF_ERROR_INCOMPLETE, /* no final "." line: still being written, or truncated */
	QF_ERROR_VERSION,    /* missing or unsupported V record */
	QF_ERROR_MALFORMED,  /* anything else readqf would reject */
} QfError;

typedef struct Qf Qf;

/* QfRecord - one logical record; value excludes the letter and the final LF */
typedef struct {
	char type;   /* 'V', 'T', 'H', ..., never '.' */
	char *value; /* NUL-terminated; may contain "\n<SP|TAB>" continuations */
	gsize len;   /* bytes in value (values may hold no NUL; checked) */
} QfRecord;

/* QfHeader - a view into an H record (pointers are borrowed from the Qf) */
typedef struct {
	const char *cond; /* between the ?s, e.g. "P" or "$x"; NULL if no ?..? */
	gsize cond_len;
	const char *name; /* field name */
	gsize name_len;
	const char *value; /* raw, METAQUOTE'd value after the colon */
	gsize value_len;
} QfHeader;

/*
 * qf_parse - parse a control file's whole content.
 * Returns a new Qf (free with qf_free), or NULL with @error in QF_ERROR.
 */
Qf *qf_parse(const char *data, gsize len, GError **error);

/* qf_copy - a deep copy of @qf */
Qf *qf_copy(const Qf *qf);

/* qf_free - free @qf and clear the caller's pointer */
void qf_free(Qf **qf);

/* qf_free_ptr - qf_free() for g_autoptr(Qf) */
static inline void
qf_free_ptr(Qf *p)
{
	qf_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Qf, qf_free_ptr)

/* qf_serialize - the control file bytes, ending with ".\n"; caller owns the GString */
GString *qf_serialize(const Qf *qf);

/* qf_n_records / qf_record - records in file order (borrowed) */
guint qf_n_records(const Qf *qf);
const QfRecord *qf_record(const Qf *qf, guint index);

/* qf_first - the first record of @type, or NULL (borrowed) */
const QfRecord *qf_first(const Qf *qf, char type);

/* qf_sender - envelope sender as written in the S record ("<a@b>"), or "" */
const char *qf_sender(const Qf *qf);

/*
 * qf_recipients - the envelope recipients' addresses (without R flags, with
 * the <> if present), in order; caller owns the array (g_ptr_array_unref).
 */
GPtrArray *qf_recipients(const Qf *qf);

/* qf_recipients_text - the recipients' addresses joined by ", "; newly allocated */
char *qf_recipients_text(const Qf *qf);

/* qf_macro - value of persistent macro @name ("_", "r", "{daemon_flags}") or NULL */
const char *qf_macro(const Qf *qf, const char *name);

/* qf_client_ip - the client IP from the $_ macro ("host [1.2.3.4]"), newly allocated, or NULL */
char *qf_client_ip(const Qf *qf);

/* qf_header_at - TRUE and @out filled if record @index is a parsable H record */
gboolean qf_header_at(const Qf *qf, guint index, QfHeader *out);

/*
 * qf_header_get - the dequoted, unfolded value of the first header called
 * @name (case-insensitive), leading white space trimmed; newly allocated, or NULL.
 */
char *qf_header_get(const Qf *qf, const char *name);

/* qf_headers_text - the headers as they will be delivered (dequoted, conds dropped,
 * Return-Path omitted), each line LF-terminated; for MIME parsing. */
GString *qf_headers_text(const Qf *qf);

/*
 * qf_add_header - append an unconditional header "H??Name: value" after the last
 * H record.  @value is quoted (METAQUOTE) and any newline not followed by
 * SP/TAB becomes a space, as sendmail's denlstring() does.
 */
void qf_add_header(Qf *qf, const char *name, const char *value);

/* qf_set_header - replace every header @name by one with @value (or add it) */
void qf_set_header(Qf *qf, const char *name, const char *value);

/* qf_remove_header - remove every header called @name; returns how many */
guint qf_remove_header(Qf *qf, const char *name);

/*
 * qf_add_recipient - a new recipient record "RPF:<addr>" after the last
 * recipient (before the headers when there is none): delivered like the
 * others, failures reported to the sender
 */
void qf_add_recipient(Qf *qf, const char *addr);

/* qf_remove_recipients - drop every recipient (R, with its Q and r records); returns how many */
guint qf_remove_recipients(Qf *qf);

/* qf_has_8bit_headers - TRUE if a header value holds a byte >= 0x80 (METAQUOTE bytes excluded) */
gboolean qf_has_8bit_headers(const Qf *qf);

/* qf_set_flag - set or clear one letter of the F record (created if needed) */
void qf_set_flag(Qf *qf, char flag, gboolean on);

/*
 * qf_set_body_type - keep the B record true to a rewritten body: B8BITMIME if
 * @eight_bit, else B7BIT when a B record exists (none is added for 7-bit).
 */
void qf_set_body_type(Qf *qf, gboolean eight_bit);

/*
 * qf_set_recipients - replace every recipient by @addrs (NULL-terminated,
 * each "user@domain" or "<user@domain>"), written "RPFD:<addr>" as for an
 * SMTP RCPT without NOTIFY=: a failure still bounces.  The R records go
 * and with them what belonged to them (Q, r, C); the new ones go where the
 * first R was, or before the headers.
 */
void qf_set_recipients(Qf *qf, const char *const *addrs);

/* qf_sanitize_for_outbound - drop the I, d and q records sendmail must not see */
void qf_sanitize_for_outbound(Qf *qf);

/*
 * qf_new_notice - the control file of a new message from mqsift itself: queued
 * at @now (Unix time), null sender, one recipient @to (a bare address: the
 * caller checks), 8BITMIME when @eight_bit.  No headers: add them with
 * qf_add_header().  Returns a new Qf, or NULL with @error if @to would break
 * the file.
 */
Qf *qf_new_notice(const char *to, gboolean eight_bit, gint64 now, GError **error);

/* qf_dequote - METAQUOTE removed: the bytes sendmail will deliver; newly allocated */
char *qf_dequote(const char *value, gsize len, gsize *out_len);

/* qf_quote - METAQUOTE added to a new header value; newly allocated */
char *qf_quote(const char *value, gsize len);

#endif
