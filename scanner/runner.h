/*
 * runner.h - one pass: take every message from the inbound queues, scan,
 * rewrite, quarantine, commit into the outgoing queue, record
 *
 * SUMMARY
 *	A Runner holds what a pass needs (queues, engine, policy, store, the
 *	scan workers, the poison guard).  runner_pass() first completes the
 *	commits a crash interrupted, then claims every complete message
 *	present, hands each to a worker, prepares what the worker decided for
 *	commit, and commits in batches of queue.batch_size.  A message that
 *	cannot be processed (broken control file, missing body, scan error,
 *	full disk) is logged and left where it is, safe, for the next pass.
 *	The daemon around the passes is run.c.
 */
#ifndef MQSIFT_SCANNER_RUNNER_H
#define MQSIFT_SCANNER_RUNNER_H

#include <signal.h>
#include <glib.h>

#include "config/config.h"

typedef struct Runner Runner;

/* processing-time histogram bounds of PassStats (ms, upper bounds; one more bucket above) */
#define RUNNER_MS_BUCKETS 9
extern const guint runner_ms_bounds[RUNNER_MS_BUCKETS];

/* PassStats - what one pass did */
typedef struct {
	guint seen;
	guint committed;
	guint clean;
	guint infected;
	guint blocked;
	guint left; /* errors and busy messages left in the queue */
	guint recovered;
	guint64 ms_total;                        /* processing time of the committed ones */
	guint ms_buckets[RUNNER_MS_BUCKETS + 1]; /* how many took <= each bound, and more */
} PassStats;

/*
 * RunnerTick - called in the pass loop after each round of worker answers,
 * with the pass's counts so far, so the daemon's status stays live
 */
typedef void (*RunnerTick)(gpointer data, const PassStats *so_far);

/* runner_set_tick - install @tick (NULL: none) */
void runner_set_tick(Runner *runner, RunnerTick tick, gpointer data);

/* RunnerWorker - one scan worker, for "mqsift status" */
typedef struct {
	int pid;
	gboolean busy;
	char id[32];  /* queue ID in hand when busy */
	gint64 since; /* monotonic microseconds it has had it */
} RunnerWorker;

/* runner_workers - every worker's state; a new GArray of RunnerWorker */
GArray *runner_workers(const Runner *runner);

/* runner_engine_info - signatures, database version, built and loaded (unix times) */
void runner_engine_info(const Runner *runner, guint *signatures, guint *version, gint64 *built,
                        gint64 *loaded);

/* runner_outgoing_dir - the qf directory of the outgoing queue (borrowed) */
const char *runner_outgoing_dir(const Runner *runner);

/* runner_store - the store, or NULL when it could not be opened (borrowed) */
struct Store *runner_store(const Runner *runner);

/*
 * runner_new - open the queues, policy, engine and store for @config
 * (borrowed: it must outlive the runner) and start the scan workers.
 * Returns NULL with @error if a queue, the policy, the engine or the workers
 * cannot be had; a store that cannot be opened is logged (mail still flows).
 */
Runner *runner_new(const MqConfig *config, GError **error);

/*
 * runner_reload - replace *@runner with a runner for @config (borrowed, as
 * for runner_new).  A signature reload under way is finished first.  The
 * engine is kept when engine_fits() says it can be: the new workers start
 * at once if it is the only engine left.  Else a new one is loaded while
 * the old runner's workers stay up, the old runner is freed, and only after
 * it the new workers start (at the next pass).  Returns FALSE with @error,
 * *@runner untouched, if the new runner cannot be had.
 */
gboolean runner_reload(Runner **runner, const MqConfig *config, GError **error);

/* runner_free - stop the workers, free, clear the caller's pointer */
void runner_free(Runner **runner);

/* runner_free_ptr - runner_free() for g_autoptr(Runner) */
static inline void
runner_free_ptr(Runner *p)
{
	runner_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Runner, runner_free_ptr)

/*
 * runner_pass - one pass over the inbound queues, filling @stats.  When *@stop
 * becomes non-zero (a signal; @stop may be NULL), no new message is handed
 * out and the pass ends once the messages in hand are committed.  Returns
 * FALSE if a queue could not be read or recovered.
 */
gboolean runner_pass(Runner *runner, const volatile sig_atomic_t *stop, PassStats *stats);

/*
 * runner_check_reload - when the signature databases changed, build a new
 * engine in the background; once it is built, scan with it: the workers stop
 * as their messages finish, the old engine is freed beside the master once
 * none of them is left, and new workers start after that.  A database that
 * does not load is logged and the old engine keeps scanning.
 */
void runner_check_reload(Runner *runner);

/*
 * runner_engine_switching - TRUE from a reload's start until the engine it
 * replaced is freed: the daemon then looks again every second
 */
gboolean runner_engine_switching(const Runner *runner);

/* runner_prune_store - remove the store's rows older than reports.keep_days */
void runner_prune_store(Runner *runner);

/* runner_inbound_dirs - the qf directories of the inbound queues, to watch (newly allocated) */
GPtrArray *runner_inbound_dirs(const Runner *runner);

/* runner_describe - one line for the log: queues, workers, signatures (newly allocated) */
char *runner_describe(const Runner *runner);

/*
 * runner_next_retry - the Unix time a file that could not be taken (locked,
 * broken, without df) is due to be tried again, the earliest; 0 if none
 */
gint64 runner_next_retry(Runner *r);

/* runner_cpu_usec - the user and system CPU this process used so far, in µs */
gint64 runner_cpu_usec(void);

#endif
