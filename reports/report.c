/*
 * report.c - digests and reports from the SQLite store
 *
 * DESCRIPTION
 *	Texts come from store_messages_between(), which escapes them again
 *	(rows written by older versions were not escaped): the digest, the
 *	text report and the HTML page never carry a control, a bidi or an
 *	invisible character from a message, and the HTML page escapes every
 *	text for HTML on top of that.
 */
#include "mqsift-build.h"

#include "reports/report.h"

#include <gio/gio.h>
#include <math.h>
#include <string.h>

struct ReportData {
	gint64 since, until;
	GArray *rows; /* of StoredMessage, oldest first */
};

/* report_collect - read a period */
ReportData *
report_collect(Store *store, gint64 since, gint64 until, GError **error)
{
	GArray *rows = store_messages_between(store, since, until, error);

	if (rows == NULL)
		return NULL;
	ReportData *d = g_new0(ReportData, 1);
	d->since = since;
	d->until = until;
	d->rows = rows;
	return d;
}

/* report_free - free and clear */
void
report_free(ReportData **data)
{
	if (data == NULL || *data == NULL)
		return;
	g_array_unref((*data)->rows);
	g_free(*data);
	*data = NULL;
}

/* is_caught - infected or blocked */
static gboolean
is_caught(const StoredMessage *r)
{
	return strcmp(r->status, "infected") == 0 || strcmp(r->status, "blocked") == 0;
}

/* report_caught_count - how many were caught */
guint
report_caught_count(const ReportData *d)
{
	guint n = 0;

	for (guint i = 0; i < d->rows->len; i++)
		n += is_caught(&g_array_index(d->rows, StoredMessage, i));
	return n;
}

/* report_format_time - UTC time text */
char *
report_format_time(gint64 t)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);

	return dt ? g_date_time_format(dt, "%Y-%m-%d %H:%M") : g_strdup("?");
}

typedef struct {
	const char *key;
	guint count;
} Count;

/* count_cmp - most first, then by name */
static gint
count_cmp(gconstpointer a, gconstpointer b)
{
	const Count *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* sorted_counts - a hash of key -> count as a sorted array */
static GArray *
sorted_counts(GHashTable *h)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(Count));
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, h);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		Count c = {k, GPOINTER_TO_UINT(v)};
		g_array_append_val(a, c);
	}
	g_array_sort(a, count_cmp);
	return a;
}

/* bump - count one more of @key (the table owns its keys) */
static void
bump(GHashTable *h, const char *key)
{
	gpointer v = g_hash_table_lookup(h, key);

	g_hash_table_replace(h, g_strdup(key), GUINT_TO_POINTER(GPOINTER_TO_UINT(v) + 1));
}

/* sender_domain - the domain of "<user@dom>", or "(none)" */
static char *
sender_domain(const char *sender)
{
	const char *at = strrchr(sender, '@');
	if (at == NULL)
		return g_strdup(*sender && strcmp(sender, "<>") != 0 ? sender : "(none)");
	char *d = g_ascii_strdown(at + 1, -1);
	gsize n = strlen(d);
	if (n > 0 && d[n - 1] == '>')
		d[n - 1] = '\0';
	return d;
}

/* tally - counts by status, signature, rule, sender domain */
typedef struct {
	guint total, clean, infected, blocked, error;
	gint64 bytes;
	GHashTable *signatures, *rules, *domains;
	/* spam (issue #16) */
	guint spam_checked, spam_yes, spam_high, spam_unchecked, spam_scored, spam_quarantined;
	double spam_score_sum;
	GHashTable *spam_zones;
} Tally;

/* is_spam - the spam check said spam */
static gboolean
is_spam(const StoredMessage *r)
{
	return strcmp(r->spam, "yes") == 0 || strcmp(r->spam, "high") == 0;
}

/* tally_init - count what @d holds */
static void
tally_init(Tally *t, const ReportData *d)
{
	memset(t, 0, sizeof *t);
	t->signatures = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	t->rules = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	t->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	t->spam_zones = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint i = 0; i < d->rows->len; i++) {
		const StoredMessage *r = &g_array_index(d->rows, StoredMessage, i);
		if (*r->spam) {
			t->spam_checked++;
			t->spam_yes += strcmp(r->spam, "yes") == 0;
			t->spam_high += strcmp(r->spam, "high") == 0;
			t->spam_unchecked += strcmp(r->spam, "unchecked") == 0;
			t->spam_quarantined += is_spam(r) && *r->quarantine && !is_caught(r);
			if (!isnan(r->spam_score)) {
				t->spam_scored++;
				t->spam_score_sum += r->spam_score;
			}
			g_auto(GStrv) zones = g_strsplit(r->spam_dnsbl, " ", -1);
			for (int k = 0; zones[k]; k++)
				if (*zones[k])
					bump(t->spam_zones, zones[k]);
		}
		t->total++;
		t->bytes += r->size;
		if (strcmp(r->status, "clean") == 0)
			t->clean++;
		else if (strcmp(r->status, "infected") == 0)
			t->infected++;
		else if (strcmp(r->status, "blocked") == 0)
			t->blocked++;
		else
			t->error++;
		if (strcmp(r->status, "infected") == 0) {
			g_auto(GStrv) names = g_strsplit(r->detail, ", ", -1);
			for (int k = 0; names[k]; k++)
				if (*names[k])
					bump(t->signatures, names[k]);
		} else if (strcmp(r->status, "blocked") == 0) {
			bump(t->rules, r->detail);
		}
		if (is_caught(r)) {
			g_autofree char *dom = sender_domain(r->sender);
			bump(t->domains, dom);
		}
	}
}

/* tally_clear - free */
static void
tally_clear(Tally *t)
{
	g_hash_table_destroy(t->signatures);
	g_hash_table_destroy(t->rules);
	g_hash_table_destroy(t->domains);
	g_hash_table_destroy(t->spam_zones);
}

/* append_spam - the spam totals */
static void
append_spam(GString *out, const Tally *t)
{
	g_string_append_printf(out,
	                       "Spam:      %u checked: %u spam, %u high-scoring, %u unchecked "
	                       "(spamd unavailable), %u quarantined",
	                       t->spam_checked, t->spam_yes, t->spam_high, t->spam_unchecked,
	                       t->spam_quarantined);
	if (t->spam_scored > 0)
		g_string_append_printf(out, "; mean score %.1f",
		                       t->spam_score_sum / (double)t->spam_scored);
	g_string_append(out, "\n\n");
}

/* append_counts - "  N  key" lines */
static void
append_counts(GString *out, const char *title, GHashTable *h, guint max)
{
	GArray *a = sorted_counts(h);

	g_string_append_printf(out, "%s:\n", title);
	if (a->len == 0)
		g_string_append(out, "  (none)\n");
	for (guint i = 0; i < a->len && i < max; i++) {
		const Count *c = &g_array_index(a, Count, i);
		g_string_append_printf(out, "  %6u  %s\n", c->count, c->key);
	}
	g_string_append_c(out, '\n');
	g_array_free(a, TRUE);
}

/* report_digest_text - totals, what was caught, each with its release command */
char *
report_digest_text(const ReportData *d)
{
	Tally t;
	GString *out = g_string_new(NULL);

	tally_init(&t, d);
	g_string_append_printf(out,
	                       "Messages: %u (clean %u, infected %u, blocked %u, errors %u)\n\n",
	                       t.total, t.clean, t.infected, t.blocked, t.error);
	append_counts(out, "Caught, by signature", t.signatures, 50);
	append_counts(out, "Blocked, by rule", t.rules, 50);
	append_counts(out, "Caught, by sender domain", t.domains, 50);
	append_spam(out, &t);
	append_counts(out, "Spam, by blocklist", t.spam_zones, 50);
	g_string_append(out, "Caught messages:\n");
	guint n = 0;
	for (guint i = 0; i < d->rows->len; i++) {
		const StoredMessage *r = &g_array_index(d->rows, StoredMessage, i);
		if (!is_caught(r))
			continue;
		g_autofree char *when = report_format_time(r->received);
		g_string_append_printf(
		    out,
		    "\n  %s  %s\n  Sender:    %s\n  Recipient: %s\n  Subject:   %s\n"
		    "  Report:    %s %s\n",
		    when, r->queue_id, r->sender, r->recipients, r->subject, r->status, r->detail);
		if (*r->quarantine)
			g_string_append_printf(out, "  Release:   mqsift quarantine release %s\n",
			                       r->quarantine);
		n++;
	}
	if (n == 0)
		g_string_append(out, "  (none)\n");
	g_string_append(out, "\nQuarantined spam:\n");
	n = 0;
	for (guint i = 0; i < d->rows->len; i++) {
		const StoredMessage *r = &g_array_index(d->rows, StoredMessage, i);
		if (is_caught(r) || !is_spam(r) || !*r->quarantine)
			continue;
		g_autofree char *when = report_format_time(r->received);
		g_string_append_printf(out,
		                       "\n  %s  %s\n  Sender:    %s\n  Recipient: %s\n"
		                       "  Subject:   %s\n  Spam:      %s",
		                       when, r->queue_id, r->sender, r->recipients, r->subject,
		                       r->spam);
		if (!isnan(r->spam_score))
			g_string_append_printf(out, ", score %.1f", r->spam_score);
		if (*r->spam_dnsbl)
			g_string_append_printf(out, ", listed in %s", r->spam_dnsbl);
		g_string_append_printf(out, "\n  Release:   mqsift quarantine release %s\n",
		                       r->quarantine);
		n++;
	}
	if (n == 0)
		g_string_append(out, "  (none)\n");
	tally_clear(&t);
	return g_string_free(out, FALSE);
}

/* ms_cmp - sort gint64 */
static gint
ms_cmp(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
	return x < y ? -1 : x > y;
}

/* percentiles - p50, p90, p99 of processing times */
static void
percentiles(const ReportData *d, gint64 *p50, gint64 *p90, gint64 *p99)
{
	GArray *ms = g_array_new(FALSE, FALSE, sizeof(gint64));

	for (guint i = 0; i < d->rows->len; i++)
		g_array_append_val(ms, g_array_index(d->rows, StoredMessage, i).ms);
	g_array_sort(ms, ms_cmp);
	*p50 = *p90 = *p99 = 0;
	if (ms->len > 0) {
		*p50 = g_array_index(ms, gint64, (ms->len - 1) * 50 / 100);
		*p90 = g_array_index(ms, gint64, (ms->len - 1) * 90 / 100);
		*p99 = g_array_index(ms, gint64, (ms->len - 1) * 99 / 100);
	}
	g_array_free(ms, TRUE);
}

typedef struct {
	gint64 start;
	guint total, caught;
} Bucket;

/* buckets - per hour (periods up to 48 h) or per day */
static GArray *
buckets(const ReportData *d, gint64 *width)
{
	GArray *b = g_array_new(FALSE, TRUE, sizeof(Bucket));
	*width = d->until - d->since <= 48 * 3600 ? 3600 : 86400;
	gint64 first = d->since - d->since % *width;

	for (gint64 s = first; s < d->until && b->len < 1000; s += *width) {
		Bucket k = {s, 0, 0};
		g_array_append_val(b, k);
	}
	for (guint i = 0; i < d->rows->len; i++) {
		const StoredMessage *r = &g_array_index(d->rows, StoredMessage, i);
		gint64 idx = (r->received - first) / *width;
		if (idx >= 0 && idx < (gint64)b->len) {
			Bucket *k = &g_array_index(b, Bucket, idx);
			k->total++;
			k->caught += is_caught(r);
		}
	}
	return b;
}

/* report_text - statistics for people */
char *
report_text(const ReportData *d)
{
	Tally t;
	GString *out = g_string_new(NULL);
	gint64 p50, p90, p99, width;
	g_autofree char *from = report_format_time(d->since);
	g_autofree char *to = report_format_time(d->until);

	tally_init(&t, d);
	percentiles(d, &p50, &p90, &p99);
	g_string_append_printf(out, "mqsift report, %s to %s (UTC)\n\n", from, to);
	g_string_append_printf(out, "Messages:  %u (%.1f MB)\n", t.total, (double)t.bytes / 1e6);
	g_string_append_printf(out,
	                       "Clean:     %u\nInfected:  %u\nBlocked:   %u\nErrors:    %u\n\n",
	                       t.clean, t.infected, t.blocked, t.error);
	append_spam(out, &t);
	g_string_append_printf(out,
	                       "Processing time: p50 %" G_GINT64_FORMAT " ms, p90 %" G_GINT64_FORMAT
	                       " ms, p99 %" G_GINT64_FORMAT " ms\n\n",
	                       p50, p90, p99);
	append_counts(out, "Top signatures", t.signatures, 10);
	append_counts(out, "Top blocking rules", t.rules, 10);
	append_counts(out, "Top blocklists", t.spam_zones, 10);
	GArray *b = buckets(d, &width);
	g_string_append_printf(out, "Per %s:            total  caught\n",
	                       width == 3600 ? "hour" : "day");
	for (guint i = 0; i < b->len; i++) {
		const Bucket *k = &g_array_index(b, Bucket, i);
		if (k->total == 0)
			continue;
		g_autofree char *when = report_format_time(k->start);
		g_string_append_printf(out, "  %s  %6u  %6u\n", when, k->total, k->caught);
	}
	g_array_free(b, TRUE);
	tally_clear(&t);
	return g_string_free(out, FALSE);
}

/* html_text - append @s escaped for HTML */
static void
html_text(GString *out, const char *s)
{
	g_autofree char *e = g_markup_escape_text(s, -1);
	g_string_append(out, e);
}

/* svg_bars - a horizontal bar chart of counts */
static void
svg_bars(GString *out, const char *id, GHashTable *h, guint max)
{
	GArray *a = sorted_counts(h);
	guint n = MIN(a->len, max), top = a->len ? g_array_index(a, Count, 0).count : 1;
	guint height = 24 * MAX(n, 1) + 8;

	g_string_append_printf(out,
	                       "<svg id=\"%s\" class=\"chart\" width=\"640\" height=\"%u\" "
	                       "xmlns=\"http://www.w3.org/2000/svg\">\n",
	                       id, height);
	if (n == 0)
		g_string_append(out, "<text x=\"4\" y=\"20\">none</text>\n");
	for (guint i = 0; i < n; i++) {
		const Count *c = &g_array_index(a, Count, i);
		guint w = 300 * c->count / MAX(top, 1u);
		g_string_append_printf(out,
		                       "<rect x=\"320\" y=\"%u\" width=\"%u\" height=\"18\" "
		                       "fill=\"#c0392b\"><title>%u</title></rect><text x=\"4\" "
		                       "y=\"%u\" font-size=\"12\">",
		                       4 + 24 * i, MAX(w, 1u), c->count, 17 + 24 * i);
		html_text(out, c->key);
		g_string_append_printf(out,
		                       "</text><text x=\"%u\" y=\"%u\" font-size=\"12\" "
		                       "class=\"value\">%u</text>\n",
		                       326 + w, 17 + 24 * i, c->count);
	}
	g_string_append(out, "</svg>\n");
	g_array_free(a, TRUE);
}

/* report_html - one page, charts in inline SVG */
char *
report_html(const ReportData *d, const char *hostname)
{
	Tally t;
	GString *out = g_string_new(NULL);
	gint64 p50, p90, p99, width;
	g_autofree char *from = report_format_time(d->since);
	g_autofree char *to = report_format_time(d->until);

	tally_init(&t, d);
	percentiles(d, &p50, &p90, &p99);
	g_string_append(out,
	                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	                "<title>mqsift report</title>\n<style>body{font-family:sans-serif;"
	                "margin:2em;max-width:60em}table{border-collapse:collapse}td,th{padding:"
	                "2px 10px;text-align:right}th{text-align:left}.chart{display:block;"
	                "margin:1em 0}</style></head><body>\n");
	g_string_append(out, "<h1>mqsift report: ");
	html_text(out, hostname);
	g_string_append_printf(out, "</h1>\n<p>%s to %s (UTC)</p>\n", from, to);
	g_string_append_printf(
	    out,
	    "<table id=\"totals\"><tr><th>Messages</th><td id=\"total\">%u</td></tr>"
	    "<tr><th>Megabytes</th><td>%.1f</td></tr><tr><th>Clean</th><td "
	    "id=\"clean\">%u</td></tr><tr><th>Infected</th><td id=\"infected\">%u</td>"
	    "</tr><tr><th>Blocked</th><td id=\"blocked\">%u</td></tr><tr><th>Errors"
	    "</th><td id=\"errors\">%u</td></tr><tr><th>Spam checked</th><td "
	    "id=\"spam_checked\">%u</td></tr><tr><th>Spam</th><td id=\"spam\">%u</td></tr>"
	    "<tr><th>High-scoring spam</th><td id=\"spam_high\">%u</td></tr></table>\n",
	    t.total, (double)t.bytes / 1e6, t.clean, t.infected, t.blocked, t.error, t.spam_checked,
	    t.spam_yes, t.spam_high);
	/* traffic over time: stacked columns, caught in red */
	GArray *b = buckets(d, &width);
	guint peak = 1;
	for (guint i = 0; i < b->len; i++)
		peak = MAX(peak, g_array_index(b, Bucket, i).total);
	guint bw = MAX(2u, 600 / MAX(b->len, 1u));
	g_string_append_printf(
	    out,
	    "<h2>Traffic per %s</h2>\n<svg id=\"traffic\" class=\"chart\" "
	    "width=\"%u\" height=\"220\" xmlns=\"http://www.w3.org/2000/svg\">\n",
	    width == 3600 ? "hour" : "day", bw * MAX(b->len, 1u) + 40);
	for (guint i = 0; i < b->len; i++) {
		const Bucket *k = &g_array_index(b, Bucket, i);
		guint h = 180 * k->total / peak, hc = 180 * k->caught / peak;
		g_autofree char *when = report_format_time(k->start);
		g_string_append_printf(
		    out,
		    "<rect class=\"bar\" x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" "
		    "fill=\"#2980b9\"><title>%s: %u messages, %u caught</title>"
		    "</rect>",
		    20 + i * bw, 200 - h, bw - 1, h, when, k->total, k->caught);
		if (hc > 0)
			g_string_append_printf(out,
			                       "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" "
			                       "fill=\"#c0392b\"/>",
			                       20 + i * bw, 200 - hc, bw - 1, hc);
		g_string_append_c(out, '\n');
	}
	g_string_append(out, "<line x1=\"20\" y1=\"200\" x2=\"620\" y2=\"200\" stroke=\"#333\"/>"
	                     "</svg>\n");
	g_array_free(b, TRUE);
	g_string_append(out, "<h2>Top signatures</h2>\n");
	svg_bars(out, "signatures", t.signatures, 10);
	g_string_append(out, "<h2>Top blocking rules</h2>\n");
	svg_bars(out, "rules", t.rules, 10);
	/* latency percentiles */
	gint64 lmax = MAX(p99, 1);
	g_string_append(out, "<h2>Processing time</h2>\n<svg id=\"latency\" class=\"chart\" "
	                     "width=\"640\" height=\"80\" xmlns=\"http://www.w3.org/2000/svg\">\n");
	const char *labels[] = {"p50", "p90", "p99"};
	gint64 vals[] = {p50, p90, p99};
	for (int i = 0; i < 3; i++)
		g_string_append_printf(
		    out,
		    "<text x=\"4\" y=\"%d\" font-size=\"12\">%s</text><rect x=\"50\" "
		    "y=\"%d\" width=\"%" G_GINT64_FORMAT "\" height=\"16\" "
		    "fill=\"#27ae60\"/><text x=\"%" G_GINT64_FORMAT "\" y=\"%d\" "
		    "font-size=\"12\" class=\"value\">%" G_GINT64_FORMAT " ms</text>\n",
		    16 + 24 * i, labels[i], 4 + 24 * i, MAX(500 * vals[i] / lmax, 1),
		    56 + 500 * vals[i] / lmax, 16 + 24 * i, vals[i]);
	g_string_append(out, "</svg>\n</body></html>\n");
	tally_clear(&t);
	return g_string_free(out, FALSE);
}
