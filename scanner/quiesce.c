/*
 * quiesce.c - park the master's threads around a fork
 *
 * DESCRIPTION
 *	One lock for the registry and two conditions: "parked" wakes the
 *	master when a thread reaches its point or leaves, "released" wakes the
 *	parked threads when the fork is done.  Forks are rare (a worker started
 *	or replaced), so nothing finer is needed.  A thread at its point reads
 *	one atomic flag when no fork is under way.  The flag is set before the
 *	threads are woken, and a woken thread reads it after it drained its
 *	wake-up, so none can miss a fork.  A parked thread leaves its point
 *	only with the flag down: one woken by the end of a fork that finds the
 *	next one begun stays parked, and still counts as parked.
 */
#include "mqsift-build.h"

#include "scanner/quiesce.h"

#include <errno.h>
#include <unistd.h>

struct Quiesce {
	char *name;
	QuiesceWake wake;
	gpointer data;
	gboolean parked; /* under lock */
	gboolean left;   /* under lock */
	/* a long job */
	GThread *thread; /* NULL once joined, or for a looping thread */
	GThreadFunc func;
	gint finished; /* atomic: func returned */
};

static GMutex lock;
static GCond parked, released;
static GPtrArray *threads; /* of Quiesce*; changed by the master thread only */
static gint forking;       /* atomic; written under lock */
static gint jobs_running;  /* atomic: long jobs whose function has not returned */

/* quiesce_new - see quiesce.h */
Quiesce *
quiesce_new(const char *name, QuiesceWake wake, gpointer data)
{
	Quiesce *q = g_new0(Quiesce, 1);

	q->name = g_strdup(name);
	q->wake = wake;
	q->data = data;
	g_mutex_lock(&lock);
	if (threads == NULL)
		threads = g_ptr_array_new();
	g_ptr_array_add(threads, q);
	g_mutex_unlock(&lock);
	return q;
}

/* quiesce_free - see quiesce.h */
void
quiesce_free(Quiesce **q)
{
	if (q == NULL || *q == NULL)
		return;
	g_mutex_lock(&lock);
	g_ptr_array_remove_fast(threads, *q);
	g_mutex_unlock(&lock);
	g_free((*q)->name);
	g_free(*q);
	*q = NULL;
}

/* quiesce_point - see quiesce.h */
void
quiesce_point(Quiesce *q)
{
	if (!g_atomic_int_get(&forking))
		return;
	g_mutex_lock(&lock);
	if (g_atomic_int_get(&forking)) {
		q->parked = TRUE;
		g_cond_broadcast(&parked);
		while (g_atomic_int_get(&forking))
			g_cond_wait(&released, &lock);
		q->parked = FALSE;
	}
	g_mutex_unlock(&lock);
}

/* quiesce_leave - see quiesce.h */
void
quiesce_leave(Quiesce *q)
{
	g_mutex_lock(&lock);
	q->left = TRUE;
	g_cond_broadcast(&parked);
	g_mutex_unlock(&lock);
}

/* job_main - a long job's thread: the job, then "finished" */
static gpointer
job_main(gpointer data)
{
	Quiesce *q = data;

	q->func(q->data);
	g_atomic_int_set(&q->finished, 1);
	g_atomic_int_add(&jobs_running, -1);
	return NULL;
}

/* quiesce_job_start - see quiesce.h */
Quiesce *
quiesce_job_start(const char *name, GThreadFunc func, gpointer data)
{
	Quiesce *q = quiesce_new(name, NULL, data);

	q->func = func;
	g_atomic_int_inc(&jobs_running);
	q->thread = g_thread_new(name, job_main, q);
	return q;
}

/* quiesce_job_done - see quiesce.h */
gboolean
quiesce_job_done(Quiesce *job)
{
	return g_atomic_int_get(&job->finished) != 0;
}

/* job_join - join a long job once (the master's); it counts as left from then on */
static void
job_join(Quiesce *q)
{
	if (q->thread == NULL)
		return;
	g_thread_join(q->thread);
	g_mutex_lock(&lock);
	q->thread = NULL;
	q->left = TRUE;
	g_mutex_unlock(&lock);
}

/* quiesce_job_finish - see quiesce.h */
void
quiesce_job_finish(Quiesce **job)
{
	if (job == NULL || *job == NULL)
		return;
	job_join(*job);
	quiesce_free(job);
}

/* quiesce_busy - see quiesce.h (one atomic read: the pool asks often) */
gboolean
quiesce_busy(void)
{
	return g_atomic_int_get(&jobs_running) > 0;
}

/* running - the first registered thread not parked yet (under lock), or NULL */
static const Quiesce *
running(void)
{
	for (guint i = 0; threads != NULL && i < threads->len; i++) {
		const Quiesce *q = g_ptr_array_index(threads, i);
		if (!q->left && !q->parked)
			return q;
	}
	return NULL;
}

/* wake_all - bring every looping thread to its point (the registry is the master's: no lock) */
static void
wake_all(void)
{
	for (guint i = 0; threads != NULL && i < threads->len; i++) {
		const Quiesce *q = g_ptr_array_index(threads, i);
		if (q->wake != NULL)
			q->wake(q->data);
	}
}

/* quiesce_fork - see quiesce.h */
pid_t
quiesce_fork(void)
{
	gint64 since = g_get_monotonic_time();
	gboolean told = FALSE;

	/* a long job has no point to park at: it ends first, and is joined
	 * (a thread that returned may still be in its libraries' teardown) */
	for (guint i = 0; threads != NULL && i < threads->len; i++) {
		Quiesce *q = g_ptr_array_index(threads, i);
		if (q->thread != NULL && !g_atomic_int_get(&q->finished))
			g_message("waiting for the %s to end before starting a scan worker",
			          q->name);
		job_join(q);
	}
	g_mutex_lock(&lock);
	g_atomic_int_set(&forking, 1);
	g_mutex_unlock(&lock);
	wake_all();
	g_mutex_lock(&lock);
	const Quiesce *q;
	while ((q = running()) != NULL) {
		if (g_cond_wait_until(&parked, &lock, g_get_monotonic_time() + G_USEC_PER_SEC))
			continue;
		/* a second without it: wake them again (cheap), and say why we wait */
		if (!told && g_get_monotonic_time() - since >= 5 * G_USEC_PER_SEC) {
			g_message("waiting for the %s thread before starting a scan worker",
			          q->name);
			told = TRUE;
		}
		g_mutex_unlock(&lock);
		wake_all();
		g_mutex_lock(&lock);
	}
	g_mutex_unlock(&lock);

	pid_t pid = fork();
	if (pid != 0) {
		int err = errno;
		g_mutex_lock(&lock);
		g_atomic_int_set(&forking, 0);
		g_cond_broadcast(&released);
		g_mutex_unlock(&lock);
		errno = err;
	}
	return pid;
}
