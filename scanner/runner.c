/*
 * runner.c - one pass over the inbound queues: claim, hand out, finish, commit
 *
 * DESCRIPTION
 *	The master's side of a message, in the order it happens:
 *	  claim       qdir_claim() locks and parses the qf (queue/);
 *	  hand out    job_start() opens the df and picks the message's
 *	              settings, pool_send() gives it to an idle worker;
 *	  finish      job_finish() takes the worker's verdict: quarantine the
 *	              original, build the outbound qf, commit_prepare();
 *	  commit      finish_batch() runs commit_finish() for the batch, then
 *	              logs, records, tells and kicks delivery.
 *	SPAM (issue #16): job_start() also starts the message's spam check
 *	(spam.h), which runs in the spam thread while the worker scans; a
 *	message the worker is done with waits, parked, for its check, and
 *	job_finish() applies the check's headers and actions.
 *	A worker that dies or hangs is the poison guard's (poison.h).
 */
#include "mqsift-build.h"

#include "scanner/runner.h"

#include <glob.h>
#include <gio/gio.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "queue/commit.h"
#include "queue/durable.h"
#include "queue/qdir.h"
#include "reports/notify.h"
#include "reports/store.h"
#include "rules/policy.h"
#include "scanner/engine.h"
#include "scanner/logline.h"
#include "scanner/poison.h"
#include "scanner/pool.h"
#include "scanner/quarantine.h"
#include "scanner/quiesce.h"
#include "scanner/scan.h"
#include "scanner/spam.h" /* SPAM: issue #16 */

/* Retired - the engine a reload replaced; the free job's own while it runs */
struct Retired {
	Engine *engine;
	gint64 switched; /* monotonic times: the switch, */
	gint64 freed;    /* and the end of the free */
};

struct Runner {
	const MqConfig *config;
	GPtrArray *inbound; /* of QueueDir* */
	QueueDir *outgoing;
	Engine *engine;
	Policy *policy;
	Store *store; /* NULL if the database cannot be opened: mail still flows */
	char *hostname;
	/* a new engine being built in the background while the old one scans */
	Quiesce *reload; /* the job: no worker is forked before it returned */
	Engine *reload_engine;
	GError *reload_error;
	struct Retired *retired; /* the engine a reload replaced, until it is freed */
	Quiesce *freeing;        /* the job freeing it: no worker is forked before it returned */
	Pool *pool;
	PoisonGuard *poison;
	GArray *caught;          /* of Caught (owned strings): this pass's, for the postmaster */
	GHashTable *last_errors; /* queue ID -> the last scan error of a message that failed */
	GHashTable *stuck;       /* queue ID -> Stuck: a file that could not be claimed */
	GPtrArray *kicks;        /* pids of the deliveries kicked and still running */
	RunnerTick tick;         /* the daemon's status, after each round of answers */
	gpointer tick_data;
	/* SPAM: the spam checker (NULL: spam is off), and the jobs a worker
	 * finished whose spam check still runs */
	Spam *spam;
	GPtrArray *parked; /* of Job* */
};

#define MAX_KICKS 4 /* deliveries kicked and running at once */

/* Stuck - a queued file that could not be taken (broken, locked, no df), and when to retry */
typedef struct {
	gint64 next; /* Unix time of the next try */
	guint step;  /* tries so far: the back-off doubles, 5 s to 5 min */
} Stuck;

const guint runner_ms_bounds[RUNNER_MS_BUCKETS] = {50,   100,  250,   500,  1000,
                                                   2500, 5000, 10000, 30000};

/* Pending - a message prepared for commit, waiting for its batch to finish */
typedef struct {
	char *id;
	char *sender;
	char *recipients;
	char *subject;
	gint64 size;
	Verdict verdict;
	char *detail;
	char *action;
	char *quarantine;
	gint64 started;
	ScanReport report;
	char *message_id;
	char *logline;      /* logline_format(): the log line up to action= */
	gint64 msgsize;     /* the size sendmail logged (logline_size) */
	char *not_told;     /* why the sender is not told, logged after the verdict */
	Qf *sender_qf;      /* set when the sender is to be told, after the commit */
	MqConfig eff;       /* the message's settings (borrowed from the config) */
	SpamOutcome spam;   /* SPAM: for the log line and the store */
	gboolean spam_took; /* SPAM: out of the queue (quarantined or deleted), not in the batch */
	gboolean committed; /* set by log_and_record: delivered, or completed at the next pass */
} Pending;

/* Job - a claimed message while a worker scans it */
typedef struct {
	QueueClaim *claim;
	Pending *m;
	int df_fd;
	char *ref;
	/* the envelope as rulesets and the worker see it: without <>, NULL-terminated */
	char *sender;
	GPtrArray *rcpts;
	char *ip;
	MqConfig eff;        /* the per-message settings (borrowed from the config) */
	SpamCheck *spam;     /* SPAM: the message's spam check, or NULL */
	gint64 parked_until; /* SPAM: when parked, the latest its check can end */
} Job;

/* Candidate - a queued message, listed at the start of the pass */
typedef struct {
	QueueDir *in;
	char *id;
} Candidate;

/* Pass - the state of one runner_pass() */
typedef struct {
	Runner *r;
	PassStats *stats;
	gint64 now;   /* Unix time the pass started */
	GArray *todo; /* of Candidate */
	guint next;   /* the next candidate to hand out */
	CommitBatch *batch;
	GPtrArray *pending;                /* of Pending*, the batch's messages */
	const volatile sig_atomic_t *stop; /* set by a stop request */
} Pass;

/* pending_free - GPtrArray free func */
static void
pending_free(gpointer p)
{
	Pending *m = p;

	g_free(m->id);
	g_free(m->sender);
	g_free(m->recipients);
	g_free(m->subject);
	g_free(m->detail);
	g_free(m->action);
	g_free(m->quarantine);
	g_free(m->message_id);
	g_free(m->logline);
	g_free(m->not_told);
	qf_free(&m->sender_qf);
	scan_report_clear(&m->report);
	spam_outcome_clear(&m->spam); /* SPAM */
	g_free(m);
}

/* job_free - release everything (the claim too, if still held); a GDestroyNotify */
static void
job_free(gpointer p)
{
	Job *job = p;

	if (job == NULL)
		return;
	if (job->df_fd >= 0)
		close(job->df_fd);
	spam_check_free(&job->spam); /* SPAM */
	qdir_claim_release(&job->claim);
	if (job->m)
		pending_free(job->m);
	g_free(job->ref);
	g_free(job->sender);
	if (job->rcpts)
		g_ptr_array_unref(job->rcpts);
	g_free(job->ip);
	g_free(job);
}

/* caught_clear - GArray clear func */
static void
caught_clear(gpointer p)
{
	Caught *c = p;

	g_free((char *)c->queue_id);
	g_free((char *)c->sender);
	g_free((char *)c->recipients);
	g_free((char *)c->subject);
	g_free((char *)c->message_id);
	g_free((char *)c->report);
	g_free((char *)c->quarantine);
}

/* queue_dir_free - GPtrArray free func */
static void
queue_dir_free(gpointer p)
{
	QueueDir *d = p;

	qdir_free(&d);
}

/* expand_incoming - queue.incoming entries, globs expanded */
static GPtrArray *
expand_incoming(const MqConfig *config, QueueLock lock, GError **error)
{
	g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func(queue_dir_free);

	for (int i = 0; config->queue_incoming[i]; i++) {
		const char *pattern = config->queue_incoming[i];
		glob_t g;

		if (strpbrk(pattern, "*?[") == NULL) {
			QueueDir *d = qdir_open(pattern, lock, error);
			if (d == NULL)
				return NULL;
			g_ptr_array_add(dirs, d);
			continue;
		}
		if (glob(pattern, GLOB_ONLYDIR, NULL, &g) != 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			            "queue.incoming: no directory matches %s", pattern);
			return NULL;
		}
		for (size_t k = 0; k < g.gl_pathc; k++) {
			QueueDir *d = qdir_open(g.gl_pathv[k], lock, NULL);
			if (d != NULL)
				g_ptr_array_add(dirs, d);
		}
		globfree(&g);
	}
	return g_steal_pointer(&dirs);
}

/* open_queues - the inbound queues and the outgoing one, checked against each other */
static gboolean
open_queues(Runner *r, GError **error)
{
	QueueLock lock = qdir_lock_from_name(r->config->queue_lock);

	r->inbound = expand_incoming(r->config, lock, error);
	if (r->inbound == NULL)
		return FALSE;
	r->outgoing = qdir_open(r->config->queue_outgoing, lock, error);
	if (r->outgoing == NULL)
		return FALSE;
	for (guint i = 0; i < r->inbound->len; i++) {
		QueueDir *in = g_ptr_array_index(r->inbound, i);
		if (qdir_same_dir(in, r->outgoing)) {
			g_set_error(
			    error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "queue.incoming and queue.outgoing are the same directory (%s and "
			    "%s)",
			    qdir_path(in), qdir_path(r->outgoing));
			return FALSE;
		}
		/* listed twice (or "/q" and "/q/"): two claims of one message */
		for (guint k = 0; k < i; k++) {
			QueueDir *other = g_ptr_array_index(r->inbound, k);
			if (qdir_same_dir(in, other)) {
				g_set_error(
				    error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
				    "queue.incoming lists the directory %s twice (also as %s)",
				    qdir_path(other), qdir_path(in));
				return FALSE;
			}
		}
		if (!qdir_same_fs(in, r->outgoing))
			g_message("%s and %s are on different filesystems: bodies will be copied, "
			          "not linked",
			          qdir_path(in), qdir_path(r->outgoing));
	}
	return TRUE;
}

/* runner_cpu_usec - user and system CPU of this process so far */
gint64
runner_cpu_usec(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (gint64)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/*
 * runner_open - everything a pass needs.  The engine is @keep (borrowed: the
 * caller hands it over once this succeeded) or a new one; with @held, the
 * pool starts its workers only once its hold is lifted.
 */
static Runner *
runner_open(const MqConfig *config, Engine *keep, gboolean held, GError **error)
{
	g_autoptr(Runner) r = g_new0(Runner, 1);
	g_autoptr(GError) local = NULL;
	g_autoptr(GError) spam_error = NULL;

	r->config = config;
	r->caught = g_array_new(FALSE, TRUE, sizeof(Caught));
	g_array_set_clear_func(r->caught, caught_clear);
	r->last_errors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	r->stuck = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	r->kicks = g_ptr_array_new();
	r->hostname =
	    g_strdup(*config->scanner_hostname ? config->scanner_hostname : g_get_host_name());
	if (!open_queues(r, error))
		return NULL;
	if (!durable_mkdir_p(config->quarantine_dir, 0700, error))
		return NULL;
	r->policy = policy_new(config, error);
	if (r->policy == NULL)
		return NULL;
	gint64 t0 = g_get_monotonic_time(), cpu0 = runner_cpu_usec();
	if (keep == NULL) {
		r->engine = engine_new(config, error);
		if (r->engine == NULL)
			return NULL;
		g_message("engine: %u signatures loaded in %.2f s (CPU %.2f s)",
		          engine_signature_count(r->engine),
		          (double)(g_get_monotonic_time() - t0) / 1e6,
		          (double)(runner_cpu_usec() - cpu0) / 1e6);
	}
	/* SPAM: NULL without an error when no spamd and no blocklist is configured */
	r->parked = g_ptr_array_new();
	r->spam = spam_new(config, &spam_error);
	if (spam_error != NULL) {
		g_propagate_error(error, g_steal_pointer(&spam_error));
		return NULL;
	}
	r->store = store_open(config->reports_database, &local);
	if (r->store == NULL)
		g_warning("%s; messages will be processed but not recorded", local->message);
	r->poison = poison_guard_new(config, r->store);
	Engine *engine = keep != NULL ? keep : r->engine;
	r->pool = held ? pool_new_held(config, engine, r->policy, job_free, error)
	               : pool_new(config, engine, r->policy, job_free, error);
	if (r->pool == NULL)
		return NULL;
	return g_steal_pointer(&r);
}

/* runner_new - see runner.h */
Runner *
runner_new(const MqConfig *config, GError **error)
{
	return runner_open(config, NULL, FALSE, error);
}

static void free_retired(Runner *r);

/*
 * switch_to_reloaded - the end of a signature reload's job (waited for): its
 * engine becomes the runner's; the one it replaces is r->retired, freed once
 * its workers stopped (free_retired).  Logged if it did not load.
 */
static void
switch_to_reloaded(Runner *r)
{
	quiesce_job_finish(&r->reload);
	if (r->reload_engine == NULL) {
		g_critical("the changed signature database does not load (%s); still scanning "
		           "with the previous one",
		           r->reload_error->message);
		g_clear_error(&r->reload_error);
		return;
	}
	g_message("signatures reloaded: %u signatures from %s",
	          engine_signature_count(r->reload_engine), engine_source(r->reload_engine));
	r->retired = g_new0(struct Retired, 1);
	r->retired->engine = r->engine;
	r->retired->switched = g_get_monotonic_time();
	r->engine = g_steal_pointer(&r->reload_engine);
	pool_hold_forks(r->pool, TRUE);
	pool_retire(r->pool, r->engine);
	free_retired(r); /* at once if every worker was idle */
}

/*
 * runner_reload - see runner.h.  The old workers are stopped and the old
 * engine freed before any new worker is forked: a worker forked while the
 * old engine was still allocated would keep its pages (a second engine for
 * as long as the worker lives), and freeing it would copy each page it
 * writes for them.
 */
gboolean
runner_reload(Runner **runner, const MqConfig *config, GError **error)
{
	Runner *old = *runner;

	/* a signature reload under way: its engine is the current one (kept
	 * below, or not), else the new databases would be dropped with the old
	 * runner while the kept engine counts them as seen */
	if (old->reload != NULL) {
		g_message("SIGHUP: the signature reload under way is finished first");
		switch_to_reloaded(old);
	}
	Engine *keep = engine_fits(old->engine, config) ? old->engine : NULL;
	/* the new workers start at once when they can share nothing else than
	 * the kept engine (a worker that cannot start then refuses the new
	 * configuration); else only after the old runner's engines are freed */
	gboolean held = keep == NULL || old->retired != NULL;
	Runner *r = runner_open(config, keep, held, error);

	if (r == NULL)
		return FALSE;
	if (keep != NULL) {
		r->engine = keep;
		old->engine = NULL;
		g_message("engine: scanner.signatures and the scan limits are unchanged: the %u "
		          "signatures loaded are kept",
		          engine_signature_count(keep));
	}
	/* deliveries the old runner kicked and that still run: reaped by the new */
	g_ptr_array_extend_and_steal(r->kicks, g_steal_pointer(&old->kicks));
	gint64 t0 = g_get_monotonic_time();
	runner_free(runner); /* reaps the old workers, then frees what only they used */
	if (keep == NULL)
		g_message("engine: the previous signatures freed in %.2f s, before the new workers "
		          "start",
		          (double)(g_get_monotonic_time() - t0) / 1e6);
	if (held)
		pool_hold_forks(r->pool, FALSE);
	*runner = r;
	return TRUE;
}

/* runner_free - free and clear */
void
runner_free(Runner **runner)
{
	if (runner == NULL || *runner == NULL)
		return;
	Runner *r = *runner;
	if (r->reload != NULL) {
		quiesce_job_finish(&r->reload);
		engine_free(&r->reload_engine);
		g_clear_error(&r->reload_error);
	}
	if (r->freeing != NULL)
		quiesce_job_finish(&r->freeing);
	pool_free(&r->pool); /* reaps the workers */
	if (r->retired != NULL)
		engine_free(&r->retired->engine); /* NULL if the job freed it */
	g_clear_pointer(&r->retired, g_free);
	/* SPAM: the jobs hold checks: free them before the checker */
	for (guint i = 0; r->parked && i < r->parked->len; i++)
		job_free(g_ptr_array_index(r->parked, i));
	if (r->parked)
		g_ptr_array_unref(r->parked);
	spam_free(&r->spam);
	poison_guard_free(&r->poison);
	if (r->caught)
		g_array_unref(r->caught);
	if (r->last_errors)
		g_hash_table_destroy(r->last_errors);
	if (r->stuck)
		g_hash_table_destroy(r->stuck);
	if (r->kicks)
		g_ptr_array_unref(r->kicks); /* still running: init reaps them after we exit */
	if (r->inbound)
		g_ptr_array_unref(r->inbound);
	qdir_free(&r->outgoing);
	engine_free(&r->engine);
	policy_free(&r->policy);
	store_close(&r->store);
	g_free(r->hostname);
	g_free(r);
	*runner = NULL;
}

/* reload_thread - build the new engine; the old one keeps scanning meanwhile */
static gpointer
reload_thread(gpointer data)
{
	Runner *r = data;

	r->reload_engine = engine_new(r->config, &r->reload_error);
	return NULL;
}

/* free_thread - free the engine a reload replaced, beside the master */
static gpointer
free_thread(gpointer data)
{
	struct Retired *old = data;

	engine_free(&old->engine);
	old->freed = g_get_monotonic_time();
	return NULL;
}

/*
 * free_retired - the engine a reload replaced, once no worker shares it.
 * Freeing writes to most of its pages (the allocator's lists): while a
 * worker forked with it lives, each such page is copied first, and an 8 M
 * signature engine took the master 10 s and 2 GB more to free.  So the
 * workers that used it are stopped once drained and none is forked (the
 * pool holds its forks); then a job frees it beside the master, and the
 * workers started after it returned inherit the new engine alone.  The
 * switch comes between passes, when every worker is idle: they all stop at
 * once.  It is called in a pass too (hand_out), so that a hold taken while
 * a worker was busy ends as soon as the last one stopped.
 */
static void
free_retired(Runner *r)
{
	if (r->retired == NULL)
		return;
	if (r->freeing != NULL) {
		if (!quiesce_job_done(r->freeing))
			return;
		quiesce_job_finish(&r->freeing);
		g_message("previous signatures freed %.1f s after the switch; scanning goes on",
		          (double)(r->retired->freed - r->retired->switched) / G_USEC_PER_SEC);
		g_clear_pointer(&r->retired, g_free);
		return;
	}
	if (pool_workers(r->pool) > 0)
		return;
	/* the job puts the forks off until it returned (quiesce.h) */
	r->freeing = quiesce_job_start("freeing the previous signatures", free_thread, r->retired);
	pool_hold_forks(r->pool, FALSE);
}

/* runner_engine_switching - see runner.h */
gboolean
runner_engine_switching(const Runner *r)
{
	return r->reload != NULL || r->retired != NULL;
}

/* runner_check_reload - start a reload when the databases changed; swap when built */
void
runner_check_reload(Runner *r)
{
	if (r->retired != NULL) {
		free_retired(r);
		return;
	}
	if (r->reload != NULL) {
		if (!quiesce_job_done(r->reload))
			return;
		switch_to_reloaded(r);
		return;
	}
	if (!engine_changed(r->engine))
		return;
	engine_mark_seen(r->engine);
	g_message("signature database changed: loading it in the background");
	/* libclamav's load has no point where it could park: the pool puts
	 * its forks off until the job returned (quiesce.h) */
	r->reload = quiesce_job_start("signature reload", reload_thread, r);
}

/* runner_prune_store - keep reports.keep_days of rows */
void
runner_prune_store(Runner *r)
{
	if (r->store == NULL)
		return;
	int n = store_prune(r->store, r->config->reports_keep_days);
	if (n > 0)
		g_message("store: removed %d row(s) older than %u days", n,
		          r->config->reports_keep_days);
}

/* runner_inbound_dirs - where new control files appear */
GPtrArray *
runner_inbound_dirs(const Runner *r)
{
	GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < r->inbound->len; i++)
		g_ptr_array_add(dirs, g_strdup(qdir_qf_dir(g_ptr_array_index(r->inbound, i))));
	return dirs;
}

/* runner_describe - the start-up line */
char *
runner_describe(const Runner *r)
{
	return g_strdup_printf("%u inbound queue(s) -> %s, %u worker(s) as %s, %u signatures "
	                       "from %s%s",
	                       r->inbound->len, qdir_path(r->outgoing), pool_size(r->pool),
	                       r->config->scanner_user, engine_signature_count(r->engine),
	                       engine_source(r->engine),
	                       engine_is_test_db(r->engine) ? " (TEST signatures)" : "");
}

/* runner_set_tick - the daemon's hook */
void
runner_set_tick(Runner *r, RunnerTick tick, gpointer data)
{
	r->tick = tick;
	r->tick_data = data;
}

/* runner_workers - the pool's slots as the status shows them */
GArray *
runner_workers(const Runner *r)
{
	GArray *a = g_array_new(FALSE, TRUE, sizeof(RunnerWorker));

	for (guint i = 0; i < pool_size(r->pool); i++) {
		RunnerWorker w = {0};
		const char *id;
		w.busy = pool_slot_info(r->pool, i, &w.pid, &id, &w.since);
		if (w.busy)
			g_strlcpy(w.id, id, sizeof w.id);
		g_array_append_val(a, w);
	}
	return a;
}

/* runner_engine_info - the engine in use */
void
runner_engine_info(const Runner *r, guint *signatures, guint *version, gint64 *built,
                   gint64 *loaded)
{
	*signatures = engine_signature_count(r->engine);
	engine_db_info(r->engine, version, built, loaded);
}

/* runner_outgoing_dir - where outbound control files are */
const char *
runner_outgoing_dir(const Runner *r)
{
	return qdir_qf_dir(r->outgoing);
}

/* runner_store - accessor */
Store *
runner_store(const Runner *r)
{
	return r->store;
}

/* has_8bit - any byte >= 0x80 */
static gboolean
has_8bit(const char *data, gsize len)
{
	for (gsize i = 0; i < len; i++)
		if ((guchar)data[i] >= 0x80)
			return TRUE;
	return FALSE;
}

/* build_outbound_qf - the control file that goes out with the verdict's changes */
static Qf *
build_outbound_qf(Runner *r, const MqConfig *eff, const Qf *in, const ScanReport *rep)
{
	Qf *out = qf_copy(in);
	g_autofree char *scanned = g_strdup_printf("mqsift %s on %s", PACKAGE_VERSION, r->hostname);
	g_autofree char *status = scan_status_header(rep);
	const char *tag = eff->policy_subject_tag;

	qf_sanitize_for_outbound(out);
	/* a header of ours that came from outside would lie: replace it */
	qf_remove_header(out, "X-Virus-Scanned");
	qf_remove_header(out, "X-Virus-Status");
	qf_remove_header(out, "X-Mqsift-Ambiguous");
	qf_add_header(out, "X-Virus-Scanned", scanned);
	qf_add_header(out, "X-Virus-Status", status);
	/* mime.on_ambiguous: deliver - say what two readers could read two ways */
	if (rep->ambiguous != NULL && rep->verdict == VERDICT_CLEAN &&
	    g_strcmp0(eff->mime_on_ambiguous, "deliver") == 0)
		qf_add_header(out, "X-Mqsift-Ambiguous", rep->ambiguous);
	if (rep->verdict == VERDICT_INFECTED || rep->verdict == VERDICT_BLOCKED) {
		g_autofree char *subject = qf_header_get(out, "Subject");
		if (tag && *tag && !(subject && g_str_has_prefix(subject, tag))) {
			g_autofree char *tagged =
			    g_strdup_printf("%s %s", tag, subject ? subject : "");
			qf_set_header(out, "Subject", tagged);
		}
	}
	if (rep->new_body != NULL) {
		gsize len;
		const char *body = g_bytes_get_data(rep->new_body, &len);
		gboolean body8 = has_8bit(body, len);

		if (rep->new_content_type != NULL) {
			qf_remove_header(out, "Content-Disposition");
			qf_set_header(out, "MIME-Version", "1.0");
			qf_set_header(out, "Content-Type", rep->new_content_type);
			qf_set_header(out, "Content-Transfer-Encoding", body8 ? "8bit" : "7bit");
		}
		qf_set_flag(out, '8', body8 || qf_has_8bit_headers(out));
		qf_set_body_type(out, body8);
	}
	return out;
}

/* record_left - log (and store) a message left in its queue */
static void
record_left(Runner *r, QueueClaim *claim, const char *why, PassStats *stats)
{
	stats->left++;
	g_critical("%s: %s; left in %s", claim->id, why, qdir_path(claim->dir));
	g_autoptr(GError) error = NULL;
	if (r->store && !store_add_claimed(r->store, claim->id, claim->qf, 0, why, "left in queue",
	                                   NULL, &error))
		g_warning("%s: %s", claim->id, error->message);
}

/*
 * set_aside_if_stale - a message that can never be processed (broken or stuck
 * control file, no body) is left in place and logged for queue.bad_file_grace,
 * then moved to quarantine.dir/broken/<id>/ and the postmaster is told.
 * Nothing is ever deleted.
 */
static void
set_aside_if_stale(Runner *r, QueueDir *in, const char *id, const char *why, PassStats *stats)
{
	gint64 mtime;
	g_autoptr(GError) error = NULL;

	stats->left++;
	if (!qdir_qf_mtime(in, id, &mtime))
		return;
	gint64 age = g_get_real_time() / G_USEC_PER_SEC - mtime;
	if (age < (gint64)r->config->queue_bad_file_grace) {
		g_critical("%s: %s; left in %s (set aside after %us)", id, why, qdir_path(in),
		           r->config->queue_bad_file_grace);
		return;
	}
	g_autofree char *dest = g_build_filename(r->config->quarantine_dir, "broken", id, NULL);
	if (!commit_move_aside(in, id, dest, &error)) {
		g_critical("%s: %s; cannot set it aside: %s", id, why, error->message);
		return;
	}
	g_critical("%s: %s; moved from %s to %s", id, why, qdir_path(in), dest);
	g_autofree char *nid =
	    notify_set_aside(r->config, r->outgoing, id, why, qdir_path(in), age, dest, &error);
	if (nid == NULL)
		g_warning("%s: cannot queue the notice to the postmaster: %s", id, error->message);
}

/*
 * job_start - everything the master does for a claimed message before a
 * worker scans it.  Returns NULL when the message was dealt with already.
 */
static Job *
job_start(Runner *r, QueueClaim *claim, PassStats *stats)
{
	g_autoptr(GError) error = NULL;
	gint64 size;
	int fd = qdir_claim_open_df(claim, &size, &error);

	if (fd < 0) {
		g_autofree char *id = g_strdup(claim->id);
		QueueDir *in = claim->dir;
		qdir_claim_release(&claim);
		set_aside_if_stale(r, in, id, error->message, stats);
		return NULL;
	}
	Job *job = g_new0(Job, 1);
	Pending *m = g_new0(Pending, 1);
	job->claim = claim;
	job->df_fd = fd;
	job->m = m;
	job->ref = quarantine_ref(claim->id);
	m->id = g_strdup(claim->id);
	m->started = g_get_monotonic_time();
	m->sender = g_strdup(qf_sender(claim->qf));
	m->recipients = qf_recipients_text(claim->qf);
	m->subject = qf_header_get(claim->qf, "Subject");
	m->size = size;
	m->msgsize = logline_size(claim->qf, size);
	job->rcpts = qf_recipients(claim->qf);
	job->sender = envelope_strip(g_strdup(qf_sender(claim->qf)));
	job->ip = qf_client_ip(claim->qf);
	for (guint i = 0; i < job->rcpts->len; i++)
		envelope_strip(g_ptr_array_index(job->rcpts, i));
	g_ptr_array_add(job->rcpts, NULL);
	Envelope env = {job->sender, (const char *const *)job->rcpts->pdata, job->ip};
	config_for_message(r->config, &env, &job->eff);
	/* SPAM: the spam check runs while the worker scans */
	job->spam = spam_start(r->spam, &job->eff, claim->id, claim->qf, fd, m->size);
	return job;
}

/* job_send - hand a started job to an idle worker */
static gboolean
job_send(Runner *r, Job *job, GError **error)
{
	g_autoptr(GString) headers = qf_headers_text(job->claim->qf);

	g_string_append_c(headers, '\n');
	WorkRequest req = {job->claim->id,
	                   headers->str,
	                   headers->len,
	                   job->df_fd,
	                   headers->len + (gsize)job->m->size,
	                   job->sender,
	                   (const char *const *)job->rcpts->pdata,
	                   job->ip,
	                   job->ref};
	return pool_send(r->pool, &req, job, &job->m->report, error);
}

/* quarantine_original - keep the message as it arrived under the job's reference */
static gboolean
quarantine_original(Runner *r, Job *job, GError **error)
{
	g_autoptr(GString) message = qdir_claim_read_message(job->claim, NULL, error);

	return message != NULL &&
	       quarantine_store(r->config, job->ref, job->claim->qf, message->str, message->len,
	                        &job->m->report, error);
}

/* job_finish - a worker's verdict: quarantine, outbound qf, commit_prepare */
static void
job_finish(Pass *p, Job *job)
{
	Runner *r = p->r;
	Pending *m = job->m;
	QueueClaim *claim = job->claim;
	g_autoptr(GError) error = NULL;

	m->verdict = m->report.verdict;
	m->eff = job->eff;
	m->message_id = qf_header_get(claim->qf, "Message-ID");
	poison_forget(r->poison, claim->id);
	if (m->verdict == VERDICT_ERROR) {
		/* counted: after scanner.max_attempts over queue.error_grace it is
		 * quarantined whole (hand_out), never left unseen for ever */
		const char *why = m->report.detail ? m->report.detail : "scan error";
		guint errors = poison_scan_error(r->poison, claim->id);
		g_autofree char *what = g_strdup_printf("%s (scan error %u)", why, errors);
		g_hash_table_replace(r->last_errors, g_strdup(claim->id), g_strdup(why));
		record_left(r, claim, what, p->stats);
		return; /* job_free releases the claim */
	}
	poison_forget_errors(r->poison, claim->id);
	if (m->verdict != VERDICT_CLEAN) {
		if (m->verdict == VERDICT_INFECTED)
			m->detail = scan_join_names(m->report.names);
		else
			m->detail = g_strdup(m->report.blocked);
		if (!quarantine_original(r, job, &error)) {
			g_autofree char *why =
			    g_strdup_printf("cannot quarantine: %s", error->message);
			record_left(r, claim, why, p->stats);
			return;
		}
		m->quarantine = g_strdup(job->ref);
		m->action = g_strdup(m->report.whole_message ? "replaced by a notice, quarantined"
		                                             : "parts removed, quarantined");
		const char *why = NULL;
		if (notify_sender_allowed(&job->eff, claim->qf, m->report.names, &why))
			m->sender_qf = qf_copy(claim->qf);
		else if (job->eff.notify_sender)
			m->not_told = g_strdup(why);
	} else {
		m->action = g_strdup(m->report.unscanned ? "delivered unscanned (policy)"
		                     : m->report.limits  ? "delivered (limits exceeded)"
		                                         : "delivered");
	}
	g_autoptr(Qf) out = build_outbound_qf(r, &job->eff, claim->qf, &m->report);
	/* SPAM: headers and actions into @out; or the message stays queued, or was taken */
	if (job->spam != NULL) {
		SpamFinish sf = spam_finish(r->spam, job->spam, &job->eff, claim, job->ref,
		                            m->verdict == VERDICT_CLEAN, out, &m->spam, &error);
		if (sf == SPAM_FINISH_DEFER) {
			record_left(r, claim, error->message, p->stats);
			return; /* job_free releases the claim */
		}
		if (error != NULL) {
			g_warning("%s: %s", claim->id, error->message);
			g_clear_error(&error);
		}
		if (m->spam.quarantine != NULL && m->quarantine == NULL)
			m->quarantine = g_strdup(m->spam.quarantine);
		if (sf == SPAM_FINISH_DISCARDED) {
			g_free(m->action);
			m->action = g_strdup_printf("spam: %s", m->spam.action);
			m->spam_took = TRUE;
		}
	}
	LogLine line = {.queue_id = claim->id,
	                .qf = claim->qf,
	                .size = m->msgsize,
	                .verdict = m->verdict,
	                .report = &m->report,
	                .quarantine = m->quarantine,
	                .spam = m->spam.status != NULL ? &m->spam : NULL};
	m->logline = logline_format(&line);
	if (m->spam_took) {
		/* SPAM: logged and stored with the batch; job_free releases the
		 * claim (its files are gone) */
		g_ptr_array_add(p->pending, g_steal_pointer(&job->m));
		return;
	}
	if (!commit_prepare(p->batch, claim, out, m->report.new_body, &error)) {
		record_left(r, claim, error->message, p->stats);
		return;
	}
	job->claim = NULL; /* the batch owns it now */
	g_ptr_array_add(p->pending, g_steal_pointer(&job->m));
}

/* job_failed - the worker died or hung on this job: count it, keep the message */
static void
job_failed(Pass *p, Job *job, const char *what)
{
	p->stats->left++;
	/* while mqsift stops, a worker ended by the stop (or by the deadline the
	 * stop runs into) says nothing about the message: not an attempt */
	if (p->stop != NULL && *p->stop) {
		g_message("%s: %s during shutdown; not counted as a failed attempt, left in the "
		          "queue",
		          job->claim->id, what);
		return;
	}
	guint tries = poison_failed(p->r->poison, job->claim->id);

	g_critical("%s: %s (attempt %u of %u); left in the queue, retried after %" G_GINT64_FORMAT
	           "s",
	           job->claim->id, what, tries, p->r->config->scanner_max_attempts,
	           poison_backoff_seconds(tries));
}

/* job_done - PoolDone: a worker's answer, or its failure */
static void
job_done(gpointer job, const char *failure, gpointer data)
{
	Pass *p = data;
	Job *j = job;

	if (failure == NULL && j->m->report.verdict != VERDICT_ERROR && !spam_check_done(j->spam)) {
		/* SPAM: scanned; wait for its spam check, not the worker */
		j->parked_until =
		    g_get_monotonic_time() + spam_check_bound(p->r->spam) + G_USEC_PER_SEC;
		g_ptr_array_add(p->r->parked, j);
		return;
	}
	if (failure == NULL)
		job_finish(p, j);
	else
		job_failed(p, j, failure);
	job_free(j);
}

/*
 * finish_parked - SPAM: finish the parked jobs whose spam check ended (a
 * check always ends within spam_check_bound(); one that did not is left in
 * the queue, never delivered unchecked by accident)
 */
static void
finish_parked(Pass *p)
{
	Runner *r = p->r;
	gint64 now = g_get_monotonic_time();

	spam_notify_drain(r->spam);
	for (guint i = 0; i < r->parked->len;) {
		Job *job = g_ptr_array_index(r->parked, i);
		if (spam_check_done(job->spam)) {
			g_ptr_array_remove_index(r->parked, i);
			job_finish(p, job);
			job_free(job);
		} else if (now >= job->parked_until) {
			g_ptr_array_remove_index(r->parked, i);
			record_left(r, job->claim, "the spam check did not end in time", p->stats);
			job_free(job);
		} else {
			i++;
		}
	}
}

/* parked_deadline - SPAM: the earliest a parked job gives up, G_MAXINT64 if none */
static gint64
parked_deadline(const Runner *r)
{
	gint64 next = G_MAXINT64;

	for (guint i = 0; i < r->parked->len; i++)
		next = MIN(next, ((const Job *)g_ptr_array_index(r->parked, i))->parked_until);
	return next;
}

/* queued_time - when the message was queued (the qf's T record), 0 if unknown */
static gint64
queued_time(const Qf *qf)
{
	const QfRecord *t = qf_first(qf, 'T');
	guint64 v = 0;

	if (t == NULL || !g_ascii_string_to_unsigned(t->value, 10, 0, G_MAXINT64, &v, NULL))
		return 0;
	return (gint64)v;
}

/* quarantine_poison - a message that failed too often goes to quarantine whole */
static void
quarantine_poison(Runner *r, QueueClaim *claim, guint tries, const char *scan_error, guint hours,
                  PassStats *stats)
{
	g_autoptr(GError) error = NULL;

	if (poison_quarantine(r->poison, claim, tries, r->outgoing, scan_error, hours, &error))
		stats->left++;
	else
		record_left(r, claim, error->message, stats);
}

/* list_candidates - complete interrupted commits, then list every queued message */
static gboolean
list_candidates(Pass *p)
{
	Runner *r = p->r;
	gboolean ok = TRUE;

	for (guint q = 0; q < r->inbound->len; q++) {
		QueueDir *in = g_ptr_array_index(r->inbound, q);
		g_autoptr(GError) error = NULL;
		int n = commit_recover(in, r->outgoing, &error);

		if (n < 0) {
			g_critical("recovery in %s: %s", qdir_path(in), error->message);
			ok = FALSE;
			continue;
		}
		p->stats->recovered += (guint)n;
		g_autoptr(GPtrArray) ids = qdir_list(in, "qf", &error);
		if (ids == NULL) {
			g_critical("%s", error->message);
			ok = FALSE;
			continue;
		}
		for (guint i = 0; i < ids->len; i++) {
			const char *id = g_ptr_array_index(ids, i);
			if (commit_is_held(in, id))
				continue; /* committed: the next recovery completes it */
			Candidate c = {in, g_strdup(id)};
			g_array_append_val(p->todo, c);
		}
	}
	return ok;
}

/*
 * stuck_wait - TRUE while a file that could not be taken waits for its next
 * try: a garbage qf, a qf without its df or one locked by another process is
 * not tried (nor logged) at every wake-up, only once per back-off step
 */
static gboolean
stuck_wait(Runner *r, const char *id, gint64 now)
{
	Stuck *s = g_hash_table_lookup(r->stuck, id);

	return s != NULL && now < s->next;
}

/*
 * stuck_again - one more failed try of @id: the next one waits longer (a
 * file locked by another process from 1 s: the inbound sendmail may just be
 * finishing it)
 */
static void
stuck_again(Runner *r, const char *id, gint64 now, gboolean busy)
{
	Stuck *s = g_hash_table_lookup(r->stuck, id);

	if (s == NULL) {
		s = g_new0(Stuck, 1);
		g_hash_table_insert(r->stuck, g_strdup(id), s);
	}
	s->step++;
	s->next =
	    now + (busy ? MIN((gint64)1 << (s->step - 1), 300) : poison_backoff_seconds(s->step));
}

/* runner_next_retry - see runner.h */
gint64
runner_next_retry(Runner *r)
{
	GHashTableIter it;
	gpointer value;
	gint64 next = 0;

	g_hash_table_iter_init(&it, r->stuck);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		const Stuck *s = value;
		if (next == 0 || s->next < next)
			next = s->next;
	}
	return next;
}

/* claim_failed - a candidate that could not be claimed: busy, gone, or broken */
static void
claim_failed(Pass *p, Candidate *c, const GError *error)
{
	if (error->code != QDIR_ERROR_GONE)
		stuck_again(p->r, c->id, p->now, error->code == QDIR_ERROR_BUSY);
	if (error->code == QDIR_ERROR_BROKEN || error->code == QDIR_ERROR_INCOMPLETE) {
		set_aside_if_stale(p->r, c->in, c->id, error->message, p->stats);
	} else if (error->code == QDIR_ERROR_SYSTEM) {
		g_critical("%s: %s; left in the queue", c->id, error->message);
		p->stats->left++;
	} else {
		g_debug("%s: %s", c->id, error->message);
		p->stats->seen--;
	}
}

/* hand_out - claim the next candidates and give them to idle workers */
static void
hand_out(Pass *p, const volatile sig_atomic_t *stop)
{
	Runner *r = p->r;

	/* the engine a reload replaced: freed once its workers are gone */
	free_retired(r);
	/* workers put off while a signature reload ran, or worn and idle */
	pool_tend(r->pool, job_done, p);
	/* SPAM: parked jobs hold a claim and a copy each: at most a batch of them */
	while (!(stop && *stop) && p->next < p->todo->len && pool_has_idle(r->pool) &&
	       r->parked->len < MAX(r->config->queue_batch_size, r->config->spam_max_in_flight)) {
		Candidate *c = &g_array_index(p->todo, Candidate, p->next++);
		g_autoptr(GError) error = NULL;
		guint tries;
		PoisonCheck check = poison_check(r->poison, c->id, p->now, &tries);

		if (check == POISON_WAIT || stuck_wait(r, c->id, p->now))
			continue; /* failed recently: wait a little */
		QueueClaim *claim = qdir_claim(c->in, c->id, &error);
		p->stats->seen++;
		if (claim == NULL) {
			claim_failed(p, c, error);
			continue;
		}
		if (check == POISON_QUARANTINE) {
			quarantine_poison(r, claim, tries, NULL, 0, p->stats);
			qdir_claim_release(&claim);
			continue;
		}
		/* a message whose scans keep failing */
		gint64 queued_at = queued_time(claim->qf);
		guint errors;
		PoisonCheck errs =
		    poison_check_errors(r->poison, c->id, p->now, queued_at, &errors);
		if (errs == POISON_WAIT && errors > 0) {
			p->stats->seen--;
			qdir_claim_release(&claim);
			continue;
		}
		if (errs == POISON_QUARANTINE) {
			const char *last = g_hash_table_lookup(r->last_errors, c->id);
			guint hours = queued_at > 0 ? (guint)((p->now - queued_at) / 3600) : 0;
			quarantine_poison(r, claim, errors, last ? last : "scan error", hours,
			                  p->stats);
			g_hash_table_remove(r->last_errors, c->id);
			qdir_claim_release(&claim);
			continue;
		}
		g_autofree char *id = g_strdup(claim->id);
		Job *job = job_start(r, claim, p->stats);
		if (job == NULL) {
			stuck_again(r, id, p->now, FALSE); /* no df: the same back-off */
			continue;
		}
		g_hash_table_remove(r->stuck, id);
		if (!job_send(r, job, &error)) {
			g_warning("%s: %s; restarting it", c->id, error->message);
			job_free(job);
			p->next--; /* try this message again */
			p->stats->seen--;
		}
	}
}

/* log_and_record - the log line, the counters and the store row of each message */
static void
log_and_record(Runner *r, GPtrArray *pending, CommitBatch *batch, PassStats *stats)
{
	guint in_batch = 0; /* the index of the next message in the batch */

	if (r->store)
		store_begin(r->store);
	for (guint i = 0; i < pending->len; i++) {
		Pending *m = g_ptr_array_index(pending, i);
		gint64 ms = (g_get_monotonic_time() - m->started) / 1000;
		/* a failed batch commit says what became of each message; one
		 * spam took is done (SPAM) and was never in the batch */
		CommitOutcome outcome =
		    m->spam_took ? COMMIT_DONE : commit_outcome(batch, in_batch++);
		/* a message in doubt is not counted nor reported: if the next pass
		 * finds it inbound again, it is scanned and reported then */
		gboolean committed = outcome == COMMIT_DONE || outcome == COMMIT_RECOVERED;
		m->committed = committed;
		g_autofree char *recovered =
		    outcome == COMMIT_RECOVERED
		        ? g_strdup_printf("%s (commit completed at the next pass)", m->action)
		        : NULL;
		const char *action =
		    outcome == COMMIT_DONE        ? m->action
		    : outcome == COMMIT_RECOVERED ? recovered
		    : outcome == COMMIT_DOUBTFUL
		        ? "commit in doubt (completed at the next pass, or scanned again)"
		        : "left in queue (commit failed)";

		g_message("%s: %s, action=%s, ms=%" G_GINT64_FORMAT, m->id, m->logline,
		          outcome == COMMIT_RECOVERED  ? "commit-completed-at-next-pass"
		          : outcome == COMMIT_DOUBTFUL ? "commit-in-doubt"
		          : m->spam_took               ? logline_spam_action(&m->spam)
		                         : logline_action(&m->report, m->verdict, committed),
		          ms);
		if (committed && m->not_told != NULL)
			g_message("%s: the sender is not told: %s", m->id, m->not_told);
		if (committed) {
			guint b = 0;
			while (b < RUNNER_MS_BUCKETS && ms > runner_ms_bounds[b])
				b++;
			stats->ms_buckets[b]++;
			stats->ms_total += (guint64)ms;
			stats->committed++;
			if (m->verdict == VERDICT_INFECTED)
				stats->infected++;
			else if (m->verdict == VERDICT_BLOCKED)
				stats->blocked++;
			else
				stats->clean++;
		} else {
			stats->left++;
		}
		if (r->store == NULL)
			continue;
		g_autoptr(GArray) fs = g_array_new(FALSE, TRUE, sizeof(StoreFinding));
		for (guint k = 0; k < m->report.findings->len; k++) {
			const Finding *f = g_ptr_array_index(m->report.findings, k);
			StoreFinding sf = {f->path, f->filename, f->content_type, f->what,
			                   f->infected};
			g_array_append_val(fs, sf);
		}
		StoreRow row = {.queue_id = m->id,
		                .received = g_get_real_time() / G_USEC_PER_SEC,
		                .sender = m->sender,
		                .recipients = m->recipients,
		                .subject = m->subject,
		                .size = m->msgsize,
		                .status = committed ? scan_verdict_name(m->verdict) : "error",
		                .detail = m->detail ? m->detail : m->report.ambiguous,
		                .action = action,
		                .quarantine = m->quarantine,
		                .ms = ms,
		                .findings = (const StoreFinding *)fs->data,
		                .n_findings = fs->len,
		                /* SPAM */
		                .spam = m->spam.status,
		                .spam_score = m->spam.has_score ? m->spam.score : NAN,
		                .spam_tests = m->spam.tests,
		                .spam_dnsbl = m->spam.dnsbl};
		g_autoptr(GError) error = NULL;
		if (!store_add(r->store, &row, &error))
			g_warning("%s: %s", m->id, error->message);
	}
	if (r->store)
		store_commit(r->store);
}

/* tell_about_caught - note each caught message for the postmaster; tell its sender */
static void
tell_about_caught(Runner *r, GPtrArray *pending)
{
	for (guint i = 0; i < pending->len; i++) {
		Pending *m = g_ptr_array_index(pending, i);
		if (!m->committed ||
		    (m->verdict != VERDICT_INFECTED && m->verdict != VERDICT_BLOCKED))
			continue;
		Caught c = {g_strdup(m->id),
		            g_strdup(m->sender),
		            g_strdup(m->recipients),
		            g_strdup(m->subject ? m->subject : ""),
		            g_strdup(m->message_id ? m->message_id : ""),
		            m->verdict == VERDICT_INFECTED
		                ? g_strdup_printf("Virus '%s' found", m->detail)
		                : g_strdup_printf("Blocked: %s", m->detail),
		            g_strdup(m->quarantine)};
		g_array_append_val(r->caught, c);
		if (m->sender_qf == NULL)
			continue;
		g_autoptr(GError) error = NULL;
		g_autofree char *nid = notify_sender(&m->eff, r->outgoing, m->sender_qf, c.report,
		                                     m->quarantine, &error);
		if (nid)
			g_message("%s: the sender %s was told (notice %s)", m->id, m->sender, nid);
		else
			g_warning("%s: cannot notify the sender: %s", m->id, error->message);
	}
}

/* reap_kicks - forget the kicked deliveries that ended (no zombie is left) */
static void
reap_kicks(Runner *r)
{
	for (guint i = 0; i < r->kicks->len;) {
		GPid pid = GPOINTER_TO_INT(g_ptr_array_index(r->kicks, i));
		if (waitpid(pid, NULL, WNOHANG) != 0)
			g_ptr_array_remove_index_fast(r->kicks, i);
		else
			i++;
	}
}

/* kick_delivery - sendmail -qI<id> for what was just committed (batches of 30) */
static void
kick_delivery(Runner *r, GPtrArray *pending)
{
	/* the kicks still running: at most MAX_KICKS at once, the periodic
	 * queue run of the outgoing sendmail delivers what a skipped kick
	 * would have */
	reap_kicks(r);
	if (r->kicks->len >= MAX_KICKS) {
		g_debug("%u deliveries kicked are still running: the queue run delivers these",
		        r->kicks->len);
		return;
	}
	/* one queue run for the whole batch: sendmail ORs its -qI options */
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	for (int k = 0; r->config->queue_sendmail && r->config->queue_sendmail[k]; k++)
		g_ptr_array_add(argv, g_strdup(r->config->queue_sendmail[k]));
	if (argv->len == 0)
		g_ptr_array_add(argv, g_strdup(SENDMAIL_PATH));
	g_ptr_array_add(argv, g_strdup_printf("-OQueueDirectory=%s", qdir_path(r->outgoing)));
	guint ids = 0;
	for (guint k = 0; k < pending->len; k++) {
		Pending *m = g_ptr_array_index(pending, k);
		if (m->spam_took)
			continue; /* SPAM: not in the outgoing queue */
		g_ptr_array_add(argv, g_strdup_printf("-qI%s", m->id));
		ids++;
	}
	if (ids == 0)
		return; /* no -qI: that would be a whole queue run */
	g_ptr_array_add(argv, NULL);
	g_autoptr(GError) error = NULL;
	GPid pid;
	if (!g_spawn_async(NULL, (char **)argv->pdata, NULL,
	                   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
	                       G_SPAWN_STDERR_TO_DEV_NULL,
	                   NULL, NULL, &pid, &error))
		g_warning("cannot kick delivery: %s", error->message);
	else
		g_ptr_array_add(r->kicks, GINT_TO_POINTER(pid));
}

/* finish_batch - commit, then record and log every message of the batch */
static void
finish_batch(Pass *p)
{
	Runner *r = p->r;
	g_autoptr(GError) error = NULL;

	/* The commit protocol (queue/commit.h) makes the whole batch durable
	 * with one flush; what fails stays inbound, or is completed by the
	 * recovery of the next pass. */
	gboolean ok = commit_finish(p->batch, &error);
	if (!ok)
		g_critical("commit failed: %s; the messages stay in the inbound queue "
		           "(a committed one is completed at the next pass)",
		           error->message);

	/* Every message gets its log line and store row, committed or not. */
	log_and_record(r, p->pending, p->batch, p->stats);

	/* Only what was committed is reported, to the postmaster at the end of
	 * the pass and to a sender now: in a batch that failed part way, the
	 * messages before the failure (delivered, or completed from the
	 * journal at the next pass) are told about as the others would have
	 * been.  The outgoing sendmail is kicked when all of it is there. */
	tell_about_caught(r, p->pending);
	if (ok && r->config->queue_kick_delivery && p->pending->len > 0)
		kick_delivery(r, p->pending);
	g_ptr_array_set_size(p->pending, 0);
}

/* warn_postmaster - one warning for everything this pass caught */
static void
warn_postmaster(Runner *r)
{
	g_autoptr(GError) error = NULL;

	if (r->caught->len == 0)
		return;
	if (r->config->notify_postmaster_warnings) {
		g_autofree char *id =
		    notify_postmaster(r->config, r->outgoing, (const Caught *)r->caught->data,
		                      r->caught->len, &error);
		if (id == NULL)
			g_warning("cannot queue the warning to the postmaster: %s", error->message);
	}
	g_array_set_size(r->caught, 0);
}

/* candidate_clear - GArray clear func */
static void
candidate_clear(gpointer p)
{
	g_free(((Candidate *)p)->id);
}

/* runner_pass - recover, then every message present, through the workers */
gboolean
runner_pass(Runner *r, const volatile sig_atomic_t *stop, PassStats *stats)
{
	Pass p = {.r = r, .stats = stats, .now = g_get_real_time() / G_USEC_PER_SEC, .stop = stop};

	memset(stats, 0, sizeof *stats);
	reap_kicks(r);
	p.todo = g_array_new(FALSE, FALSE, sizeof(Candidate));
	g_array_set_clear_func(p.todo, candidate_clear);
	p.batch = commit_batch_new(r->outgoing, r->config->queue_file_mode);
	p.pending = g_ptr_array_new_with_free_func(pending_free);

	/* A crash may have left commits half done: complete them before
	 * anything else, then take what is queued, oldest first. */
	gboolean ok = list_candidates(&p);
	for (;;) {
		/* Stopping: what waits for a worker put off by a reload is not
		 * given one (it stays queued, not counted as an attempt). */
		if (stop && *stop)
			pool_give_back_waiting(r->pool, job_done, &p, "waiting for a worker");
		/* Keep every worker busy while messages are waiting. */
		hand_out(&p, stop);
		if (pool_busy(r->pool) == 0 && r->parked->len == 0) /* SPAM: parked jobs too */
			break;
		/* Each answer is prepared for commit; a death is counted.  SPAM:
		 * also wake up when a spam check ends, or a parked job's time is up. */
		gboolean spam_wait =
		    r->spam != NULL && (r->parked->len > 0 || pool_busy(r->pool) > 0);
		pool_wait_also(r->pool, spam_wait ? spam_notify_fd(r->spam) : -1,
		               parked_deadline(r), job_done, &p);
		if (spam_wait)
			finish_parked(&p);
		if (r->tick)
			r->tick(r->tick_data, stats);
		/* Commit a full batch, or whatever is ready once nothing is left
		 * to hand out and nothing is in hand: a backlog goes in full
		 * batches, a message arriving alone is committed at once. */
		if (commit_batch_size(p.batch) >= r->config->queue_batch_size ||
		    (pool_busy(r->pool) == 0 && r->parked->len == 0 && p.next >= p.todo->len)) {
			/* the workers' queues full first: they scan while the
			 * batch's flushes wait for the disk */
			hand_out(&p, stop);
			finish_batch(&p);
		}
	}
	finish_batch(&p);
	/* The postmaster hears once per pass, not once per message. */
	warn_postmaster(r);

	commit_batch_free(&p.batch);
	g_ptr_array_unref(p.pending);
	g_array_free(p.todo, TRUE);
	return ok;
}
