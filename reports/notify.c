/*
 * notify.c - the postmaster's warning and the sender's notice
 */
#include "mqsift-build.h"

#include "reports/notify.h"

#include <string.h>

#include "reports/notice.h"
#include "reports/template.h"

/* mass mailers that forge their senders, and heuristics that say nothing of a sender */
static const char *const default_silent[] = {
    "*Klez*",   "*Netsky*",  "*Mydoom*", "*Bagle*", "*Sober*",       "*Sobig*", "*Zafi*",
    "*Mimail*", "*Lovgate*", "*Mytob*",  "*Phish*", "*Heuristics.*", "*Worm.*", NULL};

/* notify_default_silent - accessor */
const char *const *
notify_default_silent(void)
{
	return default_silent;
}

/* hostname_of - scanner.hostname or the machine's */
static const char *
hostname_of(const MqConfig *config)
{
	return *config->scanner_hostname ? config->scanner_hostname : g_get_host_name();
}

/* base_vars - the variables every notice knows */
static GHashTable *
base_vars(const MqConfig *config)
{
	GHashTable *vars = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	g_autoptr(GDateTime) now = g_date_time_new_now_local();

	g_hash_table_insert(vars, "hostname", g_strdup(hostname_of(config)));
	g_hash_table_insert(vars, "postmaster", g_strdup(config->notify_postmaster));
	g_hash_table_insert(vars, "org", g_strdup(config->reports_org));
	g_hash_table_insert(vars, "org_suffix",
	                    *config->reports_org ? g_strdup_printf(" (%s)", config->reports_org)
	                                         : g_strdup(""));
	g_hash_table_insert(vars, "date", g_date_time_format(now, "%Y-%m-%d %H:%M:%S %z"));
	return vars;
}

/* notify_postmaster - one warning per pass */
char *
notify_postmaster(const MqConfig *config, QueueDir *out, const Caught *caught, guint n,
                  GError **error)
{
	GString *report = g_string_new(NULL);
	GHashTable *vars = base_vars(config);

	for (guint i = 0; i < n; i++) {
		const Caught *c = &caught[i];
		g_string_append_printf(
		    report,
		    "Sender:    %s\nRecipient: %s\nSubject:   %s\nMessageID: %s\n"
		    "QueueID:   %s\nReport:    %s\n",
		    c->sender, c->recipients, c->subject ? c->subject : "",
		    c->message_id ? c->message_id : "", c->queue_id, c->report);
		if (c->quarantine)
			g_string_append_printf(report, "Release:   mqsift quarantine release %s\n",
			                       c->quarantine);
		g_string_append_c(report, '\n');
	}
	g_hash_table_insert(vars, "report", g_string_free(report, FALSE));
	g_hash_table_insert(vars, "count", g_strdup_printf("%u", n));
	g_autofree char *subject = NULL;
	g_autofree char *body = template_render_mail(
	    config->reports_templates, config->reports_language, "postmaster-warning", vars,
	    "Warning: E-mail viruses detected", &subject);
	g_hash_table_destroy(vars);
	return notice_send(config, out, config->notify_postmaster, subject, body, error);
}

/* domain_of - the domain of an envelope address, lower-cased */
static char *
domain_of(const char *address)
{
	const char *at = strrchr(address, '@');
	char *d = g_ascii_strdown(at ? at + 1 : "", -1);
	gsize n = strlen(d);

	if (n > 0 && d[n - 1] == '>')
		d[n - 1] = '\0';
	return d;
}

/* notify_sender_allowed - every condition for telling the sender */
gboolean
notify_sender_allowed(const MqConfig *eff, const Qf *qf, GPtrArray *names, const char **why)
{
	const char *sender = qf_sender(qf);

	if (!eff->notify_sender) {
		*why = "notify.sender is off";
		return FALSE;
	}
	if (*sender == '\0' || strcmp(sender, "<>") == 0) {
		*why = "the sender is <>";
		return FALSE;
	}
	g_autofree char *dom = domain_of(sender);
	gboolean local = FALSE;
	for (int i = 0; eff->notify_local_domains && eff->notify_local_domains[i]; i++) {
		const char *ld = eff->notify_local_domains[i];
		gsize dl = strlen(dom), ll = strlen(ld);
		if (g_ascii_strcasecmp(dom, ld) == 0 ||
		    (dl > ll && dom[dl - ll - 1] == '.' &&
		     g_ascii_strcasecmp(dom + dl - ll, ld) == 0))
			local = TRUE;
	}
	if (!local) {
		*why = "the sender is not in notify.local_domains";
		return FALSE;
	}
	static const char *const bulk_headers[] = {"List-Id", "List-Unsubscribe", "List-Post",
	                                           NULL};
	for (int i = 0; bulk_headers[i]; i++) {
		g_autofree char *h = qf_header_get(qf, bulk_headers[i]);
		if (h != NULL) {
			*why = "list mail";
			return FALSE;
		}
	}
	g_autofree char *prec = qf_header_get(qf, "Precedence");
	if (prec && (g_ascii_strncasecmp(prec, "bulk", 4) == 0 ||
	             g_ascii_strncasecmp(prec, "list", 4) == 0 ||
	             g_ascii_strncasecmp(prec, "junk", 4) == 0)) {
		*why = "bulk mail (Precedence)";
		return FALSE;
	}
	g_autofree char *auto_sub = qf_header_get(qf, "Auto-Submitted");
	if (auto_sub && g_ascii_strncasecmp(auto_sub, "no", 2) != 0) {
		*why = "an automatic message (Auto-Submitted)";
		return FALSE;
	}
	const char *const *silent = eff->notify_silent_viruses && eff->notify_silent_viruses[0]
	                                ? (const char *const *)eff->notify_silent_viruses
	                                : default_silent;
	for (guint i = 0; names && i < names->len; i++)
		for (int k = 0; silent[k]; k++)
			if (g_pattern_match_simple(silent[k], g_ptr_array_index(names, i))) {
				*why = "a virus that forges senders (notify.silent_viruses)";
				return FALSE;
			}
	*why = NULL;
	return TRUE;
}

/* notify_sender - the notice itself */
char *
notify_sender(const MqConfig *eff, QueueDir *out, const Qf *qf, const char *report,
              const char *quarantine, GError **error)
{
	GHashTable *vars = base_vars(eff);
	g_autofree char *subject_h = qf_header_get(qf, "Subject");
	g_autofree char *sender = envelope_strip(g_strdup(qf_sender(qf)));

	g_hash_table_insert(vars, "recipients", qf_recipients_text(qf));
	g_hash_table_insert(vars, "subject", g_strdup(subject_h ? subject_h : ""));
	g_hash_table_insert(vars, "report", g_strdup(report));
	g_hash_table_insert(vars, "quarantine_id", g_strdup(quarantine ? quarantine : "-"));
	g_autofree char *subject = NULL;
	g_autofree char *body =
	    template_render_mail(eff->reports_templates, eff->reports_language, "sender-notice",
	                         vars, "Your message was changed by the mail scanner", &subject);
	g_hash_table_destroy(vars);

	return notice_send(eff, out, sender, subject, body, error);
}
