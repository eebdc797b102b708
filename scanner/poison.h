/*
 * poison.h - retries of messages that crash or hang their worker, and the
 * poison-message guard
 *
 * SUMMARY
 *	A message whose worker died or hung stays in its queue and is counted
 *	(in the store, so the count survives a restart; in memory when there
 *	is no store).  It is retried after a back-off that doubles from 5 s up
 *	to 5 min; after scanner.max_attempts failures it is a poison message:
 *	poison_quarantine() keeps it whole in quarantine, takes it out of the
 *	queue, tells the postmaster and records it, and the queue keeps
 *	flowing.
 */
#ifndef MQSIFT_SCANNER_POISON_H
#define MQSIFT_SCANNER_POISON_H

#include <glib.h>

#include "queue/qdir.h"
#include "reports/store.h"
#include "config/config.h"

typedef struct PoisonGuard PoisonGuard;

/* PoisonCheck - what to do with a message now */
typedef enum {
	POISON_SCAN,       /* never failed, or its back-off is over */
	POISON_WAIT,       /* failed recently: leave it for a later pass */
	POISON_QUARANTINE, /* failed scanner.max_attempts times */
} PoisonCheck;

/* poison_guard_new - counts in @store (borrowed, may be NULL: counted in memory) */
PoisonGuard *poison_guard_new(const MqConfig *config, Store *store);

/* poison_guard_free - free and clear the caller's pointer */
void poison_guard_free(PoisonGuard **guard);

/* poison_guard_free_ptr - poison_guard_free() for g_autoptr(PoisonGuard) */
static inline void
poison_guard_free_ptr(PoisonGuard *p)
{
	poison_guard_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PoisonGuard, poison_guard_free_ptr)

/* poison_check - what to do with @queue_id at @now (Unix time); *@tries = failures so far */
PoisonCheck poison_check(PoisonGuard *guard, const char *queue_id, gint64 now, guint *tries);

/* poison_failed - count one more failure of @queue_id; returns the count */
guint poison_failed(PoisonGuard *guard, const char *queue_id);

/* poison_forget - @queue_id went through (or was set aside): its count goes */
void poison_forget(PoisonGuard *guard, const char *queue_id);

/* poison_backoff_seconds - how long a message that failed @tries times waits */
gint64 poison_backoff_seconds(guint tries);

/*
 * poison_quarantine - keep the claimed message whole in quarantine, remove it
 * from its queue, tell the postmaster (a notice queued in @out), record it in
 * the store.  @tries is its failure count; @scan_error, when not NULL, the
 * last error of a message whose scans kept failing for @hours hours.  Returns FALSE with @error
 * when it cannot be quarantined or removed: it then stays where it is.
 */
gboolean poison_quarantine(PoisonGuard *guard, QueueClaim *claim, guint tries, QueueDir *out,
                           const char *scan_error, guint hours, GError **error);

/*
 * poison_scan_error - count one more scan of @queue_id that ended in an
 * error verdict (counted apart from crashes); returns the count
 */
guint poison_scan_error(PoisonGuard *guard, const char *queue_id);

/*
 * poison_check_errors - for a message whose scans failed: POISON_WAIT during
 * the back-off, POISON_QUARANTINE after scanner.max_attempts errors once it
 * has been queued (since @queued_at, Unix time; 0: unknown) at least
 * queue.error_grace, else POISON_SCAN
 */
PoisonCheck poison_check_errors(PoisonGuard *guard, const char *queue_id, gint64 now,
                                gint64 queued_at, guint *tries);

/* poison_forget_errors - the message was scanned: its error count goes */
void poison_forget_errors(PoisonGuard *guard, const char *queue_id);

#endif
