/*
 * run.c - "mqsift run": the daemon around the passes
 *
 * DESCRIPTION
 *	The shell Postfix's trigger_server_main() gives its queue manager: a
 *	pid file that keeps a second master off the same queues, signals
 *	(SIGTERM/SIGINT stop, SIGHUP reloads the configuration), inotify on the
 *	inbound queues with polling as the fallback, the engine's background
 *	reload, the store's daily pruning, and a pass (runner.h) each time mail
 *	may have arrived.
 */
#include "mqsift-build.h"

#include "scanner/run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <unistd.h>

#include "scanner/runner.h"
#include "scanner/status.h"

static volatile sig_atomic_t stop_requested, hup_requested;

/* on_signal - SIGTERM/SIGINT: finish what is in hand and exit; SIGHUP: reload */
static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		hup_requested = 1;
	else
		stop_requested = 1;
}

/* catch_signals - install on_signal; a closed pipe is an error return, not a death */
static void
catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* pidfile_take - lock the pid file; -1 (logged) if another master holds it */
static int
pidfile_take(const char *path)
{
	g_autofree char *dir = g_path_get_dirname(path);
	int fd;

	g_mkdir_with_parents(dir, 0755);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644); /* lint: allow open */
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
watch_queues(const Runner *r, guint scan_interval)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0) {
		g_warning("inotify: %s; polling every %us", g_strerror(errno), scan_interval);
		return -1;
	}
	g_autoptr(GPtrArray) dirs = runner_inbound_dirs(r);
	for (guint i = 0; i < dirs->len; i++) {
		const char *d = g_ptr_array_index(dirs, i);
		/* sendmail writes tf<ID> and renames it qf<ID>: a new qf is a
		 * rename (or a close after writing, for other tools); creations and
		 * mqsift's own opens of a qf are no news (see wait_for_mail) */
		if (inotify_add_watch(fd, d, IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
			g_warning("inotify on %s: %s; polling it", d, g_strerror(errno));
	}
	return fd;
}

/* new_qf_in - does this batch of inotify events hold a new qf file? */
static gboolean
new_qf_in(const char *buf, ssize_t len)
{
	for (const char *p = buf; p + sizeof(struct inotify_event) <= buf + len;) {
		const struct inotify_event *ev = (const struct inotify_event *)p;
		if (ev->len > 0 && strncmp(ev->name, "qf", 2) == 0)
			return TRUE;
		p += sizeof(struct inotify_event) + ev->len;
	}
	return FALSE;
}

/*
 * wait_for_mail - until a new qf appears, the poll interval passes, or a
 * signal.  Only a new qf wakes the loop: mqsift's own renames (qf to cf),
 * a df being written, a file it cannot take, none of them makes it spin.
 */
static void
wait_for_mail(int ifd, guint seconds)
{
	struct pollfd p = {.fd = ifd, .events = POLLIN};
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	gint64 until = g_get_monotonic_time() + (gint64)MAX(seconds, 1) * G_USEC_PER_SEC;

	if (ifd < 0) {
		for (guint s = 0; s < seconds * 10 && !stop_requested && !hup_requested; s++)
			g_usleep(100000);
		return;
	}
	while (!stop_requested && !hup_requested) {
		gint64 left = until - g_get_monotonic_time();
		if (left <= 0 || poll(&p, 1, (int)(left / 1000) + 1) <= 0)
			return;
		gboolean news = FALSE;
		ssize_t n;
		while ((n = read(ifd, buf, sizeof buf)) > 0)
			news |= new_qf_in(buf, n); /* drain: one pass handles every new file */
		if (news)
			return;
	}
}

/* Daemon - what the loop holds across passes */
typedef struct {
	const MqConfig *config; /* the one in use: the caller's, or *owned */
	MqConfig *owned;        /* a configuration reloaded on SIGHUP */
	const char *config_path;
	Runner *runner;
	int inotify_fd; /* -1: polling */
	gint64 last_prune;
	Status *status; /* NULL with --once */
} Daemon;

/*
 * reload_configuration - SIGHUP: a new configuration and a new runner, or
 * (with a log line) the running ones untouched
 */
static void
reload_configuration(Daemon *d)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(MqConfig) fresh = config_load(d->config_path, d->config_path != NULL, &error);

	if (fresh == NULL) {
		g_critical("SIGHUP: the configuration has errors, keeping the running one:\n%s",
		           error->message);
		return;
	}
	if (!runner_reload(&d->runner, fresh, &error)) {
		g_critical("SIGHUP: cannot apply the new configuration (%s); keeping the running "
		           "one",
		           error->message);
		return;
	}
	/* the status thread reads the configuration: it is given the new one
	 * before the old one is freed */
	g_autoptr(MqConfig) previous = g_steal_pointer(&d->owned);
	d->owned = g_steal_pointer(&fresh);
	d->config = d->owned;
	if (d->status)
		status_set_runner(d->status, d->runner, d->config);
	if (d->inotify_fd >= 0)
		close(d->inotify_fd);
	d->inotify_fd = watch_queues(d->runner, d->config->queue_scan_interval);
	g_message("SIGHUP: configuration reloaded from %s", d->config->source);
}

/* prune_daily - the store keeps reports.keep_days; checked once a day */
static void
prune_daily(Daemon *d)
{
	if (g_get_monotonic_time() - d->last_prune <= (gint64)86400 * G_USEC_PER_SEC)
		return;
	runner_prune_store(d->runner);
	d->last_prune = g_get_monotonic_time();
}

/* next_wake - seconds until the next pass: the poll interval, or sooner for a retry due */
static guint
next_wake(Daemon *d)
{
	guint seconds = d->config->queue_scan_interval;
	gint64 retry = runner_next_retry(d->runner);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (retry > 0)
		seconds = (guint)CLAMP(retry - now, 1, (gint64)seconds);
	if (runner_engine_switching(d->runner))
		seconds = 1; /* a reload to finish: its switch, then the old engine's free */
	return MAX(seconds, 1);
}

/* one_pass - a pass, and its summary when it did anything; FALSE if a queue failed */
static gboolean
one_pass(Daemon *d)
{
	PassStats stats;
	gint64 start = g_get_monotonic_time();
	gboolean ok = runner_pass(d->runner, &stop_requested, &stats);

	/* the daemon logs a summary every daemon.summary_interval instead */
	if (d->status != NULL) {
		status_pass_done(d->status, &stats);
		return ok;
	}
	if (stats.seen > 0 || stats.recovered > 0)
		g_message("pass: %u message(s): %u committed (%u clean, %u infected, %u "
		          "blocked), %u left in queue, %u recovered, in %.3f s",
		          stats.seen, stats.committed, stats.clean, stats.infected, stats.blocked,
		          stats.left, stats.recovered,
		          (double)(g_get_monotonic_time() - start) / 1e6);
	return ok;
}

/* log_resources - what the master and its workers used, at exit; @pass_usec:
 * the master's CPU in its passes (without the start and the end) */
static void
log_resources(gint64 pass_usec)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	g_message("resources: master max RSS %ld MB, largest worker max RSS %ld MB, CPU master "
	          "%.2f s (in passes %.2f s), workers %.2f s",
	          self.ru_maxrss / 1024, kids.ru_maxrss / 1024,
	          (double)self.ru_utime.tv_sec + (double)self.ru_stime.tv_sec +
	              (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6,
	          (double)pass_usec / 1e6,
	          (double)kids.ru_utime.tv_sec + (double)kids.ru_stime.tv_sec +
	              (double)(kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) / 1e6);
}

/* run_command - the job, once or in a loop */
int
run_command(const MqConfig *config, gboolean once, const char *config_path)
{
	g_autoptr(GError) error = NULL;
	Daemon d = {.config = config,
	            .config_path = config_path,
	            .inotify_fd = -1,
	            .last_prune = G_MININT64 / 2}; /* prune at the first pass */
	int status = 0;
	gint64 pass_usec = 0;

	/* One master per set of queues: the pid file's lock says who. */
	int pidfd = pidfile_take(config->daemon_pid_file);
	if (pidfd < 0)
		return 2;

	/* Queues, engine, store and workers, or a clear reason to stop. */
	d.runner = runner_new(config, &error);
	if (d.runner == NULL) {
		g_critical("cannot start: %s", error->message);
		close(pidfd);
		return 2;
	}
	g_autofree char *what = runner_describe(d.runner);
	g_message("started: %s", what);
	catch_signals();
	if (!once) {
		d.inotify_fd = watch_queues(d.runner, config->queue_scan_interval);
		d.status = status_new(config);
		status_set_runner(d.status, d.runner, config);
	}

	do {
		/* A changed signature database is loaded beside the running one. */
		if (!once)
			runner_check_reload(d.runner);
		/* SIGHUP: the new configuration applies from this pass on. */
		if (hup_requested) {
			hup_requested = 0;
			reload_configuration(&d);
		}
		prune_daily(&d);
		gint64 cpu0 = runner_cpu_usec();
		if (!one_pass(&d))
			status = 2;
		pass_usec += runner_cpu_usec() - cpu0;
		if (d.status)
			status_periodic(d.status);
		if (once || stop_requested)
			break;
		/* Sleep until mail arrives (inotify), the poll interval, or a signal. */
		if (!hup_requested)
			wait_for_mail(d.inotify_fd, MIN(next_wake(&d), status_next_due(d.status)));
	} while (!stop_requested);

	if (stop_requested)
		g_message("stopping on request");
	if (d.inotify_fd >= 0)
		close(d.inotify_fd);
	status_free(&d.status); /* before the runner it reads */
	runner_free(&d.runner); /* reaps the workers, so their usage is counted below */
	log_resources(pass_usec);
	unlink(d.config->daemon_pid_file); /* lint: allow unlink */
	close(pidfd);
	config_free(&d.owned);
	return status;
}
