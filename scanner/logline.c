/*
 * logline.c - the per-message log line, in sendmail's style
 *
 * DESCRIPTION
 *	Everything the line shows from a message (addresses, Message-ID, the
 *	client's name) goes through untrusted_line() here as well as through
 *	the log handler: one message, one line, whatever it carries.  Within
 *	that line a sender must not forge a field: a comma in an unquoted value
 *	is written \x2c (fields are joined by ", "), quoted values escape " and
 *	\, and each value is capped (the recipients as a whole too, with a
 *	count of those left out), so the line stays under the log's 8192 bytes
 *	and the verdict, the quarantine and the action are never cut off it.
 */
#include "mqsift-build.h"

#include "scanner/logline.h"

#include <string.h>

#include "rules/untrusted.h"

/* the most bytes of one value: an address, a Message-ID, a rule */
#define VALUE_MAX 256
#define QUOTED_MAX 512
/* the most bytes of to= and of signatures= */
#define LIST_MAX 2048

/* sendmail's WkClassFact and WkRecipFact defaults (conf.c) */
#define WK_CLASS_FACT 1800
#define WK_RECIP_FACT 30000

/* precedence_class - sendmail.cf's default Precedence classes (P lines) */
static gint64
precedence_class(const Qf *qf)
{
	g_autofree char *p = qf_header_get(qf, "Precedence");
	static const struct {
		const char *name;
		int class;
	} classes[] = {{"first-class", 0},
	               {"special-delivery", 100},
	               {"list", -30},
	               {"bulk", -60},
	               {"junk", -100}};

	if (p == NULL)
		return 0;
	g_strstrip(p);
	for (guint i = 0; i < G_N_ELEMENTS(classes); i++)
		if (g_ascii_strcasecmp(p, classes[i].name) == 0)
			return classes[i].class;
	return 0;
}

/* headers_size - the header block as the qf holds it, LF ends, plus the blank line */
static gint64
headers_size(const Qf *qf)
{
	g_autoptr(GString) h = qf_headers_text(qf);

	return (gint64)h->len + 1;
}

/* logline_size - e_msgsize from the P record, or headers + body */
gint64
logline_size(const Qf *qf, gint64 df_size)
{
	const QfRecord *p = qf_first(qf, 'P');
	g_autoptr(GPtrArray) rcpts = qf_recipients(qf);
	gint64 prio;
	char *end = NULL;

	if (p != NULL) {
		prio = g_ascii_strtoll(p->value, &end, 10);
		if (end != p->value && *end == '\0') {
			gint64 size = prio + precedence_class(qf) * WK_CLASS_FACT -
			              (gint64)rcpts->len * WK_RECIP_FACT;
			/* a queue run adds WkTimeFact: then P no longer tells */
			if (size >= df_size && size <= df_size + headers_size(qf) + 65536)
				return size;
		}
	}
	return df_size + headers_size(qf);
}

/* logline_action - one word */
const char *
logline_action(const ScanReport *report, Verdict verdict, gboolean committed)
{
	if (!committed || verdict == VERDICT_ERROR)
		return "left-in-queue";
	if (verdict == VERDICT_INFECTED || verdict == VERDICT_BLOCKED)
		return report->whole_message ? "replaced" : "parts-removed";
	if (report->unscanned)
		return "delivered-unscanned";
	if (report->limits)
		return "delivered-partly-scanned";
	return "delivered";
}

/* logline_spam_action - one word for a message spam took */
const char *
logline_spam_action(const SpamOutcome *spam)
{
	return spam->quarantine != NULL ? "spam-quarantined" : "spam-deleted";
}

/* append_safe - @text as one safe unquoted value: a comma cannot start a field */
static void
append_safe(GString *out, const char *text)
{
	g_autofree char *s = untrusted_line(text ? text : "", -1, VALUE_MAX);

	for (const char *p = s; *p; p++) {
		if (*p == ',')
			g_string_append(out, "\\x2c");
		else
			g_string_append_c(out, *p);
	}
}

/* append_quoted - "text", with " and \ escaped: a value that may hold ", " */
static void
append_quoted(GString *out, const char *text)
{
	g_autofree char *s = untrusted_line(text ? text : "", -1, QUOTED_MAX);

	g_string_append_c(out, '"');
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(out, '\\');
		g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
}

/* list_cut - TRUE, with ",...(+@left)" appended, once a list begun at @start is past LIST_MAX */
static gboolean
list_cut(GString *out, gsize start, guint left)
{
	if (out->len - start <= LIST_MAX)
		return FALSE;
	g_string_append_printf(out, ",...(+%u)", left);
	return TRUE;
}

/* append_recipients - "<a>,<b>", as sendmail's to=; "...(+N)" for those past LIST_MAX */
static void
append_recipients(GString *out, const Qf *qf)
{
	g_autoptr(GPtrArray) rcpts = qf_recipients(qf);
	gsize start = out->len;

	for (guint i = 0; i < rcpts->len; i++) {
		const char *r = g_ptr_array_index(rcpts, i);
		if (list_cut(out, start, rcpts->len - i))
			return;
		if (i)
			g_string_append_c(out, ',');
		if (*r != '<')
			g_string_append_c(out, '<');
		append_safe(out, r);
		if (*r != '<')
			g_string_append_c(out, '>');
	}
}

/* append_names - signature names joined by "," (a name holds no space or comma);
 * "...(+N)" for those past LIST_MAX */
static void
append_names(GString *out, GPtrArray *names)
{
	gsize start = out->len;

	for (guint i = 0; i < names->len; i++) {
		if (list_cut(out, start, names->len - i))
			return;
		g_autofree char *n = untrusted_line(g_ptr_array_index(names, i), -1, VALUE_MAX);
		if (i)
			g_string_append_c(out, ',');
		g_strdelimit(n, ", ", '_');
		g_string_append(out, n);
	}
}

/* append_spam - spam=, score=, tests=, dnsbl=, spam_action=, spam_detail= */
static void
append_spam(GString *out, const SpamOutcome *o)
{
	g_string_append_printf(out, ", spam=%s", o->status);
	if (o->has_score)
		g_string_append_printf(out, ", score=%.1f", o->score);
	if (o->tests != NULL && *o->tests) {
		/* rule names hold no space; a comma joins them, as signatures= */
		g_auto(GStrv) tests = g_strsplit(o->tests, ",", -1);
		g_autoptr(GPtrArray) names = g_ptr_array_new();
		for (int i = 0; tests[i]; i++)
			if (*g_strstrip(tests[i]))
				g_ptr_array_add(names, tests[i]);
		g_string_append(out, ", tests=");
		append_names(out, names);
	}
	if (o->dnsbl != NULL && *o->dnsbl) {
		g_auto(GStrv) zones = g_strsplit(o->dnsbl, " ", -1);
		g_autoptr(GPtrArray) names = g_ptr_array_new();
		for (int i = 0; zones[i]; i++)
			if (*zones[i])
				g_ptr_array_add(names, zones[i]);
		g_string_append(out, ", dnsbl=");
		append_names(out, names);
	}
	if (o->action != NULL) {
		g_string_append(out, ", spam_action=");
		append_quoted(out, o->action);
	}
	if (o->detail != NULL) {
		g_string_append(out, ", spam_detail=");
		append_quoted(out, o->detail);
	}
}

/* logline_format - the line */
char *
logline_format(const LogLine *l)
{
	GString *out = g_string_new(NULL);
	g_autoptr(GPtrArray) rcpts = qf_recipients(l->qf);
	g_autofree char *msgid = qf_header_get(l->qf, "Message-ID");
	const char *relay = qf_macro(l->qf, "_");
	const ScanReport *rep = l->report;

	g_string_append(out, "from=");
	append_safe(out, qf_sender(l->qf));
	g_string_append_printf(out, ", size=%" G_GINT64_FORMAT ", nrcpts=%u", l->size, rcpts->len);
	if (msgid != NULL) {
		g_strstrip(msgid);
		g_string_append(out, ", msgid=");
		append_safe(out, msgid);
	}
	if (relay != NULL && *relay) {
		g_string_append(out, ", relay=");
		append_safe(out, relay);
	}
	g_string_append(out, ", to=");
	append_recipients(out, l->qf);
	g_string_append_printf(out, ", verdict=%s", scan_verdict_name(l->verdict));
	if (rep != NULL && l->verdict == VERDICT_INFECTED && rep->names->len > 0) {
		g_string_append(out, ", signatures=");
		append_names(out, rep->names);
	} else if (rep != NULL && l->verdict == VERDICT_BLOCKED && rep->blocked != NULL) {
		g_string_append(out, ", rule=");
		append_quoted(out, rep->blocked);
	} else if (rep != NULL && l->verdict == VERDICT_ERROR && rep->detail != NULL) {
		g_string_append(out, ", error=");
		append_quoted(out, rep->detail);
	}
	if (rep != NULL && rep->ambiguous != NULL) {
		g_string_append(out, ", ambiguous=");
		append_quoted(out, rep->ambiguous);
	}
	if (l->quarantine != NULL)
		g_string_append_printf(out, ", quarantine=%s", l->quarantine);
	if (l->spam != NULL && l->spam->status != NULL)
		append_spam(out, l->spam);
	return g_string_free(out, FALSE);
}
