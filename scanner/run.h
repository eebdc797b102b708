/*
 * run.h - "mqsift run": the daemon that runs a pass whenever mail arrives
 *
 * SUMMARY
 *	run_command() takes the pid file, starts a Runner (runner.h), and runs
 *	passes: once (--once, the cron mode), or in a loop woken by inotify on
 *	the inbound queues (polling every queue.scan_interval when inotify is
 *	not available) until SIGTERM or SIGINT.  SIGHUP reloads the
 *	configuration file; a changed signature database is reloaded in the
 *	background.
 */
#ifndef MQSIFT_SCANNER_RUN_H
#define MQSIFT_SCANNER_RUN_H

#include <glib.h>

#include "config/config.h"

/*
 * run_command - "mqsift run": --once, or the daemon loop until SIGTERM;
 * SIGHUP reloads @config_path.  Returns the exit status (0, or 2 when it
 * cannot start or a queue could not be read).
 */
int run_command(const MqConfig *config, gboolean once, const char *config_path);

#endif
