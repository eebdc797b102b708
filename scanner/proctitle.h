/*
 * proctitle.h - what each mqsift process is, in ps and /proc/PID/cmdline
 *
 * SUMMARY
 *	Linux has no setproctitle(3): a process shows the bytes of its own
 *	argv strings, so a title is written over them.  proctitle_init() moves
 *	argv and environ out of the way (as nginx, PostgreSQL and OpenSSH do)
 *	and keeps the contiguous area they occupied; proctitle_set() then
 *	writes a title there, truncated to the area and padded with NUL bytes.
 *	Setting a title is a plain memory write, no system call, so a worker
 *	under seccomp may set one per message.  proctitle_name() sets the short
 *	name (comm, PR_SET_NAME) that top and ps -o comm show: once per process.
 */
#ifndef MQSIFT_SCANNER_PROCTITLE_H
#define MQSIFT_SCANNER_PROCTITLE_H

#include <glib.h>

/*
 * proctitle_init - take over the memory of @argv's strings (and of
 * environ's when they follow): each argv[i] and environ itself are
 * replaced by copies, so the caller goes on using @argv as before.  Call
 * it once, first thing in main(), before anything keeps a pointer into
 * argv or environ.
 */
void proctitle_init(int argc, char **argv);

/*
 * proctitle_set - the title, printf-style; truncated to what the area
 * holds.  Does nothing before proctitle_init().  No system call.
 */
void proctitle_set(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* proctitle_size - the bytes a title may take (0 before proctitle_init()) */
gsize proctitle_size(void);

/* proctitle_name - the short process name (at most 15 bytes are kept) */
void proctitle_name(const char *name);

#endif
