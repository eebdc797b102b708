/*
 * test-sandbox.c - scan workers in their sandbox: what they cannot do, what they still scan
 *
 * Forks real workers (worker_spawn) with the real libclamav and the test
 * signatures.  Needs root (the network namespace, the switch to "nobody");
 * skipped otherwise.
 */
#include "mqsift-build.h"

#include <errno.h>
#include <fcntl.h>
#include <gmime/gmime.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/fault.h"
#include "config/config.h"
#include "rules/policy.h"
#include "scanner/engine.h"
#include "scanner/log.h"
#include "scanner/pool.h"
#include "scanner/quiesce.h"
#include "scanner/sandbox.h"
#include "scanner/scan.h"
#include "scanner/worker.h"

#define EICAR_B64                                                                        \
	"WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNU\n" \
	"LUZJTEUhJEgrSCo=\n"

static const char clean_message[] = "From: a@example.org\nTo: b@example.com\nSubject: hi\n\n"
                                    "Nothing to see here.\n";
static const char eicar_message[] =
    "From: a@example.org\nTo: b@example.com\nSubject: eicar\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nhi\n"
    "--b\nContent-Type: application/octet-stream; name=\"eicar.com\"\n"
    "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; "
    "filename=\"eicar.com\"\n\n" EICAR_B64 "--b--\n";

static MqConfig *config;
static Engine *engine;
static Policy *policy;
static char *top;
static char *area; /* root-owned, 0755: the scratch base's parent and the fake queues */

/* body_fd - a memfd holding @text (stands in for the df) */
static int
body_fd(const char *text, gsize len)
{
	int fd = memfd_create("df", MFD_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, text, len), ==, (gssize)len);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* ask - have @w scan @text (headers empty: the whole text is the "body"); TRUE if it answered */
static gboolean
ask(Worker *w, const char *text, gsize len, ScanReport *rep, GError **error)
{
	const char *rcpts[] = {"b@example.com", NULL};
	int fd = body_fd(text, len);
	WorkRequest req = {"6AOSANDBOX01", "", 0, fd, len, "a@example.org", rcpts, NULL, NULL};

	gboolean ok = worker_send(w, &req, error);
	close(fd);
	return ok && worker_receive(w, rep, error);
}

/* as_root - TRUE if the test runs as root (workers drop to scanner.user); else skipped */
static gboolean
as_root(void)
{
	if (geteuid() == 0)
		return TRUE;
	g_test_skip("needs root");
	return FALSE;
}

/* pool_with - a pool of @n workers (scanner.workers is read only when it is made) */
static Pool *
pool_with(guint n)
{
	g_autoptr(GError) error = NULL;
	guint workers = config->scanner_workers;

	config->scanner_workers = n;
	Pool *pool = pool_new(config, engine, policy, NULL, &error);
	config->scanner_workers = workers;
	g_assert_no_error(error);
	return pool;
}

/* test_probe - in a subprocess: every attempt to reach out is refused, mail still scans */
static void
test_probe(void)
{
	if (!as_root())
		return;
	if (g_test_subprocess()) {
		GError *error = NULL;
		ScanReport rep;
		log_init(TRUE, FALSE, FALSE);
		Worker *sibling = worker_spawn(config, engine, policy, 1, &error);
		g_assert_no_error(error);
		fault_arm("worker:probe");
		Worker *w = worker_spawn(config, engine, policy, 1, &error);
		fault_arm(NULL);
		g_assert_no_error(error);
		g_assert_true(ask(w, eicar_message, strlen(eicar_message), &rep, &error));
		g_assert_no_error(error);
		g_assert_cmpint(rep.verdict, ==, VERDICT_INFECTED);
		scan_report_clear(&rep);
		g_assert_true(ask(w, clean_message, strlen(clean_message), &rep, &error));
		g_assert_cmpint(rep.verdict, ==, VERDICT_CLEAN);
		scan_report_clear(&rep);
		/* the sibling is alive: the probe's kill(pid, 0) did nothing anyway */
		g_assert_true(ask(sibling, clean_message, strlen(clean_message), &rep, &error));
		scan_report_clear(&rep);
		worker_stop(&w);
		worker_stop(&sibling);
		return;
	}
	g_test_trap_subprocess(NULL, 60 * G_USEC_PER_SEC, 0);
	g_test_trap_assert_passed();
	g_autofree char *in = g_strdup_printf("*open %s/in: Permission denied*", area);
	g_test_trap_assert_stderr(in);
	g_autofree char *out = g_strdup_printf("*open %s/out: Permission denied*", area);
	g_test_trap_assert_stderr(out);
	g_test_trap_assert_stderr("*open /etc/passwd: Permission denied*");
	g_test_trap_assert_stderr("*socket(AF_INET): refused*");
	g_test_trap_assert_stderr("*socket(AF_INET6): refused*");
	g_test_trap_assert_stderr("*kill master *: refused*");
	g_test_trap_assert_stderr("*kill sibling *: refused*");
	g_test_trap_assert_stderr("*unshare(CLONE_NEWUSER): refused*");
	g_test_trap_assert_stderr("*fork: refused*");
	g_test_trap_assert_stderr_unmatched("*ALLOWED*");
}

/* test_golden_in_worker - every golden message scans the same in a sandboxed worker */
static void
test_golden_in_worker(void)
{
	if (!as_root())
		return;
	GError *error = NULL;
	g_autofree char *dir = g_build_filename(top, "tests", "golden", NULL);
	GDir *d = g_dir_open(dir, 0, &error);
	g_assert_no_error(error);
	Worker *w = worker_spawn(config, engine, policy, 1, &error);
	g_assert_no_error(error);
	const char *n;
	guint seen = 0;
	while ((n = g_dir_read_name(d)) != NULL) {
		if (!g_str_has_suffix(n, ".eml"))
			continue;
		g_autofree char *path = g_build_filename(dir, n, NULL);
		g_autofree char *text = NULL;
		gsize len;
		g_assert_true(g_file_get_contents(path, &text, &len, NULL));
		ScanReport here, there;
		ScanSettings ctx_settings;
		scan_settings_from_config(config, &ctx_settings);
		ScanContext ctx = {&ctx_settings, engine, policy, NULL};
		scan_message(&ctx, text, len, &here);
		g_test_message("%s: %s", n, scan_verdict_name(here.verdict));
		g_assert_true(ask(w, text, len, &there, &error));
		g_assert_no_error(error);
		g_assert_cmpstr(scan_verdict_name(there.verdict), ==,
		                scan_verdict_name(here.verdict));
		g_assert_cmpuint(there.names->len, ==, here.names->len);
		g_assert_cmpuint(there.findings->len, ==, here.findings->len);
		g_assert_cmpint(there.whole_message, ==, here.whole_message);
		g_assert_cmpint(there.new_body != NULL, ==, here.new_body != NULL);
		scan_report_clear(&here);
		scan_report_clear(&there);
		seen++;
	}
	g_dir_close(d);
	g_assert_cmpuint(seen, >, 5);
	/* the samples too (the lint message, nested archives, ...) */
	g_assert_cmpint(kill(worker_pid(w), 0), ==, 0);
	worker_stop(&w);
}

/* test_testfiles_in_worker - libclamav's own test files (every parser it has) attached to a
 * mail scan the same in a sandboxed worker: the seccomp list and Landlock miss nothing */
static void
test_testfiles_in_worker(void)
{
	const char *dir = "/usr/share/clamav-testfiles";
	GError *error = NULL;
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	guint n = 0;

	if (geteuid() != 0 || d == NULL) {
		g_test_skip(d == NULL ? "no clamav-testfiles" : "needs root");
		if (d)
			g_dir_close(d);
		return;
	}
	Worker *w = worker_spawn(config, engine, policy, 1, &error);
	g_assert_no_error(error);
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		g_autofree char *data = NULL;
		gsize len;
		if (!g_file_get_contents(path, &data, &len, NULL) || len == 0)
			continue;
		g_autofree char *b64 = g_base64_encode((const guchar *)data, len);
		g_autofree char *msg =
		    g_strdup_printf("From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/mixed; "
		                    "boundary=\"x\"\n\n"
		                    "--x\nContent-Type: text/plain\n\nsee\n--x\nContent-Type: "
		                    "application/octet-stream\nContent-Disposition: attachment; "
		                    "filename=\"%s.bin\"\n"
		                    "Content-Transfer-Encoding: base64\n\n%s\n--x--\n",
		                    name, b64);
		ScanReport here, there;
		ScanSettings ctx_settings;
		scan_settings_from_config(config, &ctx_settings);
		ScanContext ctx = {&ctx_settings, engine, policy, NULL};
		scan_message(&ctx, msg, strlen(msg), &here);
		if (!ask(w, msg, strlen(msg), &there, &error))
			g_error("%s: the worker died (a call the sandbox refuses?): %s", name,
			        error->message);
		g_assert_cmpstr(scan_verdict_name(there.verdict), ==,
		                scan_verdict_name(here.verdict));
		g_assert_cmpuint(there.names->len, ==, here.names->len);
		scan_report_clear(&here);
		scan_report_clear(&there);
		n++;
	}
	g_dir_close(d);
	g_test_message("%u test files scanned in the worker", n);
	worker_stop(&w);
}

/* test_workers_bounded - scanner.workers above 64 is refused */
static void
test_workers_bounded(void)
{
	GError *error = NULL;
	g_autofree char *path = g_build_filename(area, "workers.yaml", NULL);

	g_assert_true(g_file_set_contents(path, "scanner:\n  workers: 65\n", -1, NULL));
	MqConfig *c = config_load(path, TRUE, &error);
	g_assert_null(c);
	g_assert_nonnull(strstr(error->message, "scanner.workers must be between 0 and 64"));
	g_clear_error(&error);
	g_assert_true(g_file_set_contents(path, "scanner:\n  workers: 64\n", -1, NULL));
	c = config_load(path, TRUE, &error);
	g_assert_no_error(error);
	config_free(&c);
}

/* test_bad_answer - the master refuses what is not a sealed, bounded, valid report */
static void
test_bad_answer(gconstpointer data)
{
	const char *fault = data;

	if (!as_root())
		return;
	GError *error = NULL;
	ScanReport rep;
	struct rusage before, after;

	getrusage(RUSAGE_SELF, &before);
	fault_arm(fault);
	Worker *w = worker_spawn(config, engine, policy, 1, &error);
	fault_arm(NULL);
	g_assert_no_error(error);
	g_assert_false(ask(w, clean_message, strlen(clean_message), &rep, &error));
	g_assert_nonnull(error);
	g_test_message("%s: %s", fault, error->message);
	g_assert_null(rep.names);
	g_clear_error(&error);
	worker_kill(&w);
	getrusage(RUSAGE_SELF, &after);
	/* nothing like the 2 GiB a /dev/zero answer used to cost */
	g_assert_cmpint(after.ru_maxrss - before.ru_maxrss, <, 64 * 1024);
}

/* PoolJob - one message handed to the pool in test_pool_depth */
typedef struct {
	const char *text;
	int fd;
	ScanReport report;
	gboolean done;
	char *failure;
} PoolJob;

/* pool_job_done - PoolDone for test_pool_depth */
static void
pool_job_done(gpointer job, const char *failure, gpointer data)
{
	PoolJob *j = job;

	j->done = TRUE;
	j->failure = g_strdup(failure);
	(*(guint *)data)++;
}

/* jobs_clear - their reports, descriptors and failures */
static void
jobs_clear(PoolJob *jobs, guint n)
{
	for (guint i = 0; i < n; i++) {
		scan_report_clear(&jobs[i].report);
		close(jobs[i].fd);
		g_free(jobs[i].failure);
	}
}

/*
 * wait_answered - pool_wait until @answered reaches @want, or @tries waits
 * went by (each at most the pool's poll interval); the count is asserted
 */
static void
wait_answered(Pool *pool, guint *answered, guint want, int tries)
{
	for (int t = 0; *answered < want && t < tries; t++)
		pool_wait(pool, pool_job_done, answered);
	g_assert_cmpuint(*answered, ==, want);
}

/*
 * test_pool_depth - a worker holds the message it scans and the next one; if
 * it dies on the first, only that one fails: the next is sent again to its
 * replacement and scanned whole (found infected, not cut short or lost)
 */
static void
test_pool_depth(void)
{
	if (!as_root())
		return;
	static const char crash[] = "From: a@example.org\n\nMQSIFT-TEST-CRASH\n";
	PoolJob jobs[3] = {{crash}, {eicar_message}, {clean_message}};
	const char *rcpts[] = {"b@example.com", NULL};
	g_autoptr(GError) error = NULL;
	guint workers = config->scanner_workers, answered = 0;

	guint batch = config->queue_batch_size;
	config->scanner_workers = 1;
	config->queue_batch_size = 2; /* a depth of two */
	fault_arm("worker:crash");
	Pool *pool = pool_new(config, engine, policy, NULL, &error);
	fault_arm(NULL);
	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(jobs); i++) {
		gsize len = strlen(jobs[i].text);
		jobs[i].fd = body_fd(jobs[i].text, len);
		WorkRequest req = {"6AOSANDBOX02",  "",    0,    jobs[i].fd, len,
		                   "a@example.org", rcpts, NULL, NULL};
		if (i == 2) {
			/* one worker takes two messages, no more */
			g_assert_false(pool_has_idle(pool));
			break;
		}
		g_assert_true(pool_send(pool, &req, &jobs[i], &jobs[i].report, &error));
		g_assert_no_error(error);
	}
	g_assert_cmpuint(pool_busy(pool), ==, 2);
	wait_answered(pool, &answered, 2, 200);
	g_assert_true(jobs[0].done);
	g_assert_nonnull(jobs[0].failure);
	g_test_message("first: %s", jobs[0].failure);
	g_assert_true(jobs[1].done);
	g_assert_null(jobs[1].failure);
	g_assert_cmpint(jobs[1].report.verdict, ==, VERDICT_INFECTED);
	scan_report_clear(&jobs[1].report);
	for (guint i = 0; i < G_N_ELEMENTS(jobs); i++) {
		close(jobs[i].fd);
		g_free(jobs[i].failure);
	}
	pool_free(&pool);
	config->scanner_workers = workers;
	config->queue_batch_size = batch;
}

/* held - how many messages of @len bytes one idle worker takes before it is not idle */
static guint
held(gsize len, guint most)
{
	g_autoptr(GError) error = NULL;
	const char *rcpts[] = {"b@example.com", NULL};
	g_autofree char *text = g_strnfill(len, 'a');
	PoolJob *jobs = g_new0(PoolJob, most);
	guint sent = 0, answered = 0;

	memcpy(text, "Subject: x\n\n", 13);
	Pool *pool = pool_new(config, engine, policy, NULL, &error);
	g_assert_no_error(error);
	while (sent < most && pool_has_idle(pool)) {
		jobs[sent].fd = body_fd(text, len);
		WorkRequest req = {"6AOSANDBOX03",  "",    0,    jobs[sent].fd, len,
		                   "a@example.org", rcpts, NULL, NULL};
		g_assert_true(pool_send(pool, &req, &jobs[sent], &jobs[sent].report, &error));
		g_assert_no_error(error);
		sent++;
	}
	wait_answered(pool, &answered, sent, 2000);
	for (guint i = 0; i < sent; i++) {
		g_assert_null(jobs[i].failure);
		scan_report_clear(&jobs[i].report);
		close(jobs[i].fd);
	}
	g_free(jobs);
	pool_free(&pool);
	return sent;
}

/*
 * test_pool_depth_by_size - a worker holds a share of the batch of small
 * messages (it keeps scanning while the master flushes a batch), but no more
 * than two once what it holds is large (a stop never waits for a row of
 * large messages)
 */
static void
test_pool_depth_by_size(void)
{
	if (!as_root())
		return;
	guint workers = config->scanner_workers, batch = config->queue_batch_size;
	config->scanner_workers = 1;
	config->queue_batch_size = 64;
	g_assert_cmpuint(held(200, 40), ==, 16);
	g_assert_cmpuint(held(600 * 1024, 40), ==, 2);
	config->queue_batch_size = 8;
	g_assert_cmpuint(held(200, 40), ==, 8);
	config->scanner_workers = workers;
	config->queue_batch_size = batch;
}

/* a long job with no point to park at, like the signature reload: it runs until released */
static gint job_released;

static gpointer
held_job(gpointer data)
{
	(void)data;
	while (!g_atomic_int_get(&job_released))
		g_usleep(1000);
	return NULL;
}

/* job_begin - a long job that runs until job_end() */
static Quiesce *
job_begin(void)
{
	g_atomic_int_set(&job_released, 0);
	return quiesce_job_start("test job", held_job, NULL);
}

/* job_end - release it and join it (a reload that failed: nothing else changes) */
static void
job_end(Quiesce **job)
{
	g_atomic_int_set(&job_released, 1);
	quiesce_job_finish(job);
}

/* job_release_later - a thread that releases the job after 500 ms */
static gpointer
job_release_later(gpointer data)
{
	(void)data;
	g_usleep(500000);
	g_atomic_int_set(&job_released, 1);
	return NULL;
}

/*
 * test_worker_start_parks_threads - no worker is forked while a master
 * thread could hold a lock (a worker forked while the spam thread held the
 * allocator's lock hung on its first malloc): starting the pool waits for
 * the long job that cannot park to end
 */
static void
test_worker_start_parks_threads(void)
{
	if (!as_root())
		return;
	g_autoptr(GError) error = NULL;
	guint workers = config->scanner_workers;
	Quiesce *job = job_begin();
	GThread *t = g_thread_new("release", job_release_later, NULL);

	config->scanner_workers = 2;
	Pool *pool = pool_new(config, engine, policy, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(quiesce_job_done(job)); /* it had ended before the first fork */
	pool_free(&pool);
	config->scanner_workers = workers;
	g_thread_join(t);
	job_end(&job);
}

/* send_text - one message to the pool */
static void
send_text(Pool *pool, PoolJob *job, const char *text)
{
	g_autoptr(GError) error = NULL;
	const char *rcpts[] = {"b@example.com", NULL};
	gsize len = strlen(text);

	job->text = text;
	job->fd = body_fd(text, len);
	WorkRequest req = {"6AOSANDBOX03", "", 0, job->fd, len, "a@example.org", rcpts, NULL, NULL};
	g_assert_true(pool_send(pool, &req, job, &job->report, &error));
	g_assert_no_error(error);
}

/* slot_pid - the pid of slot 0's worker, 0 if it has none */
static int
slot_pid(Pool *pool)
{
	int pid;
	const char *id;
	gint64 since;

	pool_slot_info(pool, 0, &pid, &id, &since);
	return pid;
}

/*
 * test_worn_worker_replaced_after_reload - a worker that did its share
 * while a reload ran goes on meanwhile; once the reload ended (here: failed,
 * so no pool_retire) it is replaced, never left idle for ever
 */
static void
test_worn_worker_replaced_after_reload(void)
{
	if (!as_root())
		return;
	g_autoptr(GError) error = NULL;
	guint workers = config->scanner_workers, most = config->scanner_max_messages_per_worker;
	guint answered = 0;
	PoolJob jobs[2] = {{0}};

	config->scanner_workers = 1;
	config->scanner_max_messages_per_worker = 1;
	Pool *pool = pool_new(config, engine, policy, NULL, &error);
	g_assert_no_error(error);
	int first = slot_pid(pool);
	Quiesce *job = job_begin();
	send_text(pool, &jobs[0], clean_message);
	wait_answered(pool, &answered, 1, 200);
	/* worn, but its replacement cannot be forked yet: it takes one more */
	g_assert_true(pool_has_idle(pool));
	g_assert_cmpint(slot_pid(pool), ==, first);
	job_end(&job);
	pool_tend(pool, pool_job_done, &answered);
	g_assert_true(pool_has_idle(pool));
	g_assert_cmpint(slot_pid(pool), !=, first);
	g_assert_cmpint(slot_pid(pool), >, 0);
	send_text(pool, &jobs[1], clean_message);
	wait_answered(pool, &answered, 2, 200);
	g_assert_null(jobs[1].failure);
	g_assert_cmpint(jobs[1].report.verdict, ==, VERDICT_CLEAN);
	jobs_clear(jobs, G_N_ELEMENTS(jobs));
	pool_free(&pool);
	config->scanner_workers = workers;
	config->scanner_max_messages_per_worker = most;
}

/*
 * crashed_during_job - a one-worker pool holding two messages whose worker
 * died on the first (@jobs[0]) while a long job runs: @second waits in the
 * slot.  The caller restores scanner.workers and queue.batch_size.
 */
static Pool *
crashed_during_job(PoolJob jobs[2], const char *second, Quiesce **job, guint *answered)
{
	static const char crash[] = "From: a@example.org\n\nMQSIFT-TEST-CRASH\n";
	g_autoptr(GError) error = NULL;

	config->scanner_workers = 1;
	config->queue_batch_size = 2;
	fault_arm("worker:crash");
	Pool *pool = pool_new(config, engine, policy, NULL, &error);
	fault_arm(NULL);
	g_assert_no_error(error);
	*job = job_begin();
	send_text(pool, &jobs[0], crash);
	send_text(pool, &jobs[1], second);
	wait_answered(pool, answered, 1, 200);
	g_assert_nonnull(jobs[0].failure);
	return pool;
}

/*
 * test_dead_worker_waits_for_reload - a worker that dies while a reload
 * runs is replaced only once the load ended (a fork then would wait for
 * it, and the master with it); the message it held next waits in its slot,
 * then is scanned whole by the replacement
 */
static void
test_dead_worker_waits_for_reload(void)
{
	if (!as_root())
		return;
	guint workers = config->scanner_workers, batch = config->queue_batch_size;
	guint answered = 0;
	PoolJob jobs[2] = {{0}};
	Quiesce *job;
	Pool *pool = crashed_during_job(jobs, eicar_message, &job, &answered);

	/* no worker while the job runs; the second message waits */
	for (int i = 0; i < 3; i++)
		pool_wait(pool, pool_job_done, &answered);
	g_assert_cmpint(slot_pid(pool), ==, 0);
	g_assert_cmpuint(pool_busy(pool), ==, 1);
	g_assert_cmpuint(answered, ==, 1);
	job_end(&job);
	wait_answered(pool, &answered, 2, 200);
	g_assert_null(jobs[1].failure);
	g_assert_cmpint(jobs[1].report.verdict, ==, VERDICT_INFECTED);
	jobs_clear(jobs, G_N_ELEMENTS(jobs));
	pool_free(&pool);
	config->scanner_workers = workers;
	config->queue_batch_size = batch;
}

/*
 * test_worker_that_cannot_start_is_retried - a slot whose worker could not
 * be started is retried, never left without one for good, and the master
 * goes on meanwhile (it once read the missing worker's count)
 */
static void
test_worker_that_cannot_start_is_retried(void)
{
	if (!as_root())
		return;
	guint answered = 0;
	char *user = config->scanner_user;
	Pool *pool = pool_with(1);

	config->scanner_user = "mqsift-no-such-user";
	g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "cannot start a scan worker*");
	pool_retire(pool, engine); /* idle: replaced at once, which fails */
	g_test_assert_expected_messages();
	g_assert_cmpint(slot_pid(pool), ==, 0);
	pool_tend(pool, pool_job_done, &answered);
	pool_wait(pool, pool_job_done, &answered);
	g_assert_false(pool_has_idle(pool));
	config->scanner_user = user;
	g_usleep(5100000); /* the retry interval */
	pool_tend(pool, pool_job_done, &answered);
	g_assert_cmpint(slot_pid(pool), >, 0);
	g_assert_true(pool_has_idle(pool));
	g_assert_cmpuint(answered, ==, 0);
	pool_free(&pool);
}

/*
 * test_hold_forks_for_engine_free - after a reload's switch the workers
 * that share the old engine stop once drained, and none is forked until the
 * hold ends: the master then frees the old engine without a copy of each
 * page it writes (an 8 M signature engine took 10 s and 2 GB more to free
 * beside live workers), and no new worker inherits it
 */
static void
test_hold_forks_for_engine_free(void)
{
	if (!as_root())
		return;
	guint answered = 0;
	PoolJob jobs[2] = {{0}};
	Pool *pool = pool_with(2);

	g_assert_cmpuint(pool_workers(pool), ==, 2);
	int busy = 0, idle = 0, pid;
	const char *id;
	gint64 since;
	send_text(pool, &jobs[0], clean_message); /* one busy worker, one idle */
	for (guint i = 0; i < 2; i++) {
		pool_slot_info(pool, i, &pid, &id, &since);
		if (id != NULL && *id != '\0')
			busy = pid;
		else
			idle = pid;
	}
	g_assert_cmpint(busy, >, 0);
	g_assert_cmpint(idle, >, 0);
	pool_hold_forks(pool, TRUE);
	pool_retire(pool, engine);
	/* the idle one stopped at once, not replaced; the busy one finishes */
	g_assert_cmpint(kill(idle, 0), <, 0);
	g_assert_cmpuint(pool_workers(pool), ==, 1);
	wait_answered(pool, &answered, 1, 200);
	g_assert_cmpint(jobs[0].report.verdict, ==, VERDICT_CLEAN);
	pool_tend(pool, pool_job_done, &answered);
	g_assert_cmpuint(pool_workers(pool), ==, 0); /* drained: stopped, not replaced */
	g_assert_cmpint(kill(busy, 0), <, 0);        /* and reaped */
	g_assert_false(pool_has_idle(pool));
	pool_tend(pool, pool_job_done, &answered);
	g_assert_cmpuint(pool_workers(pool), ==, 0);
	/* the old engine freed: the hold ends, new workers start */
	pool_hold_forks(pool, FALSE);
	pool_tend(pool, pool_job_done, &answered);
	g_assert_cmpuint(pool_workers(pool), ==, 2);
	g_assert_true(pool_has_idle(pool));
	send_text(pool, &jobs[1], eicar_message);
	wait_answered(pool, &answered, 2, 200);
	g_assert_null(jobs[1].failure);
	g_assert_cmpint(jobs[1].report.verdict, ==, VERDICT_INFECTED);
	jobs_clear(jobs, G_N_ELEMENTS(jobs));
	pool_free(&pool);
}

/*
 * test_put_off_slot_started_once - a slot put off with nothing waiting,
 * then given a worker by pool_retire, is not given a second one (the first
 * was left running, its socket open)
 */
static void
test_put_off_slot_started_once(void)
{
	if (!as_root())
		return;
	static const char crash[] = "From: a@example.org\n\nMQSIFT-TEST-CRASH\n";
	g_autoptr(GError) error = NULL;
	guint workers = config->scanner_workers, answered = 0;
	PoolJob jobs[1] = {{0}};

	config->scanner_workers = 1;
	fault_arm("worker:crash");
	Pool *pool = pool_new(config, engine, policy, NULL, &error);
	fault_arm(NULL);
	g_assert_no_error(error);
	Quiesce *job = job_begin();
	send_text(pool, &jobs[0], crash);
	wait_answered(pool, &answered, 1, 200);
	g_assert_cmpint(slot_pid(pool), ==, 0); /* put off, nothing waiting */
	job_end(&job);
	pool_retire(pool, engine); /* the reload succeeded */
	int first = slot_pid(pool);
	g_assert_cmpint(first, >, 0);
	pool_tend(pool, pool_job_done, &answered);
	g_assert_cmpint(slot_pid(pool), ==, first);
	pool_free(&pool);
	g_assert_cmpint(kill(first, 0), <, 0); /* stopped and reaped */
	close(jobs[0].fd);
	g_free(jobs[0].failure);
	config->scanner_workers = workers;
}

/* test_stop_gives_back_waiting - stopping: what waits for a put-off worker is given back at once */
static void
test_stop_gives_back_waiting(void)
{
	if (!as_root())
		return;
	guint workers = config->scanner_workers, batch = config->queue_batch_size;
	guint answered = 0;
	PoolJob jobs[2] = {{0}};
	Quiesce *job;
	Pool *pool = crashed_during_job(jobs, clean_message, &job, &answered);

	g_assert_cmpuint(pool_busy(pool), ==, 1);
	pool_give_back_waiting(pool, pool_job_done, &answered, "stopping");
	g_assert_cmpuint(answered, ==, 2);
	g_assert_cmpstr(jobs[1].failure, ==, "stopping");
	g_assert_cmpuint(pool_busy(pool), ==, 0);
	job_end(&job);
	pool_free(&pool);
	jobs_clear(jobs, G_N_ELEMENTS(jobs));
	config->scanner_workers = workers;
	config->queue_batch_size = batch;
}

/* test_scratch_symlink_refused - a symlink as the scratch base: refused, its target untouched */
static void
test_scratch_symlink_refused(void)
{
	if (!as_root())
		return;
	g_autoptr(GError) error = NULL;
	g_autofree char *victim = g_build_filename(area, "victim", NULL);
	g_autofree char *link = g_build_filename(area, "link", NULL);
	g_assert_cmpint(mkdir(victim, 0755), ==, 0);
	g_assert_cmpint(symlink(victim, link), ==, 0);
	g_assert_false(sandbox_scratch_prepare(link, 65534, 65534, &error));
	g_test_message("%s", error->message);
	struct stat st;
	g_assert_cmpint(stat(victim, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0755);
	g_assert_cmpint(st.st_uid, ==, 0);
}

/* test_scratch_foreign_refused - a directory created beforehand by another user: refused */
static void
test_scratch_foreign_refused(void)
{
	if (!as_root())
		return;
	g_autoptr(GError) error = NULL;
	g_autofree char *foreign = g_build_filename(area, "foreign", NULL);
	g_assert_cmpint(mkdir(foreign, 0777), ==, 0);
	g_assert_cmpint(chown(foreign, 12345, 12345), ==, 0);
	g_assert_false(sandbox_scratch_prepare(foreign, 65534, 65534, &error));
}

/* test_scratch_open_parent_refused - under a parent anyone can write to (not sticky): refused */
static void
test_scratch_open_parent_refused(void)
{
	if (!as_root())
		return;
	g_autoptr(GError) error = NULL;
	g_autofree char *open_parent = g_build_filename(area, "open", NULL);
	g_assert_cmpint(mkdir(open_parent, 0777), ==, 0);
	g_assert_cmpint(chmod(open_parent, 0777), ==, 0);
	g_autofree char *under = g_build_filename(open_parent, "tmp", NULL);
	g_assert_false(sandbox_scratch_prepare(under, 65534, 65534, &error));
}

/* test_scratch_made_private - a good one: made, the workers', 0700 */
static void
test_scratch_made_private(void)
{
	if (!as_root())
		return;
	g_autoptr(GError) error = NULL;
	g_autofree char *good = g_build_filename(area, "good", NULL);
	struct stat st;
	g_assert_true(sandbox_scratch_prepare(good, 65534, 65534, &error));
	g_assert_no_error(error);
	g_assert_cmpint(lstat(good, &st), ==, 0);
	g_assert_true(S_ISDIR(st.st_mode));
	g_assert_cmpint(st.st_uid, ==, 65534);
	g_assert_cmpint(st.st_mode & 07777, ==, 0700);
}

/* test_temp_failure - libclamav cannot write its temporary files: an error, never clean */
static void
test_temp_failure(void)
{
	GError *error = NULL;
	g_autofree char *gone = g_build_filename(area, "no-such-dir", NULL);
	Engine *e = engine_new(config, &error);
	g_assert_no_error(error);
	g_assert_true(engine_set_tmpdir(e, gone, &error));
	ScanSettings ctx_settings;
	scan_settings_from_config(config, &ctx_settings);
	ScanContext ctx = {&ctx_settings, e, policy, NULL};
	ScanReport rep;
	scan_message(&ctx, eicar_message, strlen(eicar_message), &rep);
	g_test_message("verdict %s: %s", scan_verdict_name(rep.verdict), rep.detail);
	g_assert_cmpint(rep.verdict, !=, VERDICT_CLEAN);
	scan_report_clear(&rep);
	engine_free(&e);
}

/* test_full_scratch - a full tmpfs as libclamav's directory: an error, never clean */
static void
test_full_scratch(void)
{
	if (!as_root())
		return;
	if (g_test_subprocess()) {
		GError *error = NULL;
		g_autofree char *full = g_build_filename(area, "full", NULL);
		g_autofree char *filler = g_build_filename(full, "filler", NULL);
		g_autofree char *zip =
		    g_build_filename(top, "tests", "golden", "eicar-zip-base64.eml", NULL);
		g_autofree char *text = NULL;
		gsize len;
		/* a small tmpfs that someone filled, in a mount namespace of our own */
		g_assert_cmpint(unshare(CLONE_NEWNS), ==, 0);
		g_assert_cmpint(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), ==, 0);
		g_assert_cmpint(mkdir(full, 0700), ==, 0);
		g_assert_cmpint(mount("t", full, "tmpfs", 0, "size=64k"), ==, 0);
		int fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		char block[4096] = {0};
		while (write(fd, block, sizeof block) > 0)
			;
		close(fd);
		g_assert_true(g_file_get_contents(zip, &text, &len, NULL));
		Engine *e = engine_new(config, &error);
		g_assert_no_error(error);
		g_assert_true(engine_set_tmpdir(e, full, &error));
		ScanSettings ctx_settings;
		scan_settings_from_config(config, &ctx_settings);
		ScanContext ctx = {&ctx_settings, e, policy, NULL};
		ScanReport rep;
		scan_message(&ctx, text, len, &rep);
		g_printerr("verdict %s: %s\n", scan_verdict_name(rep.verdict), rep.detail);
		g_assert_cmpint(rep.verdict, ==, VERDICT_ERROR);
		scan_report_clear(&rep);
		engine_free(&e);
		return;
	}
	g_test_trap_subprocess(NULL, 60 * G_USEC_PER_SEC, 0);
	g_test_trap_assert_passed();
	g_test_trap_assert_stderr("*verdict error: *KiB free*");
}

/* copy_templates - the English templates of @srcdir into @dir/en, readable by all */
static void
copy_templates(const char *srcdir, const char *dir)
{
	g_autofree char *src = g_build_filename(srcdir, "reports", "templates", "en", NULL);
	g_autofree char *dst = g_build_filename(dir, "en", NULL);
	GDir *d = g_dir_open(src, 0, NULL);
	const char *name;

	g_assert_nonnull(d);
	g_assert_cmpint(g_mkdir_with_parents(dst, 0755), ==, 0);
	chmod(dir, 0755);
	chmod(dst, 0755);
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *from = g_build_filename(src, name, NULL);
		g_autofree char *to = g_build_filename(dst, name, NULL);
		g_autofree char *text = NULL;
		gsize len;
		g_assert_true(g_file_get_contents(from, &text, &len, NULL));
		g_assert_true(g_file_set_contents(to, text, (gssize)len, NULL));
		chmod(to, 0644);
	}
	g_dir_close(d);
}

/* main - a private area, the engine, the tests */
int
main(int argc, char **argv)
{
	GError *error = NULL;

	g_test_init(&argc, &argv, NULL);
	g_mime_init();
	top = g_strdup(g_getenv("TOP_SRCDIR") ? g_getenv("TOP_SRCDIR") : ".");
	/* the probe's subprocess runs main again: it reuses its parent's area */
	gboolean own_area = g_getenv("MQSIFT_TEST_AREA") == NULL;
	if (own_area) {
		area = g_dir_make_tmp("mqsift-sandbox-XXXXXX", &error);
		g_assert_no_error(error);
		chmod(area, 0755);
		g_setenv("MQSIFT_TEST_AREA", area, TRUE);
	} else {
		area = g_strdup(g_getenv("MQSIFT_TEST_AREA"));
	}
	config = config_defaults();
	g_free(config->scanner_signatures);
	config->scanner_signatures = g_build_filename(top, "tests", "signatures", NULL);
	/* the worker (nobody) renders the replacement texts: give it a copy of the
	 * templates it can read, wherever the source tree is (CI's is in a 0700
	 * directory, and a template it cannot read is a warning, fatal in a test) */
	g_free(config->reports_templates);
	config->reports_templates = g_build_filename(area, "templates", NULL);
	if (own_area)
		copy_templates(top, config->reports_templates);
	g_free(config->scanner_user);
	config->scanner_user = g_strdup("nobody");
	g_free(config->scanner_tmpdir);
	config->scanner_tmpdir = g_build_filename(area, "scratch", NULL);
	/* queues everyone may read: only the sandbox keeps the worker out */
	g_free(config->queue_incoming[0]);
	config->queue_incoming[0] = g_build_filename(area, "in", NULL);
	g_free(config->queue_outgoing);
	config->queue_outgoing = g_build_filename(area, "out", NULL);
	mkdir(config->queue_incoming[0], 0755);
	mkdir(config->queue_outgoing, 0755);
	if (geteuid() == 0 && own_area)
		g_assert_true(
		    sandbox_scratch_prepare(config->scanner_tmpdir, 65534, 65534, &error));
	g_assert_no_error(error);
	policy = policy_new(config, &error);
	g_assert_no_error(error);
	engine = engine_new(config, &error);
	g_assert_no_error(error);

	g_test_add_func("/sandbox/worker-cannot-reach-out-and-still-scans", test_probe);
	g_test_add_func("/sandbox/golden-messages-scan-the-same-in-a-worker",
	                test_golden_in_worker);
	g_test_add_func("/sandbox/clamav-testfiles-are-caught-in-a-worker",
	                test_testfiles_in_worker);
	g_test_add_func("/sandbox/more-than-64-workers-is-refused", test_workers_bounded);
	g_test_add_data_func("/sandbox/answer/dev-zero-is-refused", "worker:reply-devzero",
	                     test_bad_answer);
	g_test_add_data_func("/sandbox/answer/unsealed-memfd-is-refused", "worker:reply-unsealed",
	                     test_bad_answer);
	g_test_add_data_func("/sandbox/answer/garbage-is-refused", "worker:reply-garbage",
	                     test_bad_answer);
	g_test_add_data_func("/sandbox/answer/invalid-verdict-is-refused", "worker:reply-verdict",
	                     test_bad_answer);
	g_test_add_func("/pool/dead-worker-fails-only-the-message-it-scanned", test_pool_depth);
	g_test_add_func("/pool/workers-are-forked-with-the-master-threads-parked",
	                test_worker_start_parks_threads);
	g_test_add_func("/pool/worn-worker-is-replaced-once-a-reload-ended",
	                test_worn_worker_replaced_after_reload);
	g_test_add_func("/pool/dead-worker-is-replaced-once-a-reload-ended",
	                test_dead_worker_waits_for_reload);
	g_test_add_func("/pool/worker-that-cannot-start-is-retried",
	                test_worker_that_cannot_start_is_retried);
	g_test_add_func("/pool/put-off-slot-is-given-one-worker-only",
	                test_put_off_slot_started_once);
	g_test_add_func("/pool/old-engine-workers-stop-and-none-starts-until-it-is-freed",
	                test_hold_forks_for_engine_free);
	g_test_add_func("/pool/stop-gives-back-what-waits-for-a-put-off-worker",
	                test_stop_gives_back_waiting);
	g_test_add_func("/pool/worker-holds-more-small-messages-than-large",
	                test_pool_depth_by_size);
	g_test_add_func("/sandbox/scratch/symlink-is-refused-and-its-target-untouched",
	                test_scratch_symlink_refused);
	g_test_add_func("/sandbox/scratch/another-users-dir-is-refused",
	                test_scratch_foreign_refused);
	g_test_add_func("/sandbox/scratch/dir-under-a-world-writable-parent-is-refused",
	                test_scratch_open_parent_refused);
	g_test_add_func("/sandbox/scratch/is-made-private-to-the-workers",
	                test_scratch_made_private);
	g_test_add_func("/sandbox/unwritable-temp-is-an-error-never-clean", test_temp_failure);
	g_test_add_func("/sandbox/full-scratch-is-an-error-never-clean", test_full_scratch);
	int status = g_test_run();
	engine_free(&engine);
	policy_free(&policy);
	config_free(&config);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", area);
	if (own_area && system(cmd) != 0)
		g_printerr("could not remove %s\n", area);
	return status;
}
