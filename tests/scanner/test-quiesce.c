/*
 * test-quiesce.c - forking while the master runs threads: a child never
 * inherits a lock one of them held (a scan worker forked while the spam
 * thread was in AddressSanitizer's allocator hung on its first malloc until
 * scanner.message_timeout killed it)
 */
#include "mqsift-build.h"

#include <glib/gstdio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "scanner/quiesce.h"
#include "scanner/spam.h"
#include "scanner/status.h"

#define FORKS 100

/* Busy - a thread that holds a lock nearly all the time, like one in malloc */
typedef struct {
	GMutex held;
	gint stop;
	Quiesce *gate;
} Busy;

/* busy_thread - hold, work, let go, then its point */
static gpointer
busy_thread(gpointer data)
{
	Busy *b = data;

	while (!g_atomic_int_get(&b->stop)) {
		g_mutex_lock(&b->held);
		for (volatile int i = 0; i < 20000; i++)
			;
		g_mutex_unlock(&b->held);
		if (b->gate)
			quiesce_point(b->gate);
	}
	return NULL;
}

/* children_that_found_it_held - fork @n times; how many children found the lock held */
static guint
children_that_found_it_held(Busy *b, guint n, gboolean quiesce)
{
	guint held = 0;

	for (guint i = 0; i < n; i++) {
		pid_t pid = quiesce ? quiesce_fork() : fork();
		g_assert_cmpint(pid, >=, 0);
		if (pid == 0)
			_exit(g_mutex_trylock(&b->held) ? 0 : 1);
		int status;
		g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
		g_assert_true(WIFEXITED(status));
		held += WEXITSTATUS(status) != 0;
	}
	return held;
}

/* test_child_never_inherits_a_held_lock - the fix, and a bare fork() to show the test sees the bug
 */
static void
test_child_never_inherits_a_held_lock(void)
{
	Busy b = {0};

	g_mutex_init(&b.held);
	b.gate = quiesce_new("busy", NULL, NULL);
	GThread *t = g_thread_new("busy", busy_thread, &b);
	g_usleep(10000);
	/* what the workers were forked with: the lock is often held in the child */
	guint bare = children_that_found_it_held(&b, FORKS, FALSE);
	g_test_message("bare fork(): %u of %u children found the lock held", bare, FORKS);
	g_assert_cmpuint(bare, >, 0);
	/* parked at its point first: never */
	g_assert_cmpuint(children_that_found_it_held(&b, FORKS, TRUE), ==, 0);
	g_atomic_int_set(&b.stop, 1);
	g_thread_join(t);
	quiesce_free(&b.gate);
	g_mutex_clear(&b.held);
}

/* Poller - a thread asleep in poll(), woken by its QuiesceWake, like the spam thread */
typedef struct {
	int fd;
	gint stop, wakes;
	Quiesce *gate;
} Poller;

static void
poller_wake(gpointer data)
{
	Poller *p = data;

	g_atomic_int_inc(&p->wakes);
	eventfd_write(p->fd, 1);
}

static gpointer
poller_thread(gpointer data)
{
	Poller *p = data;
	struct pollfd pf = {.fd = p->fd, .events = POLLIN};

	while (!g_atomic_int_get(&p->stop)) {
		quiesce_point(p->gate);
		eventfd_t v;
		if (poll(&pf, 1, -1) > 0)
			eventfd_read(p->fd, &v);
	}
	return NULL;
}

/* test_sleeping_thread_is_woken - a thread in poll() with no timeout does not hold the fork up */
static void
test_sleeping_thread_is_woken(void)
{
	Poller p = {.fd = eventfd(0, EFD_CLOEXEC)};

	p.gate = quiesce_new("poller", poller_wake, &p);
	GThread *t = g_thread_new("poller", poller_thread, &p);
	alarm(30); /* a fork that waits for ever fails the test, not CI */
	for (int i = 0; i < 20; i++) {
		pid_t pid = quiesce_fork();
		if (pid == 0)
			_exit(0);
		g_assert_cmpint(waitpid(pid, NULL, 0), ==, pid);
	}
	alarm(0);
	g_assert_cmpint(g_atomic_int_get(&p.wakes), >=, 20);
	g_atomic_int_set(&p.stop, 1);
	poller_wake(&p);
	g_thread_join(t);
	quiesce_free(&p.gate);
	close(p.fd);
}

/* long_job - a job without a point (the signature reload): 200 ms */
static gint job_finished;

static gpointer
long_job(gpointer data)
{
	(void)data;
	g_usleep(200000);
	g_atomic_int_set(&job_finished, 1);
	return NULL;
}

/* test_fork_waits_for_a_long_job - busy while it runs; a fork happens only after it ended */
static void
test_fork_waits_for_a_long_job(void)
{
	g_assert_false(quiesce_busy());
	Quiesce *job = quiesce_job_start("long job", long_job, NULL);
	g_assert_true(quiesce_busy());
	pid_t pid = quiesce_fork();
	if (pid == 0)
		_exit(g_atomic_int_get(&job_finished) ? 0 : 1);
	int status;
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0); /* the child saw it finished */
	g_assert_false(quiesce_busy());
	g_assert_true(quiesce_job_done(job));
	quiesce_job_finish(&job); /* joined by the fork already: not twice */
}

/* fork_and_reap - one quiesce_fork whose child exits at once (within 30 s, or SIGALRM) */
static void
fork_and_reap(void)
{
	alarm(30);
	pid_t pid = quiesce_fork();
	if (pid == 0)
		_exit(0);
	g_assert_cmpint(waitpid(pid, NULL, 0), ==, pid);
	alarm(0);
}

/* ended_thread - a thread that stops at once, as the status thread does when its poll fails */
static gpointer
ended_thread(gpointer data)
{
	quiesce_leave(data);
	return NULL;
}

/* test_ended_thread_does_not_hold_up - a thread that left is not waited for */
static void
test_ended_thread_does_not_hold_up(void)
{
	Quiesce *q = quiesce_new("ended", NULL, NULL);
	GThread *t = g_thread_new("ended", ended_thread, q);

	g_thread_join(t); /* gone, still registered */
	fork_and_reap();
	quiesce_free(&q);
}

/* test_spam_and_status_threads_park - the master's real threads reach their points */
static void
test_spam_and_status_threads_park(void)
{
	g_autoptr(MqConfig) c = config_defaults();
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("mqsift-quiesce-XXXXXX", &error);
	g_assert_no_error(error);

	g_strfreev(c->spam_spamd);
	c->spam_spamd = g_strsplit("unix:/nonexistent/spamd.sock", " ", -1);
	g_free(c->daemon_status_socket);
	c->daemon_status_socket = g_build_filename(dir, "status.sock", NULL);
	Spam *spam = spam_new(c, &error);
	g_assert_no_error(error);
	Status *status = status_new(c);
	for (int i = 0; i < 20; i++)
		fork_and_reap();
	status_free(&status);
	spam_free(&spam);
	g_rmdir(dir);
}

/* Late - a thread that reaches its point only every half second, with no wake */
typedef struct {
	gint stop;
	Quiesce *gate;
} Late;

static gpointer
late_thread(gpointer data)
{
	Late *l = data;

	while (!g_atomic_int_get(&l->stop)) {
		g_usleep(500000);
		quiesce_point(l->gate);
	}
	return NULL;
}

/* cpu_seconds - this process's CPU time so far */
static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * test_parked_threads_sleep - threads parked while the fork waits for a
 * late one sleep: they do not wake each other in turn (two of them once
 * burnt a core for as long as the wait lasted)
 */
static void
test_parked_threads_sleep(void)
{
	Poller p[2] = {{.fd = eventfd(0, EFD_CLOEXEC)}, {.fd = eventfd(0, EFD_CLOEXEC)}};
	GThread *t[2];
	Late late = {0};

	for (int i = 0; i < 2; i++) {
		p[i].gate = quiesce_new("poller", poller_wake, &p[i]);
		t[i] = g_thread_new("poller", poller_thread, &p[i]);
	}
	late.gate = quiesce_new("late", NULL, NULL);
	GThread *lt = g_thread_new("late", late_thread, &late);
	g_usleep(50000);
	double cpu0 = cpu_seconds();
	fork_and_reap();
	double used = cpu_seconds() - cpu0;
	g_test_message("CPU while the fork waited for the late thread: %.3f s", used);
	g_assert_cmpfloat(used, <, 0.2);
	g_atomic_int_set(&late.stop, 1);
	g_thread_join(lt);
	quiesce_free(&late.gate);
	for (int i = 0; i < 2; i++) {
		g_atomic_int_set(&p[i].stop, 1);
		poller_wake(&p[i]);
		g_thread_join(t[i]);
		quiesce_free(&p[i].gate);
		close(p[i].fd);
	}
}

/* trickle - a status client that sends a byte every 300 ms, no newline, for 10 s */
static gpointer
trickle(gpointer data)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_strlcpy(sa.sun_path, data, sizeof sa.sun_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
		for (int i = 0; i < 33 && send(fd, "s", 1, MSG_NOSIGNAL) == 1; i++)
			g_usleep(300000);
	close(fd);
	return NULL;
}

/* test_slow_status_client - a client that trickles its request holds a fork up one second at most
 */
static void
test_slow_status_client(void)
{
	g_autoptr(MqConfig) c = config_defaults();
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("mqsift-quiesce-XXXXXX", &error);
	g_assert_no_error(error);

	g_free(c->daemon_status_socket);
	c->daemon_status_socket = g_build_filename(dir, "status.sock", NULL);
	Status *status = status_new(c);
	GThread *t = g_thread_new("trickle", trickle, c->daemon_status_socket);
	g_usleep(200000); /* connected, the status thread reading */
	gint64 t0 = g_get_monotonic_time();
	fork_and_reap();
	double waited = (double)(g_get_monotonic_time() - t0) / 1e6;
	g_test_message("the fork waited %.2f s for the status thread", waited);
	g_assert_cmpfloat(waited, <, 4.0); /* trickled to its end, it would be 9 s */
	g_thread_join(t);
	status_free(&status);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/quiesce/child-never-inherits-a-lock-a-thread-held",
	                test_child_never_inherits_a_held_lock);
	g_test_add_func("/quiesce/thread-asleep-in-poll-is-woken-for-the-fork",
	                test_sleeping_thread_is_woken);
	g_test_add_func("/quiesce/fork-waits-for-a-long-job-to-end",
	                test_fork_waits_for_a_long_job);
	g_test_add_func("/quiesce/thread-that-ended-does-not-hold-a-fork-up",
	                test_ended_thread_does_not_hold_up);
	g_test_add_func("/quiesce/spam-and-status-threads-park", test_spam_and_status_threads_park);
	g_test_add_func("/quiesce/parked-threads-sleep-while-the-fork-waits",
	                test_parked_threads_sleep);
	g_test_add_func("/quiesce/slow-status-client-holds-a-fork-up-a-second-at-most",
	                test_slow_status_client);
	return g_test_run();
}
