/*
 * run.h - the main job: take every message from the inbound queues, scan,
 * rewrite, quarantine, commit into the outgoing queue, record
 *
 * SUMMARY
 *	A Runner holds what a pass needs (queues, engine, policy, store).
 *	runner_pass() first completes commits a crash interrupted, then
 *	processes every complete message present, committing them in batches
 *	of queue.batch_size.  A message that cannot be processed (broken
 *	control file, missing body, scan error, full disk) is logged and left
 *	where it is, safe, for the next pass.
 */
#ifndef MQSIFT_SCANNER_RUN_H
#define MQSIFT_SCANNER_RUN_H

#include <glib.h>

#include "rules/config.h"

typedef struct Runner Runner;

/* PassStats - what one pass did */
typedef struct {
	guint seen;
	guint committed;
	guint clean;
	guint infected;
	guint blocked;
	guint left; /* errors and busy messages left in the queue */
	guint recovered;
} PassStats;

/* runner_new - open queues, engine, policy and store for @config (borrowed) */
Runner *runner_new(const MqConfig *config, GError **error);

/* runner_free - free and clear */
void runner_free(Runner **runner);

/* runner_free_ptr - runner_free() for g_autoptr(Runner) */
static inline void
runner_free_ptr(Runner *p)
{
	runner_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Runner, runner_free_ptr)

/* runner_pass - one pass over the inbound queues; FALSE if a queue could not be read */
gboolean runner_pass(Runner *runner, PassStats *stats);

/*
 * run_command - "mqsift run": --once, or the daemon loop (inotify, polling
 * fallback) until SIGTERM; SIGHUP reloads @config_path.  Returns the exit status.
 */
int run_command(const MqConfig *config, gboolean once, const char *config_path);

#endif
