/*
 * scan.h - one message: scan it, decide, and rewrite what must go
 *
 * SUMMARY
 *	scan_message() takes a whole RFC 5322 message (headers and body) and
 *	gives a ScanReport:
 *	  1. one libclamav scan of the raw message (catches what a MIME walk
 *	     could miss: malformed structure, uuencode in text, ...);
 *	  2. a GMime walk of every leaf part, nested messages included, with
 *	     the filename policy on each declared name;
 *	  3. if anything was found, every leaf part is decoded and scanned on
 *	     its own, and each bad one is replaced by a text part naming the
 *	     file, what was found and the quarantine reference;
 *	  4. the rewritten message is scanned again: if it still holds what
 *	     was found (a part the walk could not isolate), or the top level is
 *	     itself the bad part, the whole message is replaced by a notice.
 *	A clean message costs one raw scan and one parse, and is not rewritten.
 */
#ifndef MQSIFT_SCANNER_SCAN_H
#define MQSIFT_SCANNER_SCAN_H

#include <glib.h>

#include "rules/config.h"
#include "rules/policy.h"
#include "scanner/engine.h"

typedef enum {
	VERDICT_CLEAN,
	VERDICT_INFECTED,
	VERDICT_BLOCKED,
	VERDICT_ERROR,
} Verdict;

/* Finding - one removed part */
typedef struct {
	char *path;         /* MIME path, "1.2", or "message" for the whole message */
	char *filename;     /* declared file name, or NULL */
	char *content_type; /* declared type */
	char *what;         /* signature names, or the rule that blocked it */
	gboolean infected;  /* virus (TRUE) or policy (FALSE) */
	char *saved_name;   /* safe name in the quarantine ("part-1.bin") */
	char *advice;       /* the filename rule's text for the recipient, or NULL */
	GBytes *content;    /* decoded content as it was */
} Finding;

/* ScanReport - the outcome for one message */
typedef struct {
	Verdict verdict;
	GPtrArray *findings;    /* of Finding* */
	GPtrArray *names;       /* every signature name found */
	char *blocked;          /* first policy reason, or NULL */
	gboolean limits;        /* a scan limit was exceeded */
	gboolean whole_message; /* the body was replaced by a notice */
	GBytes *new_body;       /* rewritten body (no top-level headers), or NULL */
	char *new_content_type; /* top-level Content-Type to set with new_body, or NULL */
	char *detail;           /* error text for VERDICT_ERROR */
	guint parts;            /* leaf parts walked */
	gboolean unscanned;     /* scanner.scan is off for this message */
} ScanReport;

/* ScanContext - what every scan needs (all borrowed) */
typedef struct {
	const MqConfig *config;
	Engine *engine;
	const Policy *policy;
	const char *quarantine_ref;     /* shown in replacement texts ("20261124/<id>") */
	const char *const *rules_files; /* the recipients' filename rules files; NULL: default */
} ScanContext;

/* scan_message - scan and, when needed, rewrite; fills @report (scan_report_clear it) */
void scan_message(const ScanContext *ctx, const char *message, gsize len, ScanReport *report);

/* scan_finding_free - free one Finding (a GDestroyNotify) */
void scan_finding_free(gpointer finding);

/* scan_report_clear - free a report's contents */
void scan_report_clear(ScanReport *report);

/* scan_status_header - the X-Virus-Status value for @report; newly allocated */
char *scan_status_header(const ScanReport *report);

/* scan_join_names - signature names joined by ", "; newly allocated */
char *scan_join_names(GPtrArray *names);

/* verdict_name -  "clean", "infected", "blocked", "error" */
const char *verdict_name(Verdict verdict);

#endif
