/*
 * log.c - GLib log handler that writes to syslog and stderr
 *
 * DESCRIPTION
 *	Log lines carry strings from messages (senders, subjects, file names,
 *	signature names).  The handler escapes every formatted line as a whole
 *	with untrusted_text(): a newline, a terminal escape or a bidi control
 *	in a message can neither forge a second log line nor act on the
 *	terminal of whoever reads the log.  Backslashes are not doubled, so a
 *	string the caller already passed through untrusted_line() is shown
 *	once, not escaped twice.
 */
#include "mqsift-build.h"

#include "scanner/log.h"

#include "rules/untrusted.h"

#include <fcntl.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

/* longest line written: beyond it the line is cut with "..." */
#define LOG_LINE_MAX 8192

static gboolean log_stderr, log_syslog, log_verbose;
static FILE *log_file; /* a detached daemon without syslog: its lines go here */

/* log_handler - one line per message, with a level word on stderr */
static void
log_handler(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
	int prio;
	const char *word;

	switch (level & G_LOG_LEVEL_MASK) {
	case G_LOG_LEVEL_ERROR:
		prio = LOG_ERR;
		word = "fatal";
		break;
	case G_LOG_LEVEL_CRITICAL:
		prio = LOG_ERR;
		word = "error";
		break;
	case G_LOG_LEVEL_WARNING:
		prio = LOG_WARNING;
		word = "warning";
		break;
	case G_LOG_LEVEL_MESSAGE:
		prio = LOG_NOTICE;
		word = NULL;
		break;
	case G_LOG_LEVEL_INFO:
		prio = LOG_INFO;
		word = NULL;
		break;
	default:
		prio = LOG_DEBUG;
		word = "debug";
		break;
	}
	if (prio == LOG_DEBUG && !log_verbose)
		return;
	if (domain != NULL && g_strcmp0(domain, "mqsift") != 0 && prio > LOG_WARNING &&
	    !log_verbose)
		return; /* libraries' chatter */
	g_autofree char *line = untrusted_text(message, -1, LOG_LINE_MAX, 0);
	if (log_syslog)
		syslog(prio, "%s", line);
	if (log_stderr) {
		if (word)
			fprintf(stderr, "mqsift: %s: %s\n", word, line);
		else
			fprintf(stderr, "mqsift: %s\n", line);
	}
	if (log_file != NULL) {
		g_autoptr(GDateTime) now = g_date_time_new_now_local();
		g_autofree char *stamp = g_date_time_format(now, "%b %e %H:%M:%S");
		fprintf(log_file, "%s mqsift[%d]: %s%s%s\n", stamp, (int)getpid(), word ? word : "",
		        word ? ": " : "", line);
		fflush(log_file);
	}
}

/* log_has_syslog - TRUE if lines go to syslog */
gboolean
log_has_syslog(void)
{
	return log_syslog;
}

/* log_to_file - append every line to @path from now on (no stderr any more) */
gboolean
log_to_file(const char *path)
{
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
	int fd = open(path, flags, 0640); /* lint: allow open */

	if (fd < 0)
		return FALSE;
	log_file = fdopen(fd, "a");
	if (log_file == NULL) {
		close(fd);
		return FALSE;
	}
	log_stderr = FALSE;
	return TRUE;
}

/* log_init - route GLib logging */
void
log_init(gboolean to_stderr, gboolean to_syslog, gboolean verbose)
{
	log_stderr = to_stderr;
	log_syslog = to_syslog;
	log_verbose = verbose;
	if (to_syslog && access("/dev/log", W_OK) != 0) {
		/* no syslog daemon (a container, a test namespace): syslog() would try
		 * to connect again for every line; say it once and use stderr (a
		 * detached daemon then logs to daemon.log_file, see log_to_file) */
		log_syslog = FALSE;
		log_stderr = TRUE;
		fprintf(stderr, "mqsift: no syslog socket (/dev/log): logging to stderr\n");
	}
	if (log_syslog)
		openlog("mqsift", LOG_PID | LOG_NDELAY, LOG_MAIL);
	g_log_set_default_handler(log_handler, NULL);
}
