/*
 * status.c - the master's live view: counters, rates, workers, queues, engine
 *
 * DESCRIPTION
 *	Two threads touch a Status: the main loop publishes into it (ticks,
 *	passes, the workers' states copied from the pool) and the socket
 *	thread reads it to answer; one mutex guards both.  The socket thread
 *	never calls into the Runner: it reads the published copy, and counts
 *	the queue directories itself (readdir and fstatat, no file opened).
 *	A client gets at most one second to send its whole request, and its
 *	answer is written without waiting.  The thread
 *	parks at the top of its loop while the master forks (quiesce.h).
 */
#include "mqsift-build.h"

#include "scanner/status.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <grp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "reports/store.h"
#include "scanner/quiesce.h"

/* rate slots: 10 s each over 15 minutes */
#define SLOT_SECONDS 10
#define N_SLOTS 90

/* Counts - what was committed, by verdict, with the time histogram */
typedef struct {
	guint64 clean, infected, blocked, left, committed, recovered;
	guint64 ms_total;
	guint64 ms_buckets[RUNNER_MS_BUCKETS + 1];
} Counts;

struct Status {
	const MqConfig *config;
	Runner *runner;
	GMutex lock;
	gint64 started; /* unix time */
	Counts total;
	Counts since_summary;
	PassStats base; /* the pass's counts already added */
	guint64 slots[N_SLOTS];
	gint64 slot_epoch[N_SLOTS]; /* which 10 s period each slot counts */
	GArray *workers;            /* of RunnerWorker, as last published */
	GPtrArray *inbound;         /* qf directories */
	char *outbound;
	guint sigs, db_version;
	gint64 db_built, db_loaded;
	gint64 last_summary, last_metrics, last_sample; /* monotonic seconds */
	/* the socket */
	int listen_fd;
	int wake[2];   /* a pipe that wakes the thread: to stop, or to park */
	gint stopping; /* atomic */
	GThread *thread;
	Quiesce *gate; /* the thread parks there while the master forks */
	char *socket_path;
};

/* now_s - unix time */
static gint64
now_s(void)
{
	return g_get_real_time() / G_USEC_PER_SEC;
}

/* mono_s - monotonic seconds */
static gint64
mono_s(void)
{
	return g_get_monotonic_time() / G_USEC_PER_SEC;
}

/* counts_add - @c += the difference between @now and @base */
static void
counts_add(Counts *c, const PassStats *now, const PassStats *base)
{
	c->clean += now->clean - base->clean;
	c->infected += now->infected - base->infected;
	c->blocked += now->blocked - base->blocked;
	c->left += now->left - base->left;
	c->committed += now->committed - base->committed;
	c->recovered += now->recovered - base->recovered;
	c->ms_total += now->ms_total - base->ms_total;
	for (guint i = 0; i <= RUNNER_MS_BUCKETS; i++)
		c->ms_buckets[i] += now->ms_buckets[i] - base->ms_buckets[i];
}

/* rate_add - @n more messages now */
static void
rate_add(Status *s, guint64 n)
{
	gint64 epoch = mono_s() / SLOT_SECONDS;
	guint i = (guint)(epoch % N_SLOTS);

	if (s->slot_epoch[i] != epoch) {
		s->slot_epoch[i] = epoch;
		s->slots[i] = 0;
	}
	s->slots[i] += n;
}

/* rate_per_minute - messages per minute over the last @minutes */
static double
rate_per_minute(const Status *s, guint minutes)
{
	gint64 epoch = mono_s() / SLOT_SECONDS;
	guint n = minutes * 60 / SLOT_SECONDS;
	guint64 sum = 0;

	for (guint k = 0; k < n; k++) {
		gint64 e = epoch - k;
		guint i = (guint)(e % N_SLOTS);
		if (s->slot_epoch[i] == e)
			sum += s->slots[i];
	}
	gint64 up = MAX(now_s() - s->started, 1);
	double span = MIN((double)minutes * 60, (double)up);
	return (double)sum * 60.0 / MAX(span, 1.0);
}

/* publish - take the runner's state and the pass's counts (lock held) */
static void
publish(Status *s, const PassStats *so_far)
{
	if (so_far != NULL) {
		counts_add(&s->total, so_far, &s->base);
		counts_add(&s->since_summary, so_far, &s->base);
		rate_add(s, so_far->committed - s->base.committed);
		s->base = *so_far;
	}
	if (s->runner == NULL)
		return;
	g_array_unref(s->workers);
	s->workers = runner_workers(s->runner);
	runner_engine_info(s->runner, &s->sigs, &s->db_version, &s->db_built, &s->db_loaded);
}

/* on_tick - RunnerTick */
static void
on_tick(gpointer data, const PassStats *so_far)
{
	Status *s = data;

	g_mutex_lock(&s->lock);
	publish(s, so_far);
	g_mutex_unlock(&s->lock);
}

/* status_set_runner - watch a (new) runner */
void
status_set_runner(Status *s, Runner *runner, const MqConfig *config)
{
	g_mutex_lock(&s->lock);
	s->runner = runner;
	s->config = config;
	g_ptr_array_unref(s->inbound);
	s->inbound = runner_inbound_dirs(runner);
	g_free(s->outbound);
	s->outbound = g_strdup(runner_outgoing_dir(runner));
	memset(&s->base, 0, sizeof s->base);
	publish(s, NULL);
	g_mutex_unlock(&s->lock);
	runner_set_tick(runner, on_tick, s);
}

/* status_pass_done - the rest of a pass */
void
status_pass_done(Status *s, const PassStats *stats)
{
	g_mutex_lock(&s->lock);
	publish(s, stats);
	memset(&s->base, 0, sizeof s->base);
	g_mutex_unlock(&s->lock);
}

/* QueueCount - messages waiting in one directory */
typedef struct {
	guint n;
	gint64 oldest; /* mtime of the oldest qf, 0 if none */
} QueueCount;

/* count_queue - qf files in @dir and the oldest one's age */
static QueueCount
count_queue(const char *dir)
{
	QueueCount q = {0, 0};
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;
	guint seen = 0;

	/* bounded: a queue of a million files is counted up to that */
	while (d != NULL && (name = g_dir_read_name(d)) != NULL && seen++ < 1000000) {
		if (name[0] != 'q' || name[1] != 'f')
			continue;
		g_autofree char *p = g_build_filename(dir, name, NULL);
		struct stat st;
		if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		q.n++;
		if (q.oldest == 0 || st.st_mtime < q.oldest)
			q.oldest = st.st_mtime;
	}
	return q;
}

/* Report - everything one answer shows, gathered under the lock */
typedef struct {
	GString *problems; /* one line each */
	guint n_problems;
	GArray *in; /* of QueueCount, as s->inbound */
	QueueCount out;
	guint in_total;
	gint64 in_oldest;
} Report;

/* problem - note one thing stuck */
static void problem(Report *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* problem - note one thing stuck */
static void
problem(Report *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_string_append_vprintf(r->problems, fmt, ap);
	va_end(ap);
	g_string_append_c(r->problems, '\n');
	r->n_problems++;
}

/* report_gather - count the queues, find what is stuck (lock held) */
static void
report_gather(Status *s, Report *r)
{
	gint64 now = now_s(), mono = g_get_monotonic_time();

	r->problems = g_string_new(NULL);
	r->n_problems = 0;
	r->in = g_array_new(FALSE, TRUE, sizeof(QueueCount));
	r->in_total = 0;
	r->in_oldest = 0;
	for (guint i = 0; i < s->inbound->len; i++) {
		QueueCount q = count_queue(g_ptr_array_index(s->inbound, i));
		g_array_append_val(r->in, q);
		r->in_total += q.n;
		if (q.oldest && (r->in_oldest == 0 || q.oldest < r->in_oldest))
			r->in_oldest = q.oldest;
	}
	r->out = count_queue(s->outbound);
	if (r->in_oldest && now - r->in_oldest > (gint64)s->config->daemon_stuck_after)
		problem(r,
		        "a message has waited %" G_GINT64_FORMAT " s in an inbound queue (more "
		        "than daemon.stuck_after, %u s)",
		        now - r->in_oldest, s->config->daemon_stuck_after);
	for (guint i = 0; i < s->workers->len; i++) {
		const RunnerWorker *w = &g_array_index(s->workers, RunnerWorker, i);
		gint64 busy = (mono - w->since) / G_USEC_PER_SEC;
		if (w->busy && busy > (gint64)s->config->scanner_message_timeout)
			problem(r,
			        "worker %u (pid %d) has scanned %s for %" G_GINT64_FORMAT
			        " s (more than scanner.message_timeout, %u s)",
			        i + 1, w->pid, w->id, busy, s->config->scanner_message_timeout);
	}
	if (s->db_built > 0 && now - s->db_built > (gint64)s->config->scanner_max_db_age)
		problem(r,
		        "the signature database is %" G_GINT64_FORMAT " h old (more than "
		        "scanner.max_db_age, %u h)",
		        (now - s->db_built) / 3600, s->config->scanner_max_db_age / 3600);
}

/* report_clear - free */
static void
report_clear(Report *r)
{
	g_string_free(r->problems, TRUE);
	g_array_unref(r->in);
}

/* fmt_time - "YYYY-MM-DD HH:MM:SS UTC"; newly allocated */
static char *
fmt_time(gint64 t)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);

	return dt ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S UTC") : g_strdup("?");
}

/* render_text - for people */
static void
render_text(Status *s, Report *r, GString *o)
{
	gint64 now = now_s(), mono = g_get_monotonic_time();
	g_autofree char *since = fmt_time(s->started);

	g_string_append_printf(o, "master: pid %d, up %" G_GINT64_FORMAT " s (since %s)\n",
	                       (int)getpid(), now - s->started, since);
	for (guint i = 0; i < s->workers->len; i++) {
		const RunnerWorker *w = &g_array_index(s->workers, RunnerWorker, i);
		if (w->pid == 0 && w->busy)
			g_string_append_printf(o, "worker %u: not running, %s waits for it\n",
			                       i + 1, w->id);
		else if (w->pid == 0)
			g_string_append_printf(o, "worker %u: not running\n", i + 1);
		else if (w->busy)
			g_string_append_printf(
			    o, "worker %u: pid %d, scanning %s for %" G_GINT64_FORMAT " s\n", i + 1,
			    w->pid, w->id, (mono - w->since) / G_USEC_PER_SEC);
		else
			g_string_append_printf(o, "worker %u: pid %d, idle\n", i + 1, w->pid);
	}
	for (guint i = 0; i < s->inbound->len; i++) {
		const QueueCount *q = &g_array_index(r->in, QueueCount, i);
		g_string_append_printf(o, "inbound %s: %u waiting",
		                       (char *)g_ptr_array_index(s->inbound, i), q->n);
		if (q->n)
			g_string_append_printf(o, ", oldest %" G_GINT64_FORMAT " s",
			                       now - q->oldest);
		g_string_append_c(o, '\n');
	}
	g_string_append_printf(o, "outbound %s: %u queued\n", s->outbound, r->out.n);
	g_string_append_printf(o, "rates: %.1f/min (1 min), %.1f/min (5 min), %.1f/min (15 min)\n",
	                       rate_per_minute(s, 1), rate_per_minute(s, 5),
	                       rate_per_minute(s, 15));
	g_string_append_printf(o,
	                       "since start: %" G_GUINT64_FORMAT " committed (%" G_GUINT64_FORMAT
	                       " clean, %" G_GUINT64_FORMAT " infected, %" G_GUINT64_FORMAT
	                       " blocked), %" G_GUINT64_FORMAT " left in queue\n",
	                       s->total.committed, s->total.clean, s->total.infected,
	                       s->total.blocked, s->total.left);
	g_autofree char *built = fmt_time(s->db_built);
	g_autofree char *loaded = fmt_time(s->db_loaded);
	g_string_append_printf(
	    o,
	    "engine: %u signatures, database version %u, built %s (%" G_GINT64_FORMAT
	    " h ago), loaded %s\n",
	    s->sigs, s->db_version, s->db_built ? built : "?",
	    s->db_built ? (now - s->db_built) / 3600 : 0, loaded);
	if (r->n_problems == 0)
		g_string_append(o, "problems: none\n");
	else
		g_string_append_printf(o, "problems: %u\n%s", r->n_problems, r->problems->str);
}

/* json_str - append @v as a JSON string */
static void
json_str(GString *o, const char *v)
{
	g_string_append_c(o, '"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(o, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(o, "\\u%04x", *p);
		else
			g_string_append_c(o, (char)*p);
	}
	g_string_append_c(o, '"');
}

/* render_json - for scripts */
static void
render_json(Status *s, Report *r, GString *o)
{
	gint64 now = now_s(), mono = g_get_monotonic_time();

	g_string_append_printf(o, "{\"pid\":%d,\"uptime\":%" G_GINT64_FORMAT ",\"workers\":[",
	                       (int)getpid(), now - s->started);
	for (guint i = 0; i < s->workers->len; i++) {
		const RunnerWorker *w = &g_array_index(s->workers, RunnerWorker, i);
		g_string_append_printf(o, "%s{\"n\":%u,\"pid\":%d,\"state\":\"%s\"", i ? "," : "",
		                       i + 1, w->pid,
		                       w->pid == 0 ? (w->busy ? "waiting" : "stopped")
		                                   : (w->busy ? "scanning" : "idle"));
		if (w->busy) {
			g_string_append(o, ",\"queue_id\":");
			json_str(o, w->id);
			g_string_append_printf(o, ",\"seconds\":%" G_GINT64_FORMAT,
			                       (mono - w->since) / G_USEC_PER_SEC);
		}
		g_string_append_c(o, '}');
	}
	g_string_append(o, "],\"inbound\":[");
	for (guint i = 0; i < s->inbound->len; i++) {
		const QueueCount *q = &g_array_index(r->in, QueueCount, i);
		g_string_append(o, i ? ",{\"dir\":" : "{\"dir\":");
		json_str(o, g_ptr_array_index(s->inbound, i));
		g_string_append_printf(o,
		                       ",\"waiting\":%u,\"oldest_seconds\":%" G_GINT64_FORMAT "}",
		                       q->n, q->n ? now - q->oldest : 0);
	}
	g_string_append(o, "],\"outbound\":{\"dir\":");
	json_str(o, s->outbound);
	g_string_append_printf(
	    o,
	    ",\"queued\":%u},\"rates_per_minute\":{\"1m\":%.2f,\"5m\":%.2f,\"15m\":%.2f},"
	    "\"counts\":{\"committed\":%" G_GUINT64_FORMAT ",\"clean\":%" G_GUINT64_FORMAT
	    ",\"infected\":%" G_GUINT64_FORMAT ",\"blocked\":%" G_GUINT64_FORMAT
	    ",\"left\":%" G_GUINT64_FORMAT "},\"engine\":{\"signatures\":%u,\"version\":%u,"
	    "\"built\":%" G_GINT64_FORMAT ",\"loaded\":%" G_GINT64_FORMAT "},\"problems\":[",
	    r->out.n, rate_per_minute(s, 1), rate_per_minute(s, 5), rate_per_minute(s, 15),
	    s->total.committed, s->total.clean, s->total.infected, s->total.blocked, s->total.left,
	    s->sigs, s->db_version, s->db_built, s->db_loaded);
	g_auto(GStrv) lines = g_strsplit(r->problems->str, "\n", -1);
	for (guint i = 0; lines[i] && *lines[i]; i++) {
		if (i)
			g_string_append_c(o, ',');
		json_str(o, lines[i]);
	}
	g_string_append(o, "]}\n");
}

/* render_prometheus - the text exposition format */
static void
render_prometheus(Status *s, Report *r, GString *o)
{
	gint64 now = now_s();
	guint64 cum = 0;

	g_string_append(o, "# HELP mqsift_messages_total Messages committed, by verdict.\n"
	                   "# TYPE mqsift_messages_total counter\n");
	g_string_append_printf(o,
	                       "mqsift_messages_total{verdict=\"clean\"} %" G_GUINT64_FORMAT "\n"
	                       "mqsift_messages_total{verdict=\"infected\"} %" G_GUINT64_FORMAT "\n"
	                       "mqsift_messages_total{verdict=\"blocked\"} %" G_GUINT64_FORMAT "\n"
	                       "mqsift_messages_total{verdict=\"left\"} %" G_GUINT64_FORMAT "\n",
	                       s->total.clean, s->total.infected, s->total.blocked, s->total.left);
	g_string_append(o, "# HELP mqsift_processing_seconds Time from claim to commit.\n"
	                   "# TYPE mqsift_processing_seconds histogram\n");
	for (guint i = 0; i <= RUNNER_MS_BUCKETS; i++) {
		cum += s->total.ms_buckets[i];
		if (i < RUNNER_MS_BUCKETS)
			g_string_append_printf(
			    o,
			    "mqsift_processing_seconds_bucket{le=\"%g\"} %" G_GUINT64_FORMAT "\n",
			    runner_ms_bounds[i] / 1000.0, cum);
		else
			g_string_append_printf(
			    o,
			    "mqsift_processing_seconds_bucket{le=\"+Inf\"} %" G_GUINT64_FORMAT "\n",
			    cum);
	}
	g_string_append_printf(o,
	                       "mqsift_processing_seconds_sum %.3f\n"
	                       "mqsift_processing_seconds_count %" G_GUINT64_FORMAT "\n",
	                       s->total.ms_total / 1000.0, cum);
	g_string_append_printf(
	    o,
	    "# HELP mqsift_queue_messages Messages in the queues.\n"
	    "# TYPE mqsift_queue_messages gauge\n"
	    "mqsift_queue_messages{queue=\"inbound\"} %u\n"
	    "mqsift_queue_messages{queue=\"outbound\"} %u\n"
	    "# HELP mqsift_queue_oldest_seconds Age of the oldest inbound message.\n"
	    "# TYPE mqsift_queue_oldest_seconds gauge\n"
	    "mqsift_queue_oldest_seconds %" G_GINT64_FORMAT "\n",
	    r->in_total, r->out.n, r->in_oldest ? now - r->in_oldest : 0);
	g_string_append_printf(o,
	                       "# HELP mqsift_engine_signatures Signatures loaded.\n"
	                       "# TYPE mqsift_engine_signatures gauge\n"
	                       "mqsift_engine_signatures %u\n"
	                       "# HELP mqsift_engine_database_age_seconds Age of the signature "
	                       "database.\n# TYPE mqsift_engine_database_age_seconds gauge\n"
	                       "mqsift_engine_database_age_seconds %" G_GINT64_FORMAT "\n"
	                       "# HELP mqsift_workers_busy Workers scanning a message.\n"
	                       "# TYPE mqsift_workers_busy gauge\n",
	                       s->sigs, s->db_built ? now - s->db_built : 0);
	guint busy = 0;
	for (guint i = 0; i < s->workers->len; i++)
		busy += g_array_index(s->workers, RunnerWorker, i).busy;
	g_string_append_printf(o,
	                       "mqsift_workers_busy %u\nmqsift_workers %u\n"
	                       "# HELP mqsift_problems Things stuck (mqsift status exits 1).\n"
	                       "# TYPE mqsift_problems gauge\nmqsift_problems %u\n",
	                       busy, s->workers->len, r->n_problems);
}

/* status_answer - "problems N\n" and the report in @mode (lock taken here) */
static GString *
status_answer(Status *s, const char *mode)
{
	GString *body = g_string_new(NULL);
	Report r;

	g_mutex_lock(&s->lock);
	report_gather(s, &r);
	if (strcmp(mode, "json") == 0)
		render_json(s, &r, body);
	else if (strcmp(mode, "prometheus") == 0)
		render_prometheus(s, &r, body);
	else
		render_text(s, &r, body);
	g_mutex_unlock(&s->lock);
	g_autofree char *head = g_strdup_printf("problems %u\n", r.n_problems);
	g_string_prepend(body, head);
	report_clear(&r);
	return body;
}

/* serve_one - read the request (1 s at most), write the answer */
static void
serve_one(Status *s, int fd)
{
	char req[32] = "";
	gsize got = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	/* one second for the whole request, however it trickles in: a fork
	 * waits for this thread (quiesce.h) */
	gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;

	while (got < sizeof req - 1 && memchr(req, '\n', got) == NULL) {
		gint64 left = deadline - g_get_monotonic_time();
		if (left <= 0 || poll(&p, 1, (int)(left / 1000) + 1) <= 0)
			break;
		ssize_t n = read(fd, req + got, sizeof req - 1 - got);
		if (n <= 0)
			break;
		got += (gsize)n;
	}
	req[got] = '\0';
	g_strchomp(req);
	g_autoptr(GString) answer = status_answer(s, req);
	/* never waits: a client that does not read loses the rest */
	for (gsize off = 0; off < answer->len;) {
		ssize_t n =
		    send(fd, answer->str + off, answer->len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (gsize)n;
	}
}

/* status_wake - QuiesceWake, and the stop: the thread's poll returns */
static void
status_wake(gpointer data)
{
	Status *s = data;

	if (write(s->wake[1], "x", 1) < 0 && errno != EAGAIN)
		g_warning("status: cannot wake the socket thread: %s", g_strerror(errno));
}

/* serve - the socket thread: accept, answer, until status_free stops it */
static gpointer
serve(gpointer data)
{
	Status *s = data;
	struct pollfd p[2] = {{.fd = s->listen_fd, .events = POLLIN},
	                      {.fd = s->wake[0], .events = POLLIN}};

	for (;;) {
		quiesce_point(s->gate); /* holding nothing */
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents) {
			char drain[64];
			if (read(s->wake[0], drain, sizeof drain) < 0 && errno != EAGAIN)
				break;
			if (g_atomic_int_get(&s->stopping))
				break;
			continue;
		}
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(s, fd);
		close(fd);
	}
	quiesce_leave(s->gate); /* ended (stopped, or poll failed): no fork waits for it */
	return NULL;
}

/* listen_socket - the unix socket, 0660 root:status_group; -1 with a log line */
static int
listen_socket(const MqConfig *config)
{
	const char *path = config->daemon_status_socket;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	g_autofree char *dir = g_path_get_dirname(path);

	if (strlen(path) >= sizeof sa.sun_path) {
		g_warning("daemon.status_socket %s: name too long; no status socket", path);
		return -1;
	}
	g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
	g_mkdir_with_parents(dir, 0755);
	unlink(path); /* lint: allow unlink (our own socket, left by a previous master) */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mode_t old = umask(0117);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 8) < 0) {
		umask(old);
		g_warning("daemon.status_socket %s: %s; no status socket", path, g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	umask(old);
	struct group *gr = getgrnam(config->daemon_status_group);
	if (gr != NULL && geteuid() == 0 && chown(path, 0, gr->gr_gid) < 0)
		g_warning("daemon.status_socket %s: chown: %s", path, g_strerror(errno));
	else if (gr == NULL && *config->daemon_status_group)
		g_message("daemon.status_group %s does not exist: the status socket is root's only",
		          config->daemon_status_group);
	chmod(path, gr ? 0660 : 0600);
	return fd;
}

/* status_new - counters at zero, the socket thread started */
Status *
status_new(const MqConfig *config)
{
	Status *s = g_new0(Status, 1);

	g_mutex_init(&s->lock);
	s->config = config;
	s->started = now_s();
	s->workers = g_array_new(FALSE, TRUE, sizeof(RunnerWorker));
	s->inbound = g_ptr_array_new_with_free_func(g_free);
	s->outbound = g_strdup("");
	s->last_summary = s->last_metrics = s->last_sample = mono_s();
	s->listen_fd = -1;
	s->wake[0] = s->wake[1] = -1;
	if (*config->daemon_status_socket) {
		s->listen_fd = listen_socket(config);
		if (s->listen_fd >= 0 && pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) == 0) {
			s->socket_path = g_strdup(config->daemon_status_socket);
			s->gate = quiesce_new("status", status_wake, s);
			s->thread = g_thread_new("status", serve, s);
		}
	}
	return s;
}

/* status_free - stop the thread, remove the socket */
void
status_free(Status **status)
{
	if (status == NULL || *status == NULL)
		return;
	Status *s = *status;
	if (s->thread) {
		g_atomic_int_set(&s->stopping, 1);
		status_wake(s);
		g_thread_join(s->thread);
	}
	quiesce_free(&s->gate);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	for (int i = 0; i < 2; i++)
		if (s->wake[i] >= 0)
			close(s->wake[i]);
	if (s->socket_path)
		unlink(s->socket_path); /* lint: allow unlink (our own socket) */
	g_free(s->socket_path);
	g_array_unref(s->workers);
	g_ptr_array_unref(s->inbound);
	g_free(s->outbound);
	g_mutex_clear(&s->lock);
	g_free(s);
	*status = NULL;
}

/* log_summary - one line for the period since the last one (lock held) */
static void
log_summary(Status *s, gint64 seconds)
{
	const Counts *c = &s->since_summary;
	Report r;

	report_gather(s, &r);
	g_message("summary: %" G_GUINT64_FORMAT " message(s) in %" G_GINT64_FORMAT
	          " s: %" G_GUINT64_FORMAT " clean, %" G_GUINT64_FORMAT
	          " infected, %" G_GUINT64_FORMAT " blocked, %" G_GUINT64_FORMAT
	          " left in queue; %.1f/min (1 min), %.1f/min (5 "
	          "min), %.1f/min (15 min); avg %" G_GUINT64_FORMAT " ms; inbound %u waiting "
	          "(oldest %" G_GINT64_FORMAT " s), outbound %u",
	          c->committed, seconds, c->clean, c->infected, c->blocked, c->left,
	          rate_per_minute(s, 1), rate_per_minute(s, 5), rate_per_minute(s, 15),
	          c->committed ? c->ms_total / c->committed : 0, r.in_total,
	          r.in_oldest ? now_s() - r.in_oldest : 0, r.out.n);
	report_clear(&r);
	memset(&s->since_summary, 0, sizeof s->since_summary);
}

/* write_metrics - the textfile, replaced whole (write to a temp name, rename) */
static void
write_metrics(Status *s)
{
	g_autoptr(GString) body = status_answer(s, "prometheus");
	const char *text = strchr(body->str, '\n') + 1; /* after "problems N" */
	g_autoptr(GError) error = NULL;

	/* g_file_set_contents writes a temp file and renames it: node_exporter never
	 * reads half a file */
	if (!g_file_set_contents(s->config->daemon_metrics_file, text, -1, &error))
		g_warning("daemon.metrics_file: %s", error->message);
}

/* sample_queues - the depths, into the store */
static void
sample_queues(Status *s)
{
	Store *store = s->runner ? runner_store(s->runner) : NULL;
	Report r;

	if (store == NULL)
		return;
	g_mutex_lock(&s->lock);
	report_gather(s, &r);
	g_mutex_unlock(&s->lock);
	store_sample_add(store, now_s(), r.in_total, r.out.n);
	report_clear(&r);
}

/* status_periodic - what is due */
void
status_periodic(Status *s)
{
	gint64 now = mono_s();

	if (s->config->daemon_summary_interval &&
	    now - s->last_summary >= (gint64)s->config->daemon_summary_interval) {
		g_mutex_lock(&s->lock);
		log_summary(s, now - s->last_summary);
		g_mutex_unlock(&s->lock);
		s->last_summary = now;
	}
	if (*s->config->daemon_metrics_file &&
	    now - s->last_metrics >= (gint64)MAX(s->config->daemon_metrics_interval, 1)) {
		write_metrics(s);
		s->last_metrics = now;
	}
	if (s->config->daemon_sample_interval &&
	    now - s->last_sample >= (gint64)s->config->daemon_sample_interval) {
		sample_queues(s);
		s->last_sample = now;
	}
}

/* due_in - seconds until @last + @every, or G_MAXINT when @every is off */
static gint64
due_in(gint64 last, guint every, gint64 now)
{
	return every ? last + (gint64)every - now : G_MAXINT;
}

/* status_next_due - the nearest of the three periods */
guint
status_next_due(const Status *s)
{
	gint64 now = mono_s();
	gint64 next = MIN(due_in(s->last_summary, s->config->daemon_summary_interval, now),
	                  due_in(s->last_sample, s->config->daemon_sample_interval, now));

	if (*s->config->daemon_metrics_file)
		next = MIN(
		    next, due_in(s->last_metrics, MAX(s->config->daemon_metrics_interval, 1), now));
	return (guint)CLAMP(next, 1, G_MAXINT);
}

/* status_query - the client's side */
char *
status_query(const char *path, const char *mode, guint *problems, GError **error)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_autoptr(GString) in = g_string_new(NULL);
	char buf[4096];
	ssize_t n;

	g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
		            "cannot reach the master at %s: %s%s", path, g_strerror(e),
		            e == EACCES ? " (root and the daemon.status_group may ask)"
		            : e == ENOENT || e == ECONNREFUSED ? " (is mqsift running?)"
		                                               : "");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	g_autofree char *req = g_strdup_printf("%s\n", mode);
	if (write(fd, req, strlen(req)) < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", path,
		            g_strerror(errno));
		close(fd);
		return NULL;
	}
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (in->len < 4 * 1024 * 1024 && poll(&p, 1, 10000) > 0 &&
	       (n = read(fd, buf, sizeof buf)) > 0)
		g_string_append_len(in, buf, n);
	close(fd);
	char *nl = strchr(in->str, '\n');
	char *end = NULL;
	guint64 np =
	    g_str_has_prefix(in->str, "problems ") ? g_ascii_strtoull(in->str + 9, &end, 10) : 0;
	if (nl == NULL || end != nl) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "the master at %s did not answer (busy?)", path);
		return NULL;
	}
	*problems = (guint)np;
	g_string_erase(in, 0, nl + 1 - in->str);
	return g_string_free(g_steal_pointer(&in), FALSE);
}
