/*
 * notice.c - build a notice's control file and body, queue it
 *
 * DESCRIPTION
 *	The last check before a notice is queued, whatever its caller did:
 *	the recipient must be a bare address (nothing that could add a
 *	control-file record or a header), the subject one line, and the body
 *	free of controls, bidi and invisible characters (untrusted_text(),
 *	which leaves text its callers already escaped unchanged).
 */
#include "mqsift-build.h"

#include "reports/notice.h"

#include <string.h>

#include <gio/gio.h>
#include <gmime/gmime.h>

#include "queue/commit.h"
#include "queue/qf.h"
#include "rules/untrusted.h"

/* is_8bit - any byte >= 0x80 */
static gboolean
is_8bit(const char *s)
{
	for (; *s; s++)
		if ((guchar)*s >= 0x80)
			return TRUE;
	return FALSE;
}

/* is_bare_address - printable ASCII without the characters of address syntax */
static gboolean
is_bare_address(const char *to)
{
	if (*to == '\0')
		return FALSE;
	for (const char *p = to; *p; p++)
		if ((guchar)*p <= 0x20 || (guchar)*p >= 0x7F || strchr("<>,;:\"()[]\\", *p) != NULL)
			return FALSE;
	return TRUE;
}

/* notice_send - queue one notice */
char *
notice_send(const MqConfig *config, QueueDir *out, const char *to, const char *raw_subject,
            const char *raw_body, GError **error)
{
	if (!is_bare_address(to)) {
		g_autofree char *shown = untrusted_line(to, -1, 0);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "refusing to queue a notice to \"%s\": not a plain address", shown);
		return NULL;
	}
	g_autofree char *subject = untrusted_text(raw_subject, -1, 0, 0);
	g_autofree char *body = untrusted_text(raw_body, -1, 0, UNTRUSTED_KEEP_NEWLINES);
	const char *host = *config->scanner_hostname ? config->scanner_hostname : g_get_host_name();
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree char *date = g_date_time_format(now, "%a, %d %b %Y %H:%M:%S %z");
	g_autofree char *mid = g_strdup_printf("<mqsift.%" G_GINT64_FORMAT ".%u@%s>",
	                                       g_get_real_time(), g_random_int(), host);
	gboolean eight = is_8bit(body);
	g_autoptr(Qf) qf = qf_new_notice(to, eight, g_get_real_time() / G_USEC_PER_SEC, error);

	if (qf == NULL)
		return NULL;
	g_autofree char *from = g_strdup_printf("mqsift <MAILER-DAEMON@%s>", host);
	g_autofree char *scanned = g_strdup_printf("mqsift %s on %s", PACKAGE_VERSION, host);
	qf_add_header(qf, "From", from);
	qf_add_header(qf, "To", to);
	/* a header is 7-bit: RFC 2047 for anything else */
	g_autofree char *encoded = is_8bit(subject)
	                               ? g_mime_utils_header_encode_text(NULL, subject, "utf-8")
	                               : g_strdup(subject);
	qf_add_header(qf, "Subject", encoded);
	qf_add_header(qf, "Date", date);
	qf_add_header(qf, "Message-ID", mid);
	qf_add_header(qf, "Auto-Submitted", "auto-generated");
	qf_add_header(qf, "MIME-Version", "1.0");
	qf_add_header(qf, "Content-Type", "text/plain; charset=utf-8");
	qf_add_header(qf, "Content-Transfer-Encoding", eight ? "8bit" : "7bit");
	qf_add_header(qf, "X-Virus-Scanned", scanned);
	qf_add_header(qf, "X-Virus-Status", "Clean");
	return commit_inject(out, qf, body, strlen(body), config->queue_file_mode, error);
}
