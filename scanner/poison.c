/*
 * poison.c - failure counts, back-off, and quarantining poison messages
 */
#include "mqsift-build.h"

#include "scanner/poison.h"

#include <gio/gio.h>

#include "reports/notify.h"
#include "scanner/quarantine.h"
#include "scanner/scan.h"

struct PoisonGuard {
	const MqConfig *config;
	Store *store;         /* or NULL */
	GHashTable *attempts; /* queue ID -> gint64[2] {failures, last}, when there is no store */
};

/* poison_guard_new - a guard over @store */
PoisonGuard *
poison_guard_new(const MqConfig *config, Store *store)
{
	PoisonGuard *g = g_new0(PoisonGuard, 1);

	g->config = config;
	g->store = store;
	g->attempts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	return g;
}

/* poison_guard_free - free and clear */
void
poison_guard_free(PoisonGuard **guard)
{
	if (guard == NULL || *guard == NULL)
		return;
	g_hash_table_destroy((*guard)->attempts);
	g_free(*guard);
	*guard = NULL;
}

/* attempts_get - failed attempts of a message, from the store or memory */
static guint
attempts_get(PoisonGuard *g, const char *id, gint64 *last)
{
	if (g->store)
		return store_attempt_get(g->store, id, last);
	gint64 *v = g_hash_table_lookup(g->attempts, id);
	if (v && last)
		*last = v[1];
	return v ? (guint)v[0] : 0;
}

/* poison_backoff_seconds - 5 s, doubling, at most 5 min */
gint64
poison_backoff_seconds(guint tries)
{
	return tries == 0 ? 0 : MIN((gint64)5 << (tries - 1), 300);
}

/* poison_check - scan, wait, or quarantine */
PoisonCheck
poison_check(PoisonGuard *guard, const char *queue_id, gint64 now, guint *tries)
{
	gint64 last = 0;

	*tries = attempts_get(guard, queue_id, &last);
	if (*tries >= guard->config->scanner_max_attempts)
		return POISON_QUARANTINE;
	if (*tries > 0 && now < last + poison_backoff_seconds(*tries))
		return POISON_WAIT;
	return POISON_SCAN;
}

/* poison_failed - one more failure */
guint
poison_failed(PoisonGuard *guard, const char *queue_id)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (guard->store)
		return store_attempt_bump(guard->store, queue_id, now);
	gint64 *v = g_hash_table_lookup(guard->attempts, queue_id);
	if (v == NULL) {
		v = g_new0(gint64, 2);
		g_hash_table_insert(guard->attempts, g_strdup(queue_id), v);
	}
	v[0]++;
	v[1] = now;
	return (guint)v[0];
}

/* poison_forget - forget */
void
poison_forget(PoisonGuard *guard, const char *queue_id)
{
	if (guard->store)
		store_attempt_clear(guard->store, queue_id);
	else
		g_hash_table_remove(guard->attempts, queue_id);
}

/* error_key - scan errors are counted apart from crashes, under "error:<id>" */
static char *
error_key(const char *queue_id)
{
	return g_strconcat("error:", queue_id, NULL);
}

/* poison_scan_error - one more failed scan of @queue_id (not a crash) */
guint
poison_scan_error(PoisonGuard *guard, const char *queue_id)
{
	g_autofree char *key = error_key(queue_id);

	return poison_failed(guard, key);
}

/* poison_check_errors - wait, scan, or quarantine a message whose scans failed */
PoisonCheck
poison_check_errors(PoisonGuard *guard, const char *queue_id, gint64 now, gint64 queued_at,
                    guint *tries)
{
	g_autofree char *key = error_key(queue_id);
	gint64 last = 0;

	*tries = attempts_get(guard, key, &last);
	if (*tries == 0)
		return POISON_SCAN;
	/* enough errors, and for long enough: an outage of the scanner (a
	 * database being replaced, a full scratch disk) is not the message's
	 * fault, so until queue.error_grace it is retried, with a back-off */
	if (*tries >= guard->config->scanner_max_attempts &&
	    (queued_at <= 0 || now - queued_at >= (gint64)guard->config->queue_error_grace))
		return POISON_QUARANTINE;
	if (now < last + poison_backoff_seconds(*tries))
		return POISON_WAIT;
	return POISON_SCAN;
}

/* poison_forget_errors - the scan went through: its error count goes */
void
poison_forget_errors(PoisonGuard *guard, const char *queue_id)
{
	g_autofree char *key = error_key(queue_id);

	poison_forget(guard, key);
}

/* poison_quarantine - keep it whole, take it out of the queue, tell, record */
gboolean
poison_quarantine(PoisonGuard *guard, QueueClaim *claim, guint tries, QueueDir *out,
                  const char *scan_error, guint hours, GError **error)
{
	const MqConfig *config = guard->config;
	g_autoptr(GError) local = NULL;
	gsize df_size = 0;
	g_autofree char *ref = quarantine_ref(claim->id);
	g_autoptr(GString) message = qdir_claim_read_message(claim, &df_size, error);
	g_auto(ScanReport) rep = {0};

	if (message == NULL)
		return FALSE;
	rep.verdict = VERDICT_ERROR;
	rep.findings = g_ptr_array_new_with_free_func(scan_finding_free);
	rep.names = g_ptr_array_new_with_free_func(g_free);
	rep.detail = scan_error
	                 ? g_strdup_printf("its scan failed %u times over %u hours (last: %s)",
	                                   tries, hours, scan_error)
	                 : g_strdup_printf("the message made the scanner fail %u times", tries);
	if (!quarantine_store(config, ref, claim->qf, message->str, message->len, &rep, &local) ||
	    !qdir_claim_remove(claim, &local)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "poison message, cannot quarantine it: %s", local->message);
		return FALSE;
	}
	g_critical("%s: %s; quarantined whole as %s", claim->id, rep.detail, ref);
	poison_forget(guard, claim->id);
	poison_forget_errors(guard, claim->id);
	g_autofree char *nid = notify_poison(config, out, claim->qf, claim->id, tries, df_size, ref,
	                                     scan_error, hours, &local);
	if (nid == NULL) {
		g_warning("%s: cannot queue the notice to the postmaster: %s", claim->id,
		          local->message);
		g_clear_error(&local);
	}
	if (guard->store &&
	    !store_add_claimed(guard->store, claim->id, claim->qf, (gint64)df_size, rep.detail,
	                       scan_error ? "quarantined whole (it could not be scanned)"
	                                  : "quarantined whole (poison message)",
	                       ref, &local))
		g_clear_error(&local);
	return TRUE;
}
