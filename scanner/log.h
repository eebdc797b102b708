/*
 * log.h - where mqsift's messages go: syslog (facility mail) and/or stderr
 *
 * SUMMARY
 *	All code logs with GLib's g_message()/g_warning()/g_critical(); this
 *	module routes them: to syslog as "mqsift[pid]" with facility LOG_MAIL
 *	(daemon and cron mode), and to stderr when run by hand.
 */
#ifndef MQSIFT_SCANNER_LOG_H
#define MQSIFT_SCANNER_LOG_H

#include <glib.h>

/* log_init - install the handler; @to_stderr and @to_syslog choose the sinks */
void log_init(gboolean to_stderr, gboolean to_syslog, gboolean verbose);

#endif
