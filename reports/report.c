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

/* Span - one time span of the graphs, the store's buckets for it */
typedef enum { SPAN_DAY, SPAN_WEEK, SPAN_MONTH, SPAN_YEAR, N_SPANS } SpanKind;

typedef struct {
	const char *id, *title;
	gint64 seconds, width; /* the span, one bucket */
} Span;

static const Span spans[N_SPANS] = {
    {"day", "Last 24 hours, per 5 minutes", 86400, 300},
    {"week", "Last 7 days, per hour", 7 * 86400, 3600},
    {"month", "Last 30 days, per day", 30 * 86400, 86400},
    {"year", "Last 365 days, per day", 365 * 86400, 86400},
};

struct ReportData {
	gint64 since, until;
	GArray *rows; /* of StoredMessage, oldest first */
	/* the graphs (report_collect_graphs), NULL until then */
	GArray *traffic[N_SPANS]; /* of StoreTraffic */
	GArray *depths[N_SPANS];  /* of StoreQueueDepth */
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

/* report_collect_graphs - the buckets of each span that ends with the bucket holding @until */
gboolean
report_collect_graphs(ReportData *d, Store *store, GError **error)
{
	for (int k = 0; k < N_SPANS; k++) {
		const Span *sp = &spans[k];
		gint64 end = d->until - 1 - (d->until - 1) % sp->width + sp->width;
		gint64 first = end - sp->seconds;

		d->traffic[k] = store_traffic(store, first, end, sp->width, error);
		if (d->traffic[k] == NULL)
			return FALSE;
		d->depths[k] = store_queue_depths(store, first, end, sp->width, error);
		if (d->depths[k] == NULL)
			return FALSE;
	}
	return TRUE;
}

/* report_free - free and clear */
void
report_free(ReportData **data)
{
	if (data == NULL || *data == NULL)
		return;
	g_array_unref((*data)->rows);
	for (int k = 0; k < N_SPANS; k++) {
		if ((*data)->traffic[k])
			g_array_unref((*data)->traffic[k]);
		if ((*data)->depths[k])
			g_array_unref((*data)->depths[k]);
	}
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

/* the width of the text of a chart, in viewBox units (12px sans-serif) */
#define CHAR_W 7.0
#define WIDE_CHAR_W 12.0

/* text_width - a generous estimate of how wide @s shows */
static double
text_width(const char *s)
{
	double w = 0;

	for (const char *p = s; *p; p = g_utf8_next_char(p))
		w += (guchar)*p < 0x80 ? CHAR_W : WIDE_CHAR_W;
	return w;
}

/*
 * html_label - append @s escaped, cut with an ellipsis to show in @max_w
 * units; the whole text goes in a <title> beside it when cut
 */
static void
html_label(GString *out, const char *s, double max_w)
{
	double w = 0;
	const char *p;

	for (p = s; *p; p = g_utf8_next_char(p)) {
		w += (guchar)*p < 0x80 ? CHAR_W : WIDE_CHAR_W;
		if (w > max_w - WIDE_CHAR_W)
			break;
	}
	if (*p == '\0' || text_width(s) <= max_w) {
		html_text(out, s);
		return;
	}
	g_autofree char *head = g_strndup(s, (gsize)(p - s));
	html_text(out, head);
	g_string_append(out, "\u2026<title>");
	html_text(out, s);
	g_string_append(out, "</title>");
}

/* format_value - a round axis value, short: 800, 2.5k, 12k, 1.2M */
static char *
format_value(double v)
{
	if (v >= 1e6)
		return g_strdup_printf("%.3gM", v / 1e6);
	if (v >= 1e3)
		return g_strdup_printf("%.3gk", v / 1e3);
	return g_strdup_printf("%.0f", v);
}

/* nice_step - the smallest 1, 2 or 5 times a power of ten not below @v (at least 1) */
static double
nice_step(double v)
{
	double p = 1;

	if (v <= 1)
		return 1;
	while (p * 10 < v)
		p *= 10;
	return v <= p ? p : v <= 2 * p ? 2 * p : v <= 5 * p ? 5 * p : 10 * p;
}

/* the verdicts, in the order they are stacked (caught ones on the base line) */
enum { V_INFECTED, V_BLOCKED, V_SPAM, V_ERROR, V_CLEAN, N_VERDICTS };
static const char *const verdict_names[N_VERDICTS] = {"infected", "blocked", "spam", "error",
                                                      "clean"};
static const char *const verdict_colours[N_VERDICTS] = {"#c0392b", "#e67e22", "#8e44ad", "#7f8c8d",
                                                        "#27ae60"};

/* verdict_count - the messages of verdict @v in @b */
static guint
verdict_count(const StoreTraffic *b, int v)
{
	switch (v) {
	case V_INFECTED: return b->infected;
	case V_BLOCKED: return b->blocked;
	case V_SPAM: return b->spam;
	case V_ERROR: return b->error;
	default: return b->clean;
	}
}

/* Plot - the frame of a time chart: viewBox size and the plotting area */
typedef struct {
	double w, h;        /* viewBox */
	double left, right; /* plotting area, x */
	double top, bottom; /* plotting area, y */
	guint n;            /* buckets */
	double ymax;        /* value at the top */
} Plot;

#define PLOT_W 1000.0

/* plot_x - x of the start of bucket @i */
static double
plot_x(const Plot *p, double i)
{
	return p->left + (p->right - p->left) * i / MAX(p->n, 1u);
}

/* plot_y - y of value @v */
static double
plot_y(const Plot *p, double v)
{
	return p->bottom - (p->bottom - p->top) * v / p->ymax;
}

/* tick_label - the x-axis label of a bucket starting at @t, NULL when none */
static char *
tick_label(SpanKind kind, gint64 t)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);

	if (dt == NULL)
		return NULL;
	switch (kind) {
	case SPAN_DAY: return t % 10800 == 0 ? g_date_time_format(dt, "%H:%M") : NULL;
	case SPAN_WEEK: return t % 86400 == 0 ? g_date_time_format(dt, "%a %d") : NULL;
	case SPAN_MONTH:
		return t % 86400 == 0 && g_date_time_get_day_of_week(dt) == 1
		           ? g_date_time_format(dt, "%d %b")
		           : NULL;
	default:
		if (t % 86400 != 0 || g_date_time_get_day_of_month(dt) != 1)
			return NULL;
		return g_date_time_format(dt, g_date_time_get_month(dt) == 1 ? "%b %Y" : "%b");
	}
}

/*
 * plot_open - the <svg> of a time chart of @n buckets from @first, its
 * y-axis (round values up to at least @peak, @unit beside) and x-axis
 * (ticks suited to @kind)
 */
static void
plot_open(GString *out, Plot *p, const char *id, double h, SpanKind kind, gint64 first, guint n,
          double peak, const char *unit)
{
	*p = (Plot){PLOT_W, h, 64, PLOT_W - 40, 26, h - 56, n, 1};
	double step = nice_step(peak / 4);
	double ticks = MAX(1, (double)(gint64)((peak + step - 1) / step));

	p->ymax = step * ticks;
	g_string_append_printf(
	    out,
	    "<svg id=\"%s\" class=\"chart\" viewBox=\"0 0 %g %g\" width=\"100%%\" "
	    "role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">\n",
	    id, p->w, p->h);
	g_string_append_printf(out, "<text class=\"unit\" x=\"%g\" y=\"14\">", p->left - 56);
	html_text(out, unit);
	g_string_append(out, "</text>\n<g class=\"yaxis\">");
	for (double k = 0; k <= ticks; k++) {
		double y = plot_y(p, k * step);
		g_autofree char *v = format_value(k * step);
		g_string_append_printf(out,
		                       "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" "
		                       "class=\"grid\"/><text class=\"ylabel\" x=\"%g\" y=\"%.1f\" "
		                       "text-anchor=\"end\">%s</text>",
		                       p->left, y, p->right, y, p->left - 6, y + 4, v);
	}
	g_string_append(out, "</g>\n<g class=\"xaxis\">");
	for (guint i = 0; i <= n; i++) {
		g_autofree char *label = tick_label(kind, first + (gint64)i * spans[kind].width);
		if (label == NULL)
			continue;
		double x = plot_x(p, i);
		g_string_append_printf(out,
		                       "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" "
		                       "class=\"grid\"/><text class=\"xlabel\" x=\"%.1f\" y=\"%g\" "
		                       "text-anchor=\"middle\">",
		                       x, p->top, x, p->bottom + 4, x, p->bottom + 18);
		html_text(out, label);
		g_string_append(out, "</text>");
	}
	g_string_append(out, "</g>\n");
}

/* plot_close - the axes' lines, a legend of @n entries, the end of the <svg> */
static void
plot_close(GString *out, const Plot *p, guint n, const char *const *names,
           const char *const *colours, const guint64 *totals)
{
	double x = p->left;

	g_string_append_printf(out,
	                       "<path class=\"axis\" d=\"M%g %g V%g H%g\" fill=\"none\" "
	                       "stroke=\"#333\"/>\n<g class=\"legend\">",
	                       p->left, p->top, p->bottom, p->right);
	for (guint i = 0; i < n; i++) {
		g_autofree char *text =
		    g_strdup_printf("%s (%" G_GUINT64_FORMAT ")", names[i], totals[i]);
		g_string_append_printf(
		    out,
		    "<g class=\"legend-item\"><rect x=\"%g\" y=\"%g\" width=\"12\" "
		    "height=\"12\" fill=\"%s\"/><text x=\"%g\" y=\"%g\">",
		    x, p->h - 22, colours[i], x + 16, p->h - 12);
		html_text(out, text);
		g_string_append(out, "</text></g>");
		x += 16 + text_width(text) + 20;
	}
	g_string_append(out, "</g>\n</svg>\n");
}

/* svg_traffic - stacked areas of the messages per bucket, one colour per verdict */
static void
svg_traffic(GString *out, SpanKind kind, const GArray *a)
{
	Plot p;
	guint64 totals[N_VERDICTS] = {0};
	gboolean shown[N_VERDICTS] = {FALSE};
	double peak = 0;
	const char *names[N_VERDICTS], *colours[N_VERDICTS];
	guint64 legend_totals[N_VERDICTS];
	guint n_legend = 0;
	gint64 first = a->len ? g_array_index(a, StoreTraffic, 0).start : 0;
	g_autofree char *id = g_strdup_printf("traffic-%s", spans[kind].id);
	g_autofree char *unit =
	    g_strdup_printf("messages per %s", spans[kind].width == 300    ? "5 minutes"
	                                       : spans[kind].width == 3600 ? "hour"
	                                                                   : "day");

	for (guint i = 0; i < a->len; i++) {
		const StoreTraffic *b = &g_array_index(a, StoreTraffic, i);
		double sum = 0;
		for (int v = 0; v < N_VERDICTS; v++) {
			totals[v] += verdict_count(b, v);
			sum += verdict_count(b, v);
		}
		peak = MAX(peak, sum);
	}
	/* spam has its own series once spam checks exist; the others always show */
	for (int v = 0; v < N_VERDICTS; v++) {
		shown[v] = v != V_SPAM || totals[v] > 0;
		if (shown[v]) {
			names[n_legend] = verdict_names[v];
			colours[n_legend] = verdict_colours[v];
			legend_totals[n_legend++] = totals[v];
		}
	}
	plot_open(out, &p, id, 260, kind, first, a->len, peak, unit);
	/* each verdict: its band from the one below to its own top, as steps */
	g_autofree double *below = g_new0(double, a->len + 1);
	for (int v = 0; v < N_VERDICTS; v++) {
		if (!shown[v] || totals[v] == 0)
			continue;
		GString *up = g_string_new(NULL), *down = g_string_new(NULL);
		for (guint i = 0; i < a->len; i++) {
			const StoreTraffic *b = &g_array_index(a, StoreTraffic, i);
			double lo = below[i], hi = lo + verdict_count(b, v);
			g_string_append_printf(up, "%s%.1f %.1f H%.1f", i ? " L" : "M",
			                       plot_x(&p, i), plot_y(&p, hi), plot_x(&p, i + 1));
			/* the lower edge, built backwards */
			g_autofree char *seg = g_strdup_printf(
			    " L%.1f %.1f H%.1f", plot_x(&p, i + 1), plot_y(&p, lo), plot_x(&p, i));
			g_string_prepend(down, seg);
			below[i] = hi;
		}
		g_string_append_printf(
		    out, "<path class=\"series\" data-verdict=\"%s\" fill=\"%s\" d=\"",
		    verdict_names[v], verdict_colours[v]);
		g_string_append_len(out, up->str, up->len);
		g_string_append_len(out, down->str, down->len);
		g_string_append(out, " Z\"/>\n");
		g_string_free(up, TRUE);
		g_string_free(down, TRUE);
	}
	plot_close(out, &p, n_legend, names, colours, legend_totals);
}

/* svg_queues - the deepest inbound and outbound queues per bucket, as lines */
static void
svg_queues(GString *out, SpanKind kind, const GArray *a)
{
	static const char *const names[] = {"inbound, highest", "outbound, highest"};
	static const char *const colours[] = {"#2980b9", "#d35400"};
	Plot p;
	double peak = 0;
	guint64 maxima[2] = {0, 0};
	gint64 first = a->len ? g_array_index(a, StoreQueueDepth, 0).start : 0;
	g_autofree char *id = g_strdup_printf("queues-%s", spans[kind].id);

	for (guint i = 0; i < a->len; i++) {
		const StoreQueueDepth *b = &g_array_index(a, StoreQueueDepth, i);
		maxima[0] = MAX(maxima[0], b->inbound);
		maxima[1] = MAX(maxima[1], b->outbound);
	}
	peak = (double)MAX(maxima[0], maxima[1]);
	plot_open(out, &p, id, 200, kind, first, a->len, peak,
	          "messages queued (the deepest sample of each bucket)");
	for (int q = 0; q < 2; q++) {
		g_string_append_printf(out,
		                       "<path class=\"series\" fill=\"none\" stroke=\"%s\" "
		                       "stroke-width=\"1.5\" d=\"",
		                       colours[q]);
		gboolean pen = FALSE;
		for (guint i = 0; i < a->len; i++) {
			const StoreQueueDepth *b = &g_array_index(a, StoreQueueDepth, i);
			if (!b->sampled) {
				pen = FALSE; /* no sample: a gap, not a zero */
				continue;
			}
			/* steps, so that a bucket with a sample between two without shows */
			g_string_append_printf(
			    out, "%s%.1f %.1f H%.1f", pen ? " L" : " M", plot_x(&p, i),
			    plot_y(&p, q == 0 ? b->inbound : b->outbound), plot_x(&p, i + 1));
			pen = TRUE;
		}
		g_string_append(out, "\"/>\n");
	}
	plot_close(out, &p, 2, names, colours, maxima);
}

#define BARS_W 600.0
#define BARS_LABEL_W 250.0
#define BARS_X 260.0
#define BARS_MAX_W 260.0

/* svg_bars - a horizontal bar chart of the @max largest counts */
static void
svg_bars(GString *out, const char *id, GHashTable *h, guint max)
{
	GArray *a = sorted_counts(h);
	guint n = MIN(a->len, max), top = a->len ? g_array_index(a, Count, 0).count : 1;
	guint height = 24 * MAX(n, 1) + 8;

	g_string_append_printf(out,
	                       "<svg id=\"%s\" class=\"chart bars\" viewBox=\"0 0 %g %u\" "
	                       "width=\"100%%\" xmlns=\"http://www.w3.org/2000/svg\">\n",
	                       id, BARS_W, height);
	if (n == 0)
		g_string_append(out, "<text class=\"label\" x=\"4\" y=\"20\">none</text>\n");
	for (guint i = 0; i < n; i++) {
		const Count *c = &g_array_index(a, Count, i);
		double w = MAX(1.0, BARS_MAX_W * c->count / MAX(top, 1u));
		g_string_append_printf(
		    out,
		    "<rect x=\"%g\" y=\"%u\" width=\"%.1f\" height=\"18\" "
		    "fill=\"#c0392b\"><title>%u</title></rect><text class=\"label\" "
		    "x=\"4\" y=\"%u\">",
		    BARS_X, 4 + 24 * i, w, c->count, 17 + 24 * i);
		html_label(out, c->key, BARS_LABEL_W);
		g_string_append_printf(
		    out, "</text><text x=\"%.1f\" y=\"%u\" class=\"value\">%u</text>\n",
		    BARS_X + w + 6, 17 + 24 * i, c->count);
	}
	g_string_append(out, "</svg>\n");
	g_array_free(a, TRUE);
}

/* svg_latency - the processing time percentiles as bars, as wide as the time charts */
static void
svg_latency(GString *out, const ReportData *d)
{
	gint64 p50, p90, p99;
	const char *labels[] = {"p50", "p90", "p99"};

	percentiles(d, &p50, &p90, &p99);
	gint64 vals[] = {p50, p90, p99};
	double lmax = (double)MAX(p99, 1);
	g_string_append_printf(out,
	                       "<svg id=\"latency\" class=\"chart bars\" viewBox=\"0 0 %g 80\" "
	                       "width=\"100%%\" xmlns=\"http://www.w3.org/2000/svg\">\n",
	                       PLOT_W);
	for (int i = 0; i < 3; i++) {
		double w = MAX(1.0, (PLOT_W - 200) * vals[i] / lmax);
		g_string_append_printf(
		    out,
		    "<text class=\"label\" x=\"4\" y=\"%d\">%s</text><rect x=\"64\" "
		    "y=\"%d\" width=\"%.1f\" height=\"16\" fill=\"#2980b9\"/><text "
		    "x=\"%.1f\" y=\"%d\" class=\"value\">%" G_GINT64_FORMAT " ms</text>\n",
		    16 + 24 * i, labels[i], 4 + 24 * i, w, 70 + w, 16 + 24 * i, vals[i]);
	}
	g_string_append(out, "</svg>\n");
}

/* is_listed - a message for the caught table: infected, blocked, or quarantined spam */
static gboolean
is_listed(const StoredMessage *r)
{
	return is_caught(r) || (is_spam(r) && *r->quarantine);
}

/* the most rows of the caught table */
#define CAUGHT_ROWS_MAX 1000

/* html_caught - the table of caught messages, newest first, each with its release command */
static void
html_caught(GString *out, const ReportData *d)
{
	guint shown = 0, listed = 0;

	g_string_append(out, "<table id=\"caught\"><thead><tr><th>Time (UTC)</th><th>Sender</th>"
	                     "<th>Recipients</th><th>Subject</th><th>Verdict</th>"
	                     "<th>Reference</th><th>Release</th></tr></thead><tbody>\n");
	for (guint i = d->rows->len; i-- > 0;) {
		const StoredMessage *r = &g_array_index(d->rows, StoredMessage, i);
		if (!is_listed(r))
			continue;
		if (++listed > CAUGHT_ROWS_MAX)
			continue;
		shown++;
		g_autofree char *when = report_format_time(r->received);
		g_string_append_printf(out, "<tr class=\"caught-row\"><td>%s</td><td>", when);
		html_text(out, r->sender);
		g_string_append(out, "</td><td>");
		html_text(out, r->recipients);
		g_string_append(out, "</td><td>");
		html_text(out, r->subject);
		g_string_append(out, "</td><td>");
		html_text(out, is_caught(r) ? r->status : "spam");
		if (*r->detail && is_caught(r)) {
			g_string_append(out, "<br><small>");
			html_text(out, r->detail);
			g_string_append(out, "</small>");
		}
		g_string_append(out, "</td><td>");
		html_text(out, *r->quarantine ? r->quarantine : r->queue_id);
		g_string_append(out, "</td><td>");
		if (*r->quarantine) {
			g_string_append(out, "<code>mqsift quarantine release ");
			html_text(out, r->quarantine);
			g_string_append(out, "</code>");
		} else {
			g_string_append(out, "not quarantined");
		}
		g_string_append(out, "</td></tr>\n");
	}
	g_string_append(out, "</tbody></table>\n");
	if (listed > shown)
		g_string_append_printf(out, "<p>%u more not shown (the newest %u are).</p>\n",
		                       listed - shown, shown);
	else if (listed == 0)
		g_string_append(out, "<p>None.</p>\n");
}

/* recipient_domains - count the domains of the recipients of caught messages */
static GHashTable *
recipient_domains(const ReportData *d)
{
	GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; i < d->rows->len; i++) {
		const StoredMessage *r = &g_array_index(d->rows, StoredMessage, i);
		if (!is_caught(r))
			continue;
		g_auto(GStrv) rcpts = g_strsplit(r->recipients, ",", 100);
		for (int k = 0; rcpts[k]; k++) {
			g_strstrip(rcpts[k]);
			if (*rcpts[k] == '\0')
				continue;
			g_autofree char *dom = sender_domain(rcpts[k]);
			bump(h, dom);
		}
	}
	return h;
}

static const char page_style[] =
    "body{font-family:sans-serif;margin:1em 2em;color:#222}"
    "h2{margin:1.2em 0 .3em;font-size:1.2em}h3{margin:.8em 0 .2em;font-size:1em}"
    "table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right}"
    "th{text-align:left}.chart{display:block;width:100%;height:auto;margin:.3em 0}"
    ".chart text{font:12px sans-serif;fill:#333}.chart .grid{stroke:#ddd}"
    ".pair{display:grid;grid-template-columns:1fr 1fr;gap:0 3em}"
    "#caught{width:100%;table-layout:fixed;font-size:.9em}"
    "#caught td,#caught th{text-align:left;vertical-align:top;overflow-wrap:anywhere;"
    "border-bottom:1px solid #ddd}#caught code{font-size:.9em}";

/* report_html - one page, charts in inline SVG */
char *
report_html(const ReportData *d, const char *hostname)
{
	Tally t;
	GString *out = g_string_new(NULL);
	g_autofree char *from = report_format_time(d->since);
	g_autofree char *to = report_format_time(d->until);

	tally_init(&t, d);
	g_string_append_printf(out,
	                       "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	                       "<meta name=\"viewport\" content=\"width=device-width\">\n"
	                       "<title>mqsift report</title>\n<style>%s</style></head><body>\n",
	                       page_style);
	g_string_append(out, "<h1>mqsift report: ");
	html_text(out, hostname);
	g_string_append(out, "</h1>\n");
	if (d->traffic[0] != NULL) {
		for (int k = 0; k < N_SPANS; k++) {
			g_string_append_printf(out, "<h2 id=\"span-%s\">%s (UTC)</h2>\n",
			                       spans[k].id, spans[k].title);
			svg_traffic(out, k, d->traffic[k]);
			svg_queues(out, k, d->depths[k]);
		}
	}
	g_string_append_printf(out, "<h2>From %s to %s (UTC)</h2>\n", from, to);
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
	GHashTable *rcpt_domains = recipient_domains(d);
	g_string_append(out, "<div class=\"pair\"><div><h3>Top signatures</h3>\n");
	svg_bars(out, "signatures", t.signatures, 10);
	g_string_append(out, "</div><div><h3>Top blocking rules</h3>\n");
	svg_bars(out, "rules", t.rules, 10);
	g_string_append(out, "</div><div><h3>Caught, by sender domain</h3>\n");
	svg_bars(out, "sender-domains", t.domains, 10);
	g_string_append(out, "</div><div><h3>Caught, by recipient domain</h3>\n");
	svg_bars(out, "recipient-domains", rcpt_domains, 10);
	g_string_append(out, "</div></div>\n<h3>Processing time</h3>\n");
	svg_latency(out, d);
	g_string_append(out, "<h2>Caught messages</h2>\n");
	html_caught(out, d);
	g_string_append(out, "</body></html>\n");
	g_hash_table_destroy(rcpt_domains);
	tally_clear(&t);
	return g_string_free(out, FALSE);
}
