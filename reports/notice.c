/*
 * notice.c - build a notice's control file and body, queue it
 */
#include "mqsift-build.h"

#include "reports/notice.h"

#include <string.h>

#include <gmime/gmime.h>

#include "queue/commit.h"
#include "queue/qf.h"

/* is_8bit - any byte >= 0x80 */
static gboolean
is_8bit(const char *s)
{
	for (; *s; s++)
		if ((guchar)*s >= 0x80)
			return TRUE;
	return FALSE;
}

/* notice_send - queue one notice */
char *
notice_send(const MqConfig *config, QueueDir *out, const char *to, const char *subject,
            const char *body, GError **error)
{
	const char *host = *config->scanner_hostname ? config->scanner_hostname : g_get_host_name();
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree char *date = g_date_time_format(now, "%a, %d %b %Y %H:%M:%S %z");
	g_autofree char *mid = g_strdup_printf("<mqsift.%" G_GINT64_FORMAT ".%u@%s>",
	                                       g_get_real_time(), g_random_int(), host);
	gboolean eight = is_8bit(body);
	GString *text = g_string_new(NULL);

	/* the minimal control file sendmail 8.17 accepts (sendmail-queue.md 8.1) */
	g_string_append_printf(text, "V8\nT%" G_GINT64_FORMAT "\nK0\nN0\nP30000\n",
	                       g_get_real_time() / G_USEC_PER_SEC);
	if (eight)
		g_string_append(text, "B8BITMIME\nF8\n");
	g_string_append_printf(text, "S<>\nRPFD:<%s>\n.\n", to);
	Qf *qf = qf_parse(text->str, text->len, error);
	g_string_free(text, TRUE);
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
	char *id = commit_inject(out, qf, body, strlen(body), config->queue_file_mode, error);
	qf_free(&qf);
	return id;
}
