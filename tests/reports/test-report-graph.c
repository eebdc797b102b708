/*
 * test-report-graph.c - the report's graphs: the store counts each verdict in
 * its time bucket over a year, keeps the deepest queue sample of each bucket,
 * and the HTML page draws every chart and escapes what messages said
 */
#include "mqsift-build.h"

#include <gio/gio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report.h"
#include "reports/store.h"

#define DAY 86400
/* 2025-01-01 00:00 UTC */
#define T0 1735689600

/* Fixture - a fresh store in a temporary directory */
typedef struct {
	char *dir;
	Store *store;
} Fixture;

/* fixture_set_up - open the store */
static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	GError *error = NULL;

	(void)data;
	f->dir = g_dir_make_tmp("mqsift-graph-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(f->dir, "mqsift.db", NULL);
	f->store = store_open(path, &error);
	g_assert_no_error(error);
}

/* fixture_tear_down - close and remove */
static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	(void)data;
	store_close(&f->store);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(f->dir);
}

/* add - one message */
static void
add(Store *s, gint64 when, const char *status, const char *spam, const char *detail,
    const char *quarantine)
{
	GError *error = NULL;
	StoreRow r = {.queue_id = "6AOQ0000000001",
	              .received = when,
	              .sender = "<a@example.org>",
	              .recipients = "<b@example.com>",
	              .subject = "s",
	              .size = 100,
	              .status = status,
	              .detail = detail,
	              .action = "delivered",
	              .quarantine = quarantine,
	              .ms = 3,
	              .spam = spam,
	              .spam_score = spam ? 6.5 : NAN};

	g_assert_true(store_add(s, &r, &error));
	g_assert_no_error(error);
}

/* fill_year - every day of 2025: 4 clean, 2 spam, 2 infected, 1 blocked, 1 error */
static void
fill_year(Store *s)
{
	store_begin(s);
	for (int d = 0; d < 365; d++) {
		gint64 t = T0 + (gint64)d * DAY;
		add(s, t, "clean", NULL, NULL, NULL);        /* 00:00, the bucket's first second */
		add(s, t + 3600, "clean", "no", NULL, NULL); /* checked, not spam */
		add(s, t + 7200, "clean", "unchecked", NULL, NULL);
		add(s, t + 7300, "clean", NULL, NULL, NULL);
		add(s, t + 10800, "clean", "yes", NULL, "q/1");  /* spam */
		add(s, t + 14400, "clean", "high", NULL, "q/2"); /* spam */
		add(s, t + 18000, "infected", NULL, "Eicar", "q/3");
		add(s, t + 21600, "infected", "yes", "Eicar", "q/4"); /* infected, not spam */
		add(s, t + 43200, "blocked", NULL, "exe", "q/5");
		add(s, t + DAY - 1, "error", NULL, "limits", NULL); /* 23:59:59, the last second */
	}
	store_commit(s);
}

/* test_buckets_count_each_verdict - a year per day, one day per hour and per 5 minutes */
static void
test_buckets_count_each_verdict(Fixture *f, gconstpointer data)
{
	GError *error = NULL;

	(void)data;
	fill_year(f->store);
	g_autoptr(GArray) year = store_traffic(f->store, T0, T0 + 365 * DAY, DAY, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(year->len, ==, 365);
	for (guint i = 0; i < year->len; i++) {
		const StoreTraffic *b = &g_array_index(year, StoreTraffic, i);
		g_assert_cmpint(b->start, ==, T0 + (gint64)i * DAY);
		g_assert_cmpuint(b->clean, ==, 4);
		g_assert_cmpuint(b->spam, ==, 2);
		g_assert_cmpuint(b->infected, ==, 2);
		g_assert_cmpuint(b->blocked, ==, 1);
		g_assert_cmpuint(b->error, ==, 1);
	}
	/* one day per hour: each message in the hour it was received */
	gint64 day = T0 + 100 * DAY;
	g_autoptr(GArray) hours = store_traffic(f->store, day, day + DAY, 3600, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(hours->len, ==, 24);
	const StoreTraffic *h = (const StoreTraffic *)hours->data;
	g_assert_cmpuint(h[0].clean, ==, 1);
	g_assert_cmpuint(h[1].clean, ==, 1);
	g_assert_cmpuint(h[2].clean, ==, 2);
	g_assert_cmpuint(h[3].spam, ==, 1);
	g_assert_cmpuint(h[4].spam, ==, 1);
	g_assert_cmpuint(h[5].infected, ==, 1);
	g_assert_cmpuint(h[6].infected, ==, 1);
	g_assert_cmpuint(h[6].spam, ==, 0);
	g_assert_cmpuint(h[12].blocked, ==, 1);
	g_assert_cmpuint(h[23].error, ==, 1);
	g_assert_cmpuint(h[7].clean + h[7].spam + h[7].infected + h[7].blocked + h[7].error, ==, 0);
	/* per 5 minutes, and a span that does not start on a day */
	g_autoptr(GArray) fine = store_traffic(f->store, day + 7200, day + 7500, 300, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(fine->len, ==, 1);
	g_assert_cmpuint(g_array_index(fine, StoreTraffic, 0).clean, ==, 2);
	/* nothing outside the year */
	g_autoptr(GArray) before = store_traffic(f->store, T0 - 10 * DAY, T0, DAY, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(before->len, ==, 10);
	for (guint i = 0; i < before->len; i++)
		g_assert_cmpuint(g_array_index(before, StoreTraffic, i).clean, ==, 0);
}

/* test_too_many_buckets_is_an_error - a bucket width that would make millions of rows */
static void
test_too_many_buckets_is_an_error(Fixture *f, gconstpointer data)
{
	GError *error = NULL;

	(void)data;
	g_autoptr(GArray) a = store_traffic(f->store, T0, T0 + 365 * DAY, 1, &error);
	g_assert_null(a);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	g_error_free(error);
}

/* test_queue_depths_keep_the_deepest - the largest sample per bucket, gaps stay gaps */
static void
test_queue_depths_keep_the_deepest(Fixture *f, gconstpointer data)
{
	GError *error = NULL;

	(void)data;
	for (int m = 0; m < 60; m++) /* one sample a minute for the first hour */
		store_sample_add(f->store, T0 + m * 60, (guint)m, (guint)(60 - m));
	store_sample_add(f->store, T0 + 3 * 3600, 7, 8);
	g_autoptr(GArray) a = store_queue_depths(f->store, T0, T0 + 4 * 3600, 3600, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(a->len, ==, 4);
	const StoreQueueDepth *q = (const StoreQueueDepth *)a->data;
	g_assert_true(q[0].sampled);
	g_assert_cmpuint(q[0].inbound, ==, 59);
	g_assert_cmpuint(q[0].outbound, ==, 60);
	g_assert_false(q[1].sampled);
	g_assert_false(q[2].sampled);
	g_assert_true(q[3].sampled);
	g_assert_cmpuint(q[3].inbound, ==, 7);
	g_assert_cmpuint(q[3].outbound, ==, 8);
}

/* count_of - occurrences of @needle in @s */
static guint
count_of(const char *s, const char *needle)
{
	guint n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

#define EVIL_SUBJECT "<img src=x onerror=alert(1)> & \"quotes\""
#define EVIL_SENDER "<\"<script>alert(2)</script>\"@evil.example>"
#define EVIL_SIGNATURE                 \
	"Sig.<b>bold</b>.\xe2\x80\xae" \
	"exe"

/* test_page_escapes_and_draws_every_chart - a hostile message in the caught table and charts */
static void
test_page_escapes_and_draws_every_chart(Fixture *f, gconstpointer data)
{
	GError *error = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	(void)data;
	StoreRow r = {.queue_id = "6AOQ0000000009",
	              .received = now - 60,
	              .sender = EVIL_SENDER,
	              .recipients = "<victim@target.example>, <x@y>",
	              .subject = EVIL_SUBJECT,
	              .size = 10,
	              .status = "infected",
	              .detail = EVIL_SIGNATURE,
	              .action = "quarantined",
	              .quarantine = "20250101/6AOQ0000000009",
	              .ms = 12};
	g_assert_true(store_add(f->store, &r, &error));
	add(f->store, now - 120, "clean", "yes", NULL, "20250101/6AOQ0000000010");
	add(f->store, now - 180, "clean", NULL, NULL, NULL);
	add(f->store, now - 240, "blocked", NULL, "banned <name>", NULL);
	store_sample_add(f->store, now - 300, 3, 4);
	g_autoptr(ReportData) d = report_collect(f->store, now - 7 * DAY, now + 1, &error);
	g_assert_no_error(error);
	g_assert_true(report_collect_graphs(d, f->store, &error));
	g_assert_no_error(error);
	g_autofree char *html = report_html(d, "mx.test");

	/* no markup from the message reaches the page */
	g_assert_null(strstr(html, "<img"));
	g_assert_null(strstr(html, "<script"));
	g_assert_null(strstr(html, "<b>bold"));
	g_assert_null(strstr(html, "\xe2\x80\xae"));
	g_assert_nonnull(
	    strstr(html, "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;"));
	g_assert_nonnull(strstr(html, "&lt;script&gt;alert(2)&lt;/script&gt;"));
	g_assert_nonnull(strstr(html, "Sig.&lt;b&gt;bold&lt;/b&gt;.&lt;U+202E&gt;exe"));
	/* the caught table: infected, blocked, quarantined spam; clean is not there */
	g_assert_cmpuint(count_of(html, "<tr class=\"caught-row\">"), ==, 3);
	g_assert_nonnull(
	    strstr(html, "<code>mqsift quarantine release 20250101/6AOQ0000000009</code>"));
	g_assert_nonnull(strstr(html, "<code>mqsift quarantine release 20250101/6AOQ0000000010"));
	/* every chart, with spam as its own series, a legend, axes, the full width */
	const char *ids[] = {"traffic-day", "traffic-week", "traffic-month",  "traffic-year",
	                     "queues-day",  "queues-week",  "queues-month",   "queues-year",
	                     "signatures",  "rules",        "sender-domains", "recipient-domains",
	                     "latency"};
	for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
		g_autofree char *tag = g_strdup_printf("<svg id=\"%s\"", ids[i]);
		g_assert_nonnull(strstr(html, tag));
	}
	g_assert_cmpuint(count_of(html, "data-verdict=\"spam\""), ==, 4);
	g_assert_cmpuint(count_of(html, "<g class=\"legend\">"), ==, 8);
	g_assert_cmpuint(count_of(html, "width=\"100%\""), ==, 13);
	g_assert_nonnull(strstr(html, "class=\"xlabel\""));
	g_assert_nonnull(strstr(html, "class=\"ylabel\""));
	g_assert_nonnull(strstr(html, "target.example"));
	g_assert_null(strstr(html, "<script"));
}

/* test_long_label_is_cut_with_title - a long signature name does not run over its bar */
static void
test_long_label_is_cut_with_title(Fixture *f, gconstpointer data)
{
	GError *error = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autoptr(GString) name = g_string_new("Long.");

	(void)data;
	for (int i = 0; i < 100; i++)
		g_string_append(name, "\xe6\xbc\xa2"); /* a wide character */
	add(f->store, now - 10, "infected", NULL, name->str, "q/1");
	g_autoptr(ReportData) d = report_collect(f->store, now - DAY, now + 1, &error);
	g_assert_no_error(error);
	g_autofree char *html = report_html(d, "mx.test");
	g_autofree char *cut = g_strdup_printf(">%.*s", 5 + 3 * 19, name->str);
	g_autofree char *whole = g_strdup_printf("<title>%s</title>", name->str);
	g_assert_nonnull(strstr(html, cut));
	g_assert_nonnull(strstr(html, "\xe2\x80\xa6<title>"));
	g_assert_nonnull(strstr(html, whole));
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
	ADD("/report/graph/buckets-count-each-verdict", test_buckets_count_each_verdict);
	ADD("/report/graph/too-many-buckets-is-an-error", test_too_many_buckets_is_an_error);
	ADD("/report/graph/queue-depths-keep-the-deepest", test_queue_depths_keep_the_deepest);
	ADD("/report/graph/page-escapes-and-draws-every-chart",
	    test_page_escapes_and_draws_every_chart);
	ADD("/report/graph/long-label-is-cut-with-title", test_long_label_is_cut_with_title);
	return g_test_run();
}
