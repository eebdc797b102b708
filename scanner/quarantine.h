/*
 * quarantine.h - keep what was removed, and give it back on request
 *
 * SUMMARY
 *	Each quarantined message is a directory quarantine.dir/YYYYMMDD/<queue id>/
 *	(mode 0700) holding, mode 0600, written with the durable-write helper:
 *	  message.eml  the original message as it arrived (qf headers + df body)
 *	  envelope     the original control file (sender, recipients, options)
 *	  info         what was found, one "key: value" line each
 *	  part-N.bin   each removed part, decoded, under a generated name
 *	  released     one line per release: time, new queue ID, recipients
 *	  releasing    only while a release is under way (or was interrupted)
 *	No path is ever built from a name found in the message.  The reference
 *	shown to people is "YYYYMMDD/<queue id>".
 */
#ifndef MQSIFT_SCANNER_QUARANTINE_H
#define MQSIFT_SCANNER_QUARANTINE_H

#include <glib.h>

#include "queue/qdir.h"
#include "queue/qf.h"
#include "config/config.h"
#include "scanner/scan.h"

/* quarantine_ref - the reference for @id quarantined now: "YYYYMMDD/<id>"; newly allocated */
char *quarantine_ref(const char *id);

/*
 * quarantine_store - write the entry @ref for a message (@qf, and @message:
 * its @len bytes, headers and body as it arrived) and @report's findings.
 * Returns FALSE with @error; then nothing is left half-written.
 */
gboolean quarantine_store(const MqConfig *config, const char *ref, const Qf *qf,
                          const char *message, gsize len, const ScanReport *report, GError **error);

/* QuarantineFilter - what "quarantine list" shows (NULL/0: anything) */
typedef struct {
	gint64 since;        /* entries received at or after this unix time */
	const char *from;    /* sender contains this (case-insensitive) */
	const char *to;      /* a recipient contains this (case-insensitive) */
	const char *verdict; /* infected | blocked | ... exactly */
} QuarantineFilter;

/*
 * quarantine_list - print a header line, then one tab-separated line per
 * entry (reference, date, verdict, sender, recipients, subject), newest
 * first, the ones @filter (may be NULL) lets through.  Returns how many, or
 * -1 with @error when the quarantine (or a day of it) cannot be read; a
 * quarantine that does not exist yet holds nothing.
 */
int quarantine_list(const MqConfig *config, const QuarantineFilter *filter, GString *out,
                    GError **error);

/*
 * quarantine_show - print the entry @ref (info, dates as dates, then the
 * original headers); FALSE with @error if it is not there or unreadable
 */
gboolean quarantine_show(const MqConfig *config, const char *ref, GString *out, GError **error);

/*
 * quarantine_resolve - the reference of the entry @text names: a reference
 * "YYYYMMDD/<queue id>" that exists, or a bare queue ID found in exactly one
 * day.  Newly allocated, or NULL with @error: G_FILE_ERROR_NOENT if there
 * is no such entry, G_IO_ERROR_INVALID_ARGUMENT if @text is neither form or
 * the ID is in several days (the message lists them).
 */
char *quarantine_resolve(const MqConfig *config, const char *text, GError **error);

/* QuarantineRelease - how to release an entry */
typedef struct {
	const char *const *to; /* NULL: the original recipients; else these addresses */
	gboolean again;        /* release an entry that was released before */
} QuarantineRelease;

/*
 * quarantine_release - re-inject the original message @ref into the outgoing
 * queue @out under a new queue ID, marked "X-Virus-Status: Released".  The
 * entry is locked meanwhile, and each release is recorded in its
 * "released" file ("<time> <new id> <recipients>" per line); an entry
 * released before (or whose release was interrupted) is refused with
 * G_IO_ERROR_EXISTS unless @how->again.  Returns the new ID, or NULL with
 * @error.  @how may be NULL.
 */
char *quarantine_release(const MqConfig *config, QueueDir *out, const char *ref,
                         const QuarantineRelease *how, GError **error);

/* quarantine_released - the lines of @ref's "released" file (how often, as what); NULL if never */
char *quarantine_released(const MqConfig *config, const char *ref);

/*
 * quarantine_purge - remove entries older than quarantine.keep_days and set
 * *@purged to how many went.  Returns FALSE with @error when the quarantine
 * cannot be read or an entry cannot be removed (*@purged counts those removed
 * before); a quarantine directory that does not exist yet holds nothing.
 */
gboolean quarantine_purge(const MqConfig *config, guint *purged, GError **error);
/* (each entry removed is logged: reference, date, sender, verdict) */

/* quarantine_valid_ref - TRUE if @ref is "YYYYMMDD/<id>" with nothing else in it */
gboolean quarantine_valid_ref(const char *ref);

#endif
