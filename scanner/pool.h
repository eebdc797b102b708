/*
 * pool.h - the scan workers of the master: slots, jobs, polling, deadlines
 *
 * SUMMARY
 *	A Pool is scanner.workers slots, each one worker (worker.h) and the
 *	job it has in hand.  The master hands a job to an idle slot with
 *	pool_send(), then calls pool_wait() in its loop: every answer, death or
 *	missed deadline (scanner.message_timeout) is given back through a
 *	callback, and the slot's worker is replaced when it died, hung, served
 *	scanner.max_messages_per_worker messages, or belongs to an engine that
 *	pool_retire() replaced.  A job is the caller's type; the pool only holds
 *	it and the ScanReport the worker's answer goes into.
 */
#ifndef MQSIFT_SCANNER_POOL_H
#define MQSIFT_SCANNER_POOL_H

#include <glib.h>

#include "config/config.h"
#include "rules/policy.h"
#include "scanner/engine.h"
#include "scanner/scan.h"
#include "scanner/worker.h"

typedef struct Pool Pool;

/*
 * PoolDone - a job is over: @failure is NULL when the worker answered (the
 * report given to pool_send() is filled), else why it failed (the worker
 * died, answered garbage, or took too long: it was killed).  The callback
 * owns @job from then on.
 */
typedef void (*PoolDone)(gpointer job, const char *failure, gpointer data);

/*
 * pool_new - prepare the workers' scratch space, then start one worker per
 * slot (scanner.workers, or one per core up to 64), scanning with @engine and
 * @policy under @config (all borrowed; they must outlive the pool or be
 * replaced with pool_retire()).  @job_free frees a job still held when the
 * pool is freed.  Returns NULL with @error if scanner.user does not exist,
 * the scratch space cannot be made, or no worker starts.
 */
Pool *pool_new(const MqConfig *config, Engine *engine, const Policy *policy,
               GDestroyNotify job_free, GError **error);

/*
 * pool_new_held - pool_new(), with the forks held (pool_hold_forks): the
 * slots start their workers at the first pool_tend() after the hold is lifted
 */
Pool *pool_new_held(const MqConfig *config, Engine *engine, const Policy *policy,
                    GDestroyNotify job_free, GError **error);
/* pool_free - stop every worker (finishing nothing), free held jobs, free; clears the pointer */
void pool_free(Pool **pool);

/* pool_free_ptr - pool_free() for g_autoptr(Pool) */
static inline void
pool_free_ptr(Pool *p)
{
	pool_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Pool, pool_free_ptr)

/* pool_size - the number of slots */
guint pool_size(const Pool *pool);

/*
 * pool_slot_info - slot @i: its worker's pid (0 if none), and when busy the
 * queue ID it scans (borrowed, until the slot's next job) and since when
 * (monotonic microseconds).  Returns TRUE if the slot is busy.
 */
gboolean pool_slot_info(const Pool *pool, guint i, int *pid, const char **id, gint64 *since);

/* pool_has_idle - TRUE if a slot with a live worker has no job */
gboolean pool_has_idle(const Pool *pool);

/* pool_busy - how many slots have a job */
guint pool_busy(const Pool *pool);

/*
 * pool_send - hand @req to an idle slot's worker (pool_has_idle() must be
 * TRUE); its answer will go into @report.  On success the pool holds @job
 * until it is given to the PoolDone callback.  On failure the worker is
 * restarted, @job stays the caller's, and @error says why; with no idle
 * slot, nothing happens and @error is G_IO_ERROR_BUSY.
 */
gboolean pool_send(Pool *pool, const WorkRequest *req, gpointer job, ScanReport *report,
                   GError **error);

/*
 * pool_wait - poll the busy workers once (until the first answer, the next
 * deadline, or one second) and give each finished job to @done.
 */
void pool_wait(Pool *pool, PoolDone done, gpointer data);

/*
 * pool_wait_also - pool_wait(), also waking up when @fd (-1: none) is
 * readable or at @deadline (monotonic microseconds; G_MAXINT64: none), even
 * with no worker busy.  SPAM: the spam checker's notification descriptor
 * and the deadline of the messages parked for their spam check.
 */
void pool_wait_also(Pool *pool, int fd, gint64 deadline, PoolDone done, gpointer data);

/*
 * pool_tend - start the workers put off while a long job ran (quiesce.h),
 * sending them the messages that waited, and replace the idle workers that
 * are retiring or did their share; messages that cannot be sent go to
 * @done as failed.  pool_wait does it too; call it before handing out.
 */
void pool_tend(Pool *pool, PoolDone done, gpointer data);

/*
 * pool_give_back_waiting - the messages waiting for a worker put off (a
 * stop: no worker is started for them) go to @done as failed, with @why
 */
void pool_give_back_waiting(Pool *pool, PoolDone done, gpointer data, const char *why);

/*
 * pool_retire - scan with @engine from now on: idle workers are replaced at
 * once, busy ones when their message is done.
 */
void pool_retire(Pool *pool, Engine *engine);

/*
 * pool_hold_forks - while @hold, no worker is started and every worker that
 * is drained and retiring (pool_retire) or worn is stopped: once none is
 * left, the master can free the engine they shared without each page it
 * writes being copied for them, and no new worker inherits it
 */
void pool_hold_forks(Pool *pool, gboolean hold);

/* pool_workers - how many slots have a live worker */
guint pool_workers(const Pool *pool);

#endif
