/*
 * status.h - what the master is doing, for people and for monitoring
 *
 * SUMMARY
 *	The daemon keeps a Status: counters by verdict and a processing-time
 *	histogram since start, rates over 1, 5 and 15 minutes, its workers'
 *	states and the engine's (published by the main loop through
 *	runner_set_tick() and after each pass).  From it the daemon logs a
 *	summary line every daemon.summary_interval, rewrites
 *	daemon.metrics_file (Prometheus text format) every
 *	daemon.metrics_interval, samples the queue depths into the store every
 *	daemon.sample_interval, and answers "mqsift status" on
 *	daemon.status_socket (mode 0660, group daemon.status_group) from a
 *	thread of its own, so that a master busy with a long batch still
 *	answers.  The queues are counted by that thread when asked.
 *
 *	The socket protocol: the client writes one word ("text", "json" or
 *	"prometheus") and a newline; the master answers "problems N\n" (N
 *	things stuck: a message older than daemon.stuck_after, a worker busy
 *	longer than scanner.message_timeout, a database older than
 *	scanner.max_db_age), then the report, and closes.
 */
#ifndef MQSIFT_SCANNER_STATUS_H
#define MQSIFT_SCANNER_STATUS_H

#include <glib.h>

#include "config/config.h"
#include "scanner/runner.h"

typedef struct Status Status;

/*
 * status_new - a Status for @config (borrowed; status_set_runner() follows a
 * reload), its socket listening when daemon.status_socket is set.  A socket
 * that cannot be made is logged; the daemon runs without it.
 */
Status *status_new(const MqConfig *config);

/* status_free - stop answering, remove the socket, free; clears the pointer */
void status_free(Status **status);

/* status_free_ptr - status_free() for g_autoptr(Status) */
static inline void
status_free_ptr(Status *p)
{
	status_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Status, status_free_ptr)

/* status_set_runner - watch @runner (and @config) from now on; installs the tick */
void status_set_runner(Status *status, Runner *runner, const MqConfig *config);

/* status_pass_done - a pass ended with @stats (the counts not yet ticked are added) */
void status_pass_done(Status *status, const PassStats *stats);

/* status_periodic - the summary line, the metrics file, the queue sample, when due */
void status_periodic(Status *status);

/* status_next_due - seconds until status_periodic() has something to do (at least 1) */
guint status_next_due(const Status *status);

/*
 * status_query - ask the master at @socket_path for @mode ("text", "json",
 * "prometheus").  Returns the report (newly allocated) and sets *@problems,
 * or NULL with @error when nobody answers.
 */
char *status_query(const char *socket_path, const char *mode, guint *problems, GError **error);

#endif
