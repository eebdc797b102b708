/*
 * logline.h - the per-message log line, in sendmail's style
 *
 * SUMMARY
 *	One line per message, "<queue id>: key=value, key=value, ...", the
 *	keys in a fixed order and spelled as sendmail spells them where
 *	sendmail has them (from=, size=, nrcpts=, msgid=, relay=, to=), so
 *	that one grep follows a message through both sendmails and mqsift:
 *
 *	ID: from=<s>, size=N, nrcpts=N, msgid=<m>, relay=host [ip],
 *	    to=<a>,<b>, verdict=V[, signatures=A,B | rule="text"]
 *	    [, ambiguous="text"][, quarantine=YYYYMMDD/ID]
 *	    [, spam=no|yes|high|unchecked[, score=S][, tests=A,B][, dnsbl=Z1,Z2]
 *	    , spam_action="text"[, spam_detail="text"]], action=WORD, ms=N
 *
 *	(one line; msgid= and relay= are left out when the message has
 *	none, the spam fields when it was not checked for spam).  A value
 *	that may hold ", " (a rule, an ambiguity, a spam action) is quoted
 *	with "", its own " and \ escaped, so splitting on ", " outside
 *	quotes always gives the fields.
 */
#ifndef MQSIFT_SCANNER_LOGLINE_H
#define MQSIFT_SCANNER_LOGLINE_H

#include <glib.h>

#include "queue/qf.h"
#include "scanner/scan.h"
#include "scanner/spam.h"

/* LogLine - what the line says about one message (all borrowed) */
typedef struct {
	const char *queue_id;
	const Qf *qf;    /* the inbound control file: from, nrcpts, msgid, relay, to */
	gint64 size;     /* logline_size() */
	Verdict verdict; /* VERDICT_ERROR for a message left in the queue */
	const ScanReport *report;
	const char *quarantine;  /* reference, or NULL */
	const SpamOutcome *spam; /* the spam check's, or NULL (not checked) */
} LogLine;

/*
 * logline_size - the size sendmail logged for this message when it came
 * in (its e_msgsize: headers as received, the blank line and the body,
 * LF line ends).  The qf does not record it, but its P record is
 * e_msgsize - class * 1800 + nrcpts * 30000 for a message no queue run has
 * touched; the class is Precedence's (sendmail.cf's defaults).  When P does
 * not fit (missing, or smaller than @df_size), the headers of the qf plus
 * the blank line plus @df_size.
 */
gint64 logline_size(const Qf *qf, gint64 df_size);

/*
 * logline_action - the one-word action of the line: delivered,
 * delivered-unscanned, delivered-partly-scanned, parts-removed, replaced,
 * left-in-queue (static string)
 */
const char *logline_action(const ScanReport *report, Verdict verdict, gboolean committed);

/*
 * logline_spam_action - the action word of a message the spam check took
 * out of the queue instead of delivering it: spam-quarantined or
 * spam-deleted (static string)
 */
const char *logline_spam_action(const SpamOutcome *spam);

/*
 * logline_format - the line from "from=" up to the quarantine reference:
 * the caller adds ", action=WORD, ms=N" once the commit has told which
 * action it was, and logs it after "ID: ".  Newly allocated.
 */
char *logline_format(const LogLine *line);

#endif
