/*
 * store.h - the SQLite store: one row per processed message
 *
 * SUMMARY
 *	reports.database holds the table "messages" of the contract in
 *	doc/design.md (queue_id, received, sender, recipients, subject, size,
 *	status, detail, action, ms) plus "findings" (one row per removed part)
 *	"releases" (one row per release from the quarantine) and "meta"
 *	(schema version).  WAL mode; written by the master only.
 *	Writing never holds up mail: a busy or failing database is logged and
 *	the message goes on (store_add returns FALSE, the caller logs).
 */
#ifndef MQSIFT_REPORTS_STORE_H
#define MQSIFT_REPORTS_STORE_H

#include <glib.h>

#include "queue/qf.h"

#define STORE_SCHEMA_VERSION 5

typedef struct Store Store;

/* StoreFinding - one removed part, as stored */
typedef struct {
	const char *path;
	const char *filename;
	const char *content_type;
	const char *what;
	gboolean infected;
} StoreFinding;

/* StoreRow - one processed message (all strings borrowed) */
typedef struct {
	const char *queue_id;
	gint64 received;
	const char *sender;
	const char *recipients; /* comma-separated */
	const char *subject;
	gint64 size;
	const char *status; /* clean | infected | blocked | error */
	const char *detail;
	const char *action; /* delivered | rewritten | replaced | left | ... */
	const char *quarantine;
	gint64 ms;
	const StoreFinding *findings;
	guint n_findings;
	/* spam (schema 5): NULL status = not checked */
	const char *spam;       /* no | yes | high | unchecked */
	double spam_score;      /* NAN: no score (spamd not asked or failed) */
	const char *spam_tests; /* rule names, comma-separated */
	const char *spam_dnsbl; /* zones that listed the client, space-separated */
} StoreRow;

/* store_open - open (creating, migrating) the database at @path; NULL with @error */
Store *store_open(const char *path, GError **error);

/* store_close - close and clear the caller's pointer */
void store_close(Store **store);

/* store_close_ptr - store_close() for g_autoptr(Store) */
static inline void
store_close_ptr(Store *p)
{
	store_close(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Store, store_close_ptr)

/* store_add - insert one message; FALSE with @error (the caller logs and goes on) */
gboolean store_add(Store *store, const StoreRow *row, GError **error);

/*
 * store_add_claimed - the row of a message that did not go through the scan
 * (left in its queue, quarantined whole): sender, recipients and subject from
 * its control file @qf, status "error"; @size may be 0, @quarantine NULL
 */
gboolean store_add_claimed(Store *store, const char *queue_id, const Qf *qf, gint64 size,
                           const char *detail, const char *action, const char *quarantine,
                           GError **error);

/* store_begin / store_commit - group the rows of a batch in one transaction */
void store_begin(Store *store);
void store_commit(Store *store);

/*
 * store_attempt_bump - count one more failed attempt (a worker died or hung)
 * at processing @queue_id; returns the new count (0 if the store failed).
 */
guint store_attempt_bump(Store *store, const char *queue_id, gint64 now);

/* store_attempt_get - failed attempts so far and the time of the last one */
guint store_attempt_get(Store *store, const char *queue_id, gint64 *last);

/* store_attempt_clear - the message went through (or was set aside) */
void store_attempt_clear(Store *store, const char *queue_id);

/*
 * store_release_add - record that quarantine entry @ref was released as
 * @queue_id to @recipients (comma-separated) at @when; @again if it had
 * been released before.  FALSE with @error.
 */
gboolean store_release_add(Store *store, const char *ref, const char *queue_id, gint64 when,
                           const char *recipients, gboolean again, GError **error);

/* store_release_count - how many times @ref was released (0 on an error) */
guint store_release_count(Store *store, const char *ref);

/* store_prune - remove rows older than @keep_days; returns how many (-1 on error) */
int store_prune(Store *store, guint keep_days);

/* store_pending_retries - rows kept in memory because the database was busy or full */
guint store_pending_retries(const Store *store);

/* store_sample_add - the queue depths at @t (unix time); logged if it fails */
void store_sample_add(Store *store, gint64 t, guint inbound, guint outbound);

/* QueueSample - one sample of the queue depths */
typedef struct {
	gint64 t;
	guint inbound, outbound;
} QueueSample;

/* store_samples_between - the samples of [@since, @until), oldest first; a GArray of QueueSample */
GArray *store_samples_between(Store *store, gint64 since, gint64 until, GError **error);

/* StoredMessage - one row of "messages" read back; every text made safe to show, one line */
typedef struct {
	char *queue_id;
	gint64 received;
	char *sender;
	char *recipients;
	char *subject;
	gint64 size;
	char *status;
	char *detail;
	char *action;
	char *quarantine;
	gint64 ms;
	char *spam;        /* "" when not checked; no | yes | high | unchecked */
	double spam_score; /* NAN: none */
	char *spam_dnsbl;
} StoredMessage;

/*
 * store_messages_between - the messages received in [@since, @until), oldest
 * first.  Texts are escaped again with untrusted_text() (rows written by older
 * versions were not) and cut at 8 KiB.  Returns a GArray of StoredMessage that
 * frees its rows' strings, or NULL with @error.
 */
GArray *store_messages_between(Store *store, gint64 since, gint64 until, GError **error);

/* StoreTraffic - the messages of one time bucket, by verdict */
typedef struct {
	gint64 start; /* unix time */
	guint clean, spam, infected, blocked, error;
} StoreTraffic;

/*
 * store_traffic - the messages received in [@since, @until) counted by verdict
 * in buckets of @width seconds, the first starting at @since; every bucket is
 * there, empty ones too (at most 100000).  A message counts once: a clean one
 * the spam check called spam (yes or high) counts as spam, not clean; an
 * infected or blocked one stays infected or blocked.  Counted in SQL (GROUP BY
 * bucket).  Returns a GArray of StoreTraffic, or NULL with @error.
 */
GArray *store_traffic(Store *store, gint64 since, gint64 until, gint64 width, GError **error);

/* StoreQueueDepth - the deepest queues sampled in one time bucket */
typedef struct {
	gint64 start;
	gboolean sampled; /* FALSE: no sample in this bucket (the master was not running) */
	guint inbound, outbound;
} StoreQueueDepth;

/*
 * store_queue_depths - the queue samples of [@since, @until) in buckets of
 * @width seconds as store_traffic() cuts them, the largest depth of each
 * bucket.  Returns a GArray of StoreQueueDepth, or NULL with @error.
 */
GArray *store_queue_depths(Store *store, gint64 since, gint64 until, gint64 width, GError **error);

#endif
