/*
 * notify.c - the postmaster's warning and the sender's notice
 *
 * DESCRIPTION
 *	Every value from a message (sender, recipients, subject, Message-ID,
 *	the report naming signatures and files) is put into a notice as
 *	untrusted_line() made it: it cannot add a line to the report, a header
 *	to the notice (the subject goes into the notice's Subject:), or an
 *	escape to the reader's terminal.
 *
 *	A sender is told only with an envelope address that is plainly
 *	local-part@domain (no source route, no quoted local part, no % or !
 *	routing: sendmail would deliver those elsewhere), a domain in
 *	notify.local_domains, and evidence that the sender is ours: the SMTP
 *	client was in notify.local_networks or authenticated (${auth_authen}).
 */
#include "mqsift-build.h"

#include "reports/notify.h"

#include <gio/gio.h>
#include <string.h>

#include "reports/notice.h"
#include "reports/template.h"
#include "rules/untrusted.h"

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

/* the longest subject quoted in a notice (its own Subject: line included) */
#define SUBJECT_MAX 200

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
		g_autofree char *sender = untrusted_line(c->sender, -1, 0);
		g_autofree char *rcpts = untrusted_line(c->recipients, -1, 0);
		g_autofree char *subject = untrusted_line(c->subject, -1, SUBJECT_MAX);
		g_autofree char *mid = untrusted_line(c->message_id, -1, 0);
		g_autofree char *qid = untrusted_line(c->queue_id, -1, 0);
		g_autofree char *what = untrusted_line(c->report, -1, 0);
		g_string_append_printf(
		    report,
		    "Sender:    %s\nRecipient: %s\nSubject:   %s\nMessageID: %s\n"
		    "QueueID:   %s\nReport:    %s\n",
		    sender, rcpts, subject, mid, qid, what);
		if (c->quarantine) {
			g_autofree char *ref = untrusted_line(c->quarantine, -1, 0);
			g_string_append_printf(report, "Release:   mqsift quarantine release %s\n",
			                       ref);
		}
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

/* notify_poison - the postmaster's notice about a message quarantined whole */
char *
notify_poison(const MqConfig *config, QueueDir *out, const Qf *qf, const char *queue_id,
              guint tries, gsize size, const char *quarantine, const char *scan_error, guint hours,
              GError **error)
{
	g_autoptr(GHashTable) vars = base_vars(config);
	g_autofree char *rcpts = qf_recipients_text(qf);
	g_autofree char *subject_h = qf_header_get(qf, "Subject");
	g_autofree char *subject = NULL;

	g_hash_table_insert(vars, "queue_id", g_strdup(queue_id));
	g_hash_table_insert(vars, "tries", g_strdup_printf("%u", tries));
	g_hash_table_insert(vars, "sender", untrusted_line(qf_sender(qf), -1, 200));
	g_hash_table_insert(vars, "recipients", untrusted_line(rcpts, -1, 400));
	g_hash_table_insert(vars, "subject", untrusted_line(subject_h, -1, SUBJECT_MAX));
	g_hash_table_insert(vars, "size", g_strdup_printf("%" G_GSIZE_FORMAT, size));
	g_hash_table_insert(vars, "quarantine_id", g_strdup(quarantine));
	g_hash_table_insert(vars, "reason", untrusted_line(scan_error ? scan_error : "", -1, 300));
	g_hash_table_insert(vars, "hours", g_strdup_printf("%u", hours));
	g_autofree char *body = template_render_mail(
	    config->reports_templates, config->reports_language,
	    scan_error ? "scan-error-message" : "poison-message", vars,
	    scan_error ? "mqsift: a message was quarantined (it could not be scanned)"
	               : "mqsift: a message was quarantined (it crashed the scanner)",
	    &subject);
	return notice_send(config, out, config->notify_postmaster, subject, body, error);
}

/* notify_set_aside - the postmaster's notice about a message moved out of the queue */
char *
notify_set_aside(const MqConfig *config, QueueDir *out, const char *queue_id, const char *reason,
                 const char *queue, gint64 age, const char *destination, GError **error)
{
	g_autoptr(GHashTable) vars = base_vars(config);
	g_autofree char *subject = NULL;

	g_hash_table_insert(vars, "queue_id", g_strdup(queue_id));
	g_hash_table_insert(vars, "reason", untrusted_line(reason, -1, 0));
	g_hash_table_insert(vars, "queue", g_strdup(queue));
	g_hash_table_insert(vars, "age", g_strdup_printf("%" G_GINT64_FORMAT, age));
	g_hash_table_insert(vars, "destination", g_strdup(destination));
	g_autofree char *body =
	    template_render_mail(config->reports_templates, config->reports_language, "set-aside",
	                         vars, "mqsift: an unprocessable message was set aside", &subject);
	return notice_send(config, out, config->notify_postmaster, subject, body, error);
}

/* is_local_part_char - what a plain local part may hold: no routing (% !), no quoting */
static gboolean
is_local_part_char(char c)
{
	return g_ascii_isalnum(c) || (c != '\0' && strchr(".-_+=#$&'*?^`{}~", c) != NULL);
}

/* is_hostname - dot-separated labels of letters, digits and inner hyphens */
static gboolean
is_hostname(const char *d, gsize n)
{
	gsize label = 0;

	if (n == 0 || n > 253)
		return FALSE;
	for (gsize i = 0; i < n; i++) {
		if (d[i] == '.') {
			if (label == 0 || d[i - 1] == '-')
				return FALSE;
			label = 0;
		} else if (g_ascii_isalnum(d[i]) || (d[i] == '-' && label > 0)) {
			if (++label > 63)
				return FALSE;
		} else {
			return FALSE;
		}
	}
	return label > 0 && d[n - 1] != '-';
}

/*
 * plain_address_domain - the domain (lower-cased) of an envelope address that is
 * plainly <local-part@domain>, or NULL: a source route (<@a,@b:u@d>), a quoted
 * local part ("u@x"@d), % or ! routing (u%x@d, x!u@d), a domain literal, a
 * second @ are all forms whose real destination is not the domain after the
 * last @, so they are never local.
 */
static char *
plain_address_domain(const char *address)
{
	const char *p = address, *end = address + strlen(address);

	while (p < end && g_ascii_isspace(*p))
		p++;
	while (end > p && g_ascii_isspace(end[-1]))
		end--;
	if (p < end && *p == '<') {
		if (end - p < 2 || end[-1] != '>')
			return NULL;
		p++;
		end--;
	}
	const char *at = memchr(p, '@', (gsize)(end - p));
	if (at == NULL || at == p || memchr(at + 1, '@', (gsize)(end - at - 1)) != NULL)
		return NULL;
	if (*p == '.' || at[-1] == '.')
		return NULL;
	for (const char *q = p; q < at; q++)
		if (!is_local_part_char(*q) || (*q == '.' && q[1] == '.'))
			return NULL;
	if (!is_hostname(at + 1, (gsize)(end - at - 1)))
		return NULL;
	return g_ascii_strdown(at + 1, end - at - 1);
}

/* ip_in_networks - @ip (text) inside one of the CIDRs of @networks */
static gboolean
ip_in_networks(const char *ip, char *const *networks)
{
	GInetAddress *addr = g_inet_address_new_from_string(ip);
	gboolean in = FALSE;

	if (addr == NULL)
		return FALSE;
	/* ::ffff:a.b.c.d is the IPv4 client a.b.c.d */
	if (g_inet_address_get_family(addr) == G_SOCKET_FAMILY_IPV6) {
		const guint8 *b = g_inet_address_to_bytes(addr);
		static const guint8 mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(b, mapped, sizeof mapped) == 0) {
			GInetAddress *v4 =
			    g_inet_address_new_from_bytes(b + 12, G_SOCKET_FAMILY_IPV4);
			g_object_unref(addr);
			addr = v4;
		}
	}
	for (int i = 0; !in && networks && networks[i]; i++) {
		GInetAddressMask *m = g_inet_address_mask_new_from_string(networks[i], NULL);
		if (m != NULL) {
			in = g_inet_address_mask_matches(m, addr);
			g_object_unref(m);
		}
	}
	g_object_unref(addr);
	return in;
}

/* sender_is_ours - evidence from the SMTP session: a local client, or authentication */
static gboolean
sender_is_ours(const MqConfig *eff, const Qf *qf)
{
	const char *auth = qf_macro(qf, "{auth_authen}");

	if (auth != NULL && *auth != '\0')
		return TRUE;
	g_autofree char *ip = qf_client_ip(qf);
	return ip != NULL && ip_in_networks(ip, eff->notify_local_networks);
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
	g_autofree char *dom = plain_address_domain(sender);
	if (dom == NULL) {
		*why = "the sender is not a plain local-part@domain address (routing or quoting)";
		return FALSE;
	}
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
	if (!sender_is_ours(eff, qf)) {
		*why = "the client was not in notify.local_networks and did not authenticate";
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
	g_autofree char *rcpts = qf_recipients_text(qf);

	g_hash_table_insert(vars, "recipients", untrusted_line(rcpts, -1, 0));
	g_hash_table_insert(vars, "subject", untrusted_line(subject_h, -1, SUBJECT_MAX));
	g_hash_table_insert(vars, "report", untrusted_line(report, -1, 0));
	g_hash_table_insert(vars, "quarantine_id",
	                    untrusted_line(quarantine ? quarantine : "-", -1, 0));
	g_autofree char *subject = NULL;
	g_autofree char *body =
	    template_render_mail(eff->reports_templates, eff->reports_language, "sender-notice",
	                         vars, "Your message was changed by the mail scanner", &subject);
	g_hash_table_destroy(vars);

	return notice_send(eff, out, sender, subject, body, error);
}
