/*
 * test-report-escape.c - strings from messages in the store, the digest and
 * the reports: escaped when written, checked again when read back (rows from
 * older versions), HTML-escaped in the HTML page
 */
#include "mqsift-build.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report.h"
#include "reports/store.h"

#define EVIL_SUBJECT "\x1b]0;pwned\x07\nFAKE LINE"
#define EVIL_RULE "banned <script>alert(1)</script> \xe2\x80\xae\xff"

/* assert_terminal_safe - valid UTF-8, no control byte but LF */
static void
assert_terminal_safe(const char *s)
{
	g_assert_true(g_utf8_validate(s, -1, NULL));
	for (const char *p = s; *p; p++)
		if ((guchar)*p < 0x20 || (guchar)*p == 0x7F)
			g_assert_cmpint(*p, ==, '\n');
	g_assert_null(strstr(s, "\xe2\x80\xae"));
	g_assert_null(strstr(s, "\nFAKE LINE"));
}

/* column_text - the first column of the first row of @sql */
static char *
column_text(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char *v = NULL;

	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &st, NULL), ==, SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = g_strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* test_store_digest_report - what a hostile message leaves in every output */
static void
test_store_digest_report(void)
{
	g_autofree char *dir = g_dir_make_tmp("mqsift-report-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "mqsift.db", NULL);
	GError *error = NULL;
	Store *store = store_open(path, &error);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	StoreFinding f = {"2", "a\nb\x1b[2J.exe", "application/x-\x07", "Evil.Sig", TRUE};
	StoreRow r = {.queue_id = "6AOQ0000000001",
	              .received = now,
	              .sender = "<eve\r\n@example.net>",
	              .recipients = "<bob@example.org>",
	              .subject = EVIL_SUBJECT,
	              .size = 10,
	              .status = "blocked",
	              .detail = EVIL_RULE,
	              .action = "parts removed, quarantined",
	              .quarantine = "20261124/6AOQ0000000001",
	              .ms = 1,
	              .findings = &f,
	              .n_findings = 1};

	g_assert_no_error(error);
	g_assert_true(store_add(store, &r, &error));
	g_assert_no_error(error);

	/* stored escaped */
	g_autofree char *subj = column_text(path, "SELECT subject FROM messages");
	g_assert_cmpstr(subj, ==, "\\x1b]0;pwned\\x07\\nFAKE LINE");
	g_autofree char *sender = column_text(path, "SELECT sender FROM messages");
	g_assert_cmpstr(sender, ==, "<eve\\r\\n@example.net>");
	g_autofree char *fname = column_text(path, "SELECT filename FROM findings");
	g_assert_cmpstr(fname, ==, "a\\nb\\x1b[2J.exe");
	g_autofree char *ctype = column_text(path, "SELECT content_type FROM findings");
	g_assert_cmpstr(ctype, ==, "application/x-\\x07");

	/* a row an older version wrote raw is escaped when read back */
	char *raw = sqlite3_mprintf("INSERT INTO messages (queue_id, received, sender, recipients, "
	                            "subject, size, status, detail, action, quarantine, ms) VALUES "
	                            "('6AOQ0000000002', %lld, '<old@example.net>', '<b@x>', %Q, 1, "
	                            "'blocked', %Q, 'x', '20261124/6AOQ0000000002', 1)",
	                            (long long)now, EVIL_SUBJECT, EVIL_RULE);
	sqlite3 *db;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db, raw, NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);
	sqlite3_free(raw);

	ReportData *d = report_collect(store, now - 60, now + 60, &error);
	g_assert_no_error(error);
	g_autofree char *digest = report_digest_text(d);
	g_autofree char *text = report_text(d);
	g_autofree char *html = report_html(d, "mx<1>.example.org");
	assert_terminal_safe(digest);
	assert_terminal_safe(text);
	assert_terminal_safe(html);
	g_assert_nonnull(strstr(digest, "Subject:   \\x1b]0;pwned\\x07\\nFAKE LINE\n"));
	g_assert_nonnull(strstr(digest, "Caught messages:"));
	/* HTML: every text from the store (and the host name) HTML-escaped */
	g_assert_null(strstr(html, "<script>"));
	g_assert_nonnull(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	g_assert_nonnull(strstr(html, "mx&lt;1&gt;.example.org"));
	g_assert_nonnull(strstr(html, "&lt;U+202E&gt;"));
	report_free(&d);
	store_close(&store);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_assert_cmpint(system(cmd), ==, 0);
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/report/hostile-message-is-escaped-in-store-digest-and-report",
	                test_store_digest_report);
	return g_test_run();
}
