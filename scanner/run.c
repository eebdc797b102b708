/*
 * run.c - one pass over the inbound queues, and the loop around it
 */
#include "config.h"

#include "scanner/run.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/commit.h"
#include "queue/durable.h"
#include "queue/qdir.h"
#include "reports/notice.h"
#include "reports/store.h"
#include "rules/policy.h"
#include "scanner/engine.h"
#include "scanner/quarantine.h"
#include "scanner/scan.h"

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
};

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
	scan_report_clear(&m->report);
	g_free(m);
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
	QueueLock lock =
	    g_strcmp0(config->queue_lock, "posix") == 0 ? QUEUE_LOCK_POSIX : QUEUE_LOCK_FLOCK;
	GError *local = NULL;

	r->config = config;
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
	r->policy = policy_new(config, error);
	if (r->policy == NULL)
		goto fail;
	r->engine = engine_new(config, error);
	if (r->engine == NULL)
		goto fail;
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

/* join_recipients - "a, b" from the R records */
static char *
join_recipients(const Qf *qf)
{
	g_autoptr(GPtrArray) rcpts = qf_recipients(qf);
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < rcpts->len; i++) {
		if (i)
			g_string_append(s, ", ");
		g_string_append(s, g_ptr_array_index(rcpts, i));
	}
	return g_string_free(s, FALSE);
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
	qf_add_header(out, "X-Virus-Scanned", scanned);
	qf_add_header(out, "X-Virus-Status", status);
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
	g_autofree char *df = qdir_file(claim->dir, "df", claim->id);
	int fd = open(df, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_NO_DATA, "cannot open %s: %s", df,
		            g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	*df_size = (gsize)st.st_size;
	GString *msg = qf_headers_text(claim->qf);
	g_string_append_c(msg, '\n');
	if ((gsize)st.st_size + msg->len > max) {
		close(fd);
		return msg; /* too large to scan: the caller sees the size */
	}
	GBytes *body = durable_read_fd(fd, max, error);
	close(fd);
	if (body == NULL) {
		g_string_free(msg, TRUE);
		return NULL;
	}
	gsize blen;
	const char *b = g_bytes_get_data(body, &blen);
	g_string_append_len(msg, b, (gssize)blen);
	g_bytes_unref(body);
	return msg;
}

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
		          "action=%s, ms=%" G_GINT64_FORMAT,
		          m->id, m->sender, m->recipients, m->size, verdict_name(m->verdict),
		          m->detail ? " (" : "", m->detail ? m->detail : "", m->detail ? ")" : "",
		          action, ms);
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
			                .detail = m->detail,
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
	g_ptr_array_set_size(pending, 0);
}

/* record_left - log (and store) a message left in its queue */
static void
record_left(Runner *r, QueueClaim *claim, const char *why, PassStats *stats)
{
	stats->left++;
	g_critical("%s: %s; left in %s", claim->id, why, qdir_path(claim->dir));
	if (r->store) {
		g_autofree char *rcpts = join_recipients(claim->qf);
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
	g_autofree char *qf = qdir_file(in, "qf", id);
	struct stat st;
	GError *error = NULL;

	stats->left++;
	if (stat(qf, &st) < 0)
		return;
	gint64 age = g_get_real_time() / G_USEC_PER_SEC - (gint64)st.st_mtime;
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

/* process_claim - scan one claimed message and prepare its commit */
static void
process_claim(Runner *r, QueueClaim *claim, CommitBatch *batch, GPtrArray *pending,
              PassStats *stats)
{
	const MqConfig *config = r->config;
	GError *error = NULL;
	gsize df_size = 0;
	gint64 started = g_get_monotonic_time();
	GString *message = read_message(claim, config->scanner_max_message_size, &df_size, &error);

	if (message == NULL) {
		g_autofree char *id = g_strdup(claim->id);
		QueueDir *in = claim->dir;
		gboolean no_data = g_error_matches(error, QDIR_ERROR, QDIR_ERROR_NO_DATA);

		record_left(r, claim, error->message, stats);
		qdir_claim_release(&claim);
		if (no_data) {
			stats->left--; /* counted again below */
			set_aside_if_stale(r, in, id, error->message, stats);
		}
		g_error_free(error);
		return;
	}
	Pending *m = g_new0(Pending, 1);
	m->id = g_strdup(claim->id);
	m->started = started;
	m->sender = g_strdup(qf_sender(claim->qf));
	m->recipients = join_recipients(claim->qf);
	m->subject = qf_header_get(claim->qf, "Subject");
	m->size = (gint64)df_size;
	g_autofree char *ref = quarantine_ref(claim->id);
	/* the settings for this message: rulesets by sender, recipients, client */
	g_autoptr(GPtrArray) rcpts = qf_recipients(claim->qf);
	g_autofree char *sender = envelope_strip(g_strdup(qf_sender(claim->qf)));
	g_autofree char *ip = qf_client_ip(claim->qf);
	for (guint i = 0; i < rcpts->len; i++)
		envelope_strip(g_ptr_array_index(rcpts, i));
	g_ptr_array_add(rcpts, NULL);
	Envelope env = {sender, (const char *const *)rcpts->pdata, ip};
	MqConfig eff;
	config_for_message(config, &env, &eff);
	ScanContext ctx = {&eff, r->engine, r->policy, ref};
	gsize len = message->len;
	if (len < df_size) /* not read: too large */
		len = (gsize)config->scanner_max_message_size + 1;
	if (eff.scanner_scan) {
		scan_message(&ctx, message->str, len, &m->report);
	} else {
		memset(&m->report, 0, sizeof m->report);
		m->report.findings = g_ptr_array_new();
		m->report.names = g_ptr_array_new();
		m->report.verdict = VERDICT_CLEAN;
		m->report.unscanned = TRUE;
	}
	m->verdict = m->report.verdict;
	if (m->verdict == VERDICT_ERROR) {
		record_left(r, claim, m->report.detail, stats);
		goto drop;
	}
	if (m->verdict != VERDICT_CLEAN) {
		m->detail = m->verdict == VERDICT_INFECTED ? NULL : g_strdup(m->report.blocked);
		if (m->verdict == VERDICT_INFECTED) {
			GString *names = g_string_new(NULL);
			for (guint i = 0; i < m->report.names->len; i++)
				g_string_append_printf(
				    names, "%s%s", i ? ", " : "",
				    (char *)g_ptr_array_index(m->report.names, i));
			m->detail = g_string_free(names, FALSE);
		}
		if (!quarantine_store(config, ref, claim->qf, message->str, message->len,
		                      &m->report, &error)) {
			g_autofree char *why =
			    g_strdup_printf("cannot quarantine: %s", error->message);
			g_clear_error(&error);
			record_left(r, claim, why, stats);
			goto drop;
		}
		m->quarantine = g_strdup(ref);
		m->action = g_strdup(m->report.whole_message ? "replaced by a notice, quarantined"
		                                             : "parts removed, quarantined");
	} else {
		m->action = g_strdup(m->report.unscanned ? "delivered unscanned (policy)"
		                     : m->report.limits  ? "delivered (limits exceeded)"
		                                         : "delivered");
	}
	Qf *out = build_outbound_qf(r, &eff, claim->qf, &m->report);
	if (!commit_prepare(batch, claim, out, m->report.new_body, &error)) {
		record_left(r, claim, error->message, stats);
		g_clear_error(&error);
		qf_free(&out);
		goto drop;
	}
	qf_free(&out);
	g_ptr_array_add(pending, m);
	g_string_free(message, TRUE);
	return; /* the batch owns the claim now */
drop:
	pending_free(m);
	g_string_free(message, TRUE);
	qdir_claim_release(&claim);
}

/* runner_pass - recover, then every message of every inbound queue */
gboolean
runner_pass(Runner *r, PassStats *stats)
{
	gboolean ok = TRUE;
	GPtrArray *pending = g_ptr_array_new_with_free_func(pending_free);
	CommitBatch *batch = commit_batch_new(r->outgoing, r->config->queue_file_mode);

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
			const char *id = g_ptr_array_index(ids, i);
			QueueClaim *claim = qdir_claim(in, id, &error);

			stats->seen++;
			if (claim == NULL) {
				if (error->code == QDIR_ERROR_BROKEN ||
				    error->code == QDIR_ERROR_INCOMPLETE) {
					set_aside_if_stale(r, in, id, error->message, stats);
				} else if (error->code == QDIR_ERROR_SYSTEM) {
					g_critical("%s: %s; left in the queue", id, error->message);
					stats->left++;
				} else {
					g_debug("%s: %s", id, error->message);
					stats->seen--;
				}
				g_clear_error(&error);
				continue;
			}
			process_claim(r, claim, batch, pending, stats);
			if (commit_batch_size(batch) >= r->config->queue_batch_size)
				finish_batch(r, batch, pending, stats);
		}
		g_ptr_array_unref(ids);
	}
	finish_batch(r, batch, pending, stats);
	commit_batch_free(&batch);
	g_ptr_array_unref(pending);
	return ok;
}

static volatile sig_atomic_t stop_requested;

/* on_stop - SIGTERM/SIGINT: finish the pass in hand, then exit */
static void
on_stop(int sig)
{
	stop_requested = 1;
}

/* run_command - the job, once or in a loop */
int
run_command(const MqConfig *config, gboolean once)
{
	GError *error = NULL;
	Runner *r = runner_new(config, &error);

	if (r == NULL) {
		g_critical("cannot start: %s", error->message);
		g_error_free(error);
		return 2;
	}
	g_message("started: %u inbound queue(s) -> %s, %u signatures from %s%s", r->inbound->len,
	          qdir_path(r->outgoing), engine_signature_count(r->engine),
	          engine_source(r->engine),
	          engine_is_test_db(r->engine) ? " (TEST signatures)" : "");
	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	int status = 0;
	do {
		PassStats stats;
		if (!once)
			runner_check_reload(r);
		if (!runner_pass(r, &stats))
			status = 2;
		if (stats.seen > 0 || stats.recovered > 0)
			g_message("pass: %u message(s): %u committed (%u clean, %u infected, %u "
			          "blocked), %u left in queue, %u recovered",
			          stats.seen, stats.committed, stats.clean, stats.infected,
			          stats.blocked, stats.left, stats.recovered);
		if (once)
			break;
		for (guint s = 0; s < config->queue_scan_interval * 10 && !stop_requested; s++)
			g_usleep(100000);
	} while (!stop_requested);
	if (stop_requested)
		g_message("stopping on request");
	runner_free(&r);
	return status;
}
