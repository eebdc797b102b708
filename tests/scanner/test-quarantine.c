/*
 * test-quarantine.c - what the quarantine shows of a message is escaped: a
 * subject with a terminal escape, a file name with a newline, a tab that
 * would add a column to "quarantine list"; and the log line of the same
 * names stays one line
 */
#include "mqsift-build.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/commit.h"
#include "queue/fault.h"
#include "queue/qf.h"
#include "config/config.h"
#include "scanner/log.h"
#include "scanner/quarantine.h"
#include "scanner/scan.h"

/* the subject as a hostile sender writes it: a title change, then a new "line" */
#define EVIL_SUBJECT "\x1b]0;pwned\x07 hi\rFAKE LINE"

/* assert_terminal_safe - no control byte but LF (and TAB where @tabs) */
static void
assert_terminal_safe(const char *s, gboolean tabs)
{
	g_assert_true(g_utf8_validate(s, -1, NULL));
	for (const char *p = s; *p; p++)
		if ((guchar)*p < 0x20 || (guchar)*p == 0x7F)
			g_assert_true(*p == '\n' || (tabs && *p == '\t'));
}

/* new_report - an infected message: one part with a hostile name */
static void
new_report(ScanReport *rep)
{
	Finding *f = g_new0(Finding, 1);

	memset(rep, 0, sizeof *rep);
	rep->verdict = VERDICT_INFECTED;
	rep->findings = g_ptr_array_new_with_free_func(scan_finding_free);
	rep->names = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(rep->names, g_strdup("Evil.Sig\nverdict: clean"));
	f->path = g_strdup("2");
	f->filename = g_strdup("invoice\nFAKE LINE\xe2\x80\xaegpj.exe");
	f->content_type = g_strdup("application/octet-stream");
	f->what = g_strdup("Evil.Sig");
	f->infected = TRUE;
	f->saved_name = g_strdup("part-1.bin");
	g_ptr_array_add(rep->findings, f);
}

/* test_info_list_show - the info file, the list line and show are all escaped */
static void
test_info_list_show(void)
{
	g_autofree char *dir = g_dir_make_tmp("mqsift-quarantine-XXXXXX", NULL);
	MqConfig *c = config_defaults();
	g_free(c->quarantine_dir);
	c->quarantine_dir = g_strdup(dir);
	const char *qftext = "V8\nT1\nS<eve\x1b[2J@example.net>\nRPFD:<bob@example.org>\n"
	                     "HSubject: " EVIL_SUBJECT "\nHX-Tab: a\n\tb\n.\n";
	Qf *qf = qf_parse(qftext, strlen(qftext), NULL);
	g_assert_nonnull(qf);
	const char *message = "Subject: " EVIL_SUBJECT "\nX-Bidi: a\xe2\x80\xae"
	                      "b\n\nbody\n";
	ScanReport rep;
	new_report(&rep);
	g_autofree char *ref = quarantine_ref("6AOQ0000000001");
	GError *error = NULL;

	g_assert_true(quarantine_store(c, ref, qf, message, strlen(message), &rep, &error));
	g_assert_no_error(error);

	/* the info file: every line is a key mqsift wrote, no control byte */
	g_autofree char *infop = g_build_filename(dir, ref, "info", NULL);
	g_autofree char *info = NULL;
	g_assert_true(g_file_get_contents(infop, &info, NULL, NULL));
	assert_terminal_safe(info, FALSE);
	g_auto(GStrv) lines = g_strsplit(info, "\n", -1);
	static const char *const keys[] = {"reference: ", "received: ", "sender: ", "recipient: ",
	                                   "subject: ",   "verdict: ",  "status: ", "part: "};
	for (int i = 0; lines[i] && *lines[i]; i++) {
		gboolean known = FALSE;
		for (gsize k = 0; k < G_N_ELEMENTS(keys); k++)
			known = known || g_str_has_prefix(lines[i], keys[k]);
		if (!known)
			g_error("forged line in the info file: \"%s\"", lines[i]);
	}
	g_assert_nonnull(strstr(info, "subject: \\x1b]0;pwned\\x07 hi\\rFAKE LINE\n"));
	g_assert_nonnull(strstr(info, "invoice\\nFAKE LINE<U+202E>gpj.exe"));
	g_assert_nonnull(strstr(info, "verdict: infected\n"));

	/* quarantine list: a header, then one entry, one line, six tab-separated fields */
	GString *out = g_string_new(NULL);
	g_assert_cmpint(quarantine_list(c, NULL, out, &error), ==, 1);
	g_assert_no_error(error);
	assert_terminal_safe(out->str, TRUE);
	guint tabs = 0, newlines = 0;
	for (const char *p = out->str; *p; p++) {
		tabs += *p == '\t';
		newlines += *p == '\n';
	}
	g_assert_cmpuint(newlines, ==, 2);
	g_assert_cmpuint(tabs, ==, 10);

	/* quarantine show: info and the original headers, without their escapes */
	g_string_truncate(out, 0);
	g_assert_true(quarantine_show(c, ref, out, &error));
	g_assert_no_error(error);
	assert_terminal_safe(out->str, TRUE);
	g_assert_nonnull(strstr(out->str, "X-Bidi: a<U+202E>b\n"));
	g_assert_null(strstr(out->str, "\nFAKE LINE"));
	g_string_free(out, TRUE);

	/* an info file left by an older version, raw bytes and all, is escaped when shown */
	g_assert_true(g_file_set_contents(infop, "subject: \x1b[2Jraw\tcolumn\n", -1, NULL));
	out = g_string_new(NULL);
	g_assert_cmpint(quarantine_list(c, NULL, out, &error), ==, 1);
	assert_terminal_safe(out->str, TRUE);
	g_assert_nonnull(strstr(out->str, "\\x1b[2Jraw\\tcolumn"));
	g_string_free(out, TRUE);

	scan_report_clear(&rep);
	qf_free(&qf);
	config_free(&c);
	/* the test's own tree: remove it */
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_assert_cmpint(system(cmd), ==, 0);
}

/* test_log_one_line - a name with a newline cannot forge a second log line */
static void
test_log_one_line(void)
{
	if (g_test_subprocess()) {
		log_init(TRUE, FALSE, FALSE);
		g_message("6AOQ0000000001: part 2 invoice\nmqsift: 6AOQ0000000002: verdict=clean "
		          "\x1b]0;pwned\x07 \xe2\x80\xae");
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
	g_test_trap_assert_stderr("mqsift: 6AOQ0000000001: part 2 invoice\\nmqsift: "
	                          "6AOQ0000000002: verdict=clean \\x1b]0;pwned\\x07 <U+202E>\n");
}

/*
 * test_day_dir_durable - a new day directory's name is fsync'ed into the
 * quarantine directory before the entry counts as stored (issue #14.3)
 */
static void
test_day_dir_durable(void)
{
	g_autofree char *dir = g_dir_make_tmp("mqsift-quarantine-XXXXXX", NULL);
	MqConfig *c = config_defaults();
	g_free(c->quarantine_dir);
	c->quarantine_dir = g_strdup(dir);
	const char *qftext = "V8\nT1\nS<a@example.net>\nRPFD:<b@example.org>\nHSubject: x\n.\n";
	Qf *qf = qf_parse(qftext, strlen(qftext), NULL);
	ScanReport rep;
	new_report(&rep);
	g_autofree char *ref = quarantine_ref("6AOQ0000000002");
	g_autofree char *day = g_path_get_dirname(ref);
	g_autofree char *mkdir_day = g_strdup_printf("mkdir %s/%s", dir, day);
	g_autofree char *sync_top = g_strdup_printf("sync-dir %s", dir);
	GPtrArray *log = g_ptr_array_new_with_free_func(g_free);
	GError *error = NULL;
	int made = -1, synced = -1;

	fault_trace_start(log);
	g_assert_true(quarantine_store(c, ref, qf, "Subject: x\n\nbody\n", 18, &rep, &error));
	fault_trace_start(NULL);
	g_assert_no_error(error);
	for (guint i = 0; i < log->len; i++) {
		const char *op = g_ptr_array_index(log, i);
		if (made < 0 && strcmp(op, mkdir_day) == 0)
			made = (int)i;
		if (synced < 0 && strcmp(op, sync_top) == 0)
			synced = (int)i;
	}
	g_assert_cmpint(made, >=, 0);
	g_assert_cmpint(synced, >, made);
	g_ptr_array_unref(log);
	scan_report_clear(&rep);
	qf_free(&qf);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_assert_cmpint(system(cmd), ==, 0);
	config_free(&c);
}

/*
 * test_store_refuses_bad_ref_with_error - a reference that could lead out of
 * the quarantine is refused with @error set, as every failure of
 * quarantine_store is: its callers print error->message (before: FALSE
 * with no error, after a g_return_val_if_fail critical)
 */
static void
test_store_refuses_bad_ref_with_error(void)
{
	g_autofree char *dir = g_dir_make_tmp("mqsift-quarantine-XXXXXX", NULL);
	MqConfig *c = config_defaults();
	g_free(c->quarantine_dir);
	c->quarantine_dir = g_strdup(dir);
	const char *qftext = "V8\nT1\nS<a@example.net>\nRPFD:<b@example.org>\nHSubject: x\n.\n";
	g_autoptr(Qf) qf = qf_parse(qftext, strlen(qftext), NULL);
	ScanReport rep;
	new_report(&rep);
	static const char *const bad[] = {"../../etc/6AOQ0000000003", "20261124/../../x",
	                                  "not-a-ref"};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_assert_false(
		    quarantine_store(c, bad[i], qf, "Subject: x\n\nbody\n", 17, &rep, &error));
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	}
	scan_report_clear(&rep);
	g_assert_cmpint(g_rmdir(dir), ==, 0); /* nothing was written */
	config_free(&c);
}

/* count_qf - control files in @dir */
static guint
count_qf(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *n;
	guint c = 0;

	while (d && (n = g_dir_read_name(d)) != NULL)
		c += g_str_has_prefix(n, "qf");
	if (d)
		g_dir_close(d);
	return c;
}

/*
 * test_release_once - a release is recorded; a second one is refused unless
 * asked again; --to replaces the recipients; a bare queue ID names the
 * entry (issue #14.5)
 */
static void
test_release_once(void)
{
	g_autofree char *top = g_dir_make_tmp("mqsift-release-XXXXXX", NULL);
	g_autofree char *outd = g_build_filename(top, "out", NULL);
	MqConfig *c = config_defaults();
	g_free(c->quarantine_dir);
	c->quarantine_dir = g_build_filename(top, "quarantine", NULL);
	g_assert_cmpint(g_mkdir(outd, 0700), ==, 0);
	const char *qftext = "V8\nT1\nS<a@example.net>\nQrfc822;b@example.org\n"
	                     "RPNSF:<b@example.org>\nHSubject: x\n.\n";
	Qf *qf = qf_parse(qftext, strlen(qftext), NULL);
	ScanReport rep;
	new_report(&rep);
	const char *id = "6AOQ0000000003";
	g_autofree char *ref = quarantine_ref(id);
	GError *error = NULL;
	g_assert_true(quarantine_store(c, ref, qf, "Subject: x\n\nbody\n", 17, &rep, &error));
	QueueDir *out = qdir_open(outd, QUEUE_LOCK_FLOCK, &error);
	g_assert_no_error(error);

	/* a bare queue ID, or a reference; anything else is refused */
	g_autofree char *r1 = quarantine_resolve(c, id, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(r1, ==, ref);
	g_assert_null(quarantine_resolve(c, "6AOQ0000000099", &error));
	g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
	g_clear_error(&error);
	g_assert_null(quarantine_resolve(c, "../etc", &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);

	g_assert_null(quarantine_released(c, ref));
	g_autofree char *first = quarantine_release(c, out, ref, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(first);
	g_autofree char *hist = quarantine_released(c, ref);
	g_assert_nonnull(strstr(hist, first));
	g_assert_nonnull(strstr(hist, "<b@example.org>"));
	GString *list = g_string_new(NULL);
	g_assert_cmpint(quarantine_list(c, NULL, list, &error), ==, 1);
	g_assert_nonnull(strstr(list->str, "\tinfected (released as "));
	g_string_free(list, TRUE);

	/* twice: refused, nothing queued */
	g_assert_null(quarantine_release(c, out, ref, NULL, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
	g_assert_nonnull(strstr(error->message, "--again"));
	g_clear_error(&error);
	g_assert_cmpuint(count_qf(outd), ==, 1);

	/* --again --to: a second copy, to someone else only */
	const char *const to[] = {"postmaster@example.org", NULL};
	QuarantineRelease how = {to, TRUE};
	g_autofree char *second = quarantine_release(c, out, ref, &how, &error);
	g_assert_no_error(error);
	g_assert_nonnull(second);
	g_assert_cmpuint(count_qf(outd), ==, 2);
	g_autofree char *qfp = qdir_file(out, "qf", second);
	g_autofree char *text = NULL;
	g_assert_true(g_file_get_contents(qfp, &text, NULL, NULL));
	g_assert_nonnull(strstr(text, "\nRPFD:<postmaster@example.org>\n"));
	g_assert_null(strstr(text, "b@example.org>"));
	g_assert_null(strstr(text, "Qrfc822;b@example.org"));
	list = g_string_new(NULL);
	g_assert_cmpint(quarantine_list(c, NULL, list, &error), ==, 1);
	g_assert_nonnull(strstr(list->str, "\tinfected (released 2 times, last as "));
	g_string_free(list, TRUE);

	/* --to takes addresses only */
	const char *const bad[] = {"a@b>\nRPFD:<evil@x", NULL};
	QuarantineRelease badhow = {bad, TRUE};
	g_assert_null(quarantine_release(c, out, ref, &badhow, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);

	qdir_free(&out);
	scan_report_clear(&rep);
	qf_free(&qf);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", top);
	g_assert_cmpint(system(cmd), ==, 0);
	config_free(&c);
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/quarantine/info-list-and-show-are-escaped", test_info_list_show);
	g_test_add_func("/quarantine/name-with-newline-cannot-forge-a-log-line", test_log_one_line);
	g_test_add_func("/quarantine/day-dir-is-durable", test_day_dir_durable);
	g_test_add_func("/quarantine/release-happens-once", test_release_once);
	g_test_add_func("/quarantine/store-refuses-a-bad-reference-with-an-error",
	                test_store_refuses_bad_ref_with_error);
	return g_test_run();
}
