/*
 * test-commit.c - the exactly-once commit: normal runs, a crash at every
 * step (SIGKILL in a child), delivery racing the crash, and a full disk
 */
#include "mqsift-build.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "queue/commit.h"
#include "queue/fault.h"
#include "queue/qdir.h"

#define N_MESSAGES 5

typedef struct {
	char *top;
	char *in;
	char *out;
	char *ids[N_MESSAGES];
} Fixture;

/* write_file - test helper */
static void
write_file(const char *dir, const char *name, const char *text)
{
	g_autofree char *p = g_build_filename(dir, name, NULL);
	GError *error = NULL;

	g_file_set_contents(p, text, -1, &error);
	g_assert_no_error(error);
	chmod(p, 0600);
}

/* fixture_setup - an inbound queue with N complete messages, an empty outgoing one */
static void
fixture_setup(Fixture *f, gconstpointer data)
{
	gboolean subdirs = GPOINTER_TO_INT(data);

	f->top = g_dir_make_tmp("mqsift-commit-XXXXXX", NULL);
	f->in = g_build_filename(f->top, "in", NULL);
	f->out = g_build_filename(f->top, "out", NULL);
	g_mkdir(f->in, 0700);
	g_mkdir(f->out, 0700);
	if (subdirs) {
		for (int i = 0; i < 2; i++) {
			const char *q = i ? f->out : f->in;
			g_autofree char *a = g_build_filename(q, "qf", NULL);
			g_autofree char *b = g_build_filename(q, "df", NULL);
			g_mkdir(a, 0700);
			g_mkdir(b, 0700);
		}
	}
	for (int i = 0; i < N_MESSAGES; i++) {
		f->ids[i] = g_strdup_printf("6AOAbc%02d%06d", i, 4242);
		g_autofree char *qfn = g_strconcat("qf", f->ids[i], NULL);
		g_autofree char *dfn = g_strconcat("df", f->ids[i], NULL);
		g_autofree char *qf = g_strdup_printf(
		    "V8\nT1795512285\nK0\nN0\nP30000\nS<a@example.org>\nRPFD:<b@example.com>\n"
		    "H??Subject: message %d\n.\n",
		    i);
		g_autofree char *df = g_strdup_printf("body of message %d\n", i);
		g_autofree char *qd =
		    subdirs ? g_build_filename(f->in, "qf", NULL) : g_strdup(f->in);
		g_autofree char *dd =
		    subdirs ? g_build_filename(f->in, "df", NULL) : g_strdup(f->in);
		write_file(dd, dfn, df);
		write_file(qd, qfn, qf);
	}
}

/* remove_all - rm -r */
static void
remove_all(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *n;

	if (d) {
		while ((n = g_dir_read_name(d)) != NULL) {
			g_autofree char *p = g_build_filename(path, n, NULL);
			if (g_file_test(p, G_FILE_TEST_IS_DIR))
				remove_all(p);
			else
				unlink(p);
		}
		g_dir_close(d);
	}
	rmdir(path);
}

/* fixture_teardown - remove everything */
static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	remove_all(f->top);
	for (int i = 0; i < N_MESSAGES; i++)
		g_free(f->ids[i]);
	g_free(f->top);
	g_free(f->in);
	g_free(f->out);
}

/* commit_queued - the rest of a pass after its recovery: claim, prepare, finish what is queued */
static gboolean
commit_queued(QueueDir *in, QueueDir *out, guint batch_size, GError **error)
{
	CommitBatch *batch = commit_batch_new(out, 0640);
	GPtrArray *ids = qdir_list(in, "qf", NULL);
	gboolean ok = TRUE;

	for (guint i = 0; i < ids->len && ok; i++) {
		QueueClaim *claim = qdir_claim(in, g_ptr_array_index(ids, i), NULL);
		g_assert_nonnull(claim);
		Qf *qf = qf_copy(claim->qf);
		qf_add_header(qf, "X-Virus-Scanned", "test");
		if (!commit_prepare(batch, claim, qf, NULL, error)) {
			qdir_claim_release(&claim);
			ok = FALSE;
		}
		qf_free(&qf);
		if (ok && commit_batch_size(batch) >= batch_size)
			ok = commit_finish(batch, error);
	}
	if (ok)
		ok = commit_finish(batch, error);
	commit_batch_free(&batch);
	g_ptr_array_unref(ids);
	return ok;
}

/* commit_all - what "mqsift run --once" does with the queues, minus scanning */
static gboolean
commit_all(Fixture *f, guint batch_size, GError **error)
{
	QueueDir *in = qdir_open(f->in, QUEUE_LOCK_FLOCK, error);
	QueueDir *out = qdir_open(f->out, QUEUE_LOCK_FLOCK, error);

	g_assert_nonnull(in);
	g_assert_nonnull(out);
	g_assert_cmpint(commit_recover(in, out, NULL), >=, 0);
	gboolean ok = commit_queued(in, out, batch_size, error);
	qdir_free(&in);
	qdir_free(&out);
	return ok;
}

/* count_prefix - files named <prefix>* under @dir (and its qf/ df/ subdirs) */
static guint
count_prefix(const char *dir, const char *prefix)
{
	guint n = 0;
	const char *subs[] = {"", "qf", "df", "xf"};

	for (gsize s = 0; s < G_N_ELEMENTS(subs); s++) {
		g_autofree char *d = g_build_filename(dir, subs[s], NULL);
		if (*subs[s] && !g_file_test(d, G_FILE_TEST_IS_DIR))
			continue;
		GDir *gd = g_dir_open(d, 0, NULL);
		const char *name;
		while (gd && (name = g_dir_read_name(gd)) != NULL) {
			g_autofree char *p = g_build_filename(d, name, NULL);
			if (g_str_has_prefix(name, prefix) &&
			    g_file_test(p, G_FILE_TEST_IS_REGULAR))
				n++;
		}
		if (gd)
			g_dir_close(gd);
	}
	return n;
}

/* deliver_out - what the outbound sendmail does: read each qf+df, then remove them */
static guint
deliver_out(Fixture *f, GHashTable *delivered)
{
	QueueDir *out = qdir_open(f->out, QUEUE_LOCK_FLOCK, NULL);
	GPtrArray *ids = qdir_list(out, "qf", NULL);
	guint n = 0;

	for (guint i = 0; i < ids->len; i++) {
		const char *id = g_ptr_array_index(ids, i);
		g_autofree char *qf = qdir_file(out, "qf", id);
		g_autofree char *df = qdir_file(out, "df", id);
		g_autofree char *qtext = NULL, *dtext = NULL;

		g_assert_true(g_file_get_contents(qf, &qtext, NULL, NULL));
		g_assert_true(g_file_get_contents(df, &dtext, NULL, NULL));
		g_assert_nonnull(strstr(qtext, "H??X-Virus-Scanned: test\n.\n"));
		g_assert_true(g_str_has_prefix(dtext, "body of message "));
		/* a second delivery of one ID is the failure this test exists for */
		g_assert_false(g_hash_table_contains(delivered, id));
		g_hash_table_add(delivered, g_strdup(id));
		unlink(df);
		unlink(qf);
		n++;
	}
	g_ptr_array_unref(ids);
	qdir_free(&out);
	return n;
}

/* assert_all_delivered_once - every message delivered, nothing left anywhere */
static void
assert_all_delivered_once(Fixture *f, GHashTable *delivered)
{
	deliver_out(f, delivered);
	g_assert_cmpuint(g_hash_table_size(delivered), ==, N_MESSAGES);
	for (int i = 0; i < N_MESSAGES; i++)
		g_assert_true(g_hash_table_contains(delivered, f->ids[i]));
	g_assert_cmpuint(count_prefix(f->in, "qf"), ==, 0);
	g_assert_cmpuint(count_prefix(f->in, "cf"), ==, 0);
	g_assert_cmpuint(count_prefix(f->in, "jf"), ==, 0); /* no commit journal left */
	g_assert_cmpuint(count_prefix(f->in, "df"), ==, 0);
	g_assert_cmpuint(count_prefix(f->out, "tf"), ==, 0);
	g_assert_cmpuint(count_prefix(f->out, "df"), ==, 0);
}

/* test_commit_plain - a normal run moves everything, modes right, body linked */
static void
test_commit_plain(Fixture *f, gconstpointer data)
{
	GError *error = NULL;

	g_assert_true(commit_all(f, 2, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(count_prefix(f->out, "qf"), ==, N_MESSAGES);
	QueueDir *out = qdir_open(f->out, QUEUE_LOCK_FLOCK, NULL);
	g_autofree char *qf = qdir_file(out, "qf", f->ids[0]);
	struct stat st;
	g_assert_cmpint(stat(qf, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0640);
	qdir_free(&out);
	GHashTable *delivered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	assert_all_delivered_once(f, delivered);
	g_hash_table_destroy(delivered);
}

static const char *const crash_points[] = {
    "commit:after-df",     "commit:after-tf",   "commit:after-sync-out",  "commit:after-journal",
    "commit:after-mark",   "commit:after-qf",   "commit:after-unlink-df", "commit:after-journal@1",
    "commit:after-mark@1", "commit:after-qf@3", "commit:after-df@4",
};

/* crash_then_recover - kill a run at @point, maybe deliver, recover, check */
static void
crash_then_recover(Fixture *f, const char *point, gboolean deliver_between)
{
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		fault_arm(point);
		commit_all(f, 3, NULL);
		_exit(0);
	}
	int status;
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFSIGNALED(status));
	g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);

	GHashTable *delivered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (deliver_between)
		deliver_out(f, delivered); /* sendmail -q ran while mqsift was down */
	GError *error = NULL;
	g_assert_true(commit_all(f, 3, &error));
	g_assert_no_error(error);
	assert_all_delivered_once(f, delivered);
	g_hash_table_destroy(delivered);
}

/* CrashCase - one crash point, in one queue layout, with or without a delivery after it */
typedef struct {
	int subdirs;       /* qf/ df/ xf/ subdirectories */
	const char *point; /* the fault point where the process is killed */
	int between;       /* the outgoing sendmail delivers before the recovery */
} CrashCase;

/* test_crash - killed at one point: recovery delivers every message exactly once */
static void
test_crash(gconstpointer data)
{
	const CrashCase *c = data;
	Fixture g;

	fixture_setup(&g, GINT_TO_POINTER(c->subdirs));
	crash_then_recover(&g, c->point, c->between);
	fixture_teardown(&g, GINT_TO_POINTER(c->subdirs));
}

/* add_crash_tests - one test case per crash point, layout and delivery */
static void
add_crash_tests(void)
{
	for (int subdirs = 0; subdirs < 2; subdirs++)
		for (gsize i = 0; i < G_N_ELEMENTS(crash_points); i++)
			for (int between = 0; between < 2; between++) {
				CrashCase *c =
				    g_new0(CrashCase, 1); /* lives as long as the tests */
				c->subdirs = subdirs;
				c->point = crash_points[i];
				c->between = between;
				g_autofree char *point = g_strdelimit(g_strdup(c->point), ":", '-');
				g_autofree char *path = g_strdup_printf(
				    "/commit/crash/%s/%s%s", subdirs ? "subdirs" : "flat", point,
				    between ? "/then-delivery" : "");
				g_test_add_data_func(path, c, test_crash);
			}
}

/* test_full_disk - a write fails: nothing goes out, all stays in; later all goes */
static void
test_full_disk(Fixture *f, gconstpointer data)
{
	GError *error = NULL;

	fault_arm("write@1"); /* the second write fails, as on ENOSPC */
	g_assert_false(commit_all(f, 100, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
	g_clear_error(&error);
	fault_arm(NULL);
	g_assert_cmpuint(count_prefix(f->in, "qf"), ==, N_MESSAGES);
	g_assert_cmpuint(count_prefix(f->out, "qf"), ==, 0);
	g_assert_cmpuint(count_prefix(f->out, "tf"), ==, 0);

	fault_arm("link"); /* the body link fails too */
	g_assert_false(commit_all(f, 100, &error));
	g_clear_error(&error);
	fault_arm(NULL);
	g_assert_cmpuint(count_prefix(f->out, "df"), ==, 0);

	g_assert_true(commit_all(f, 100, &error));
	g_assert_no_error(error);
	GHashTable *delivered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	assert_all_delivered_once(f, delivered);
	g_hash_table_destroy(delivered);
}

/* test_clash - an existing outgoing qf with the same ID is never overwritten */
static void
test_clash(Fixture *f, gconstpointer data)
{
	GError *error = NULL;

	g_autofree char *clash = g_strconcat("qf", f->ids[0], NULL);
	write_file(f->out, clash, "V8\nS<x@y>\n.\n");
	g_assert_false(commit_all(f, 100, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_autofree char *name = g_strconcat("qf", f->ids[0], NULL);
	g_autofree char *p = g_build_filename(f->out, name, NULL);
	g_autofree char *text = NULL;
	g_assert_true(g_file_get_contents(p, &text, NULL, NULL));
	g_assert_cmpstr(text, ==, "V8\nS<x@y>\n.\n");
	g_assert_cmpuint(count_prefix(f->in, "qf"), ==, N_MESSAGES);
}

/* test_claim_empty - an empty qf (an SMTP child is creating it) is busy, not claimed */
static void
test_claim_empty(Fixture *f, gconstpointer data)
{
	g_autoptr(QueueDir) in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
	g_autoptr(GError) error = NULL;

	write_file(f->in, "qf6AOAempty000001", "");
	g_assert_null(qdir_claim(in, "6AOAempty000001", &error));
	g_assert_error(error, QDIR_ERROR, QDIR_ERROR_BUSY);
}

/* test_claim_locked - a second claim from another open file description fails: flock is per open */
static void
test_claim_locked(Fixture *f, gconstpointer data)
{
	g_autoptr(QueueDir) in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
	g_autoptr(GError) error = NULL;

	QueueClaim *a = qdir_claim(in, f->ids[1], &error);
	g_assert_no_error(error);
	g_assert_nonnull(a);
	g_assert_null(qdir_claim(in, f->ids[1], &error));
	g_assert_error(error, QDIR_ERROR, QDIR_ERROR_BUSY);
	qdir_claim_release(&a);
}

/* test_claim_half_written - a qf without its final "." is incomplete, not claimed */
static void
test_claim_half_written(Fixture *f, gconstpointer data)
{
	g_autoptr(QueueDir) in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
	g_autoptr(GError) error = NULL;

	write_file(f->in, "qf6AOAhalf0000001", "V8\nT1\nS<a@b>\n");
	g_assert_null(qdir_claim(in, "6AOAhalf0000001", &error));
	g_assert_error(error, QDIR_ERROR, QDIR_ERROR_INCOMPLETE);
}

/* test_claim_broken - a qf sendmail could not read is broken, not claimed */
static void
test_claim_broken(Fixture *f, gconstpointer data)
{
	g_autoptr(QueueDir) in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
	g_autoptr(GError) error = NULL;

	write_file(f->in, "qf6AOAbad00000001", "V8\nT1\nXjunk\nS<a@b>\n.\n");
	g_assert_null(qdir_claim(in, "6AOAbad00000001", &error));
	g_assert_error(error, QDIR_ERROR, QDIR_ERROR_BROKEN);
}

/* age_atime - @path's access time an hour before its modification time */
static void
age_atime(const char *path)
{
	struct stat st;

	g_assert_cmpint(stat(path, &st), ==, 0);
	struct timespec ts[2] = {{st.st_mtim.tv_sec - 3600, 0}, st.st_mtim};
	g_assert_cmpint(utimensat(AT_FDCWD, path, ts, 0), ==, 0);
}

/* atime_of - @path's access time, in seconds */
static time_t
atime_of(const char *path)
{
	struct stat st;

	g_assert_cmpint(stat(path, &st), ==, 0);
	return st.st_atim.tv_sec;
}

/* test_claim_keeps_atime - a claim and a read of the body leave both access
 * times alone: each update would be one more inode write in the journal */
static void
test_claim_keeps_atime(Fixture *f, gconstpointer data)
{
	g_autoptr(QueueDir) in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *qf = g_strconcat(f->in, "/qf", f->ids[0], NULL);
	g_autofree char *df = g_strconcat(f->in, "/df", f->ids[0], NULL);
	g_autofree char *other = g_strconcat(f->in, "/df", f->ids[1], NULL);

	/* the control: a plain read of a file older by its atime stamps it
	 * (unless this filesystem is mounted noatime: then nothing to see) */
	age_atime(other);
	time_t before = atime_of(other);
	g_autofree char *text = NULL;
	g_assert_true(g_file_get_contents(other, &text, NULL, NULL));
	if (atime_of(other) == before) {
		g_test_skip("reads do not update access times on this filesystem");
		return;
	}
	age_atime(qf);
	age_atime(df);
	time_t qf_before = atime_of(qf), df_before = atime_of(df);
	QueueClaim *claim = qdir_claim(in, f->ids[0], &error);
	g_assert_no_error(error);
	gsize df_size = 0;
	GString *message = qdir_claim_read_message(claim, &df_size, &error);
	g_assert_no_error(error);
	g_assert_nonnull(strstr(message->str, "body of message 0"));
	g_string_free(message, TRUE);
	qdir_claim_release(&claim);
	g_assert_cmpint(atime_of(qf), ==, qf_before);
	g_assert_cmpint(atime_of(df), ==, df_before);
}

/* crash_at - run commit_all(batch 3) in a child killed at @point */
static void
crash_at(Fixture *f, const char *point)
{
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		fault_arm(point);
		commit_all(f, 3, NULL);
		_exit(0);
	}
	int status;
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFSIGNALED(status));
}

/* trace_index - position of the first entry starting with @prefix, or -1 */
static int
trace_index(GPtrArray *log, const char *prefix)
{
	for (guint i = 0; i < log->len; i++)
		if (g_str_has_prefix(g_ptr_array_index(log, i), prefix))
			return (int)i;
	return -1;
}

/* trace_exact - position of the first entry equal to @text, or -1 */
static int
trace_exact(GPtrArray *log, const char *text)
{
	for (guint i = 0; i < log->len; i++)
		if (strcmp(g_ptr_array_index(log, i), text) == 0)
			return (int)i;
	return -1;
}

/* trace_dump - the recorded operations, when the test runs verbose */
static void
trace_dump(GPtrArray *log)
{
	for (guint i = 0; g_test_verbose() && i < log->len; i++)
		g_printerr("  %s\n", (char *)g_ptr_array_index(log, i));
}

/*
 * test_recover_syncs_first - a crash after the tf -> qf rename and before
 * the directory fsync: recovery makes the out qf's name durable before it
 * removes any inbound file (issue #14.3)
 */
static void
test_recover_syncs_first(Fixture *f, gconstpointer data)
{
	crash_at(f, "commit:after-qf");
	QueueDir *in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
	QueueDir *out = qdir_open(f->out, QUEUE_LOCK_FLOCK, NULL);
	GPtrArray *log = g_ptr_array_new_with_free_func(g_free);
	GError *error = NULL;

	fault_trace_start(log);
	g_assert_cmpint(commit_recover(in, out, &error), ==, 3);
	fault_trace_start(NULL);
	g_assert_no_error(error);
	trace_dump(log);
	g_autofree char *sync_out = g_strconcat("sync-dir ", qdir_qf_dir(out), NULL);
	g_autofree char *unlink_in = g_strconcat("unlink ", f->in, "/", NULL);
	int first_unlink = trace_index(log, unlink_in);
	g_assert_cmpint(first_unlink, >=, 0);
	g_assert_cmpint(trace_exact(log, sync_out), >=, 0);
	g_assert_cmpint(trace_exact(log, sync_out), <, first_unlink);
	g_ptr_array_unref(log);
	qdir_free(&in);
	qdir_free(&out);
	GHashTable *delivered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_assert_true(commit_all(f, 3, &error));
	assert_all_delivered_once(f, delivered);
	g_hash_table_destroy(delivered);
}

/*
 * test_recover_locked_tf - the outgoing sendmail is rewriting the qf of a
 * message committed before the crash (tf<ID>, flock'ed): recovery leaves
 * that tf alone instead of renaming a half-written file over the qf
 * (issue #14.4)
 */
static void
test_recover_locked_tf(Fixture *f, gconstpointer data)
{
	crash_at(f, "commit:after-qf");
	QueueDir *in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
	QueueDir *out = qdir_open(f->out, QUEUE_LOCK_FLOCK, NULL);
	GError *error = NULL;
	const char *id = NULL;

	/* the message whose out qf exists already: the first one committed */
	for (int i = 0; i < N_MESSAGES && id == NULL; i++) {
		g_autofree char *qf = qdir_file(out, "qf", f->ids[i]);
		if (g_file_test(qf, G_FILE_TEST_EXISTS))
			id = f->ids[i];
	}
	g_assert_nonnull(id);
	g_autofree char *qf = qdir_file(out, "qf", id);
	g_autofree char *tf = qdir_file(out, "tf", id);
	g_autofree char *before = NULL, *after = NULL, *tf_after = NULL;
	g_assert_true(g_file_get_contents(qf, &before, NULL, NULL));
	int fd = open(tf, O_WRONLY | O_CREAT | O_EXCL, 0640);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(flock(fd, LOCK_EX | LOCK_NB), ==, 0); /* as sendmail's queueup() */
	g_assert_cmpint(write(fd, "V8\nT1\nK2\nN1\n", 12), ==, 12);

	g_assert_cmpint(commit_recover(in, out, &error), ==, 3);
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(qf, &after, NULL, NULL));
	g_assert_cmpstr(after, ==, before);
	g_assert_true(g_file_get_contents(tf, &tf_after, NULL, NULL));
	g_assert_cmpstr(tf_after, ==, "V8\nT1\nK2\nN1\n");
	g_autofree char *cf = qdir_file(in, "cf", id);
	g_assert_false(g_file_test(cf, G_FILE_TEST_EXISTS)); /* committed: inbound copy gone */
	close(fd);
	unlink(tf);
	qdir_free(&in);
	qdir_free(&out);
}

/*
 * test_failed_batch_outcomes - a batch whose commit fails half way says what
 * happened to each message: committed, completed by recovery, or left
 * (before, every message of a failed batch was logged "left in queue")
 */
static void
test_failed_batch_outcomes(Fixture *f, gconstpointer data)
{
	QueueDir *in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
	QueueDir *out = qdir_open(f->out, QUEUE_LOCK_FLOCK, NULL);
	CommitBatch *batch = commit_batch_new(out, 0640);
	GError *error = NULL;

	for (guint i = 0; i < 3; i++) {
		QueueClaim *claim = qdir_claim(in, f->ids[i], NULL);
		g_assert_nonnull(claim);
		g_assert_true(commit_prepare(batch, claim, claim->qf, NULL, NULL));
	}
	/* the journal marks the batch committed, the first tf -> qf passes, the
	 * second fails */
	fault_arm("rename@1");
	g_assert_false(commit_finish(batch, &error));
	fault_arm(NULL);
	g_clear_error(&error);
	g_assert_cmpint(commit_outcome(batch, 0), ==, COMMIT_DONE);
	g_assert_cmpint(commit_outcome(batch, 1), ==, COMMIT_RECOVERED);
	g_assert_cmpint(commit_outcome(batch, 2), ==, COMMIT_RECOVERED);
	g_assert_cmpint(commit_outcome(batch, 3), ==, COMMIT_LEFT);
	/* committed (the journal says so) but not complete: not committed twice */
	QueueClaim *again = qdir_claim(in, f->ids[1], NULL);
	g_assert_nonnull(again);
	g_assert_false(commit_prepare(batch, again, again->qf, NULL, &error));
	g_assert_error(error, QDIR_ERROR, QDIR_ERROR_BUSY);
	g_clear_error(&error);
	qdir_claim_release(&again);
	/* and recovery completes them (and cleans the committed one's inbound
	 * copy), each delivered once */
	g_assert_cmpint(commit_recover(in, out, NULL), ==, 3);
	g_assert_cmpuint(count_prefix(f->out, "qf"), ==, 3);
	commit_batch_free(&batch);
	qdir_free(&in);
	qdir_free(&out);
}

/* journal_path - the one commit journal in @dir (asserted), or NULL if none */
static char *
journal_path(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;
	char *found = NULL;

	while ((name = g_dir_read_name(d)) != NULL)
		if (g_str_has_prefix(name, "jf")) {
			g_assert_null(found);
			found = g_build_filename(dir, name, NULL);
		}
	return found;
}

/*
 * test_torn_journal - a crash that leaves a journal not whole (its batch
 * was never committed: power went while it was written): recovery removes
 * it, and the batch's messages are retried and delivered once
 */
static void
test_torn_journal(Fixture *f, gconstpointer data)
{
	for (int cut = 0; cut < 3; cut++) {
		crash_at(f, "commit:after-journal");
		g_autofree char *j = journal_path(f->in);
		g_autofree char *text = NULL;
		gsize len;
		g_assert_nonnull(j);
		g_assert_true(g_file_get_contents(j, &text, &len, NULL));
		/* cut short, one byte changed, or empty */
		if (cut == 0)
			g_assert_cmpint(truncate(j, (off_t)len / 2), ==, 0);
		else if (cut == 1) {
			text[len / 2] ^= 1;
			g_assert_true(g_file_set_contents(j, text, (gssize)len, NULL));
		} else
			g_assert_cmpint(truncate(j, 0), ==, 0);

		QueueDir *in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
		QueueDir *out = qdir_open(f->out, QUEUE_LOCK_FLOCK, NULL);
		g_assert_cmpint(commit_recover(in, out, NULL), ==, 0); /* nothing was committed */
		g_assert_cmpuint(count_prefix(f->in, "jf"), ==, 0);
		g_assert_cmpuint(count_prefix(f->in, "qf"), ==, N_MESSAGES);
		qdir_free(&in);
		qdir_free(&out);
		GHashTable *delivered =
		    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		g_assert_true(commit_all(f, 3, NULL));
		assert_all_delivered_once(f, delivered);
		g_hash_table_destroy(delivered);
		/* the next round: the same messages again */
		fixture_teardown(f, NULL);
		fixture_setup(f, NULL);
	}
}

/*
 * test_journal_names_the_file - a journal names each message by its qf's
 * inode too: an inbound qf that has the ID of a committed message but is
 * another file (a later message that got the same ID) is not touched
 */
static void
test_journal_names_the_file(Fixture *f, gconstpointer data)
{
	crash_at(f, "commit:after-mark"); /* the first three are committed */
	g_autofree char *qf0 = g_strconcat(f->in, "/qf", f->ids[0], NULL);
	g_autofree char *other = g_strconcat(f->in, "/other", NULL);
	g_autofree char *text = NULL;
	g_assert_true(g_file_get_contents(qf0, &text, NULL, NULL));
	g_assert_true(g_file_set_contents(other, text, -1, NULL)); /* another inode */
	g_assert_cmpint(rename(other, qf0), ==, 0);

	QueueDir *in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
	QueueDir *out = qdir_open(f->out, QUEUE_LOCK_FLOCK, NULL);
	g_assert_cmpint(commit_recover(in, out, NULL), ==, 2); /* the second and third */
	g_assert_true(g_file_test(qf0, G_FILE_TEST_EXISTS));   /* still an inbound message */
	g_assert_cmpuint(count_prefix(f->in, "jf"), ==, 0);
	qdir_free(&in);
	qdir_free(&out);
}

/*
 * test_journal_order - the journal is durable (its directory fsync'ed)
 * before the first outbound qf appears, and a finished batch's journal is
 * removed only after the next fsync of its directory (its inbound unlinks
 * durable first)
 */
static void
test_journal_order(Fixture *f, gconstpointer data)
{
	GPtrArray *log = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *sync_in = g_strconcat("sync-dir ", f->in, NULL);

	fault_trace_start(log);
	g_assert_true(commit_all(f, 3, NULL));
	fault_trace_start(NULL);
	trace_dump(log);
	int first_sync = trace_exact(log, sync_in);
	int first_qf = trace_index(log, "rename qf");
	int first_unlink_j = trace_index(log, "unlink jf");
	g_assert_cmpint(first_sync, >=, 0);
	g_assert_cmpint(first_sync, <, first_qf);
	/* the first batch's journal goes after the second batch's directory fsync */
	int second_sync = -1;
	for (guint i = (guint)first_sync + 1; i < log->len && second_sync < 0; i++)
		if (strcmp(g_ptr_array_index(log, i), sync_in) == 0)
			second_sync = (int)i;
	g_assert_cmpint(second_sync, >, first_qf);
	g_assert_cmpint(first_unlink_j, >, second_sync);
	g_ptr_array_unref(log);
	GHashTable *delivered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	assert_all_delivered_once(f, delivered);
	g_hash_table_destroy(delivered);
}

/*
 * test_move_aside_syncs_parent - a broken message set aside: its copies and
 * the name of broken/<id>/ are durable before the queue's files go (#14.3)
 */
static void
test_move_aside_syncs_parent(Fixture *f, gconstpointer data)
{
	QueueDir *in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
	g_autofree char *broken = g_build_filename(f->top, "quarantine", "broken", NULL);
	GPtrArray *log = g_ptr_array_new_with_free_func(g_free);
	GError *error = NULL;

	for (int made_before = 0; made_before < 2; made_before++) {
		const char *id = f->ids[made_before];
		g_autofree char *dest = g_build_filename(broken, id, NULL);
		g_autofree char *in_qf = qdir_file(in, "qf", id);
		g_autofree char *unlink_qf = g_strconcat("unlink ", in_qf, NULL);
		g_autofree char *sync_parent = g_strconcat("sync-dir ", broken, NULL);

		if (made_before)
			g_assert_cmpint(g_mkdir(dest, 0700), ==, 0); /* an earlier attempt */
		g_ptr_array_set_size(log, 0);
		fault_trace_start(log);
		g_assert_true(commit_move_aside(in, id, dest, &error));
		fault_trace_start(NULL);
		g_assert_no_error(error);
		trace_dump(log);
		g_assert_cmpint(trace_exact(log, unlink_qf), >=, 0);
		g_assert_cmpint(trace_exact(log, sync_parent), >=, 0);
		g_assert_cmpint(trace_exact(log, sync_parent), <, trace_exact(log, unlink_qf));
		if (!made_before) {
			/* broken/ itself was made: its parent is synced too */
			g_autofree char *top = g_path_get_dirname(broken);
			g_autofree char *sync_top = g_strconcat("sync-dir ", top, NULL);
			g_assert_cmpint(trace_exact(log, sync_top), >=, 0);
			g_assert_cmpint(trace_exact(log, sync_top), <, trace_exact(log, unlink_qf));
		}
	}
	g_ptr_array_unref(log);
	qdir_free(&in);
}

/*
 * test_data_dir_record - a qf whose df is in another queue directory (its d
 * record, sendmail with several queue directories): claimed with that df,
 * committed with its body, the d record not copied out, the df removed
 * from where it was; also when a crash comes between mark and unlink
 * (issue #14.7)
 */
static void
test_data_dir_record(void)
{
	for (int crash = 0; crash < 2; crash++) {
		g_autofree char *top = g_dir_make_tmp("mqsift-ddir-XXXXXX", NULL);
		g_autofree char *base = g_build_filename(top, "mqueue.in", NULL);
		g_autofree char *q1 = g_build_filename(base, "q1", NULL);
		g_autofree char *q2df = g_build_filename(base, "q2", "df", NULL);
		g_autofree char *outd = g_build_filename(top, "out", NULL);
		const char *id = "6AOAddir0004242";
		GError *error = NULL;

		g_assert_cmpint(g_mkdir_with_parents(q1, 0700), ==, 0);
		g_assert_cmpint(g_mkdir_with_parents(q2df, 0700), ==, 0);
		g_assert_cmpint(g_mkdir(outd, 0700), ==, 0);
		write_file(q2df, "df6AOAddir0004242", "the body in q2\n");
		write_file(q1, "qf6AOAddir0004242",
		           "V8\nT1795512285\nK0\nN0\nP30000\ndq2\nS<a@example.org>\n"
		           "RPFD:<b@example.com>\nH??Subject: d record\n.\n");
		if (crash) {
			pid_t pid = fork();
			if (pid == 0) {
				QueueDir *in = qdir_open(q1, QUEUE_LOCK_FLOCK, NULL);
				QueueDir *out = qdir_open(outd, QUEUE_LOCK_FLOCK, NULL);
				CommitBatch *b = commit_batch_new(out, 0640);
				QueueClaim *c = qdir_claim(in, id, NULL);
				Qf *qf = qf_copy(c->qf);
				qf_sanitize_for_outbound(qf);
				commit_prepare(b, c, qf, NULL, NULL);
				fault_arm("commit:after-mark");
				commit_finish(b, NULL);
				_exit(0);
			}
			int status;
			g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
			g_assert_true(WIFSIGNALED(status));
		}
		QueueDir *in = qdir_open(q1, QUEUE_LOCK_FLOCK, NULL);
		QueueDir *out = qdir_open(outd, QUEUE_LOCK_FLOCK, NULL);
		if (crash) {
			g_assert_cmpint(commit_recover(in, out, &error), ==, 1);
			g_assert_no_error(error);
		} else {
			QueueClaim *claim = qdir_claim(in, id, &error);
			g_assert_no_error(error);
			g_autofree char *want = g_build_filename(q2df, "df6AOAddir0004242", NULL);
			g_assert_cmpstr(claim->df_path, ==, want);
			gint64 size = -1; /* what the scanner opens */
			int dfd = qdir_claim_open_df(claim, &size, &error);
			g_assert_no_error(error);
			g_assert_cmpint(dfd, >=, 0);
			g_assert_cmpint(size, ==, 15);
			close(dfd);
			CommitBatch *b = commit_batch_new(out, 0640);
			Qf *qf = qf_copy(claim->qf);
			qf_sanitize_for_outbound(qf);
			g_assert_true(commit_prepare(b, claim, qf, NULL, &error));
			g_assert_true(commit_finish(b, &error));
			g_assert_no_error(error);
			commit_batch_free(&b);
			qf_free(&qf);
		}
		g_autofree char *out_qf = qdir_file(out, "qf", id);
		g_autofree char *out_df = qdir_file(out, "df", id);
		g_autofree char *qtext = NULL, *dtext = NULL;
		g_assert_true(g_file_get_contents(out_qf, &qtext, NULL, NULL));
		g_assert_true(g_file_get_contents(out_df, &dtext, NULL, NULL));
		g_assert_cmpstr(dtext, ==, "the body in q2\n");
		g_assert_null(strstr(qtext, "\ndq2\n"));
		g_assert_cmpuint(count_prefix(base, "df"), ==, 0);
		g_assert_cmpuint(count_prefix(q1, "qf") + count_prefix(q1, "cf"), ==, 0);
		g_autofree char *q2 = g_path_get_dirname(q2df);
		g_assert_cmpuint(count_prefix(q2, "df"), ==, 0);
		qdir_free(&in);
		qdir_free(&out);
		remove_all(top);
	}
}

/* test_new_id - sendmail's format, unique in a burst */
static void
test_new_id(void)
{
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (int i = 0; i < 3000; i++) {
		char *id = qdir_new_id();
		g_assert_true(qdir_valid_id(id));
		g_assert_cmpuint(strlen(id), >=, 14);
		g_assert_false(g_hash_table_contains(seen, id));
		g_hash_table_add(seen, id);
	}
	g_hash_table_destroy(seen);
}

/*
 * crash_then_deliver_first - killed after the first tf -> qf rename, then
 * the outgoing sendmail delivers that message while mqsift is down; the
 * delivered IDs (one)
 */
static GHashTable *
crash_then_deliver_first(Fixture *f)
{
	GHashTable *delivered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	crash_at(f, "commit:after-qf");
	g_assert_cmpuint(deliver_out(f, delivered), ==, 1);
	return delivered;
}

/*
 * test_locked_qf_at_recovery - killed after the first tf -> qf rename; the
 * outgoing sendmail delivers that message while mqsift is down; at restart,
 * `mailq` on the inbound queue holds LOCK_SH on its qf while recovery runs:
 * the message is held, never committed a second time (before, the pass
 * claimed the inbound qf and committed it again; found by review)
 */
static void
test_locked_qf_at_recovery(Fixture *f, gconstpointer data)
{
	GHashTable *delivered = crash_then_deliver_first(f);

	g_autofree char *qf0 = g_strconcat(f->in, "/qf", f->ids[0], NULL);
	int probe = open(qf0, O_RDONLY);
	g_assert_cmpint(probe, >=, 0);
	g_assert_cmpint(flock(probe, LOCK_SH | LOCK_NB), ==, 0); /* sendmail -bp's probe */
	QueueDir *in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
	QueueDir *out = qdir_open(f->out, QUEUE_LOCK_FLOCK, NULL);
	GError *error = NULL;
	g_assert_cmpint(commit_recover(in, out, &error), ==, 2);
	g_assert_no_error(error);
	g_assert_cmpuint(count_prefix(f->in, "jf"), ==, 1); /* kept for the held one */
	g_assert_true(commit_is_held(in, f->ids[0]));       /* the pass does not list it */
	/* a message of another inbound queue with the same ID is not held (the
	 * holds were keyed by ID alone: it waited for this one's recovery) */
	g_autofree char *other_path = g_build_filename(f->top, "other-in", NULL);
	g_assert_cmpint(g_mkdir(other_path, 0700), ==, 0);
	QueueDir *other = qdir_open(other_path, QUEUE_LOCK_FLOCK, NULL);
	g_assert_nonnull(other);
	g_assert_false(commit_is_held(other, f->ids[0]));
	qdir_free(&other);
	/* the same queue spelt otherwise (a SIGHUP may change the spelling while
	 * the hold stays): still held (the key was the path as written) */
	g_autofree char *base = g_path_get_basename(f->in);
	g_autofree char *spelt = g_strconcat(f->top, "/./", base, "/", NULL);
	QueueDir *same = qdir_open(spelt, QUEUE_LOCK_FLOCK, NULL);
	g_assert_nonnull(same);
	g_assert_true(commit_is_held(same, f->ids[0]));
	qdir_free(&same);
	close(probe); /* mailq is done */
	/* the rest of the pass (runner.c list_candidates, then the batches): the
	 * held message is refused, the others go */
	g_assert_false(commit_queued(in, out, 3, &error));
	g_assert_error(error, QDIR_ERROR, QDIR_ERROR_BUSY);
	g_clear_error(&error);
	deliver_out(f, delivered); /* asserts that nothing comes twice */
	/* the next pass completes it: its inbound copy goes, nothing is sent again */
	g_assert_cmpint(commit_recover(in, out, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_false(commit_is_held(in, f->ids[0]));
	g_assert_true(commit_queued(in, out, 3, &error));
	qdir_free(&in);
	qdir_free(&out);
	assert_all_delivered_once(f, delivered);
	g_hash_table_destroy(delivered);
}

/*
 * test_recover_open_error - a named qf that recovery cannot open (here
 * EMFILE) is not "gone": recovery fails and keeps the journal, and the next
 * one completes it, the message delivered once (before, the journal was
 * removed and the message committed again; found by review)
 */
static void
test_recover_open_error(Fixture *f, gconstpointer data)
{
	GHashTable *delivered = crash_then_deliver_first(f);

	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		QueueDir *in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
		QueueDir *out = qdir_open(f->out, QUEUE_LOCK_FLOCK, NULL);
		int lowest = dup(0); /* every descriptor below it is in use */
		close(lowest);
		struct rlimit rl;
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = (rlim_t)lowest + 1; /* room for the journal's descriptor only */
		setrlimit(RLIMIT_NOFILE, &rl);
		_exit(commit_recover(in, out, NULL) < 0 ? 0 : 1);
	}
	int status;
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);        /* recovery said it failed */
	g_assert_cmpuint(count_prefix(f->in, "jf"), ==, 1); /* and kept the journal */
	GError *error = NULL;
	g_assert_true(commit_all(f, 3, &error));
	g_assert_no_error(error);
	assert_all_delivered_once(f, delivered);
	g_hash_table_destroy(delivered);
}

/*
 * test_unwrite_fails - a failed step 5 whose clean-up fails too (a directory
 * fsync that keeps failing, EIO): the batch is held, and once the disk is
 * well again the next pass commits it, each message once (before, the
 * messages stayed held until a restart; found by review)
 */
static void
test_unwrite_fails(Fixture *f, gconstpointer data)
{
	if (!g_test_subprocess()) {
		g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
		g_test_trap_assert_passed();
		return;
	}
	QueueDir *in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
	QueueDir *out = qdir_open(f->out, QUEUE_LOCK_FLOCK, NULL);
	CommitBatch *batch = commit_batch_new(out, 0640);
	GError *error = NULL;
	for (guint i = 0; i < N_MESSAGES; i++) {
		QueueClaim *claim = qdir_claim(in, f->ids[i], NULL);
		g_assert_true(commit_prepare(batch, claim, claim->qf, NULL, NULL));
	}
	fault_arm("fsync-dir@1"); /* step 3's passes; step 5's and every later one fail */
	g_assert_false(commit_finish(batch, &error));
	fault_arm(NULL);
	g_clear_error(&error);
	/* not "completed at the next pass": the journal is gone, the next pass
	 * takes the messages again (so the runner reports nothing yet) */
	g_assert_cmpint(commit_outcome(batch, 0), ==, COMMIT_DOUBTFUL);
	commit_batch_free(&batch);
	g_assert_cmpuint(count_prefix(f->in, "jf"), ==, 0); /* ... and no journal names them */
	/* the next pass of the same process: the disk is fine again */
	g_assert_cmpint(commit_recover(in, out, NULL), ==, 0);
	g_assert_true(commit_queued(in, out, 100, &error));
	g_assert_no_error(error);
	qdir_free(&in);
	qdir_free(&out);
	GHashTable *delivered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	assert_all_delivered_once(f, delivered);
	g_hash_table_destroy(delivered);
}

/*
 * test_journal_open_error - a journal that recovery cannot open (EMFILE) is
 * not skipped: recovery fails, nothing of that queue is claimed, and the
 * next recovery completes the batch, each message delivered once (before,
 * the pass claimed a message the journal named and committed it again;
 * found by review)
 */
static void
test_journal_open_error(Fixture *f, gconstpointer data)
{
	GHashTable *delivered = crash_then_deliver_first(f);
	QueueDir *in = qdir_open(f->in, QUEUE_LOCK_FLOCK, NULL);
	QueueDir *out = qdir_open(f->out, QUEUE_LOCK_FLOCK, NULL);
	GError *error = NULL;

	fault_arm("journal-open");
	g_assert_cmpint(commit_recover(in, out, &error), <, 0);
	fault_arm(NULL);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
	g_clear_error(&error);
	g_assert_cmpuint(count_prefix(f->in, "jf"), ==, 1);
	/* nor one whose name cannot be stat'ed when the directory is listed */
	fault_arm("list-stat");
	g_assert_cmpint(commit_recover(in, out, &error), <, 0);
	fault_arm(NULL);
	g_assert_error(error, QDIR_ERROR, QDIR_ERROR_SYSTEM);
	g_clear_error(&error);
	g_assert_cmpuint(count_prefix(f->in, "jf"), ==, 1);
	qdir_free(&in);
	qdir_free(&out);
	g_assert_true(commit_all(f, 3, &error)); /* its recovery completes it */
	g_assert_no_error(error);
	assert_all_delivered_once(f, delivered);
	g_hash_table_destroy(delivered);
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	for (int subdirs = 0; subdirs < 2; subdirs++) {
		const char *sfx = subdirs ? "/subdirs" : "/flat";
		gpointer d = GINT_TO_POINTER(subdirs);
		g_autofree char *a = g_strconcat(
		    "/commit/moves-everything-with-right-modes-and-linked-body", sfx, NULL);
		g_autofree char *c =
		    g_strconcat("/commit/full-disk-sends-nothing-and-keeps-everything", sfx, NULL);
		g_test_add(a, Fixture, d, fixture_setup, test_commit_plain, fixture_teardown);
		g_test_add(c, Fixture, d, fixture_setup, test_full_disk, fixture_teardown);
	}
	add_crash_tests();
	g_test_add("/commit/existing-outgoing-qf-is-never-overwritten", Fixture, NULL,
	           fixture_setup, test_clash, fixture_teardown);
	g_test_add("/commit/failed-batch-says-what-happened-to-each", Fixture, NULL, fixture_setup,
	           test_failed_batch_outcomes, fixture_teardown);
	g_test_add("/commit/claim/empty-qf-is-busy", Fixture, NULL, fixture_setup, test_claim_empty,
	           fixture_teardown);
	g_test_add("/commit/claim/locked-qf-is-busy", Fixture, NULL, fixture_setup,
	           test_claim_locked, fixture_teardown);
	g_test_add("/commit/claim/half-written-qf-is-incomplete", Fixture, NULL, fixture_setup,
	           test_claim_half_written, fixture_teardown);
	g_test_add("/commit/claim/unreadable-qf-is-broken", Fixture, NULL, fixture_setup,
	           test_claim_broken, fixture_teardown);
	g_test_add("/commit/claim/leaves-access-times-alone", Fixture, NULL, fixture_setup,
	           test_claim_keeps_atime, fixture_teardown);
	g_test_add_func("/commit/new-id-has-sendmails-format-and-is-unique", test_new_id);
	g_test_add_func("/commit/df-in-another-queue-dir-is-committed-and-removed",
	                test_data_dir_record);
	g_test_add("/commit/recover-syncs-before-unlink", Fixture, NULL, fixture_setup,
	           test_recover_syncs_first, fixture_teardown);
	g_test_add("/commit/recover-leaves-locked-tf", Fixture, NULL, fixture_setup,
	           test_recover_locked_tf, fixture_teardown);
	g_test_add("/commit/journal/torn-journal-is-not-a-commit", Fixture, NULL, fixture_setup,
	           test_torn_journal, fixture_teardown);
	g_test_add("/commit/journal/names-the-file-not-only-the-id", Fixture, NULL, fixture_setup,
	           test_journal_names_the_file, fixture_teardown);
	g_test_add("/commit/journal/durable-before-the-qf-removed-after-the-unlinks", Fixture, NULL,
	           fixture_setup, test_journal_order, fixture_teardown);
	g_test_add("/commit/journal/qf-locked-at-recovery-is-held-not-committed-twice", Fixture,
	           NULL, fixture_setup, test_locked_qf_at_recovery, fixture_teardown);
	g_test_add("/commit/journal/qf-that-cannot-be-opened-keeps-the-journal", Fixture, NULL,
	           fixture_setup, test_recover_open_error, fixture_teardown);
	g_test_add("/commit/journal/failed-unwrite-holds-the-batch-until-the-next-pass", Fixture,
	           NULL, fixture_setup, test_unwrite_fails, fixture_teardown);
	g_test_add("/commit/journal/journal-that-cannot-be-opened-fails-recovery", Fixture, NULL,
	           fixture_setup, test_journal_open_error, fixture_teardown);
	g_test_add("/commit/move-aside-syncs-parent", Fixture, NULL, fixture_setup,
	           test_move_aside_syncs_parent, fixture_teardown);
	return g_test_run();
}
