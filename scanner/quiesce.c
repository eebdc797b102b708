/*
 * quiesce.c - park the master's threads around a fork
 *
 * DESCRIPTION
 *	One lock and one condition for every registered thread: forks are
 *	rare (a worker started or replaced), so nothing finer is needed.  A
 *	thread at its point checks one atomic flag when no fork is under way.
 *	The flag is set before the threads are woken, and a woken thread
 *	reads it after it drained its wake-up, so none can miss a fork.  A
 *	thread woken by the end of one fork that finds the next one begun
 *	parks again before it runs: it leaves its point only with the flag
 *	down.
 */
#include "mqsift-build.h"

#include "scanner/quiesce.h"

#include <unistd.h>

struct Quiesce {
	char *name;
	QuiesceWake wake;
	gpointer data;
	gboolean long_job;
	gboolean parked; /* under lock */
	gboolean left;   /* under lock */
};

static GMutex lock;
static GCond changed;
static GPtrArray *threads; /* of Quiesce*; changed by the master thread only */
static gint forking;       /* atomic; written under lock */

/* quiesce_new - see quiesce.h */
Quiesce *
quiesce_new(const char *name, QuiesceWake wake, gpointer data, gboolean long_job)
{
	Quiesce *q = g_new0(Quiesce, 1);

	q->name = g_strdup(name);
	q->wake = wake;
	q->data = data;
	q->long_job = long_job;
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
	while (g_atomic_int_get(&forking)) {
		q->parked = TRUE;
		g_cond_broadcast(&changed);
		g_cond_wait(&changed, &lock);
	}
	q->parked = FALSE;
	g_mutex_unlock(&lock);
}

/* quiesce_leave - see quiesce.h */
void
quiesce_leave(Quiesce *q)
{
	g_mutex_lock(&lock);
	q->left = TRUE;
	g_cond_broadcast(&changed);
	g_mutex_unlock(&lock);
}

/* quiesce_busy - see quiesce.h */
gboolean
quiesce_busy(void)
{
	gboolean busy = FALSE;

	g_mutex_lock(&lock);
	for (guint i = 0; threads != NULL && i < threads->len; i++) {
		const Quiesce *q = g_ptr_array_index(threads, i);
		busy = busy || (q->long_job && !q->left);
	}
	g_mutex_unlock(&lock);
	return busy;
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

/* wake_all - bring every thread to its point (the registry is the master's: no lock) */
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

	g_mutex_lock(&lock);
	g_atomic_int_set(&forking, 1);
	g_mutex_unlock(&lock);
	wake_all();
	g_mutex_lock(&lock);
	const Quiesce *q;
	while ((q = running()) != NULL) {
		if (g_cond_wait_until(&changed, &lock, g_get_monotonic_time() + G_USEC_PER_SEC))
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
		g_mutex_lock(&lock);
		g_atomic_int_set(&forking, 0);
		g_cond_broadcast(&changed);
		g_mutex_unlock(&lock);
	}
	return pid;
}
