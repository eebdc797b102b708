/*
 * run.c - one pass over the inbound queues, and the loop around it
 */
#include "mqsift-build.h"

#include "scanner/run.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pwd.h>
#include <signal.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/commit.h"
#include "queue/durable.h"
#include "queue/qdir.h"
#include "reports/notice.h"
#include "reports/notify.h"
#include "reports/store.h"
#include "rules/policy.h"
#include "rules/untrusted.h"
#include "scanner/engine.h"
#include "scanner/quarantine.h"
#include "scanner/sandbox.h"
#include "scanner/scan.h"
#include "scanner/worker.h"

#include <poll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/wait.h>

struct Runner {
	const MqConfig *config;
	GPtrArray *inbound; /* of QueueDir* */
	QueueDir *outgoing;
	Engine *engine;
	Policy *policy;
	Store *store; /* NULL if the database cannot be opened: mail still flows */
	char *hostname;
	/* a new engine being built in the background while the old one scans */
	GThread *reload_thread;
	gint reload_done;
	Engine *reload_engine;
	GError *reload_error;
	/* the scan workers */ GPtrArray *slots; /* of Slot* */
	GArray *caught;       /* of Caught (owned strings): this pass's, for the postmaster */
	GHashTable *attempts; /* queue ID -> failed attempts, when there is no store */
};

typedef struct Job Job;

/* Slot - one worker and the message it has in hand */
typedef struct {
	Worker *worker;
	Job *job;          /* NULL when idle */
	gint64 deadline;   /* monotonic time the answer is due */
	gboolean retiring; /* replace it once its message is done (new engine) */
} Slot;

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
	Qf *sender_qf; /* set when the sender is to be told, after the commit */
	MqConfig eff;  /* the message's settings (borrowed from the config) */
} Pending;

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
	qf_free(&m->sender_qf);
	scan_report_clear(&m->report);
	g_free(m);
}

static void caught_clear(gpointer p);

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
	GPtrArray *dirs = g_ptr_array_new_with_free_func(queue_dir_free);

	for (int i = 0; config->queue_incoming[i]; i++) {
		const char *pattern = config->queue_incoming[i];
		glob_t g;

		if (strpbrk(pattern, "*?[") == NULL) {
			QueueDir *d = qdir_open(pattern, lock, error);
			if (d == NULL) {
				g_ptr_array_unref(dirs);
				return NULL;
			}
			g_ptr_array_add(dirs, d);
			continue;
		}
		if (glob(pattern, GLOB_ONLYDIR, NULL, &g) != 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			            "queue.incoming: no directory matches %s", pattern);
			g_ptr_array_unref(dirs);
			return NULL;
		}
		for (size_t k = 0; k < g.gl_pathc; k++) {
			QueueDir *d = qdir_open(g.gl_pathv[k], lock, NULL);
			if (d != NULL)
				g_ptr_array_add(dirs, d);
		}
		globfree(&g);
	}
	return dirs;
}

/* runner_new - open everything a pass needs */
Runner *
runner_new(const MqConfig *config, GError **error)
{
	Runner *r = g_new0(Runner, 1);
	QueueLock lock = qdir_lock_from_name(config->queue_lock);
	GError *local = NULL;

	r->config = config;
	r->attempts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	r->caught = g_array_new(FALSE, TRUE, sizeof(Caught));
	g_array_set_clear_func(r->caught, caught_clear);
	r->hostname =
	    g_strdup(*config->scanner_hostname ? config->scanner_hostname : g_get_host_name());
	r->inbound = expand_incoming(config, lock, error);
	if (r->inbound == NULL)
		goto fail;
	r->outgoing = qdir_open(config->queue_outgoing, lock, error);
	if (r->outgoing == NULL)
		goto fail;
	for (guint i = 0; i < r->inbound->len; i++) {
		QueueDir *in = g_ptr_array_index(r->inbound, i);
		if (strcmp(qdir_path(in), qdir_path(r->outgoing)) == 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			            "queue.incoming and queue.outgoing are the same directory (%s)",
			            qdir_path(in));
			goto fail;
		}
		if (!qdir_same_fs(in, r->outgoing))
			g_message("%s and %s are on different filesystems: bodies will be copied, "
			          "not linked",
			          qdir_path(in), qdir_path(r->outgoing));
	}
	if (!durable_mkdir_p(config->quarantine_dir, 0700, error))
		goto fail;
	r->policy = policy_new(config, error);
	if (r->policy == NULL)
		goto fail;
	gint64 t0 = g_get_monotonic_time();
	r->engine = engine_new(config, error);
	if (r->engine == NULL)
		goto fail;
	g_message("engine: %u signatures loaded in %.2f s", engine_signature_count(r->engine),
	          (double)(g_get_monotonic_time() - t0) / 1e6);
	r->store = store_open(config->reports_database, &local);
	if (r->store == NULL) {
		g_warning("%s; messages will be processed but not recorded", local->message);
		g_clear_error(&local);
	}
	return r;
fail:
	runner_free(&r);
	return NULL;
}

/* reload_thread - build the new engine; the old one keeps scanning meanwhile */
static gpointer
reload_thread(gpointer data)
{
	Runner *r = data;

	r->reload_engine = engine_new(r->config, &r->reload_error);
	g_atomic_int_set(&r->reload_done, 1);
	return NULL;
}

/* runner_check_reload - start a reload when the databases changed; swap when built */
static void
runner_check_reload(Runner *r)
{
	if (r->reload_thread != NULL) {
		if (!g_atomic_int_get(&r->reload_done))
			return;
		g_thread_join(r->reload_thread);
		r->reload_thread = NULL;
		if (r->reload_engine != NULL) {
			g_message("signatures reloaded: %u signatures from %s",
			          engine_signature_count(r->reload_engine),
			          engine_source(r->reload_engine));
			engine_free(&r->engine);
			r->engine = r->reload_engine;
			r->reload_engine = NULL;
		} else {
			g_critical("the changed signature database does not load (%s); still "
			           "scanning with the previous one",
			           r->reload_error->message);
			g_clear_error(&r->reload_error);
		}
		return;
	}
	if (!engine_changed(r->engine))
		return;
	engine_mark_seen(r->engine);
	g_message("signature database changed: loading it in the background");
	g_atomic_int_set(&r->reload_done, 0);
	r->reload_thread = g_thread_new("reload", reload_thread, r);
}

/* runner_free - free and clear */
void
runner_free(Runner **runner)
{
	if (runner == NULL || *runner == NULL)
		return;
	Runner *r = *runner;
	if (r->reload_thread != NULL) {
		g_thread_join(r->reload_thread);
		engine_free(&r->reload_engine);
		g_clear_error(&r->reload_error);
	}
	if (r->slots)
		g_ptr_array_unref(r->slots);
	if (r->attempts)
		g_hash_table_destroy(r->attempts);
	if (r->caught)
		g_array_unref(r->caught);
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

/* read_message - qf headers, a blank line, then the df: the message as it arrived */
static GString *
read_message(const QueueClaim *claim, gsize max, gsize *df_size, GError **error)
{
	gint64 size;
	int fd = qdir_claim_open_df(claim, &size, error);

	if (fd < 0)
		return NULL;
	*df_size = (gsize)size;
	GString *msg = qf_headers_text(claim->qf);
	g_string_append_c(msg, '\n');
	if ((gsize)size + msg->len > max) {
		close(fd);
		return msg; /* too large to scan: the caller sees the size */
	}
	gboolean ok = durable_append_fd(fd, msg, max, error);
	close(fd);
	if (!ok) {
		g_string_free(msg, TRUE);
		return NULL;
	}
	return msg;
}

static void kick_delivery(Runner *r, GPtrArray *ids);

/* finish_batch - commit, then record and log every message of the batch */
static void
finish_batch(Runner *r, CommitBatch *batch, GPtrArray *pending, PassStats *stats)
{
	GError *error = NULL;
	gboolean ok = commit_finish(batch, &error);

	if (!ok) {
		g_critical("commit failed: %s; the messages stay in the inbound queue "
		           "(a committed one is completed at the next pass)",
		           error->message);
		g_clear_error(&error);
	}
	if (r->store)
		store_begin(r->store);
	for (guint i = 0; i < pending->len; i++) {
		Pending *m = g_ptr_array_index(pending, i);
		gint64 ms = (g_get_monotonic_time() - m->started) / 1000;
		const char *action = ok ? m->action : "left in queue (commit failed)";

		g_message("%s: from=%s, to=%s, size=%" G_GINT64_FORMAT ", verdict=%s%s%s%s, "
		          "action=%s, ms=%" G_GINT64_FORMAT "%s%s%s",
		          m->id, m->sender, m->recipients, m->size, verdict_name(m->verdict),
		          m->detail ? " (" : "", m->detail ? m->detail : "", m->detail ? ")" : "",
		          action, ms, m->report.ambiguous ? ", ambiguous=(" : "",
		          m->report.ambiguous ? m->report.ambiguous : "",
		          m->report.ambiguous ? ")" : "");
		if (ok) {
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
		if (r->store) {
			GArray *fs = g_array_new(FALSE, TRUE, sizeof(StoreFinding));
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
			                .size = m->size,
			                .status = ok ? verdict_name(m->verdict) : "error",
			                .detail = m->detail ? m->detail : m->report.ambiguous,
			                .action = action,
			                .quarantine = m->quarantine,
			                .ms = ms,
			                .findings = (const StoreFinding *)fs->data,
			                .n_findings = fs->len};
			if (!store_add(r->store, &row, &error)) {
				g_warning("%s: %s", m->id, error->message);
				g_clear_error(&error);
			}
			g_array_free(fs, TRUE);
		}
	}
	if (r->store)
		store_commit(r->store);
	for (guint i = 0; ok && i < pending->len; i++) {
		Pending *m = g_ptr_array_index(pending, i);
		if (m->verdict != VERDICT_INFECTED && m->verdict != VERDICT_BLOCKED)
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
		if (m->sender_qf != NULL) {
			GError *nerr = NULL;
			char *nid = notify_sender(&m->eff, r->outgoing, m->sender_qf, c.report,
			                          m->quarantine, &nerr);
			if (nid) {
				g_message("%s: the sender %s was told (notice %s)", m->id,
				          m->sender, nid);
			} else {
				g_warning("%s: cannot notify the sender: %s", m->id, nerr->message);
				g_clear_error(&nerr);
			}
			g_free(nid);
		}
	}
	if (ok && r->config->queue_kick_delivery && pending->len > 0) {
		GPtrArray *ids = g_ptr_array_new();
		for (guint i = 0; i < pending->len; i++)
			g_ptr_array_add(ids, ((Pending *)g_ptr_array_index(pending, i))->id);
		kick_delivery(r, ids);
		g_ptr_array_unref(ids);
	}
	g_ptr_array_set_size(pending, 0);
}

/* record_left - log (and store) a message left in its queue */
static void
record_left(Runner *r, QueueClaim *claim, const char *why, PassStats *stats)
{
	stats->left++;
	g_critical("%s: %s; left in %s", claim->id, why, qdir_path(claim->dir));
	if (r->store) {
		g_autofree char *rcpts = qf_recipients_text(claim->qf);
		g_autofree char *subject = qf_header_get(claim->qf, "Subject");
		StoreRow row = {.queue_id = claim->id,
		                .received = g_get_real_time() / G_USEC_PER_SEC,
		                .sender = qf_sender(claim->qf),
		                .recipients = rcpts,
		                .subject = subject,
		                .status = "error",
		                .detail = why,
		                .action = "left in queue"};
		GError *error = NULL;
		if (!store_add(r->store, &row, &error)) {
			g_warning("%s: %s", claim->id, error->message);
			g_clear_error(&error);
		}
	}
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
	GError *error = NULL;

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
		g_error_free(error);
		return;
	}
	g_critical("%s: %s; moved from %s to %s", id, why, qdir_path(in), dest);
	g_autofree char *subject =
	    g_strdup_printf("mqsift: unprocessable message %s set aside", id);
	g_autofree char *body = g_strdup_printf(
	    "mqsift on %s could not process the queued message %s:\n\n  %s\n\n"
	    "It stayed in %s for %" G_GINT64_FORMAT " seconds and has now been moved,\n"
	    "unchanged, to %s.\n\n"
	    "Nothing was delivered and nothing was deleted. Inspect the files there; if\n"
	    "the message is sound, copy its qf and df back into the inbound queue.\n",
	    r->hostname, id, why, qdir_path(in), age, dest);
	char *nid = notice_send(r->config, r->outgoing, r->config->notify_postmaster, subject, body,
	                        &error);
	if (nid == NULL) {
		g_warning("%s: cannot queue the notice to the postmaster: %s", id, error->message);
		g_error_free(error);
	}
	g_free(nid);
}

/* Job - a claimed message while a worker scans it */
struct Job {
	QueueClaim *claim;
	Pending *m;
	int df_fd;
	char *ref;
	/* the envelope as rulesets and the worker see it: without <>, NULL-terminated */
	char *sender;
	GPtrArray *rcpts;
	char *ip;
	MqConfig eff; /* the per-message settings (borrowed from the config) */
};

/* job_free - release everything (the claim too, if still held) */
static void
job_free(Job *job)
{
	if (job == NULL)
		return;
	if (job->df_fd >= 0)
		close(job->df_fd);
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

/* slot_spawn - (re)start the worker of a slot; FALSE with a log line if it cannot */
static gboolean
slot_spawn(Runner *r, Slot *slot)
{
	GError *error = NULL;

	slot->worker = worker_spawn(r->config, r->engine, r->policy, &error);
	slot->retiring = FALSE;
	if (slot->worker == NULL) {
		g_critical("cannot start a scan worker: %s", error->message);
		g_error_free(error);
		return FALSE;
	}
	g_debug("worker %d started", (int)worker_pid(slot->worker));
	return TRUE;
}

/* slot_free - GPtrArray free func */
static void
slot_free(gpointer p)
{
	Slot *slot = p;

	job_free(slot->job);
	worker_stop(&slot->worker);
	g_free(slot);
}

/* runner_start_workers - the scratch directory, then one slot per worker; FALSE with @error
 * if none can start */
static gboolean
runner_start_workers(Runner *r, GError **error)
{
	guint n = r->config->scanner_workers ? r->config->scanner_workers
	                                     : MIN((guint)g_get_num_processors(), 64);
	struct passwd *pw = getpwnam(r->config->scanner_user);
	g_autofree char *scratch = sandbox_scratch_base(r->config);

	if (pw == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		            "scanner.user \"%s\" does not exist", r->config->scanner_user);
		return FALSE;
	}
	if (!sandbox_scratch_prepare(scratch, pw->pw_uid, pw->pw_gid, error))
		return FALSE;
	sandbox_scratch_free_space(scratch, 2 * r->config->scanner_max_file_size);
	r->slots = g_ptr_array_new_with_free_func(slot_free);
	for (guint i = 0; i < n; i++) {
		Slot *slot = g_new0(Slot, 1);
		g_ptr_array_add(r->slots, slot);
		if (!slot_spawn(r, slot)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			            "no scan worker could be started (see above)");
			return FALSE;
		}
	}
	return TRUE;
}

/* attempts_get - failed attempts of a message, from the store or memory */
static guint
attempts_get(Runner *r, const char *id, gint64 *last)
{
	if (r->store)
		return store_attempt_get(r->store, id, last);
	gint64 *v = g_hash_table_lookup(r->attempts, id);
	if (v && last)
		*last = v[1];
	return v ? (guint)v[0] : 0;
}

/* attempts_bump - one more failure */
static guint
attempts_bump(Runner *r, const char *id)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (r->store)
		return store_attempt_bump(r->store, id, now);
	gint64 *v = g_hash_table_lookup(r->attempts, id);
	if (v == NULL) {
		v = g_new0(gint64, 2);
		g_hash_table_insert(r->attempts, g_strdup(id), v);
	}
	v[0]++;
	v[1] = now;
	return (guint)v[0];
}

/* attempts_clear - forget */
static void
attempts_clear(Runner *r, const char *id)
{
	if (r->store)
		store_attempt_clear(r->store, id);
	else
		g_hash_table_remove(r->attempts, id);
}

/*
 * quarantine_poison - a message that killed or hung its worker too often: keep
 * it whole in quarantine, take it out of the queue, tell the postmaster
 */
static void
quarantine_poison(Runner *r, QueueClaim *claim, guint tries, PassStats *stats)
{
	GError *error = NULL;
	gsize df_size = 0;
	g_autofree char *ref = quarantine_ref(claim->id);
	GString *message = read_message(claim, G_MAXSIZE, &df_size, &error);
	ScanReport rep = {0};

	if (message == NULL) {
		record_left(r, claim, error->message, stats);
		g_error_free(error);
		return;
	}
	rep.verdict = VERDICT_ERROR;
	rep.findings = g_ptr_array_new_with_free_func(scan_finding_free);
	rep.names = g_ptr_array_new_with_free_func(g_free);
	rep.detail = g_strdup_printf("the message made the scanner fail %u times", tries);
	gboolean ok =
	    quarantine_store(r->config, ref, claim->qf, message->str, message->len, &rep, &error);
	if (ok)
		ok = qdir_claim_remove(claim, &error);
	if (!ok) {
		g_autofree char *why =
		    g_strdup_printf("poison message, cannot quarantine it: %s", error->message);
		g_clear_error(&error);
		record_left(r, claim, why, stats);
	} else {
		stats->left++;
		g_critical("%s: %s; quarantined whole as %s", claim->id, rep.detail, ref);
		attempts_clear(r, claim->id);
		g_autofree char *subject = g_strdup_printf(
		    "mqsift: message %s quarantined (it crashed the scanner)", claim->id);
		g_autofree char *rcpts = qf_recipients_text(claim->qf);
		g_autofree char *hsubject = qf_header_get(claim->qf, "Subject");
		g_autofree char *shown_subject = untrusted_line(hsubject, -1, 200);
		g_autofree char *shown_sender = untrusted_line(qf_sender(claim->qf), -1, 200);
		g_autofree char *shown_rcpts = untrusted_line(rcpts, -1, 400);
		g_autofree char *body = g_strdup_printf(
		    "mqsift on %s could not scan the message %s: it made the scan worker\n"
		    "crash or hang %u times, so it was taken out of the queue and kept whole\n"
		    "in quarantine.\n\n  Sender:     %s\n  Recipients: %s\n  Subject:    %s\n"
		    "  Size:       %zu bytes\n\nRelease it (unscanned) with:\n"
		    "  mqsift quarantine release %s\n",
		    r->hostname, claim->id, tries, shown_sender, shown_rcpts, shown_subject,
		    df_size, ref);
		char *nid = notice_send(r->config, r->outgoing, r->config->notify_postmaster,
		                        subject, body, &error);
		if (nid == NULL) {
			g_warning("%s: cannot queue the notice to the postmaster: %s", claim->id,
			          error->message);
			g_clear_error(&error);
		}
		g_free(nid);
		if (r->store) {
			StoreRow row = {.queue_id = claim->id,
			                .received = g_get_real_time() / G_USEC_PER_SEC,
			                .sender = qf_sender(claim->qf),
			                .recipients = rcpts,
			                .subject = hsubject,
			                .size = (gint64)df_size,
			                .status = "error",
			                .detail = rep.detail,
			                .action = "quarantined whole (poison message)",
			                .quarantine = ref};
			if (!store_add(r->store, &row, &error))
				g_clear_error(&error);
		}
	}
	scan_report_clear(&rep);
	g_string_free(message, TRUE);
}

/* backoff_seconds - wait before retrying a message that failed @tries times */
static gint64
backoff_seconds(guint tries)
{
	return tries == 0 ? 0 : MIN((gint64)5 << (tries - 1), 300);
}

/*
 * job_start - everything the master does for a claimed message before a
 * worker scans it.  Returns NULL when the message was dealt with already.
 */
static Job *
job_start(Runner *r, QueueClaim *claim, PassStats *stats)
{
	const MqConfig *config = r->config;
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
	job->rcpts = qf_recipients(claim->qf);
	job->sender = envelope_strip(g_strdup(qf_sender(claim->qf)));
	job->ip = qf_client_ip(claim->qf);
	for (guint i = 0; i < job->rcpts->len; i++)
		envelope_strip(g_ptr_array_index(job->rcpts, i));
	g_ptr_array_add(job->rcpts, NULL);
	Envelope env = {job->sender, (const char *const *)job->rcpts->pdata, job->ip};
	config_for_message(config, &env, &job->eff);
	return job;
}

/* job_send - hand a started job to the worker of @slot */
static gboolean
job_send(Runner *r, Slot *slot, Job *job, GError **error)
{
	GString *headers = qf_headers_text(job->claim->qf);

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
	gboolean ok = worker_send(slot->worker, &req, error);
	g_string_free(headers, TRUE);
	if (ok) {
		slot->job = job;
		slot->deadline =
		    g_get_monotonic_time() +
		    (gint64)MAX(r->config->scanner_message_timeout, 1) * G_USEC_PER_SEC;
	}
	return ok;
}

/* job_finish - a worker's verdict: quarantine, outbound qf, commit_prepare */
static void
job_finish(Runner *r, Job *job, CommitBatch *batch, GPtrArray *pending, PassStats *stats)
{
	const MqConfig *config = r->config;
	Pending *m = job->m;
	QueueClaim *claim = job->claim;
	GError *error = NULL;
	m->verdict = m->report.verdict;
	m->eff = job->eff;
	m->message_id = qf_header_get(claim->qf, "Message-ID");
	attempts_clear(r, claim->id);
	if (m->verdict == VERDICT_ERROR) {
		record_left(r, claim, m->report.detail ? m->report.detail : "scan error", stats);
		return; /* job_free releases the claim */
	}
	if (m->verdict != VERDICT_CLEAN) {
		if (m->verdict == VERDICT_INFECTED) {
			m->detail = scan_join_names(m->report.names);
		} else {
			m->detail = g_strdup(m->report.blocked);
		}
		gsize df_size;
		GString *message = read_message(claim, G_MAXSIZE, &df_size, &error);
		gboolean ok =
		    message != NULL && quarantine_store(config, job->ref, claim->qf, message->str,
		                                        message->len, &m->report, &error);
		if (message)
			g_string_free(message, TRUE);
		if (!ok) {
			g_autofree char *why =
			    g_strdup_printf("cannot quarantine: %s", error->message);
			g_clear_error(&error);
			record_left(r, claim, why, stats);
			return;
		}
		m->quarantine = g_strdup(job->ref);
		m->action = g_strdup(m->report.whole_message ? "replaced by a notice, quarantined"
		                                             : "parts removed, quarantined");
		const char *why = NULL;
		if (notify_sender_allowed(&job->eff, claim->qf, m->report.names, &why))
			m->sender_qf = qf_copy(claim->qf);
		else if (job->eff.notify_sender)
			g_message("%s: the sender is not told: %s", claim->id, why);
	} else {
		m->action = g_strdup(m->report.unscanned ? "delivered unscanned (policy)"
		                     : m->report.limits  ? "delivered (limits exceeded)"
		                                         : "delivered");
	}
	Qf *out = build_outbound_qf(r, &job->eff, claim->qf, &m->report);
	if (!commit_prepare(batch, claim, out, m->report.new_body, &error)) {
		record_left(r, claim, error->message, stats);
		g_clear_error(&error);
		qf_free(&out);
		return;
	}
	qf_free(&out);
	job->claim = NULL; /* the batch owns it now */
	g_ptr_array_add(pending, m);
	job->m = NULL;
}

/* job_failed - the worker died or hung on this job: count it, keep the message */
static void
job_failed(Runner *r, Job *job, const char *what, PassStats *stats)
{
	guint tries = attempts_bump(r, job->claim->id);

	stats->left++;
	g_critical(
	    "%s: %s (attempt %u of %u); left in the queue, retried after %" G_GINT64_FORMAT "s",
	    job->claim->id, what, tries, r->config->scanner_max_attempts, backoff_seconds(tries));
}

static volatile sig_atomic_t stop_requested, hup_requested;

/* idle_slot - a slot ready for a job, or NULL */
static Slot *
idle_slot(Runner *r)
{
	for (guint i = 0; i < r->slots->len; i++) {
		Slot *s = g_ptr_array_index(r->slots, i);
		if (s->job == NULL && s->worker != NULL)
			return s;
	}
	return NULL;
}

/* busy_slots - how many workers have a message in hand */
static guint
busy_slots(Runner *r)
{
	guint n = 0;

	for (guint i = 0; i < r->slots->len; i++)
		n += ((Slot *)g_ptr_array_index(r->slots, i))->job != NULL;
	return n;
}

/* slot_done - the slot's job is over; replace a retiring or broken worker */
static void
slot_done(Runner *r, Slot *slot, gboolean worker_ok)
{
	job_free(slot->job);
	slot->job = NULL;
	if (!worker_ok) {
		worker_kill(&slot->worker);
		slot_spawn(r, slot);
	} else if (slot->retiring ||
	           worker_messages(slot->worker) >= r->config->scanner_max_messages_per_worker) {
		/* a new engine, or enough messages: whatever a message left in this
		 * worker's memory goes with it */
		worker_stop(&slot->worker);
		slot_spawn(r, slot);
	}
}

/* wait_for_workers - poll the busy workers once; finish what they answered */
static void
wait_for_workers(Runner *r, CommitBatch *batch, GPtrArray *pending, PassStats *stats)
{
	g_autofree struct pollfd *fds = g_new0(struct pollfd, r->slots->len);
	g_autofree Slot **which = g_new0(Slot *, r->slots->len);
	nfds_t n = 0;
	gint64 now = g_get_monotonic_time(), next = G_MAXINT64;

	for (guint i = 0; i < r->slots->len; i++) {
		Slot *s = g_ptr_array_index(r->slots, i);
		if (s->job == NULL)
			continue;
		fds[n] = (struct pollfd){.fd = worker_fd(s->worker), .events = POLLIN};
		which[n++] = s;
		next = MIN(next, s->deadline);
	}
	if (n == 0)
		return;
	int timeout = next <= now ? 0 : (int)MIN((next - now) / 1000 + 1, 1000);
	if (poll(fds, n, timeout) < 0 && errno != EINTR)
		g_critical("poll: %s", g_strerror(errno));
	now = g_get_monotonic_time();
	for (nfds_t i = 0; i < n; i++) {
		Slot *s = which[i];
		GError *error = NULL;

		if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (worker_receive(s->worker, &s->job->m->report, &error)) {
				job_finish(r, s->job, batch, pending, stats);
				slot_done(r, s, TRUE);
			} else {
				g_autofree char *what =
				    g_strdup_printf("%s while scanning it", error->message);
				g_clear_error(&error);
				job_failed(r, s->job, what, stats);
				slot_done(r, s, FALSE);
			}
		} else if (now >= s->deadline) {
			g_autofree char *what = g_strdup_printf(
			    "worker %d took longer than scanner.message_timeout (%us): killed",
			    (int)worker_pid(s->worker), r->config->scanner_message_timeout);
			job_failed(r, s->job, what, stats);
			slot_done(r, s, FALSE);
		}
	}
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

/* runner_warn_postmaster - one warning for everything this pass caught */
static void
runner_warn_postmaster(Runner *r)
{
	GError *error = NULL;

	if (r->caught->len == 0)
		return;
	if (r->config->notify_postmaster_warnings) {
		char *id =
		    notify_postmaster(r->config, r->outgoing, (const Caught *)r->caught->data,
		                      r->caught->len, &error);
		if (id == NULL) {
			g_warning("cannot queue the warning to the postmaster: %s", error->message);
			g_clear_error(&error);
		}
		g_free(id);
	}
	g_array_set_size(r->caught, 0);
}

typedef struct {
	QueueDir *in;
	char *id;
} Candidate;

/* runner_pass - recover, then every message present, through the workers */
gboolean
runner_pass(Runner *r, PassStats *stats)
{
	gboolean ok = TRUE;
	GPtrArray *pending = g_ptr_array_new_with_free_func(pending_free);
	CommitBatch *batch = commit_batch_new(r->outgoing, r->config->queue_file_mode);
	GArray *todo = g_array_new(FALSE, FALSE, sizeof(Candidate));
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	memset(stats, 0, sizeof *stats);
	for (guint q = 0; q < r->inbound->len; q++) {
		QueueDir *in = g_ptr_array_index(r->inbound, q);
		GError *error = NULL;
		int n = commit_recover(in, r->outgoing, &error);

		if (n < 0) {
			g_critical("recovery in %s: %s", qdir_path(in), error->message);
			g_clear_error(&error);
			ok = FALSE;
			continue;
		}
		stats->recovered += (guint)n;
		GPtrArray *ids = qdir_list(in, "qf", &error);
		if (ids == NULL) {
			g_critical("%s", error->message);
			g_clear_error(&error);
			ok = FALSE;
			continue;
		}
		for (guint i = 0; i < ids->len; i++) {
			Candidate c = {in, g_strdup(g_ptr_array_index(ids, i))};
			g_array_append_val(todo, c);
		}
		g_ptr_array_unref(ids);
	}
	guint next = 0;
	for (;;) {
		Slot *slot;
		while (!stop_requested && next < todo->len && (slot = idle_slot(r)) != NULL) {
			Candidate *c = &g_array_index(todo, Candidate, next++);
			GError *error = NULL;
			gint64 last = 0;
			guint tries = attempts_get(r, c->id, &last);

			if (tries > 0 && tries < r->config->scanner_max_attempts &&
			    now < last + backoff_seconds(tries))
				continue; /* failed recently: wait a little */
			QueueClaim *claim = qdir_claim(c->in, c->id, &error);
			stats->seen++;
			if (claim == NULL) {
				if (error->code == QDIR_ERROR_BROKEN ||
				    error->code == QDIR_ERROR_INCOMPLETE) {
					set_aside_if_stale(r, c->in, c->id, error->message, stats);
				} else if (error->code == QDIR_ERROR_SYSTEM) {
					g_critical("%s: %s; left in the queue", c->id,
					           error->message);
					stats->left++;
				} else {
					g_debug("%s: %s", c->id, error->message);
					stats->seen--;
				}
				g_clear_error(&error);
				continue;
			}
			if (tries >= r->config->scanner_max_attempts) {
				quarantine_poison(r, claim, tries, stats);
				qdir_claim_release(&claim);
				continue;
			}
			if (!commit_clean_stale(r->outgoing, claim->id, &error)) {
				record_left(r, claim, error->message, stats);
				g_clear_error(&error);
				qdir_claim_release(&claim);
				continue;
			}
			Job *job = job_start(r, claim, stats);
			if (job == NULL)
				continue;
			if (!job_send(r, slot, job, &error)) {
				g_warning("%s: %s; restarting it", c->id, error->message);
				g_clear_error(&error);
				job_free(job);
				worker_kill(&slot->worker);
				slot_spawn(r, slot);
				next--; /* try this message again */
				stats->seen--;
			}
		}
		if (busy_slots(r) == 0)
			break;
		wait_for_workers(r, batch, pending, stats);
		if (commit_batch_size(batch) >= r->config->queue_batch_size || busy_slots(r) == 0)
			finish_batch(r, batch, pending, stats);
	}
	finish_batch(r, batch, pending, stats);
	commit_batch_free(&batch);
	g_ptr_array_unref(pending);
	runner_warn_postmaster(r);
	for (guint i = 0; i < todo->len; i++)
		g_free(g_array_index(todo, Candidate, i).id);
	g_array_free(todo, TRUE);
	return ok;
}

/* on_signal - SIGTERM/SIGINT: finish what is in hand and exit; SIGHUP: reload */
static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		hup_requested = 1;
	else
		stop_requested = 1;
}

/* pidfile_take - lock the pid file; -1 (logged) if another master holds it */
static int
pidfile_take(const char *path)
{
	g_autofree char *dir = g_path_get_dirname(path);
	int fd;

	g_mkdir_with_parents(dir, 0755);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		g_critical("cannot open the pid file %s: %s", path, g_strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char buf[32] = "";
		ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		g_strchomp(buf);
		g_critical("mqsift is already running on these queues (pid %s, %s)",
		           *buf ? buf : "?", path);
		close(fd);
		return -1;
	}
	char pid[32];
	int len = g_snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
		g_warning("cannot write the pid file %s: %s", path, g_strerror(errno));
	return fd;
}

/* watch_queues - inotify on the inbound qf directories; -1 if unavailable */
static int
watch_queues(Runner *r)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0) {
		g_warning("inotify: %s; polling every %us", g_strerror(errno),
		          r->config->queue_scan_interval);
		return -1;
	}
	for (guint i = 0; i < r->inbound->len; i++) {
		const char *d = qdir_qf_dir(g_ptr_array_index(r->inbound, i));
		if (inotify_add_watch(fd, d, IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE) < 0)
			g_warning("inotify on %s: %s; polling it", d, g_strerror(errno));
	}
	return fd;
}

/* wait_for_mail - until a qf appears, the poll interval passes, or a signal */
static void
wait_for_mail(int ifd, guint seconds)
{
	struct pollfd p = {.fd = ifd, .events = POLLIN};
	char buf[4096];

	if (ifd < 0) {
		for (guint s = 0; s < seconds * 10 && !stop_requested && !hup_requested; s++)
			g_usleep(100000);
		return;
	}
	if (poll(&p, 1, (int)MAX(seconds, 1) * 1000) > 0)
		while (read(ifd, buf, sizeof buf) > 0)
			; /* drain: one pass handles every new file */
}

/* kick_delivery - sendmail -qI<id> for what was just committed (batches of 30) */
static void
kick_delivery(Runner *r, GPtrArray *ids)
{
	for (guint i = 0; i < ids->len; i += 30) {
		GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
		for (int k = 0; r->config->queue_sendmail && r->config->queue_sendmail[k]; k++)
			g_ptr_array_add(argv, g_strdup(r->config->queue_sendmail[k]));
		if (argv->len == 0)
			g_ptr_array_add(argv, g_strdup(SENDMAIL_PATH));
		g_ptr_array_add(argv,
		                g_strdup_printf("-OQueueDirectory=%s", qdir_path(r->outgoing)));
		for (guint k = i; k < ids->len && k < i + 30; k++)
			g_ptr_array_add(
			    argv, g_strdup_printf("-qI%s", (char *)g_ptr_array_index(ids, k)));
		g_ptr_array_add(argv, NULL);
		GError *error = NULL;
		if (!g_spawn_async(NULL, (char **)argv->pdata, NULL,
		                   G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
		                   NULL, NULL, &error)) {
			g_warning("cannot kick delivery: %s", error->message);
			g_error_free(error);
		}
		g_ptr_array_unref(argv);
	}
}

/* runner_retire_workers - new engine: every worker is replaced once its message is done */
static void
runner_retire_workers(Runner *r)
{
	for (guint i = 0; i < r->slots->len; i++) {
		Slot *s = g_ptr_array_index(r->slots, i);
		if (s->job == NULL) {
			worker_stop(&s->worker);
			slot_spawn(r, s);
		} else {
			s->retiring = TRUE;
		}
	}
}

/* run_command - the job, once or in a loop */
int
run_command(const MqConfig *config, gboolean once, const char *config_path)
{
	GError *error = NULL;
	MqConfig *owned = NULL; /* a configuration reloaded on SIGHUP */
	int pidfd = pidfile_take(config->daemon_pid_file);

	if (pidfd < 0)
		return 2;
	Runner *r = runner_new(config, &error);
	if (r == NULL || !runner_start_workers(r, &error)) {
		g_critical("cannot start: %s", error->message);
		g_error_free(error);
		runner_free(&r);
		close(pidfd);
		return 2;
	}
	g_message("started: %u inbound queue(s) -> %s, %u worker(s) as %s, %u signatures from %s%s",
	          r->inbound->len, qdir_path(r->outgoing), r->slots->len, config->scanner_user,
	          engine_signature_count(r->engine), engine_source(r->engine),
	          engine_is_test_db(r->engine) ? " (TEST signatures)" : "");
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int ifd = once ? -1 : watch_queues(r);
	int status = 0;
	gint64 last_prune = G_MININT64 / 2; /* prune at the first pass */
	do {
		PassStats stats;
		if (!once) {
			Engine *before = r->engine;
			runner_check_reload(r);
			if (r->engine != before)
				runner_retire_workers(r);
		}
		if (hup_requested) {
			hup_requested = 0;
			MqConfig *fresh = config_load(config_path, config_path != NULL, &error);
			if (fresh == NULL) {
				g_critical(
				    "SIGHUP: the configuration has errors, keeping the running "
				    "one:\n%s",
				    error->message);
				g_clear_error(&error);
			} else {
				Runner *nr = runner_new(fresh, &error);
				if (nr == NULL || !runner_start_workers(nr, &error)) {
					g_critical(
					    "SIGHUP: cannot apply the new configuration (%s); "
					    "keeping the running one",
					    error->message);
					g_clear_error(&error);
					runner_free(&nr);
					config_free(&fresh);
				} else {
					runner_free(&r);
					config_free(&owned);
					owned = fresh;
					r = nr;
					config = fresh;
					if (ifd >= 0)
						close(ifd);
					ifd = watch_queues(r);
					g_message("SIGHUP: configuration reloaded from %s",
					          fresh->source);
				}
			}
		}
		if (r->store &&
		    g_get_monotonic_time() - last_prune > (gint64)86400 * G_USEC_PER_SEC) {
			int n = store_prune(r->store, config->reports_keep_days);
			if (n > 0)
				g_message("store: removed %d row(s) older than %u days", n,
				          config->reports_keep_days);
			last_prune = g_get_monotonic_time();
		}
		gint64 pass_start = g_get_monotonic_time();
		if (!runner_pass(r, &stats))
			status = 2;
		if (stats.seen > 0 || stats.recovered > 0)
			g_message("pass: %u message(s): %u committed (%u clean, %u infected, %u "
			          "blocked), %u left in queue, %u recovered, in %.3f s",
			          stats.seen, stats.committed, stats.clean, stats.infected,
			          stats.blocked, stats.left, stats.recovered,
			          (double)(g_get_monotonic_time() - pass_start) / 1e6);
		if (once || stop_requested)
			break;
		if (!hup_requested)
			wait_for_mail(ifd, config->queue_scan_interval);
	} while (!stop_requested);
	if (stop_requested)
		g_message("stopping on request");
	if (ifd >= 0)
		close(ifd);
	runner_free(&r); /* reaps the workers, so their usage is counted below */
	struct rusage self, kids;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	g_message("resources: master max RSS %ld MB, largest worker max RSS %ld MB, CPU master "
	          "%.2f s, workers %.2f s",
	          self.ru_maxrss / 1024, kids.ru_maxrss / 1024,
	          (double)self.ru_utime.tv_sec + (double)self.ru_stime.tv_sec +
	              (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6,
	          (double)kids.ru_utime.tv_sec + (double)kids.ru_stime.tv_sec +
	              (double)(kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) / 1e6);
	unlink(config->daemon_pid_file);
	close(pidfd);
	config_free(&owned);
	return status;
}
