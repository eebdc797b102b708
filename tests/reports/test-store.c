/*
 * test-store.c - the SQLite store: schema, migration from version 1, readers
 * while the master writes, a locked database that never holds up mail
 */
#include "mqsift-build.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "reports/report.h"
#include "reports/store.h"

/* tmp_db - a path for a fresh database */
static char *
tmp_db(void)
{
	g_autofree char *dir = g_dir_make_tmp("mqsift-store-XXXXXX", NULL);
	return g_build_filename(dir, "sub", "mqsift.db", NULL);
}

/* count - SELECT count(*) ... */
static int
count(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;

	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &st, NULL), ==, SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* row - a test row */
static StoreRow
row(const char *id, const char *status, const char *detail, gint64 when)
{
	StoreRow r = {.queue_id = id,
	              .received = when,
	              .sender = "<a@example.org>",
	              .recipients = "<b@example.com>",
	              .subject = "s",
	              .size = 100,
	              .status = status,
	              .detail = detail,
	              .action = "delivered",
	              .ms = 3};
	return r;
}

/* test_schema - a new store is at the current version, WAL, with every table */
static void
test_schema(void)
{
	g_autofree char *path = tmp_db();
	GError *error = NULL;
	Store *s = store_open(path, &error);

	g_assert_no_error(error);
	StoreRow r = row("6AOQ1", "clean", NULL, g_get_real_time() / G_USEC_PER_SEC);
	g_assert_true(store_add(s, &r, &error));
	/* a spam-checked row (schema 5) */
	StoreRow sr = row("6AOQS", "clean", NULL, g_get_real_time() / G_USEC_PER_SEC);
	sr.spam = "high";
	sr.spam_score = 1000.5;
	sr.spam_tests = "GTUBE,NO_RELAYS";
	sr.spam_dnsbl = "bl.test";
	g_assert_true(store_add(s, &sr, &error));
	g_assert_cmpuint(store_attempt_bump(s, "6AOQ2", 1), ==, 1);
	g_assert_cmpuint(store_attempt_bump(s, "6AOQ2", 2), ==, 2);
	gint64 last = 0;
	g_assert_cmpuint(store_attempt_get(s, "6AOQ2", &last), ==, 2);
	g_assert_cmpint(last, ==, 2);
	store_attempt_clear(s, "6AOQ2");
	g_assert_cmpuint(store_attempt_get(s, "6AOQ2", NULL), ==, 0);
	store_close(&s);
	g_assert_cmpint(count(path, "SELECT value FROM meta WHERE key='schema_version'"), ==,
	                STORE_SCHEMA_VERSION);
	g_assert_cmpint(count(path, "SELECT count(*) FROM messages"), ==, 2);
	g_assert_cmpint(count(path, "SELECT count(*) FROM messages WHERE spam = 'high' AND "
	                            "spam_score = 1000.5 AND spam_tests = 'GTUBE,NO_RELAYS' AND "
	                            "spam_dnsbl = 'bl.test'"),
	                ==, 1);
	g_assert_cmpint(count(path, "SELECT count(*) FROM messages WHERE queue_id = '6AOQ1' AND "
	                            "spam IS NULL AND spam_score IS NULL"),
	                ==, 1);
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
	sqlite3_step(st);
	g_assert_cmpstr((const char *)sqlite3_column_text(st, 0), ==, "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* test_migration - a version-1 database keeps its rows and gains what 2 adds */
static void
test_migration(void)
{
	g_autofree char *path = tmp_db();
	g_autofree char *dir = g_path_get_dirname(path);
	sqlite3 *db;
	GError *error = NULL;

	g_mkdir_with_parents(dir, 0700);
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(
	    sqlite3_exec(db,
	                 "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
	                 "INSERT INTO meta VALUES ('schema_version', '1');"
	                 "CREATE TABLE messages (id INTEGER PRIMARY KEY, queue_id TEXT NOT NULL, "
	                 "received INTEGER NOT NULL, sender TEXT NOT NULL, recipients TEXT NOT "
	                 "NULL, subject TEXT, size INTEGER NOT NULL, status TEXT NOT NULL, detail "
	                 "TEXT, action TEXT NOT NULL, quarantine TEXT, ms INTEGER NOT NULL);"
	                 "CREATE TABLE findings (message INTEGER, path TEXT, filename TEXT, "
	                 "content_type TEXT, what TEXT, infected INTEGER);"
	                 "INSERT INTO messages VALUES (1, 'OLD1', 1700000000, '<a@b>', '<c@d>', "
	                 "'old', 10, 'infected', 'X.Old', 'quarantined', NULL, 5);",
	                 NULL, NULL, NULL),
	    ==, SQLITE_OK);
	sqlite3_close(db);
	Store *s = store_open(path, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(store_attempt_bump(s, "NEW1", 1), ==, 1); /* the table v2 adds */
	/* and the one v4 adds: releases from the quarantine */
	g_assert_cmpuint(store_release_count(s, "20261124/OLD1"), ==, 0);
	g_assert_true(store_release_add(s, "20261124/OLD1", "6AOQNEW0000001", 1800000000, "<c@d>",
	                                FALSE, &error));
	g_assert_true(store_release_add(s, "20261124/OLD1", "6AOQNEW0000002", 1800000001,
	                                "other@example.org", TRUE, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(store_release_count(s, "20261124/OLD1"), ==, 2);
	store_close(&s);
	g_assert_cmpint(count(path, "SELECT value FROM meta WHERE key='schema_version'"), ==,
	                STORE_SCHEMA_VERSION);
	/* v3: the queue depth samples, read back oldest first */
	s = store_open(path, &error);
	g_assert_no_error(error);
	store_sample_add(s, 200, 3, 1);
	store_sample_add(s, 100, 5, 0);
	g_autoptr(GArray) samples = store_samples_between(s, 0, 1000, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(samples->len, ==, 2);
	g_assert_cmpint(g_array_index(samples, QueueSample, 0).t, ==, 100);
	g_assert_cmpuint(g_array_index(samples, QueueSample, 0).inbound, ==, 5);
	g_assert_cmpuint(g_array_index(samples, QueueSample, 1).outbound, ==, 1);
	store_close(&s);
	g_assert_cmpint(count(path, "SELECT count(*) FROM messages WHERE queue_id='OLD1'"), ==, 1);
	/* v5: the spam columns, NULL (not checked) for the old rows */
	g_assert_cmpint(count(path, "SELECT count(*) FROM messages WHERE spam IS NULL AND "
	                            "spam_score IS NULL AND spam_tests IS NULL AND "
	                            "spam_dnsbl IS NULL"),
	                ==, 1);
	/* a database from a newer mqsift is refused, not damaged */
	sqlite3_open(path, &db);
	sqlite3_exec(db, "UPDATE meta SET value='99' WHERE key='schema_version'", NULL, NULL, NULL);
	sqlite3_close(db);
	g_assert_null(store_open(path, &error));
	g_assert_nonnull(strstr(error->message, "newer"));
	g_clear_error(&error);
}

/* test_unknown_schema_version - a schema version below 1 is refused, not indexed */
static void
test_unknown_schema_version(void)
{
	g_autofree char *path = tmp_db();
	g_autofree char *dir = g_path_get_dirname(path);
	g_autoptr(GError) error = NULL;
	sqlite3 *db;

	g_mkdir_with_parents(dir, 0700);
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db,
	                             "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
	                             "INSERT INTO meta VALUES ('schema_version', 'zero');",
	                             NULL, NULL, NULL),
	                ==, SQLITE_OK);
	sqlite3_close(db);
	g_assert_null(store_open(path, &error));
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "unknown schema version"));
}

/* test_readers_and_locks - readers do not block the master; a locked database delays rows */
static void
test_readers_and_locks(void)
{
	g_autofree char *path = tmp_db();
	GError *error = NULL;
	Store *s = store_open(path, &error);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	sqlite3 *reader, *writer;

	g_assert_no_error(error);
	/* a report reading in a long transaction */
	sqlite3_open(path, &reader);
	sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM messages;", NULL, NULL, NULL);
	StoreRow r1 = row("R1", "clean", NULL, now);
	g_assert_true(store_add(s, &r1, &error));
	sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(reader);
	/* another writer holds the write lock: the row waits in memory, mail goes on */
	sqlite3_open(path, &writer);
	g_assert_cmpint(sqlite3_exec(writer, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);
	StoreRow r2 = row("R2", "infected", "X.Y", now);
	gint64 t0 = g_get_monotonic_time();
	g_assert_false(store_add(s, &r2, &error));
	g_assert_cmpint(g_get_monotonic_time() - t0, <, G_USEC_PER_SEC); /* bounded wait */
	g_clear_error(&error);
	g_assert_cmpuint(store_pending_retries(s), ==, 1);
	sqlite3_exec(writer, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(writer);
	store_begin(s);
	store_commit(s);
	g_assert_cmpuint(store_pending_retries(s), ==, 0);
	g_assert_cmpint(count(path, "SELECT count(*) FROM messages WHERE queue_id='R2'"), ==, 1);
	/* bounded growth */
	StoreRow old = row("OLD", "clean", NULL, now - 100 * 86400);
	g_assert_true(store_add(s, &old, &error));
	g_assert_cmpint(store_prune(s, 90), >=, 1);
	g_assert_cmpint(count(path, "SELECT count(*) FROM messages WHERE queue_id='OLD'"), ==, 0);
	store_close(&s);
}

/* test_report_numbers - the digest and the report count what the store holds */
static void
test_report_numbers(void)
{
	g_autofree char *path = tmp_db();
	GError *error = NULL;
	Store *s = store_open(path, &error);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	for (int i = 0; i < 7; i++) {
		g_autofree char *id = g_strdup_printf("C%d", i);
		StoreRow r = row(id, "clean", NULL, now - 60 * i);
		store_add(s, &r, NULL);
	}
	StoreRow v1 = row("V1", "infected", "Sig.A, Sig.B", now - 30);
	v1.quarantine = "20261124/V1";
	StoreRow v2 = row("V2", "infected", "Sig.A", now - 20);
	StoreRow b1 = row("B1", "blocked", "banned file name x.exe", now - 10);
	store_add(s, &v1, NULL);
	store_add(s, &v2, NULL);
	store_add(s, &b1, NULL);
	ReportData *d = report_collect(s, now - 3600, now + 1, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(report_caught_count(d), ==, 3);
	g_autofree char *digest = report_digest_text(d);
	g_assert_nonnull(strstr(digest, "Messages: 10 (clean 7, infected 2, blocked 1, errors 0)"));
	g_assert_nonnull(strstr(digest, "       2  Sig.A\n"));
	g_assert_nonnull(strstr(digest, "       1  Sig.B\n"));
	g_assert_nonnull(strstr(digest, "Release:   mqsift quarantine release 20261124/V1"));
	g_assert_null(strstr(digest, "C3"));
	g_autofree char *text = report_text(d);
	g_assert_nonnull(strstr(text, "Messages:  10"));
	g_assert_nonnull(strstr(text, "Infected:  2"));
	g_assert_true(report_collect_graphs(d, s, &error));
	g_assert_no_error(error);
	g_autofree char *html = report_html(d, "mx.test");
	g_assert_nonnull(strstr(html, "<td id=\"total\">10</td>"));
	g_assert_nonnull(strstr(html, "<svg id=\"traffic-day\""));
	g_assert_null(strstr(html, "http://") == html ? NULL : strstr(html, "src=\"http"));
	report_free(&d);
	store_close(&s);
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/store/new-store-is-current-wal-with-every-table", test_schema);
	g_test_add_func("/store/version-1-keeps-its-rows-and-gains-version-2", test_migration);
	g_test_add_func("/store/unknown-schema-version-is-an-error", test_unknown_schema_version);
	g_test_add_func("/store/readers-do-not-block-and-locks-delay-rows", test_readers_and_locks);
	g_test_add_func("/store/digest-and-report-count-what-the-store-holds", test_report_numbers);
	return g_test_run();
}
