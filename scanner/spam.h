/*
 * spam.h - spam checks in the same pass as the virus scan (issue #16)
 *
 * SUMMARY
 *	A Spam runs one I/O thread in the master process: it talks to the
 *	spamd servers (spamd.h) and the DNS blocklists (dnsbl.h) with
 *	non-blocking sockets in one poll() loop, at most spam.max_in_flight
 *	messages at a time.  The scan workers keep no network access, and the
 *	master's own loop never waits on the network: it only starts checks
 *	and collects finished ones.
 *
 * THE INTEGRATION API (what the pass calls; scanner/runner.c and scanner/pool.c, "SPAM:" marks)
 *	spam_new(config)          at runner_new: NULL (and no error) when no
 *	                          spamd and no blocklist is configured, so the
 *	                          virus-only pass does not change at all
 *	spam_start(spam, eff, id, qf, df_fd, df_size)
 *	                          at job_start, before the worker gets the
 *	                          message: the check runs while it is scanned
 *	spam_notify_fd(spam)      poll it (POLLIN) with the workers: readable
 *	                          when some check finished; spam_notify_drain()
 *	spam_check_done(check)    a worker answered: finish the message now, or
 *	                          park it until its check is done (bounded by
 *	                          spam_check_bound(): every server's timeout
 *	                          plus the blocklist timeout)
 *	spam_finish(...)          at job_finish, with the outbound qf: adds the
 *	                          headers, applies the actions, says whether
 *	                          the message is committed, left queued
 *	                          (on_error: defer) or was taken (quarantined
 *	                          without delivery, or deleted)
 *	spam_check_free(check)    always (cancels a check still running)
 *
 *	A check never blocks and always ends: each spamd has its timeout and
 *	a circuit breaker (a failed server is skipped spam.spamd_retry
 *	seconds), the blocklists have theirs.
 */
#ifndef MQSIFT_SCANNER_SPAM_H
#define MQSIFT_SCANNER_SPAM_H

#include <glib.h>

#include "queue/qdir.h"
#include "queue/qf.h"
#include "config/config.h"

typedef struct Spam Spam;
typedef struct SpamCheck SpamCheck;

/* SpamOutcome - what the check found and what was done, for the log line and the store */
typedef struct {
	const char *status; /* NULL: not checked; "no", "yes", "high", "unchecked" (static) */
	gboolean has_score;
	double score;
	char *tests;      /* rule names, comma-separated, or NULL */
	char *dnsbl;      /* zones listing the client, space-separated, or NULL */
	char *detail;     /* allow/deny rule, failed servers, timeouts, size, or NULL */
	char *action;     /* what was done, e.g. "deliver, header" */
	char *quarantine; /* the quarantine reference of a spam copy, or NULL */
} SpamOutcome;

/* SpamFinish - what happens to the message */
typedef enum {
	SPAM_FINISH_COMMIT,    /* commit the (edited) outbound qf as usual */
	SPAM_FINISH_DEFER,     /* leave it in the inbound queue (spam.on_error: defer) */
	SPAM_FINISH_DISCARDED, /* removed from the inbound queue (quarantined and/or deleted) */
} SpamFinish;

/* spam_new - the checker for @config (borrowed); NULL without @error when spam is off */
Spam *spam_new(const MqConfig *config, GError **error);

/* spam_free - stop the thread, free, clear the pointer */
void spam_free(Spam **spam);

/* spam_free_ptr - spam_free() for g_autoptr(Spam) */
static inline void
spam_free_ptr(Spam *p)
{
	spam_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Spam, spam_free_ptr)

/*
 * spam_start - start checking a claimed message (its control file @qf and
 * the body @df_fd of @df_size bytes, read here with pread).  @eff: the
 * message's settings.  NULL when @spam is NULL or spam.check is off for it.
 */
SpamCheck *spam_start(Spam *spam, const MqConfig *eff, const char *id, const Qf *qf, int df_fd,
                      gint64 df_size);

/* spam_check_done - finished (a NULL check is) */
gboolean spam_check_done(const SpamCheck *check);

/* spam_check_bound - the longest a check can take, in microseconds */
gint64 spam_check_bound(const Spam *spam);

/* spam_notify_fd - readable when a check finished (-1 for a NULL @spam) */
int spam_notify_fd(const Spam *spam);

/* spam_notify_drain - reset it */
void spam_notify_drain(Spam *spam);

/*
 * spam_finish - apply a finished check: the X-Spam-* headers and the
 * actions go into @out (the outbound control file); a quarantined copy
 * is written under @ref; for SPAM_FINISH_DISCARDED the inbound files of
 * @claim (still the caller's) are removed.  @virus_clean: when the virus
 * scan found something, that verdict rules and spam only adds headers.
 * @outcome is filled for the log line and the store.  SPAM_FINISH_DEFER
 * comes with @error (why); so does SPAM_FINISH_COMMIT's fallback when a
 * quarantine or removal failed (then the message is delivered).
 */
SpamFinish spam_finish(Spam *spam, SpamCheck *check, const MqConfig *eff, QueueClaim *claim,
                       const char *ref, gboolean virus_clean, Qf *out, SpamOutcome *outcome,
                       GError **error);

/* spam_check_free - free (cancelling a check still running); clears the pointer */
void spam_check_free(SpamCheck **check);

/* spam_outcome_clear - free the outcome's strings */
void spam_outcome_clear(SpamOutcome *outcome);

/*
 * spam_lint - check each spamd (PING, and GTUBE must be spam) and each
 * blocklist zone (127.0.0.2 must be listed); one line per check into
 * @report, problems into @problems.  TRUE when nothing is wrong.
 */
gboolean spam_lint(const MqConfig *config, GString *report, GString *problems);

/* spam_gtube - the GTUBE test message (static) */
const char *spam_gtube(void);

#endif
