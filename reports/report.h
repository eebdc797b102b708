/*
 * report.h - what the store says: digests and reports people want to read
 *
 * SUMMARY
 *	report_collect() reads the messages of a period from the store into a
 *	ReportData; the renderers turn it into the digest text (what was
 *	caught, by signature and by sender domain, each quarantined message
 *	with the command that releases it), the report text (totals, top
 *	signatures and rules, latency percentiles, per hour or per day) and a
 *	self-contained HTML page with inline SVG charts (no network fetches).
 */
#ifndef MQSIFT_REPORTS_REPORT_H
#define MQSIFT_REPORTS_REPORT_H

#include <glib.h>

#include "reports/store.h"

typedef struct ReportData ReportData;

/* report_collect - the rows of [@since, @until) (unix times); NULL with @error */
ReportData *report_collect(Store *store, gint64 since, gint64 until, GError **error);

/*
 * report_collect_graphs - add to @data the graphs of report_html(): the
 * messages by verdict and the queue depths of the last day (per 5 minutes),
 * week (per hour), month and year (per day) up to the end of the period,
 * counted by the store.  FALSE with @error.
 */
gboolean report_collect_graphs(ReportData *data, Store *store, GError **error);

/* report_free - free and clear */
void report_free(ReportData **data);

/* report_free_ptr - report_free() for g_autoptr(ReportData) */
static inline void
report_free_ptr(ReportData *p)
{
	report_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ReportData, report_free_ptr)

/* report_caught_count - infected + blocked messages */
guint report_caught_count(const ReportData *data);

/* report_digest_text - the digest body (see SUMMARY); newly allocated */
char *report_digest_text(const ReportData *data);

/* report_text - the statistics; newly allocated */
char *report_text(const ReportData *data);

/*
 * report_html - one self-contained page (no script, no fetch): the graphs when
 * report_collect_graphs() added them, then the period's totals, top lists,
 * processing time and caught messages.  Newly allocated.
 */
char *report_html(const ReportData *data, const char *hostname);

/* report_format_time - "YYYY-MM-DD HH:MM" (UTC) of a unix time; newly allocated */
char *report_format_time(gint64 t);

#endif
