/*
 * pool.c - scan worker slots: hand out, poll, enforce deadlines, replace
 *
 * DESCRIPTION
 *	The poll array is sized from the slots, so it holds every busy worker
 *	whatever scanner.workers is (that key is bounded by the configuration).
 *	A worker holds up to pool->depth messages: the one it scans and the
 *	next ones, already sent, so it starts on the next at once instead of
 *	waiting while the master reads the answer, logs and claims another, and
 *	keeps scanning while the master waits for the disk to flush a batch (a
 *	batch's commit takes longer than a small message's scan).  The depth
 *	is a batch shared among the workers, from POOL_DEPTH_MIN to
 *	POOL_DEPTH_MAX, and beyond POOL_DEPTH_MIN a worker takes more only while
 *	what it holds is small (POOL_DEPTH_BYTES): the messages in hand stay
 *	bounded by the batch size, and a stop never waits for a row of large
 *	messages to be scanned.  Answers come back in the order the requests
 *	were sent.  A worker that fails is
 *	killed and replaced at once: the message it was scanning is given back
 *	as failed, the ones waiting are sent again (from the kept encoded
 *	request; the worker reads the body with pread from offset 0) to its
 *	replacement.  One that did its share of messages, or scans with an
 *	engine that was replaced, takes no more and is stopped once drained,
 *	so whatever a message left in its memory goes with it.  While a
 *	signature reload loads, nothing is forked (quiesce.h): a dead worker's
 *	slot keeps its waiting messages until pool_tend() can start another, and
 *	a worn worker goes on meanwhile.
 */
#include "mqsift-build.h"

#include "scanner/pool.h"

#include <errno.h>
#include <gio/gio.h>
#include <poll.h>
#include <pwd.h>

#include "scanner/quiesce.h"
#include "scanner/sandbox.h"

#define POOL_DEPTH_MIN 2
#define POOL_DEPTH_MAX 16
#define POOL_DEPTH_BYTES (1024 * 1024)
#define SPAWN_RETRY (5 * G_USEC_PER_SEC)

/* InFlight - a message sent to a worker and not answered yet */
typedef struct {
	gpointer job;
	ScanReport *report; /* where the answer goes */
	GBytes *request;    /* the encoded request, kept to send it again to a new worker */
	int df_fd;          /* the body (the job's) */
	guint64 size;       /* bounds the answer */
	char id[32];        /* the queue ID, for "mqsift status" */
} InFlight;

/* Slot - one worker and the messages it has in hand, oldest (being scanned) first */
typedef struct {
	Worker *worker;
	GQueue jobs;       /* of InFlight* */
	gint64 deadline;   /* monotonic time the oldest's answer is due */
	gint64 started;    /* monotonic time the oldest was started on */
	gboolean retiring; /* replace it once its messages are done (new engine) */
	gint64 next_try;   /* no worker: pool_tend starts one from then on (quiesce permitting) */
	guint number;      /* from 1: its worker's process title says it */
} Slot;

struct Pool {
	const MqConfig *config;
	Engine *engine;
	const Policy *policy;
	GDestroyNotify job_free;
	GPtrArray *slots; /* of Slot* */
	guint depth;      /* the most messages one worker holds */
	gboolean held;    /* pool_hold_forks: drained workers stop, none is started */
};

/* forks_put_off - nothing may be forked now: a long job runs (quiesce.h) or
 * the forks are held until the engine the workers share is freed */
static gboolean
forks_put_off(const Pool *pool)
{
	return pool->held || quiesce_busy();
}

static void slot_restart(Pool *pool, Slot *slot, PoolDone done, gpointer data);

/* slot_spawn - (re)start the worker of a slot; FALSE with a log line if it cannot */
static gboolean
slot_spawn(Pool *pool, Slot *slot)
{
	g_autoptr(GError) error = NULL;

	slot->worker = worker_spawn(pool->config, pool->engine, pool->policy, slot->number, &error);
	slot->retiring = FALSE;
	if (slot->worker == NULL) {
		/* pool_tend tries again: a slot is never lost for good */
		slot->next_try = g_get_monotonic_time() + SPAWN_RETRY;
		g_critical("cannot start a scan worker: %s; trying again in %d s", error->message,
		           (int)(SPAWN_RETRY / G_USEC_PER_SEC));
		return FALSE;
	}
	g_debug("worker %d started", (int)worker_pid(slot->worker));
	return TRUE;
}

/* in_flight_free - free the kept request; the job is the caller's */
static void
in_flight_free(InFlight *f)
{
	g_bytes_unref(f->request);
	g_free(f);
}

/* slot_deadline - the oldest message is started on now: its answer is due one timeout later */
static void
slot_deadline(const Pool *pool, Slot *slot)
{
	slot->started = g_get_monotonic_time();
	slot->deadline =
	    slot->started + (gint64)MAX(pool->config->scanner_message_timeout, 1) * G_USEC_PER_SEC;
}

/*
 * pool_open - pool_new(); with @held, the slots are made but their workers
 * are started only once pool_hold_forks(pool, FALSE) was called
 */
static Pool *
pool_open(const MqConfig *config, Engine *engine, const Policy *policy, GDestroyNotify job_free,
          gboolean held, GError **error)
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
	pool->depth = CLAMP(config->queue_batch_size / n, POOL_DEPTH_MIN, POOL_DEPTH_MAX);
	pool->held = held;
	for (guint i = 0; i < n; i++) {
		Slot *slot = g_new0(Slot, 1);
		g_queue_init(&slot->jobs);
		slot->number = i + 1;
		slot->started = g_get_monotonic_time(); /* "mqsift status": waiting since */
		g_ptr_array_add(pool->slots, slot);
		if (!held && !slot_spawn(pool, slot)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			            "no scan worker could be started (see above)");
			return NULL;
		}
	}
	return g_steal_pointer(&pool);
}

/* pool_new - the scratch directory, then one slot per worker */
Pool *
pool_new(const MqConfig *config, Engine *engine, const Policy *policy, GDestroyNotify job_free,
         GError **error)
{
	return pool_open(config, engine, policy, job_free, FALSE, error);
}

/* pool_new_held - see pool.h */
Pool *
pool_new_held(const MqConfig *config, Engine *engine, const Policy *policy, GDestroyNotify job_free,
              GError **error)
{
	return pool_open(config, engine, policy, job_free, TRUE, error);
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
		InFlight *f;
		while ((f = g_queue_pop_head(&slot->jobs)) != NULL) {
			if (p->job_free != NULL)
				p->job_free(f->job);
			in_flight_free(f);
		}
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

	const InFlight *f = g_queue_peek_head((GQueue *)&slot->jobs);

	*pid = slot->worker ? (int)worker_pid(slot->worker) : 0;
	*id = f ? f->id : "";
	*since = slot->started;
	return f != NULL;
}

/* pool_size - slots */
guint
pool_size(const Pool *pool)
{
	return pool->slots->len;
}

/* held_bytes - the size of the messages a slot holds */
static guint64
held_bytes(const Slot *s)
{
	guint64 n = 0;

	for (const GList *l = s->jobs.head; l != NULL; l = l->next)
		n += ((const InFlight *)l->data)->size;
	return n;
}

/* worn - the worker did its share of messages and is to be replaced */
static gboolean
worn(const Pool *pool, const Slot *s)
{
	return worker_messages(s->worker) >= pool->config->scanner_max_messages_per_worker;
}

/*
 * can_take - a slot whose worker may be given one more message (a worn one
 * too while a signature reload runs: its replacement cannot be forked
 * before the load returned, quiesce.h)
 */
static gboolean
can_take(const Pool *pool, const Slot *s)
{
	if (s->worker == NULL || s->retiring || (worn(pool, s) && !quiesce_busy()))
		return FALSE;
	return s->jobs.length < POOL_DEPTH_MIN ||
	       (s->jobs.length < pool->depth && held_bytes(s) < POOL_DEPTH_BYTES);
}

/* idle_slot - the least busy slot that can take a message, or NULL */
static Slot *
idle_slot(const Pool *pool)
{
	Slot *best = NULL;

	for (guint i = 0; i < pool->slots->len; i++) {
		Slot *s = g_ptr_array_index(pool->slots, i);
		if (can_take(pool, s) && (best == NULL || s->jobs.length < best->jobs.length))
			best = s;
	}
	return best;
}

/* pool_has_idle - any slot that can take a message */
gboolean
pool_has_idle(const Pool *pool)
{
	return idle_slot(pool) != NULL;
}

/* pool_busy - how many messages the workers have in hand */
guint
pool_busy(const Pool *pool)
{
	guint n = 0;

	for (guint i = 0; i < pool->slots->len; i++)
		n += ((Slot *)g_ptr_array_index(pool->slots, i))->jobs.length;
	return n;
}

/* pool_send - hand a request to the least busy slot's worker */
gboolean
pool_send(Pool *pool, const WorkRequest *req, gpointer job, ScanReport *report, GError **error)
{
	Slot *slot = idle_slot(pool);

	/* the caller asks pool_has_idle() first; should it not, say so: it
	 * prints @error */
	if (slot == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY,
		            "no scan worker can take a message");
		return FALSE;
	}
	GBytes *request = worker_request_encode(req);
	if (!worker_send_encoded(slot->worker, request, req->df_fd, error)) {
		g_bytes_unref(request);
		/* a worker with messages in hand is left to pool_wait, which fails
		 * the one being scanned and sends the others to its replacement; it
		 * takes no more until then */
		if (slot->jobs.length == 0) {
			worker_kill(&slot->worker);
			slot_restart(pool, slot, NULL, NULL);
		} else {
			slot->retiring = TRUE;
		}
		return FALSE;
	}
	InFlight *f = g_new0(InFlight, 1);
	f->job = job;
	f->report = report;
	f->request = request;
	f->df_fd = req->df_fd;
	f->size = req->size;
	g_strlcpy(f->id, req->id, sizeof f->id);
	if (slot->jobs.length == 0)
		slot_deadline(pool, slot);
	g_queue_push_tail(&slot->jobs, f);
	return TRUE;
}

/*
 * slot_restart - a slot without a worker: start one and send it the
 * messages waiting in the slot; those that cannot be sent are given back as
 * failed.  While a long job runs nothing is forked (quiesce.h): the
 * messages wait in the slot, and pool_tend() restarts it once the job returned.
 */
static void
slot_restart(Pool *pool, Slot *slot, PoolDone done, gpointer data)
{
	if (forks_put_off(pool)) {
		slot->next_try = 0;                     /* as soon as the job returned */
		slot->started = g_get_monotonic_time(); /* "mqsift status": waiting since */
		return;
	}
	if (slot->worker == NULL)
		slot_spawn(pool, slot);
	GQueue waiting = slot->jobs;
	g_queue_init(&slot->jobs);
	InFlight *f;
	while ((f = g_queue_pop_head(&waiting)) != NULL) {
		g_autoptr(GError) error = NULL;
		if (slot->worker != NULL &&
		    worker_send_encoded(slot->worker, f->request, f->df_fd, &error)) {
			if (slot->jobs.length == 0)
				slot_deadline(pool, slot);
			g_queue_push_tail(&slot->jobs, f);
			continue;
		}
		done(f->job, "no scan worker to send it to", data);
		in_flight_free(f);
	}
}

/*
 * slot_replace - the worker failed on its oldest message (already given
 * back): kill it, and start another for the messages still waiting
 */
static void
slot_replace(Pool *pool, Slot *slot, PoolDone done, gpointer data)
{
	worker_kill(&slot->worker);
	slot_restart(pool, slot, done, data);
}

/* slot_answered - the oldest message was answered; replace a retiring or worn worker once drained
 */
static void
slot_answered(Pool *pool, Slot *slot)
{
	if (slot->jobs.length > 0) {
		slot_deadline(pool, slot); /* the worker starts on the next one now */
		return;
	}
	/* a new engine, or enough messages: whatever a message left in this
	 * worker's memory goes with it.  A worn one goes on while a long job puts
	 * forks off; under a hold (its engine is to be freed) it goes now, and
	 * its replacement comes once the hold ends. */
	if (slot->worker != NULL && (slot->retiring || worn(pool, slot)) &&
	    (pool->held || !quiesce_busy())) {
		worker_stop(&slot->worker);
		slot_restart(pool, slot, NULL, NULL);
	}
}

/* pool_tend - see pool.h */
void
pool_tend(Pool *pool, PoolDone done, gpointer data)
{
	if (quiesce_busy())
		return;
	for (guint i = 0; i < pool->slots->len; i++) {
		Slot *s = g_ptr_array_index(pool->slots, i);
		if (s->worker == NULL && g_get_monotonic_time() >= s->next_try) {
			if (!pool->held)
				slot_restart(pool, s, done, data);
		} else if (s->jobs.length == 0) {
			slot_answered(pool, s);
		}
	}
}

/* pool_give_back_waiting - see pool.h */
void
pool_give_back_waiting(Pool *pool, PoolDone done, gpointer data, const char *why)
{
	for (guint i = 0; i < pool->slots->len; i++) {
		Slot *s = g_ptr_array_index(pool->slots, i);
		InFlight *f;
		while (s->worker == NULL && (f = g_queue_pop_head(&s->jobs)) != NULL) {
			done(f->job, why, data);
			in_flight_free(f);
		}
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
	gboolean waiting = FALSE; /* messages in a slot whose worker is not started yet */

	pool_tend(pool, done, data);
	for (guint i = 0; i < pool->slots->len; i++) {
		Slot *s = g_ptr_array_index(pool->slots, i);
		waiting = waiting || (s->jobs.length > 0 && s->worker == NULL);
		if (s->jobs.length == 0 || s->worker == NULL)
			continue;
		fds[n] = (struct pollfd){.fd = worker_fd(s->worker), .events = POLLIN};
		which[n++] = s;
		next = MIN(next, s->deadline);
	}
	nfds_t n_workers = n;
	if (fd >= 0)
		fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
	if (n == 0 && !waiting)
		return;
	/* such messages are sent as soon as the long job returned */
	int timeout = next <= now ? 0 : (int)MIN((next - now) / 1000 + 1, waiting ? 100 : 1000);
	if (poll(fds, n, timeout) < 0 && errno != EINTR)
		g_critical("poll: %s", g_strerror(errno));
	now = g_get_monotonic_time();
	for (nfds_t i = 0; i < n_workers; i++) {
		Slot *s = which[i];
		InFlight *f = g_queue_peek_head(&s->jobs);
		g_autoptr(GError) error = NULL;

		if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
			gboolean ok = worker_receive_sized(s->worker, f->size, f->report, &error);
			g_queue_pop_head(&s->jobs);
			if (ok) {
				done(f->job, NULL, data);
				in_flight_free(f);
				slot_answered(pool, s);
			} else {
				g_autofree char *what =
				    g_strdup_printf("%s while scanning it", error->message);
				done(f->job, what, data);
				in_flight_free(f);
				slot_replace(pool, s, done, data);
			}
		} else if (now >= s->deadline) {
			g_autofree char *what = g_strdup_printf(
			    "worker %d took longer than scanner.message_timeout (%us): killed",
			    (int)worker_pid(s->worker), pool->config->scanner_message_timeout);
			g_queue_pop_head(&s->jobs);
			done(f->job, what, data);
			in_flight_free(f);
			slot_replace(pool, s, done, data);
		}
	}
}

/* pool_retire - new engine: every worker is replaced once its messages are done */
void
pool_retire(Pool *pool, Engine *engine)
{
	pool->engine = engine;
	for (guint i = 0; i < pool->slots->len; i++) {
		Slot *s = g_ptr_array_index(pool->slots, i);
		if (s->jobs.length == 0) {
			worker_stop(&s->worker);
			slot_restart(pool, s, NULL, NULL); /* put off under a hold */
		} else {
			s->retiring = TRUE;
		}
	}
}

/* pool_hold_forks - see pool.h */
void
pool_hold_forks(Pool *pool, gboolean hold)
{
	pool->held = hold;
}

/* pool_workers - see pool.h */
guint
pool_workers(const Pool *pool)
{
	guint n = 0;

	for (guint i = 0; i < pool->slots->len; i++)
		if (((const Slot *)g_ptr_array_index(pool->slots, i))->worker != NULL)
			n++;
	return n;
}
