/*
 * scan.h - one message: scan it, decide, and rewrite what must go
 *
 * SUMMARY
 *	scan_message() takes a whole RFC 5322 message (headers and body) and
 *	gives a ScanReport.  A message is as dangerous as its most generous
 *	reader, so what each of two parsers extracts is scanned:
 *	  1. one libclamav scan of the raw message, with libclamav's own mail
 *	     parser; each file it extracts is recorded (seen.h) with its verdict;
 *	  2. a GMime walk of every part, nested messages included: every name a
 *	     reader could show (mime.h) through the filename policy, the
 *	     headers checked for ambiguity, and each leaf's decoded content -
 *	     plus the files pasted in text (embedded.h) and TNEF - given the
 *	     recorded verdict of the same bytes, or scanned when libclamav never
 *	     saw them (the evasion case).  After a limit in the raw scan every
 *	     part is scanned on its own;
 *	  3. what two readers read two ways is a verdict (mime.on_ambiguous);
 *	     each bad leaf is replaced by a text part naming the file, what was
 *	     found and the quarantine reference, every multipart gets a fresh
 *	     boundary;
 *	  4. the rewritten message is scanned again (contents already scanned
 *	     clean are passed over): if it still holds anything, or the
 *	     structure is ambiguous, or the top level is itself the bad part,
 *	     the whole message is replaced by a notice.
 *	A well-formed clean message costs one libclamav scan and one parse, and
 *	is not rewritten.
 */
#ifndef MQSIFT_SCANNER_SCAN_H
#define MQSIFT_SCANNER_SCAN_H

#include <glib.h>

#include "config/config.h"
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
	char *ambiguous;        /* what two readers could read two ways ("; "-joined), or NULL */
	guint scans;            /* libclamav scans run: 1 for well-formed mail */
} ScanReport;

/*
 * ScanSettings - what a scan reads from the configuration, and nothing else
 * (the model is Dovecot's message_parser_settings).  Strings are borrowed.
 */
typedef struct {
	/* limits: hitting one is a verdict by on_limits, never a crash */
	guint64 max_message_size; /* scanner.max_message_size */
	guint64 max_file_size;    /* scanner.max_file_size */
	guint max_mime_depth;     /* scanner.max_mime_depth */
	guint max_mime_parts;     /* scanner.max_mime_parts */
	const char *on_limits;    /* scanner.on_limits: "deliver" | "block" */
	const char *on_ambiguous; /* mime.on_ambiguous: "deliver" | "block" */
	/* policy */
	gboolean filename_checks;       /* policy.filename_checks */
	gboolean filetype_checks;       /* policy.filetype_checks */
	const char *encrypted_archives; /* policy.encrypted_archives: "allow" | "deny" */
	const char *infected_action;    /* policy.infected_action: "clean" | "replace" */
	const char *blocked_action;     /* policy.blocked_action */
	gboolean inline_warning;        /* policy.inline_warning */
	/* the replacement texts */
	const char *hostname;   /* scanner.hostname; empty: the machine's name */
	const char *postmaster; /* notify.postmaster */
	const char *org;        /* reports.org */
	const char *templates;  /* reports.templates */
	const char *language;   /* reports.language */
} ScanSettings;

/* scan_settings_from_config - fill @settings from @config (which must outlive them) */
void scan_settings_from_config(const MqConfig *config, ScanSettings *settings);

/* ScanContext - what every scan needs (all borrowed) */
typedef struct {
	const ScanSettings *settings;
	Engine *engine;
	const Policy *policy;
	const char *quarantine_ref;     /* shown in replacement texts ("20261124/<id>") */
	const char *const *rules_files; /* the recipients' filename rules files; NULL: default */
} ScanContext;

/* scan_message - scan and, when needed, rewrite; fills @report (scan_report_clear it) */
void scan_message(const ScanContext *ctx, const char *message, gsize len, ScanReport *report);

/*
 * scan_message_body_fd - scan_message() on a message whose bytes from
 * @body_offset on are also the first @len - @body_offset bytes of @body_fd
 * (the queue's df after the headers from the qf; -1: none).  The raw scan
 * reads them from @body_fd, so when @message maps the file, the raw scan
 * does not page the mapping in: a large message is not held in memory
 * twice (as the mapping and as libclamav's read of it) while libclamav
 * parses it.  @body_fd is only read (pread), never moved or closed.
 */
void scan_message_body_fd(const ScanContext *ctx, const char *message, gsize len, int body_fd,
                          gsize body_offset, ScanReport *report);

/* ScanMessageMap - a message as a worker reads it: headers, then the df mapped */
typedef struct {
	char *base;      /* start of the whole mapping */
	gsize base_len;  /* its length */
	char *body;      /* the file's mapping (page-aligned), or NULL */
	gsize body_len;  /* the file's size: the message's last body_len bytes */
	const char *msg; /* headers then body, contiguous, read only */
	gsize len;
} ScanMessageMap;

/*
 * scan_message_map - @headers followed by the whole of @body_fd as one
 * read-only range in @map, without reading the file into memory: the file
 * is mapped (private, read only) right after anonymous pages that end with
 * the headers, so its pages are the page cache's and only count while
 * read.  Give it to scan_message_body_fd() with @body_fd and
 * map->len - map->body_len.  FALSE with @error set if the file is not a
 * regular file, is larger than @max_size, or cannot be mapped.  The file
 * must not shrink while mapped (reading past its end is SIGBUS: the
 * worker's death, which the poison guard handles, never a verdict).
 */
gboolean scan_message_map(const char *headers, int body_fd, gsize max_size, ScanMessageMap *map,
                          GError **error);

/* scan_message_map_release - let go of the file's pages read so far (they are read
 * again from the file when needed) */
void scan_message_map_release(ScanMessageMap *map);

/* scan_message_map_clear - unmap and clear */
void scan_message_map_clear(ScanMessageMap *map);

/* scan_finding_free - free one Finding (a GDestroyNotify) */
void scan_finding_free(gpointer finding);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Finding, scan_finding_free)

/* scan_report_clear - free a report's contents */
void scan_report_clear(ScanReport *report);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ScanReport, scan_report_clear)

/* scan_status_header - the X-Virus-Status value for @report; newly allocated */
char *scan_status_header(const ScanReport *report);

/* scan_join_names - signature names joined by ", "; newly allocated */
char *scan_join_names(GPtrArray *names);

/* scan_verdict_name -  "clean", "infected", "blocked", "error" */
const char *scan_verdict_name(Verdict verdict);

#endif
