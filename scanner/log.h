/*
 * log.h - where mqsift's messages go: syslog (facility mail) and/or stderr
 *
 * SUMMARY
 *	All code logs with GLib's g_message()/g_warning()/g_critical(); this
 *	module routes them: to syslog as "mqsift[pid]" with facility LOG_MAIL
 *	(daemon and cron mode), and to stderr when run by hand or in the
 *	foreground (never both: the journal would show every line twice).  A
 *	detached daemon on a host without syslog logs to daemon.log_file.
 */
#ifndef MQSIFT_SCANNER_LOG_H
#define MQSIFT_SCANNER_LOG_H

#include <glib.h>

/*
 * log_init - install the handler; @to_stderr and @to_syslog choose the sinks
 * (without a syslog socket, stderr stands in)
 */
void log_init(gboolean to_stderr, gboolean to_syslog, gboolean verbose);

/* log_has_syslog - TRUE if the lines go to syslog */
gboolean log_has_syslog(void);

/* log_to_file - from now on append the lines to @path instead of stderr; FALSE if it cannot */
gboolean log_to_file(const char *path);

#endif
