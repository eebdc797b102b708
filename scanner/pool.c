/*
 * pool.c - scan worker slots: hand out, poll, enforce deadlines, replace
 *
 * DESCRIPTION
 *	The poll array is sized from the slots, so it holds every busy worker
 *	whatever scanner.workers is (that key is bounded by the configuration).
 *	A worker that fails is killed and replaced at once; one that did its
 *	share of messages, or scans with an engine that was replaced, is
 *	stopped after its answer, so whatever a message left in its memory
 *	goes with it.
 */
#include "mqsift-build.h"

#include "scanner/pool.h"

#include <errno.h>
#include <gio/gio.h>
#include <poll.h>
#include <pwd.h>

#include "scanner/sandbox.h"

/* Slot - one worker and the job it has in hand */
typedef struct {
	Worker *worker;
	gpointer job;       /* NULL when idle */
	ScanReport *report; /* where the answer goes */
	gint64 deadline;    /* monotonic time the answer is due */
	gboolean retiring;  /* replace it once its message is done (new engine) */
	char id[32];        /* the queue ID in hand, for "mqsift status" */
	gint64 started;     /* monotonic time it was handed out */
} Slot;

struct Pool {
	const MqConfig *config;
	Engine *engine;
	const Policy *policy;
	GDestroyNotify job_free;
	GPtrArray *slots; /* of Slot* */
};

/* slot_spawn - (re)start the worker of a slot; FALSE with a log line if it cannot */
static gboolean
slot_spawn(Pool *pool, Slot *slot)
{
	g_autoptr(GError) error = NULL;

	slot->worker = worker_spawn(pool->config, pool->engine, pool->policy, &error);
	slot->retiring = FALSE;
	if (slot->worker == NULL) {
		g_critical("cannot start a scan worker: %s", error->message);
		return FALSE;
	}
	g_debug("worker %d started", (int)worker_pid(slot->worker));
	return TRUE;
}

/* pool_new - the scratch directory, then one slot per worker */
Pool *
pool_new(const MqConfig *config, Engine *engine, const Policy *policy, GDestroyNotify job_free,
         GError **error)
{
	guint n = config->scanner_workers ? config->scanner_workers
	                                  : MIN((guint)g_get_num_processors(), 64);
	struct passwd *pw = getpwnam(config->scanner_user);
	g_autofree char *scratch = sandbox_scratch_base(config);

	if (pw == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		            "scanner.user \"%s\" does not exist", config->scanner_user);
		return NULL;
	}
	if (!sandbox_scratch_prepare(scratch, pw->pw_uid, pw->pw_gid, error))
		return NULL;
	sandbox_scratch_free_space(scratch, 2 * config->scanner_max_file_size);

	g_autoptr(Pool) pool = g_new0(Pool, 1);
	pool->config = config;
	pool->engine = engine;
	pool->policy = policy;
	pool->job_free = job_free;
	pool->slots = g_ptr_array_new();
	for (guint i = 0; i < n; i++) {
		Slot *slot = g_new0(Slot, 1);
		g_ptr_array_add(pool->slots, slot);
		if (!slot_spawn(pool, slot)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			            "no scan worker could be started (see above)");
			return NULL;
		}
	}
	return g_steal_pointer(&pool);
}

/* pool_free - stop the workers, free what they held */
void
pool_free(Pool **pool)
{
	if (pool == NULL || *pool == NULL)
		return;
	Pool *p = *pool;
	for (guint i = 0; p->slots && i < p->slots->len; i++) {
		Slot *slot = g_ptr_array_index(p->slots, i);
		if (slot->job != NULL && p->job_free != NULL)
			p->job_free(slot->job);
		worker_stop(&slot->worker);
		g_free(slot);
	}
	if (p->slots)
		g_ptr_array_unref(p->slots);
	g_free(p);
	*pool = NULL;
}

/* pool_slot_info - what slot @i does */
gboolean
pool_slot_info(const Pool *pool, guint i, int *pid, const char **id, gint64 *since)
{
	const Slot *slot = g_ptr_array_index(pool->slots, i);

	*pid = slot->worker ? (int)worker_pid(slot->worker) : 0;
	*id = slot->id;
	*since = slot->started;
	return slot->job != NULL;
}

/* pool_size - slots */
guint
pool_size(const Pool *pool)
{
	return pool->slots->len;
}

/* idle_slot - a slot ready for a job, or NULL */
static Slot *
idle_slot(const Pool *pool)
{
	for (guint i = 0; i < pool->slots->len; i++) {
		Slot *s = g_ptr_array_index(pool->slots, i);
		if (s->job == NULL && s->worker != NULL)
			return s;
	}
	return NULL;
}

/* pool_has_idle - any slot ready */
gboolean
pool_has_idle(const Pool *pool)
{
	return idle_slot(pool) != NULL;
}

/* pool_busy - how many workers have a message in hand */
guint
pool_busy(const Pool *pool)
{
	guint n = 0;

	for (guint i = 0; i < pool->slots->len; i++)
		n += ((Slot *)g_ptr_array_index(pool->slots, i))->job != NULL;
	return n;
}

/* pool_send - hand a request to an idle slot's worker */
gboolean
pool_send(Pool *pool, const WorkRequest *req, gpointer job, ScanReport *report, GError **error)
{
	Slot *slot = idle_slot(pool);

	g_return_val_if_fail(slot != NULL, FALSE);
	if (!worker_send(slot->worker, req, error)) {
		worker_kill(&slot->worker);
		slot_spawn(pool, slot);
		return FALSE;
	}
	slot->job = job;
	slot->report = report;
	g_strlcpy(slot->id, req->id, sizeof slot->id);
	slot->started = g_get_monotonic_time();
	slot->deadline = g_get_monotonic_time() +
	                 (gint64)MAX(pool->config->scanner_message_timeout, 1) * G_USEC_PER_SEC;
	return TRUE;
}

/* slot_done - the slot's job was given back; replace a retiring or broken worker */
static void
slot_done(Pool *pool, Slot *slot, gboolean worker_ok)
{
	slot->job = NULL;
	slot->report = NULL;
	if (!worker_ok) {
		worker_kill(&slot->worker);
		slot_spawn(pool, slot);
	} else if (slot->retiring ||
	           worker_messages(slot->worker) >= pool->config->scanner_max_messages_per_worker) {
		/* a new engine, or enough messages: whatever a message left in this
		 * worker's memory goes with it */
		worker_stop(&slot->worker);
		slot_spawn(pool, slot);
	}
}

/* pool_wait - poll the busy workers once; give back what they answered */
void
pool_wait(Pool *pool, PoolDone done, gpointer data)
{
	pool_wait_also(pool, -1, G_MAXINT64, done, data);
}

/* pool_wait_also - the same, with one more descriptor and deadline to wake up for */
void
pool_wait_also(Pool *pool, int fd, gint64 deadline, PoolDone done, gpointer data)
{
	/* one more entry: @fd, after the workers */
	g_autofree struct pollfd *fds = g_new0(struct pollfd, pool->slots->len + 1);
	g_autofree Slot **which = g_new0(Slot *, pool->slots->len + 1);
	nfds_t n = 0;
	gint64 now = g_get_monotonic_time(), next = deadline;

	for (guint i = 0; i < pool->slots->len; i++) {
		Slot *s = g_ptr_array_index(pool->slots, i);
		if (s->job == NULL)
			continue;
		fds[n] = (struct pollfd){.fd = worker_fd(s->worker), .events = POLLIN};
		which[n++] = s;
		next = MIN(next, s->deadline);
	}
	nfds_t n_workers = n;
	if (fd >= 0)
		fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
	if (n == 0)
		return;
	int timeout = next <= now ? 0 : (int)MIN((next - now) / 1000 + 1, 1000);
	if (poll(fds, n, timeout) < 0 && errno != EINTR)
		g_critical("poll: %s", g_strerror(errno));
	now = g_get_monotonic_time();
	for (nfds_t i = 0; i < n_workers; i++) {
		Slot *s = which[i];
		gpointer job = s->job;
		g_autoptr(GError) error = NULL;

		if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (worker_receive(s->worker, s->report, &error)) {
				done(job, NULL, data);
				slot_done(pool, s, TRUE);
			} else {
				g_autofree char *what =
				    g_strdup_printf("%s while scanning it", error->message);
				done(job, what, data);
				slot_done(pool, s, FALSE);
			}
		} else if (now >= s->deadline) {
			g_autofree char *what = g_strdup_printf(
			    "worker %d took longer than scanner.message_timeout (%us): killed",
			    (int)worker_pid(s->worker), pool->config->scanner_message_timeout);
			done(job, what, data);
			slot_done(pool, s, FALSE);
		}
	}
}

/* pool_retire - new engine: every worker is replaced once its message is done */
void
pool_retire(Pool *pool, Engine *engine)
{
	pool->engine = engine;
	for (guint i = 0; i < pool->slots->len; i++) {
		Slot *s = g_ptr_array_index(pool->slots, i);
		if (s->job == NULL) {
			worker_stop(&s->worker);
			slot_spawn(pool, s);
		} else {
			s->retiring = TRUE;
		}
	}
}
